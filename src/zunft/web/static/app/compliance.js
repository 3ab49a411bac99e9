// Owner and office: retention rules, legal holds, GDPR requests (access export, erasure) and,
// for the owner, the audit log (docs/compliance.md). Loaded only when opened; the
// chat view loads it for a message's "document class" action.
import { ApiError, get, post, put } from "./api.js";
import { h, clear } from "./dom.js";
import { formatTime, t } from "./i18n.js";
import { errorText, state } from "./main.js";

const CLASSES = ["geschaeftsbrief", "buchungsbeleg", "intern"];

const isOwner = () => state.me && state.me.role === "owner";

export function renderComplianceScreen(main) {
  main.append(h("nav", { class: "subtabs", "aria-label": t("nav_admin") },
    h("a", { href: "#/admin/users", class: "tab" }, t("admin_users")),
    h("a", { href: "#/admin/projects", class: "tab" }, t("admin_projects")),
    h("a", { href: "#/admin/compliance", class: "tab", "aria-current": "page" }, t("cmp_title"))));
  const msg = h("p", { role: "status", class: "notice", id: "cmp-status" });
  const say = (text) => { msg.textContent = text; };
  const fail = (ex) => say(errorText(ex));
  main.append(msg);
  const rules = h("section", { class: "card", "aria-labelledby": "cmp-rules" });
  const holds = h("section", { class: "card", "aria-labelledby": "cmp-holds" });
  const gdpr = h("section", { class: "card", "aria-labelledby": "cmp-gdpr" });
  main.append(rules, holds, gdpr);
  renderRules(rules, say, fail);
  renderHolds(holds, say, fail);
  renderGdpr(gdpr, say, fail);
  if (isOwner()) {
    const audit = h("section", { class: "card", "aria-labelledby": "cmp-audit" });
    main.append(audit);
    renderAudit(audit, fail);
  }
}

// ------------------------------------------------------------------ retention rules

async function renderRules(box, say, fail) {
  clear(box).append(h("h2", { id: "cmp-rules" }, t("cmp_rules")), h("p", { class: "muted" }, t("cmp_rules_text")));
  let rules;
  try {
    rules = (await get("/compliance/retention")).rules;
  } catch (ex) {
    return fail(ex);
  }
  const list = h("ul", { class: "plain-list" });
  for (const r of rules) {
    const id = "years-" + r.doc_class;
    const input = h("input", { id, type: "number", min: String(r.legal_minimum), max: "30", value: String(r.years), disabled: isOwner() ? null : true });
    list.append(h("li", { class: "device" },
      h("span", { class: "chat-main" },
        h("label", { for: id, class: "chat-title" }, t("class_" + r.doc_class)),
        h("span", { class: "chat-preview" }, t("cmp_minimum", { n: r.legal_minimum }))),
      input,
      isOwner() ? h("button", {
        type: "button", class: "secondary small",
        onclick: async () => {
          try {
            await put("/compliance/retention", { doc_class: r.doc_class, years: Number(input.value) });
            say(t("saved"));
          } catch (ex) { fail(ex); }
        },
      }, t("save")) : null));
  }
  box.append(list);
}

// ------------------------------------------------------------------ legal holds

async function renderHolds(box, say, fail) {
  clear(box).append(h("h2", { id: "cmp-holds" }, t("cmp_holds")), h("p", { class: "muted" }, t("cmp_holds_text")));
  let holds, projects, people;
  try {
    [holds, projects, people] = await Promise.all([
      get("/compliance/holds"), get("/projects"), get("/compliance/people")]);
  } catch (ex) {
    return fail(ex);
  }
  const names = new Map();
  for (const p of projects.projects) names.set(p.id, p.name);
  for (const p of people.people) names.set(p.id, p.name);
  const list = h("ul", { class: "plain-list", id: "hold-list" });
  for (const hold of holds.holds) {
    list.append(h("li", { class: "device" },
      h("span", { class: "chat-main" },
        h("span", { class: "chat-title" }, t("hold_on_" + hold.target_kind) + ": " + (names.get(hold.target_id) || hold.target_id)),
        h("span", { class: "chat-preview" }, hold.reason + " · " + formatTime(hold.set_at))),
      isOwner() ? h("button", {
        type: "button", class: "danger small",
        onclick: async () => {
          try { await post("/compliance/holds/" + hold.id + "/lift"); say(t("cmp_hold_lifted")); renderHolds(box, say, fail); } catch (ex) { fail(ex); }
        },
      }, t("cmp_hold_lift")) : null));
  }
  if (!holds.holds.length) list.append(h("li", { class: "muted" }, t("cmp_no_holds")));
  const target = h("select", { id: "hold-target" },
    projects.projects.map((p) => h("option", { value: "project:" + p.id }, t("hold_on_project") + ": " + p.name)),
    people.people.filter((p) => p.kind === "customer").map((p) => h("option", { value: "customer:" + p.id }, t("hold_on_customer") + ": " + p.name)));
  const reason = h("input", { id: "hold-reason", required: true, maxlength: "500" });
  const form = h("form", null,
    h("div", { class: "field" }, h("label", { for: "hold-target" }, t("cmp_hold_target")), target),
    h("div", { class: "field" }, h("label", { for: "hold-reason" }, t("cmp_hold_reason")), reason),
    h("button", { type: "submit", class: "primary" }, t("cmp_hold_set")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const [kind, id] = target.value.split(":");
    try {
      await post("/compliance/holds", { target_kind: kind, target_id: id, reason: reason.value });
      say(t("cmp_hold_done"));
      renderHolds(box, say, fail);
    } catch (ex) { fail(ex); }
  });
  box.append(list, form);
}

// ------------------------------------------------------------------ GDPR requests

async function download(path, filename) {
  // A POST with the CSRF token that answers a file: fetched, then saved from a blob URL.
  const m = document.cookie.match(/(?:^|;\s*)zunft_csrf=([^;]+)/);
  const res = await fetch("/api/v1" + path, {
    method: "POST", credentials: "same-origin", cache: "no-store",
    headers: { "X-CSRF-Token": m ? decodeURIComponent(m[1]) : "" },
  });
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    const err = (body && body.error) || {};
    throw new ApiError(res.status, err.code || "http_" + res.status, err.message, body);
  }
  const url = URL.createObjectURL(await res.blob());
  const a = h("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

async function renderGdpr(box, say, fail) {
  clear(box).append(h("h2", { id: "cmp-gdpr" }, t("cmp_gdpr")), h("p", { class: "muted" }, t("cmp_gdpr_text")));
  let people, requests;
  try {
    [people, requests] = await Promise.all([get("/compliance/people"), get("/compliance/requests")]);
  } catch (ex) {
    return fail(ex);
  }
  const person = h("select", { id: "gdpr-person" },
    people.people.map((p) => h("option", { value: p.id },
      (p.name || "?") + " · " + (p.kind === "customer" ? t("cmp_customer") : t("role_" + p.role)) + (p.held ? " · " + t("cmp_held") : ""))));
  const answer = h("pre", { class: "answer", id: "gdpr-answer", hidden: true });
  let confirm = false;
  const erase = h("button", { type: "button", class: "danger" }, t("cmp_erase"));
  erase.addEventListener("click", async () => {
    if (!confirm) { confirm = true; erase.textContent = t("cmp_erase_confirm"); return; }
    confirm = false;
    erase.textContent = t("cmp_erase");
    try {
      const out = await post("/compliance/people/" + person.value + "/erasure");
      answer.hidden = false;
      answer.textContent = out.answer;
      say(t("cmp_erase_done"));
      renderRequests(list, requests.requests = (await get("/compliance/requests")).requests, people.people);
    } catch (ex) { fail(ex); }
  });
  const access = h("button", { type: "button", class: "secondary" }, t("cmp_access"));
  access.addEventListener("click", async () => {
    try {
      await download("/compliance/people/" + person.value + "/access-export", "Auskunft.zip");
      say(t("cmp_access_done"));
    } catch (ex) { fail(ex); }
  });
  const list = h("ul", { class: "plain-list", id: "gdpr-requests" });
  box.append(h("div", { class: "field" }, h("label", { for: "gdpr-person" }, t("cmp_person")), person),
    h("div", { class: "row" }, access, erase), answer, h("h3", null, t("cmp_requests")), list);
  renderRequests(list, requests.requests, people.people);
}

function renderRequests(list, requests, people) {
  const names = new Map(people.map((p) => [p.id, p.name]));
  clear(list);
  for (const r of requests) {
    list.append(h("li", { class: "device" },
      h("span", { class: "chat-main" },
        h("span", { class: "chat-title" }, t("cmp_kind_" + r.kind) + ": " + (names.get(r.user_id) || "?")),
        h("span", { class: "chat-preview" }, formatTime(r.created_at) +
          (r.erase_rest_at ? " · " + t("cmp_rest_at", { date: new Date(r.erase_rest_at).toLocaleDateString("de-DE") }) : ""))),
      r.answer ? h("a", { href: "/api/v1/compliance/requests/" + r.id + "/answer", class: "tab", download: "Antwort.pdf" }, t("cmp_answer_pdf")) : null));
  }
  if (!requests.length) list.append(h("li", { class: "muted" }, t("cmp_no_requests")));
}

// ------------------------------------------------------------------ audit log (owner)

async function renderAudit(box, fail) {
  clear(box).append(h("h2", { id: "cmp-audit" }, t("cmp_audit")));
  const kind = h("input", { id: "audit-kind", placeholder: "legal_hold.set", maxlength: "64" });
  const list = h("ul", { class: "plain-list", id: "audit-list" });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, t("cmp_more"));
  let before = null;
  const load = async (reset) => {
    if (reset) { clear(list); before = null; }
    const q = new URLSearchParams({ limit: "50" });
    if (kind.value.trim()) q.set("kind", kind.value.trim());
    if (before) q.set("before", String(before));
    try {
      const out = await get("/compliance/audit?" + q);
      for (const e of out.entries) {
        const who = e.actor_id ? (state.users.get(e.actor_id) || {}).name || e.actor_id : t("cmp_system");
        list.append(h("li", { class: "device" }, h("span", { class: "chat-main" },
          h("span", { class: "chat-title" }, e.kind),
          h("span", { class: "chat-preview" }, formatTime(e.at) + " · " + who))));
      }
      before = out.next_before;
      more.hidden = !before;
    } catch (ex) { fail(ex); }
  };
  const form = h("form", { class: "row" },
    h("label", { for: "audit-kind" }, t("cmp_audit_kind")), kind,
    h("button", { type: "submit", class: "secondary small" }, t("cmp_filter")));
  form.addEventListener("submit", (e) => { e.preventDefault(); load(true); });
  more.addEventListener("click", () => load(false));
  box.append(form, list, more);
  load(true);
}

// ------------------------------------------------------------------ chat: a message's class

export async function classifyMenu(actions, m) {
  clear(actions);
  let current = null;
  try {
    current = (await get("/messages/" + m.id + "/class")).doc_class;
  } catch (ex) {
    actions.append(h("span", { class: "error" }, errorText(ex)));
    return;
  }
  const select = h("select", { id: "doc-class", "aria-label": t("doc_class") },
    CLASSES.map((c) => h("option", { value: c, selected: c === current ? true : null }, t("class_" + c))));
  const note = h("span", { role: "status", class: "notice" });
  const save = h("button", { type: "button", class: "primary" }, t("save"));
  save.addEventListener("click", async () => {
    try {
      await put("/messages/" + m.id + "/class", { doc_class: select.value });
      note.textContent = t("saved");
    } catch (ex) { note.textContent = errorText(ex); }
  });
  actions.append(h("label", { for: "doc-class" }, t("doc_class")), select, save, note);
}

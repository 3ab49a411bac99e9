// Problem reports (Meldungen), docs/customers.md and docs/webapp.md: the form (#/report-new/<project>),
// the boards (#/reports, #/reports/<project>), a report's page (#/report/<id>) with its chain
// and history, and the routing rules (admin section). Live through the stream's report.* events.
import { del, get, patch, post } from "./api.js";
import { h, clear } from "./dom.js";
import { formatTime, t } from "./i18n.js";
import { errorText, field, isAdmin, state, userName } from "./main.js";

const enc = encodeURIComponent;

const STATUSES = ["offen", "angenommen", "in_arbeit", "erledigt"];
const NEXT = { offen: ["angenommen", "in_arbeit", "erledigt"], angenommen: ["in_arbeit", "erledigt"], in_arbeit: ["erledigt", "angenommen"], erledigt: ["offen"] };
const ROLES = ["owner", "office", "lead", "worker", "apprentice"];
let categories = null; // [{key, name, builtin}], loaded once per session

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)zunft_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

function clientId() {
  return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);
}

async function loadCategories(fresh) {
  if (!categories || fresh) categories = (await get("/report-categories")).categories;
  return categories;
}

function catName(key) {
  const c = (categories || []).find((x) => x.key === key);
  return c ? c.name : key;
}

function teamChat(projectId) {
  return [...state.chats.values()].find((c) => c.project_id === projectId && c.kind === "project");
}

function urgentTag(r) {
  // Not by colour alone: a symbol, a word and a thick border (app.css .urgent).
  return r.priority === "dringend" ? h("span", { class: "tag urgent" }, "⚠ " + t("rep_prio_dringend")) : null;
}

function select(id, label, options, value) {
  return h("div", { class: "field" }, h("label", { for: id }, label),
    h("select", { id, name: id }, options.map(([v, text]) => h("option", { value: v, selected: v === value ? true : null }, text))));
}

// A view that reloads on report events (debounced: a burst of events is one reload).
function liveView(reload, match) {
  let timer = null;
  state.view = {
    event(ev) {
      if (!ev.kind.startsWith("report.") || (match && !match(ev))) return;
      clearTimeout(timer);
      timer = setTimeout(reload, 150);
    },
    resync: reload,
    close() { clearTimeout(timer); },
  };
}

export function renderScreen(screen, arg, shell) {
  if (screen === "report") return reportPage(arg, shell);
  if (screen === "report-new") return reportForm(arg, shell);
  return board(arg, shell);
}

// ---------------------------------------------------------------- raise a report

async function reportForm(projectId, shell) {
  const p = state.projects.get(projectId);
  const chat = teamChat(projectId);
  const main = shell(t("rep_new_title"), { back: chat ? "#/chat/" + enc(chat.id) : "#/reports" });
  await loadCategories().catch(() => []);
  const cid = clientId(); // one per form: a retry after a lost answer raises it once
  const err = h("p", { class: "error", role: "alert" });
  const photos = []; // file ids
  const thumbs = h("div", { class: "row thumbs" });
  let position = null;
  const posText = h("span", { id: "rep-pos", role: "status" });
  const photoInput = h("input", { type: "file", id: "rep-photo", accept: "image/*", multiple: true, class: "visually-hidden" });
  const form = h("form", { class: "card report-form" },
    h("p", { class: "muted" }, p ? p.name : ""),
    select("rep-category", t("rep_category"), categories.map((c) => [c.key, c.name]), "mangel"),
    h("fieldset", { class: "prio" }, h("legend", null, t("rep_priority")),
      ["normal", "dringend"].map((v) => h("label", { class: "radio" + (v === "dringend" ? " urgent-choice" : "") },
        h("input", { type: "radio", name: "priority", value: v, checked: v === "normal" ? true : null }),
        (v === "dringend" ? "⚠ " : "") + t("rep_prio_" + v)))),
    h("div", { class: "field" }, h("label", { for: "rep-text" }, t("rep_text")),
      h("textarea", { id: "rep-text", name: "text", rows: "4", required: true, maxlength: "10000" })),
    h("div", { class: "row" },
      photoInput,
      h("button", { type: "button", class: "secondary", onclick: () => photoInput.click() }, t("rep_photo")),
      h("button", { type: "button", class: "secondary", id: "rep-locate", onclick: locate }, t("rep_position")),
      posText),
    thumbs,
    err,
    h("button", { type: "submit", class: "primary big" }, t("rep_submit")));
  photoInput.addEventListener("change", async () => {
    for (const file of photoInput.files) {
      if (!chat) break;
      try {
        // One request per photo (the upload screens of the media work unify this later).
        const q = "?chat_id=" + enc(chat.id) + "&client_id=" + enc(cid + ":" + photos.length) + "&name=" + enc(file.name);
        const res = await fetch("/api/v1/uploads/single" + q, {
          method: "POST", body: file, credentials: "same-origin",
          headers: { "X-CSRF-Token": csrf(), "Content-Type": "application/octet-stream" },
        });
        const out = await res.json();
        if (!res.ok) throw Object.assign(new Error(), { code: (out.error || {}).code || "http_" + res.status });
        photos.push(out.id);
        thumbs.append(h("img", { src: URL.createObjectURL(file), alt: t("rep_photo_n", { n: photos.length }), class: "thumb" }));
      } catch (ex) {
        err.textContent = errorText(ex);
      }
    }
    photoInput.value = "";
  });
  function locate() {
    if (!navigator.geolocation) {
      posText.textContent = t("rep_position_none");
      return;
    }
    posText.textContent = t("rep_position_wait");
    navigator.geolocation.getCurrentPosition((pos) => {
      position = { lat: pos.coords.latitude, lon: pos.coords.longitude };
      posText.textContent = t("rep_position_set", { lat: position.lat.toFixed(5), lon: position.lon.toFixed(5) });
    }, () => { posText.textContent = t("rep_position_none"); }, { timeout: 15000, maximumAge: 60000 });
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    const data = new FormData(form);
    try {
      const r = await post("/projects/" + enc(projectId) + "/reports", {
        client_id: cid,
        category: data.get("rep-category"),
        priority: data.get("priority"),
        text: data.get("text").trim(),
        position,
        photo_ids: photos,
      });
      location.hash = "#/report/" + enc(r.id);
    } catch (ex) {
      err.textContent = errorText(ex);
    }
  });
  main.append(form);
  form.querySelector("#rep-text").focus();
}

// ---------------------------------------------------------------- boards

async function board(projectId, shell) {
  const p = projectId ? state.projects.get(projectId) : null;
  const main = shell(p ? t("rep_board_project", { project: p.name }) : t("nav_reports"), { back: projectId ? "#/reports" : null });
  await loadCategories().catch(() => []);
  const people = [...state.users.values()].filter((u) => !u.disabled);
  const filters = h("form", { class: "filters", "aria-label": t("rep_filters") },
    select("f-status", t("rep_status"), [["", t("rep_all")], ["open", t("rep_not_done")], ...STATUSES.map((s) => [s, t("rep_status_" + s)])], ""),
    select("f-assignee", t("rep_assignee"), [["", t("rep_all")], ...people.map((u) => [u.id, u.name])], ""),
    select("f-category", t("rep_category"), [["", t("rep_all")], ...(categories || []).map((c) => [c.key, c.name])], ""),
    select("f-priority", t("rep_priority"), [["", t("rep_all")], ["normal", t("rep_prio_normal")], ["dringend", t("rep_prio_dringend")]], ""),
    projectId ? null : select("f-project", t("rep_project"), [["", t("rep_all")], ...[...state.projects.values()].map((x) => [x.id, x.name])], ""));
  const counts = h("p", { class: "row counts", id: "rep-counts", "aria-live": "polite" });
  const list = h("ul", { class: "plain-list", id: "rep-list" });
  const msg = h("p", { class: "error", role: "alert" });
  const raise = projectId && teamChat(projectId)
    ? h("a", { class: "button-like primary", href: "#/report-new/" + enc(projectId) }, t("rep_raise"))
    : null;
  main.append(h("div", null, raise, filters, counts, msg, list));
  filters.addEventListener("change", load);
  filters.addEventListener("submit", (e) => e.preventDefault());
  async function load() {
    const q = new URLSearchParams();
    const v = (id) => filters.querySelector("#" + id)?.value;
    const status = v("f-status");
    if (status === "open") ["offen", "angenommen", "in_arbeit"].forEach((s) => q.append("status", s));
    else if (status) q.append("status", status);
    for (const [id, key] of [["f-assignee", "assignee_id"], ["f-category", "category"], ["f-priority", "priority"], ["f-project", "project_id"]]) {
      if (v(id)) q.set(key, v(id));
    }
    const path = (projectId ? "/projects/" + enc(projectId) + "/reports" : "/reports") + (q.toString() ? "?" + q : "");
    try {
      const out = await get(path);
      msg.textContent = "";
      clear(counts).append(...STATUSES.map((s) => h("span", { class: "chip" }, t("rep_status_" + s) + ": " + (out.counts[s] || 0))));
      clear(list);
      if (!out.reports.length) list.append(h("li", { class: "empty" }, t("rep_none")));
      for (const r of out.reports) list.append(h("li", null, card(r)));
    } catch (ex) {
      msg.textContent = errorText(ex);
    }
  }
  liveView(load);
  load();
}

function card(r) {
  const proj = state.projects.get(r.project_id);
  return h("a", { class: "report-card" + (r.priority === "dringend" ? " urgent" : ""), href: "#/report/" + enc(r.id) },
    h("span", { class: "report-head" },
      h("span", { class: "chat-title" }, "#" + r.number + " · " + (r.category_name || catName(r.category))),
      urgentTag(r),
      h("span", { class: "tag status-" + r.status }, t("rep_status_" + r.status))),
    h("span", { class: "chat-preview" }, r.text),
    h("span", { class: "chat-kind" }, [proj ? proj.name : null, r.assignee_name ? t("rep_with", { name: r.assignee_name }) : null, formatTime(r.created_at)].filter(Boolean).join(" · ")));
}

// ---------------------------------------------------------------- one report

async function reportPage(id, shell) {
  const main = shell(t("rep_title"), { back: "#/reports" });
  const body = h("div", { id: "report" });
  main.append(body);
  async function load() {
    let r;
    try {
      r = await get("/reports/" + enc(id));
    } catch (ex) {
      clear(body).append(h("p", { class: "error", role: "alert" }, errorText(ex)));
      return;
    }
    const title = document.querySelector(".topbar .title");
    if (title) title.textContent = t("rep_title_n", { n: r.number });
    render(body, r, load);
  }
  liveView(load, (ev) => (ev.data || {}).report_id === id);
  load();
}

function render(body, r, reload) {
  const err = h("p", { class: "error", role: "alert" });
  const chat = teamChat(r.project_id);
  const proj = state.projects.get(r.project_id);
  const actions = NEXT[r.status].map((to) => h("button", {
    type: "button", class: to === "offen" ? "secondary" : "primary", dataset: { to },
    onclick: async () => {
      try {
        if (to === "angenommen" && r.status === "offen") await post("/reports/" + enc(r.id) + "/acknowledge");
        else await post("/reports/" + enc(r.id) + "/status", { status: to, client_id: clientId() });
        reload();
      } catch (ex) {
        err.textContent = errorText(ex);
      }
    },
  }, t(to === "offen" ? "rep_reopen" : r.status === "offen" && to === "angenommen" ? "rep_ack" : "rep_to_" + to)));
  const pos = r.position && r.position.lat ? r.position : null;
  clear(body).append(h("div", null,
    h("div", { class: "card report-card" + (r.priority === "dringend" ? " urgent" : "") },
      h("p", { class: "report-head" },
        h("strong", null, r.category_name || catName(r.category)), urgentTag(r),
        h("span", { class: "tag status-" + r.status, id: "rep-status" }, t("rep_status_" + r.status))),
      h("p", { class: "text" }, r.text),
      pos ? h("p", null, h("a", { href: "geo:" + pos.lat + "," + pos.lon }, t("rep_position_set", { lat: pos.lat, lon: pos.lon }))) : null,
      r.position && r.position.note ? h("p", { class: "muted" }, r.position.note) : null,
      r.photo_ids.length ? h("div", { class: "row thumbs" }, r.photo_ids.map((f, i) => h("a", { href: "/api/v1/files/" + enc(f) + "/preview?size=large", target: "_blank" },
        h("img", { class: "thumb", src: "/api/v1/files/" + enc(f) + "/preview?size=thumb", alt: t("rep_photo_n", { n: i + 1 }) })))) : null,
      h("p", { class: "muted" }, t("rep_raised_by", { name: userName(r.created_by), when: formatTime(r.created_at) }),
        proj ? " · " + proj.name : null),
      h("p", { class: "row" }, chat ? h("a", { href: "#/chat/" + enc(chat.id) }, t("rep_to_chat")) : null,
        h("a", { href: "#/reports/" + enc(r.project_id) }, t("rep_project_board"))),
      err,
      h("div", { class: "row" }, actions)),
    h("h2", { class: "group-title" }, t("rep_chain")),
    h("ol", { class: "chain", id: "rep-chain" }, r.chain.map((c) => h("li", { class: c.current ? "current" : c.passed ? "passed" : "" },
      h("span", { class: "chat-title" }, c.name),
      " ",
      h("span", { class: "chip" }, t(c.current ? "rep_chain_current" : c.passed ? "rep_chain_passed" : "rep_chain_next"))))),
    r.status === "offen" && r.ack_due_at ? h("p", { class: "muted" }, t("rep_ack_due", { when: formatTime(r.ack_due_at) })) : null,
    r.escalation_exhausted ? h("p", { class: "notice" }, t("rep_exhausted")) : null,
    h("h2", { class: "group-title" }, t("rep_history")),
    h("ul", { class: "plain-list history", id: "rep-history" }, r.history.map((e) => h("li", null,
      h("time", null, formatTime(e.at)), " ", historyText(e))))));
}

function historyText(e) {
  const who = e.actor_id ? userName(e.actor_id) : "";
  if (e.kind === "created") return t("rep_hist_created", { name: who, to: e.assignee_id ? userName(e.assignee_id) : "–" });
  if (e.kind === "status") return t("rep_hist_status", { name: who, from: t("rep_status_" + e.from), to: t("rep_status_" + e.to) });
  if (e.kind === "escalated") return t("rep_hist_escalated", { from: userName(e.from), to: userName(e.to) });
  if (e.kind === "chain_exhausted") return t("rep_exhausted");
  return e.kind;
}

// ---------------------------------------------------------------- routing rules (admin)

export async function renderRouting(body) {
  const msg = h("p", { role: "alert", class: "error", id: "routing-msg" });
  const rulesList = h("ul", { class: "plain-list", id: "rules" });
  const cats = h("ul", { class: "plain-list", id: "own-categories" });
  const target = h("div");
  await state.loaded; // people and projects to choose from
  const projects = [...state.projects.values()].filter((x) => x.status === "active");
  const people = [...state.users.values()].filter((u) => !u.disabled && u.role !== "customer");
  let rules = [];
  await loadCategories(true).catch(() => []);
  const form = h("form", { class: "card" }, h("h2", null, t("rep_rule_new")),
    h("div", { id: "cat-slot" }),
    select("rule-kind", t("rep_rule_kind"), [["user", t("rep_rule_user")], ["role", t("rep_rule_role")], ["category", t("rep_rule_category")]], "user"),
    target,
    select("rule-project", t("rep_rule_project"), [["", t("rep_rule_all_projects")], ...projects.map((x) => [x.id, x.name])], ""),
    h("button", { type: "submit", class: "primary" }, t("rep_rule_add")));
  function fillTargets() {
    const kind = form.querySelector("#rule-kind").value;
    const opts = kind === "user" ? people.map((u) => [u.id, u.name])
      : kind === "role" ? ROLES.map((r) => [r, t("role_" + r)])
        : categories.map((c) => [c.key, c.name]);
    clear(target).append(select("rule-target", t("rep_rule_target"), opts, ""));
  }
  function fillCategories() {
    clear(form.querySelector("#cat-slot")).append(select("rule-category", t("rep_category"), categories.map((c) => [c.key, c.name]), "mangel"));
  }
  form.querySelector("#rule-kind").addEventListener("change", fillTargets);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    msg.textContent = "";
    const v = (id) => form.querySelector("#" + id).value;
    try {
      await post("/routing-rules", {
        client_id: clientId(), category: v("rule-category"), target_kind: v("rule-kind"),
        target: v("rule-target"), project_id: v("rule-project") || null,
      });
      load();
    } catch (ex) {
      // A loop is refused with the server's words: which categories would go round.
      msg.textContent = ex.code === "routing_loop" ? t("err_routing_loop") + " " + (ex.message || "") : errorText(ex);
    }
  });
  const catForm = h("form", { class: "row" },
    field("cat-name", t("rep_cat_new"), { name: "name", maxlength: "60", required: true }),
    h("button", { type: "submit", class: "secondary" }, t("rep_cat_add")));
  catForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await post("/report-categories", { name: catForm.querySelector("#f-cat-name").value.trim(), client_id: clientId() });
      catForm.reset();
      await loadCategories(true);
      fillCategories();
      fillTargets();
      showCategories();
    } catch (ex) {
      msg.textContent = errorText(ex);
    }
  });
  const timing = isAdmin() ? await timingForm(msg) : null;
  body.append(h("div", null, h("p", { class: "muted" }, t("rep_rules_hint")), form, msg,
    h("h2", { class: "group-title" }, t("rep_rules")), rulesList,
    h("h2", { class: "group-title" }, t("rep_own_categories")), cats, h("div", { class: "card" }, catForm),
    timing));
  function showCategories() {
    clear(cats);
    const own = categories.filter((c) => !c.builtin);
    if (!own.length) cats.append(h("li", { class: "muted" }, t("rep_none_own")));
    for (const c of own) cats.append(h("li", { class: "device" }, c.name));
  }
  function targetText(r) {
    if (r.target_kind === "user") return userName(r.target);
    if (r.target_kind === "role") return t("rep_rule_role") + ": " + t("role_" + r.target);
    return t("rep_rule_like", { name: catName(r.target) });
  }
  async function load() {
    try {
      rules = (await get("/routing-rules")).rules;
    } catch (ex) {
      msg.textContent = errorText(ex);
      return;
    }
    clear(rulesList);
    if (!rules.length) rulesList.append(h("li", { class: "muted" }, t("rep_rules_none")));
    for (const r of rules) {
      const proj = r.project_id ? state.projects.get(r.project_id) : null;
      rulesList.append(h("li", { class: "device" },
        h("span", { class: "chat-main" },
          h("span", { class: "chat-title" }, catName(r.category) + " → " + targetText(r)),
          h("span", { class: "chat-preview" }, proj ? proj.name : t("rep_rule_all_projects"))),
        h("button", {
          type: "button", class: "secondary small", "aria-label": t("delete") + ": " + catName(r.category),
          onclick: async () => {
            try { await del("/routing-rules/" + enc(r.id)); load(); } catch (ex) { msg.textContent = errorText(ex); }
          },
        }, t("delete"))));
    }
  }
  fillCategories();
  fillTargets();
  showCategories();
  load();
}

// The business's times: minutes to acknowledge a report, and to answer a customer (filled
// before it is shown, so nothing typed is overwritten by the answer).
async function timingForm(msg) {
  const note = h("p", { role: "status" });
  let r = {};
  try {
    r = await get("/tenant/rules");
  } catch (ex) {
    msg.textContent = errorText(ex);
  }
  const form = h("form", { class: "card" }, h("h2", null, t("rep_timing")),
    field("escalation", t("rep_escalation_minutes"), { type: "number", min: "1", max: "1440", required: true, value: r.escalation_minutes }),
    field("reply", t("rep_reply_minutes"), { type: "number", min: "1", max: "10080", required: true, value: r.reply_minutes }),
    h("button", { type: "submit", class: "primary" }, t("save")), note);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await patch("/tenant/rules", {
        escalation_minutes: Number(form.querySelector("#f-escalation").value),
        reply_minutes: Number(form.querySelector("#f-reply").value),
      });
      note.textContent = t("saved");
    } catch (ex) {
      note.textContent = errorText(ex);
    }
  });
  return form;
}

// Owner and office: archive exports for the tax office (docs/archive.md). Start an export of
// the business, a project, a chat, a customer or a person, for a period and, if the auditor
// asks for less, only some document classes; watch it run, download the signed ZIP.
// Loaded only when opened (from the admin screen).
import { get, post } from "./api.js";
import { h, clear } from "./dom.js";
import { language, t } from "./i18n.js";
import { errorText } from "./main.js";

const POLL_MS = 1000;
const SCOPES = ["business", "project", "chat", "customer", "person"];
const CLASSES = ["geschaeftsbrief", "buchungsbeleg", "intern"]; // retention/rules.py

export async function renderArchive(body, msg) {
  clear(body);
  const scope = h("select", { id: "ex-scope", name: "scope" },
    SCOPES.map((s) => h("option", { value: s }, t("archive_scope_" + s))));
  // One picker per scope; only the chosen scope's is shown and enabled (and sent).
  const pickers = {};
  const pickerFields = SCOPES.slice(1).map((s) => {
    pickers[s] = h("select", { id: "ex-" + s, name: s, disabled: true });
    return h("div", { class: "field", hidden: true, dataset: { scope: s } },
      h("label", { for: "ex-" + s }, t("archive_pick_" + s)), pickers[s]);
  });
  const showPicker = () => {
    for (const f of pickerFields) {
      const on = f.dataset.scope === scope.value;
      f.hidden = !on;
      pickers[f.dataset.scope].disabled = !on;
    }
  };
  scope.addEventListener("change", showPicker);
  const date = (id, label) => h("div", { class: "field" },
    h("label", { for: id }, label), h("input", { id, name: id, type: "date" }));
  const classes = h("fieldset", { class: "choices", id: "ex-classes" },
    h("legend", null, t("archive_classes")),
    CLASSES.map((c) => h("label", { class: "check" },
      h("input", { type: "checkbox", name: "classes", value: c }), t("class_" + c))),
    h("p", { class: "muted wide" }, t("archive_classes_hint")));
  const form = h("form", { class: "card", id: "export-form" },
    h("h2", null, t("archive_new")),
    h("p", { class: "muted" }, t("archive_explain")),
    h("div", { class: "field" }, h("label", { for: "ex-scope" }, t("archive_scope")), scope),
    pickerFields,
    date("ex-from", t("archive_from")),
    date("ex-to", t("archive_to")),
    classes,
    h("button", { type: "submit", class: "primary" }, t("archive_start")));
  const list = h("ul", { class: "plain-list", id: "export-list", "aria-live": "polite" });
  // The documents for the tax adviser and the data protection officer, made from the
  // installation's settings as they are today (GET /archive/documents/{name}, a PDF each).
  const docs = h("section", { class: "card", id: "documents" },
    h("h2", null, t("docs_title")),
    h("p", { class: "muted" }, t("docs_explain")),
    h("ul", { class: "plain-list" }, ["verfahrensdokumentation", "verzeichnis", "tom"].map((name) =>
      h("li", null, h("a", { class: "button-link", href: "/api/v1/archive/documents/" + name, download: "" }, t("docs_" + name))))));
  body.append(form, h("h2", null, t("archive_exports")), list, docs);

  // What each picker offers; the names also label the jobs in the list.
  const names = new Map();
  const failed = (ex) => { msg.textContent = errorText(ex); };
  const projectNames = new Map();
  const loadProjects = get("/projects").then((out) => {
    for (const p of out.projects) {
      projectNames.set(p.id, p.name);
      names.set(p.id, p.name);
      pickers.project.append(h("option", { value: p.id }, p.name));
    }
  }, failed);
  // Direct chats are never exported from here (docs/archive.md, "Scope"): not offered.
  const loadChats = Promise.all([get("/chats"), loadProjects]).then(([out]) => {
    const groups = { project: [], customer: [], channel: [] };
    for (const c of out.chats) {
      if (!groups[c.kind]) continue;
      const project = c.kind === "customer" ? projectNames.get(c.project_id) : null;
      const label = project ? `${c.title} – ${project}` : c.title;
      names.set(c.id, label);
      groups[c.kind].push([c.id, label]);
    }
    for (const [kind, items] of Object.entries(groups)) {
      if (!items.length) continue;
      items.sort((a, b) => a[1].localeCompare(b[1]));
      pickers.chat.append(h("optgroup", { label: t("archive_chats_" + kind) },
        items.map(([id, label]) => h("option", { value: id }, label))));
    }
  }, failed);
  const loadPeople = get("/compliance/people").then((out) => {
    const staff = [];
    const customers = [];
    for (const p of out.people) {
      const label = (p.name || "?") + (p.disabled ? " (" + t("admin_disabled") + ")" : "");
      names.set(p.id, label);
      (p.kind === "customer" ? customers : staff).push(h("option", { value: p.id }, label));
      if (p.kind === "customer") pickers.customer.append(h("option", { value: p.id }, label));
    }
    pickers.person.append(
      h("optgroup", { label: t("archive_people_staff") }, staff),
      customers.length ? h("optgroup", { label: t("archive_people_customers") }, customers) : null);
  }, failed);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const request = { scope: scope.value };
    if (scope.value !== "business") {
      const ref = pickers[scope.value].value;
      if (!ref) {
        msg.textContent = t("archive_pick_missing");
        pickers[scope.value].focus();
        return;
      }
      request.ref_id = ref;
    }
    if (form["ex-from"].value) request.date_from = form["ex-from"].value;
    if (form["ex-to"].value) request.date_to = form["ex-to"].value;
    const chosen = [...classes.querySelectorAll("input:checked")].map((c) => c.value);
    if (chosen.length) request.classes = chosen; // none ticked: every class
    try {
      await post("/archive/exports", request);
      msg.textContent = t("archive_started");
      refresh(list, msg, names);
    } catch (ex) {
      msg.textContent = errorText(ex);
    }
  });
  showPicker();
  await Promise.all([loadChats, loadPeople]);
  refresh(list, msg, names);
}

async function refresh(list, msg, names) {
  let out;
  try {
    out = await get("/archive/exports");
  } catch (ex) {
    msg.textContent = errorText(ex);
    return;
  }
  clear(list);
  if (msg.textContent === t("archive_started") && !out.exports.some((j) => j.state === "running")) {
    msg.textContent = "";
  }
  if (!out.exports.length) list.append(h("li", { class: "muted" }, t("archive_none")));
  for (const job of out.exports) list.append(item(job, names));
  // Poll while one runs and the screen is still shown.
  if (out.exports.some((j) => j.state === "running")) {
    setTimeout(() => { if (list.isConnected) refresh(list, msg, names); }, POLL_MS);
  }
}

// A day of the period as the server counts them: in German time (docs/archive.md).
function day(ms) {
  return new Date(ms).toLocaleDateString(language() === "de" ? "de-DE" : "en-GB",
    { day: "2-digit", month: "2-digit", year: "numeric", timeZone: "Europe/Berlin" });
}

// "Chat: Bad Müller" (what it names, when known here), the period and the classes.
function describe(job, names) {
  let what = t("archive_scope_" + job.scope);
  if (job.scope !== "business") what += ": " + (names.get(job.ref_id) || t("archive_ref_unknown"));
  const parts = [];
  // `until` is the first millisecond no longer included: the last day is the one before it.
  if (job.since != null && job.until != null) parts.push(day(job.since) + " – " + day(job.until - 1));
  else if (job.since != null) parts.push(t("archive_period_from", { date: day(job.since) }));
  else if (job.until != null) parts.push(t("archive_period_to", { date: day(job.until - 1) }));
  if (job.classes) parts.push(t("archive_only", { classes: job.classes.map((c) => t("class_" + c)).join(", ") }));
  return { what, detail: parts.join(" · ") };
}

function item(job, names) {
  const when = new Date(job.created_at).toLocaleString();
  const { what, detail: scopeDetail } = describe(job, names);
  const state = t("archive_state_" + job.state);
  let detail = null;
  if (job.state === "running") {
    detail = h("progress", {
      max: String(job.total || 1), value: String(job.done || 0),
      "aria-label": t("archive_progress"),
    });
  } else if (job.state === "done") {
    detail = h("a", {
      class: "button-link", href: `/api/v1/archive/exports/${job.id}/download`,
      download: `zunft-export-${job.id}.zip`,
    }, t("archive_download"));
  } else if (job.error) {
    detail = h("span", { class: "muted" }, job.error);
  }
  return h("li", { class: "card export", dataset: { state: job.state, id: job.id } },
    h("span", { class: "chat-main" },
      h("span", { class: "chat-title" }, what),
      h("span", { class: "chat-preview export-scope" }, [when, scopeDetail].filter(Boolean).join(" · ")),
      h("span", { class: "chat-preview" }, state +
        (job.state === "done" ? " · " + t("archive_counts", { messages: job.messages, files: job.files }) : ""))),
    detail);
}

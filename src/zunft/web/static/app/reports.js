// Meldungen (docs/webapp.md): the form (#/report-new/<project>), the boards (#/reports,
// #/reports/<project>), a report's page (#/report/<id>) with chain and history, the routing
// rules (admin section) and a project's own overrides (#/routing/<project>, for its lead).
// Live through the stream's report.* events.
import { del, get, patch, post } from "./api.js";
import { h, clear } from "./dom.js";
import { formatTime, t } from "./i18n.js";
import { errorText, field, isAdmin, mayManage, projectNav, state, userName } from "./main.js";
import { newClientId } from "./outbox.js";

const enc = encodeURIComponent;
const STATUSES = ["offen", "angenommen", "in_arbeit", "erledigt"];
const NEXT = { offen: ["angenommen", "in_arbeit", "erledigt"], angenommen: ["in_arbeit", "erledigt"], in_arbeit: ["erledigt", "angenommen"], erledigt: ["offen"] };
const ROLES = ["owner", "office", "lead", "worker", "apprentice"];
let categories = []; // [{key, name, builtin}]

const errBox = (id) => h("p", { class: "error", role: "alert", id });
const title = (text, n) => h("h2", { class: "group-title" }, text, n);
// An action whose failure is shown in `box` (never thrown at the page).
const guard = (box, fn) => async (...args) => {
  box.textContent = "";
  try {
    await fn(...args);
  } catch (ex) {
    box.textContent = errorText(ex);
  }
};

async function loadCategories() {
  categories = (await get("/report-categories")).categories;
}

function catName(key) {
  const c = categories.find((x) => x.key === key);
  return c ? c.name : key;
}

function teamChat(projectId) {
  return [...state.chats.values()].find((c) => c.project_id === projectId && c.kind === "project");
}

// Dringend not by colour alone: a symbol, a word and a thick border (app.css .urgent).
function urgentTag(r) {
  return r.priority === "dringend" ? h("span", { class: "tag urgent" }, "⚠ " + t("rep_prio_dringend")) : null;
}

function select(id, label, options, value) {
  return h("div", { class: "field" }, h("label", { for: id }, label),
    h("select", { id, name: id }, options.map(([v, text]) => h("option", { value: v, selected: v === value || null }, text))));
}

const val = (form, id) => form.querySelector("#" + id).value;

// The screen reloads on report events (a burst of them is one reload).
function liveView(reload, match) {
  let timer = null;
  state.view = {
    event(ev) {
      if (!ev.kind.startsWith("report.") || (match && !match(ev))) return;
      clearTimeout(timer);
      timer = setTimeout(reload, 150);
    },
    resync: reload,
    close: () => clearTimeout(timer),
  };
}

export async function renderScreen(screen, arg, shell) {
  await loadCategories().catch(() => {});
  if (screen === "report") return reportPage(arg, shell);
  if (screen === "report-new") return reportForm(arg, shell);
  if (screen === "routing") return projectRouting(arg, shell);
  return board(arg, shell);
}

// ---------------------------------------------------------------- raise a report

function reportForm(projectId, shell) {
  const p = state.projects.get(projectId);
  const chat = teamChat(projectId);
  const main = shell(t("rep_new_title"), { back: chat ? "#/chat/" + enc(chat.id) : "#/reports" });
  const cid = newClientId(); // one per form: a retry after a lost answer raises it once
  const err = errBox();
  const photos = []; // file ids
  const thumbs = h("div", { class: "row" });
  let position = null;
  const posText = h("span", { id: "rep-pos", role: "status" });
  const photoInput = h("input", { type: "file", id: "rep-photo", accept: "image/*", multiple: true, class: "visually-hidden" });
  const form = h("form", { class: "card report-form" },
    h("p", { class: "muted" }, p ? p.name : ""),
    select("rep-category", t("rep_category"), categories.map((c) => [c.key, c.name]), "mangel"),
    h("fieldset", { class: "prio" }, h("legend", null, t("rep_priority")),
      ["normal", "dringend"].map((v) => h("label", { class: "radio" + (v === "dringend" ? " urgent-choice" : "") },
        h("input", { type: "radio", name: "priority", value: v, checked: v === "normal" }),
        (v === "dringend" ? "⚠ " : "") + t("rep_prio_" + v)))),
    h("div", { class: "field" }, h("label", { for: "rep-text" }, t("rep_text")),
      h("textarea", { id: "rep-text", name: "text", rows: "4", required: true, maxlength: "10000" })),
    h("div", { class: "row" }, photoInput,
      h("button", { type: "button", class: "secondary", onclick: () => photoInput.click() }, t("rep_photo")),
      h("button", { type: "button", class: "secondary", onclick: locate }, t("rep_position")),
      posText),
    thumbs, err,
    h("button", { type: "submit", class: "primary big" }, t("rep_submit")));
  // Each photo with the single-upload API into the project chat (the media screens' upload
  // helper may take this over).
  photoInput.addEventListener("change", guard(err, async () => {
    for (const file of [...photoInput.files]) {
      const csrf = document.cookie.match(/(?:^|;\s*)zunft_csrf=([^;]+)/);
      const res = await fetch(`/api/v1/uploads/single?chat_id=${enc(chat.id)}&client_id=${enc(cid + ":" + photos.length)}&name=${enc(file.name)}`, {
        method: "POST", body: file, credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf ? decodeURIComponent(csrf[1]) : "", "Content-Type": "application/octet-stream" },
      });
      const out = await res.json();
      if (!res.ok) throw { code: (out.error || {}).code || "http_" + res.status };
      photos.push(out.id);
      thumbs.append(h("img", { src: URL.createObjectURL(file), alt: t("rep_photo_n", { n: photos.length }), class: "thumb" }));
    }
    photoInput.value = "";
  }));
  function locate() {
    const none = () => { posText.textContent = t("rep_position_none"); };
    if (!navigator.geolocation) return none();
    posText.textContent = t("rep_position_wait");
    navigator.geolocation.getCurrentPosition((pos) => {
      position = { lat: pos.coords.latitude, lon: pos.coords.longitude };
      posText.textContent = t("rep_position_set", { lat: position.lat.toFixed(5), lon: position.lon.toFixed(5) });
    }, none, { timeout: 15000, maximumAge: 60000 });
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(form);
    guard(err, async () => {
      const r = await post(`/projects/${enc(projectId)}/reports`, {
        client_id: cid, category: data.get("rep-category"), priority: data.get("priority"),
        text: data.get("text").trim(), position, photo_ids: photos,
      });
      location.hash = "#/report/" + enc(r.id);
    })();
  });
  main.append(form);
  form.querySelector("#rep-text").focus();
}

// ---------------------------------------------------------------- boards

function board(projectId, shell) {
  const p = state.projects.get(projectId);
  const main = shell(projectId ? t("rep_board_project", { project: p ? p.name : "" }) : t("nav_reports"), { back: projectId ? "#/reports" : null });
  const all = ["", t("rep_all")];
  const filters = h("form", { class: "filters", "aria-label": t("rep_filters") },
    select("f-status", t("rep_status"), [all, ["open", t("rep_not_done")], ...STATUSES.map((s) => [s, t("rep_status_" + s)])]),
    select("f-assignee", t("rep_assignee"), [all, ...[...state.users.values()].filter((u) => !u.disabled).map((u) => [u.id, u.name])]),
    select("f-category", t("rep_category"), [all, ...categories.map((c) => [c.key, c.name])]),
    select("f-priority", t("rep_priority"), [all, ["normal", t("rep_prio_normal")], ["dringend", t("rep_prio_dringend")]]),
    projectId ? null : select("f-project", t("rep_project"), [all, ...[...state.projects.values()].map((x) => [x.id, x.name])]));
  const counts = h("p", { class: "row counts", id: "rep-counts", "aria-live": "polite" });
  const list = h("ul", { class: "plain-list", id: "rep-list" });
  const msg = errBox();
  main.append(h("div", null, projectId ? projectNav(projectId, "reports") : null,
    projectId && teamChat(projectId) ? h("a", { class: "button-like primary", href: "#/report-new/" + enc(projectId) }, t("rep_raise")) : null,
    filters, counts, msg, list));
  filters.addEventListener("change", () => load());
  filters.addEventListener("submit", (e) => e.preventDefault());
  // Filter changes and live reloads may overlap; only the newest answer is drawn, so a slow
  // earlier one cannot overwrite the list the filters now ask for.
  let generation = 0;
  const load = guard(msg, async () => {
    const mine = ++generation;
    const q = new URLSearchParams();
    const status = val(filters, "f-status");
    for (const s of status === "open" ? STATUSES.slice(0, 3) : status ? [status] : []) q.append("status", s);
    for (const [id, key] of [["f-assignee", "assignee_id"], ["f-category", "category"], ["f-priority", "priority"], ["f-project", "project_id"]]) {
      const v = filters.querySelector("#" + id)?.value;
      if (v) q.set(key, v);
    }
    const out = await get((projectId ? `/projects/${enc(projectId)}/reports?` : "/reports?") + q);
    if (mine !== generation) return;
    clear(counts).append(...STATUSES.map((s) => h("span", { class: "chip" }, t("rep_status_" + s) + ": " + (out.counts[s] || 0))));
    clear(list).append(...(out.reports.length ? out.reports.map((r) => h("li", null, card(r))) : [h("li", { class: "empty" }, t("rep_none"))]));
  });
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
    h("span", { class: "chat-kind" }, [proj && proj.name, r.assignee_name && t("rep_with", { name: r.assignee_name }), formatTime(r.created_at)].filter(Boolean).join(" · ")));
}

// ---------------------------------------------------------------- one report

function reportPage(id, shell) {
  const main = shell(t("rep_title"), { back: "#/reports" });
  const body = h("div", { id: "report" });
  main.append(body);
  const load = guard(body, async () => {
    const r = await get("/reports/" + enc(id));
    const heading = document.querySelector(".topbar .title");
    if (heading) heading.textContent = t("rep_title_n", { n: r.number });
    render(body, r, load);
  });
  liveView(load, (ev) => (ev.data || {}).report_id === id);
  load();
}

function render(body, r, reload) {
  const err = errBox();
  const chat = teamChat(r.project_id);
  const proj = state.projects.get(r.project_id);
  const path = "/reports/" + enc(r.id);
  const label = (to) => (to === "offen" ? "rep_reopen" : r.status === "offen" && to === "angenommen" ? "rep_ack" : "rep_to_" + to);
  const pos = r.position && r.position.lat ? r.position : null;
  const photo = (f, size) => `/api/v1/files/${enc(f)}/preview?size=${size}`;
  clear(body).append(h("div", null,
    h("div", { class: "card report-card" + (r.priority === "dringend" ? " urgent" : "") },
      h("p", { class: "report-head" },
        h("strong", null, r.category_name || catName(r.category)), urgentTag(r),
        h("span", { class: "tag status-" + r.status, id: "rep-status" }, t("rep_status_" + r.status))),
      h("p", { class: "text" }, r.text),
      pos ? h("p", null, h("a", { href: `geo:${pos.lat},${pos.lon}` }, t("rep_position_set", pos))) : null,
      r.position && r.position.note ? h("p", { class: "muted" }, r.position.note) : null,
      h("div", { class: "row" }, r.photo_ids.map((f, i) => h("a", { href: photo(f, "large"), target: "_blank" },
        h("img", { class: "thumb", src: photo(f, "thumb"), alt: t("rep_photo_n", { n: i + 1 }) })))),
      h("p", { class: "muted" }, t("rep_raised_by", { name: userName(r.created_by), when: formatTime(r.created_at) }), proj ? " · " + proj.name : null),
      h("p", { class: "row" }, chat ? h("a", { href: "#/chat/" + enc(chat.id) }, t("rep_to_chat")) : null,
        h("a", { href: "#/reports/" + enc(r.project_id) }, t("rep_project_board"))),
      err,
      h("div", { class: "row" }, NEXT[r.status].map((to) => h("button", {
        type: "button", class: to === "offen" ? "secondary" : "primary",
        onclick: guard(err, async () => {
          if (label(to) === "rep_ack") await post(path + "/acknowledge");
          else await post(path + "/status", { status: to, client_id: newClientId() });
          reload();
        }),
      }, t(label(to)))))),
    title(t("rep_chain")),
    h("ol", { class: "chain", id: "rep-chain" }, r.chain.map((c) => h("li", { class: c.current ? "current" : c.passed ? "passed" : "" },
      h("span", { class: "chat-title" }, c.name), " ",
      h("span", { class: "chip" }, t(c.current ? "rep_chain_current" : c.passed ? "rep_chain_passed" : "rep_chain_next"))))),
    r.status === "offen" && r.ack_due_at ? h("p", { class: "muted" }, t("rep_ack_due", { when: formatTime(r.ack_due_at) })) : null,
    r.escalation_exhausted ? h("p", { class: "notice" }, t("rep_exhausted")) : null,
    title(t("rep_history")),
    h("ul", { class: "plain-list history", id: "rep-history" }, r.history.map((e) => h("li", null,
      h("time", null, formatTime(e.at)), " ", historyText(e))))));
}

function historyText(e) {
  const name = e.actor_id ? userName(e.actor_id) : "";
  if (e.kind === "created") return t("rep_hist_created", { name, to: e.assignee_id ? userName(e.assignee_id) : "–" });
  if (e.kind === "status") return t("rep_hist_status", { name, from: t("rep_status_" + e.from), to: t("rep_status_" + e.to) });
  if (e.kind === "escalated") return t("rep_hist_escalated", { from: userName(e.from), to: userName(e.to) });
  return e.kind === "chain_exhausted" ? t("rep_exhausted") : e.kind;
}

// ---------------------------------------------------------------- routing rules

const targetText = (r) => (r.target_kind === "user" ? userName(r.target)
  : r.target_kind === "role" ? t("rep_rule_role") + ": " + t("role_" + r.target) : t("rep_rule_like", { name: catName(r.target) }));

// A refused rule in German: a loop names its circle of categories (details.loop), never the
// server's English sentence.
function ruleError(ex) {
  const loop = ex.code === "routing_loop" && ex.body && ex.body.error.details && ex.body.error.details.loop;
  return loop ? t("err_routing_loop_path", { path: loop.map(catName).join(" → ") }) : errorText(ex);
}

// The form for a new rule: category, kind of target, target (and `extra` fields); `add` gets
// the rule. form.fill() (re)draws the choices once the categories are known.
function ruleForm(heading, extra, add) {
  const people = [...state.users.values()].filter((u) => !u.disabled);
  const catSlot = h("div");
  const target = h("div");
  const kind = select("rule-kind", t("rep_rule_kind"), [["user", t("rep_rule_user")], ["role", t("rep_rule_role")], ["category", t("rep_rule_category")]]);
  const form = h("form", { class: "card" }, h("h2", null, heading), catSlot, kind, target, extra,
    h("button", { type: "submit", class: "primary" }, t("rep_rule_add")));
  const catOptions = () => categories.map((c) => [c.key, c.name]);
  function fillTarget() {
    const k = val(form, "rule-kind");
    clear(target).append(select("rule-target", t("rep_rule_target"), k === "user" ? people.map((u) => [u.id, u.name])
      : k === "role" ? ROLES.map((r) => [r, t("role_" + r)]) : catOptions()));
  }
  form.fill = () => {
    clear(catSlot).append(select("rule-category", t("rep_category"), catOptions(), "mangel"));
    fillTarget();
  };
  kind.addEventListener("change", fillTarget);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    add({ client_id: newClientId(), category: val(form, "rule-category"), target_kind: val(form, "rule-kind"), target: val(form, "rule-target") });
  });
  return form;
}

function ruleItem(r, where, remove) {
  return h("li", { class: "device" },
    h("span", { class: "chat-main" },
      h("span", { class: "chat-title" }, catName(r.category) + " → " + targetText(r)),
      where ? h("span", { class: "chat-preview" }, where) : null),
    remove ? h("button", {
      type: "button", class: "secondary small", "aria-label": t("delete") + ": " + catName(r.category) + " → " + targetText(r), onclick: remove,
    }, t("delete")) : null);
}

// Owner and office (#/admin/routing): the business's rules and every project's overrides,
// own categories, and the business's times.
export async function renderRouting(body) {
  await Promise.all([state.loaded, loadCategories().catch(() => {})]); // people, projects, categories
  const msg = errBox("routing-msg");
  const rulesList = h("ul", { class: "plain-list", id: "rules" });
  const cats = h("ul", { class: "plain-list", id: "own-categories" });
  const form = ruleForm(t("rep_rule_new"), select("rule-project", t("rep_rule_project"), [["", t("rep_rule_all_projects")],
    ...[...state.projects.values()].filter((x) => x.status === "active").map((x) => [x.id, x.name])]), (rule) => {
    msg.textContent = "";
    post("/routing-rules", { ...rule, project_id: val(form, "rule-project") || null }).then(load, (ex) => { msg.textContent = ruleError(ex); });
  });
  function fill() {
    form.fill();
    const own = categories.filter((c) => !c.builtin);
    clear(cats).append(...(own.length ? own.map((c) => h("li", { class: "device" }, c.name)) : [h("li", { class: "muted" }, t("rep_none_own"))]));
  }
  const catForm = h("form", { class: "card row" },
    field("cat-name", t("rep_cat_new"), { maxlength: "60", required: true }),
    h("button", { type: "submit", class: "secondary" }, t("rep_cat_add")));
  catForm.addEventListener("submit", (e) => {
    e.preventDefault();
    guard(msg, async () => {
      await post("/report-categories", { name: val(catForm, "f-cat-name").trim(), client_id: newClientId() });
      catForm.reset();
      await loadCategories();
      fill();
    })();
  });
  const load = guard(msg, async () => {
    const { rules } = await get("/routing-rules");
    clear(rulesList).append(...(rules.length ? [] : [h("li", { class: "muted" }, t("rep_rules_none"))]), ...rules.map((r) => {
      const proj = state.projects.get(r.project_id);
      return ruleItem(r, proj ? proj.name : t("rep_rule_all_projects"), guard(msg, async () => { await del("/routing-rules/" + enc(r.id)); load(); }));
    }));
  });
  body.append(h("div", null, h("p", { class: "muted" }, t("rep_rules_hint")), form, msg,
    title(t("rep_rules")), rulesList, title(t("rep_own_categories")), cats, catForm,
    isAdmin() ? await timingForm(msg) : null));
  fill();
  load();
}

// A project's own routing (#/routing/<project id>): its lead (and owner, office) add and
// remove overrides, which come before the business's rules; those are shown, not changed here.
function projectRouting(projectId, shell) {
  const p = state.projects.get(projectId);
  const chat = teamChat(projectId);
  const main = shell(t("rep_routing_title", { project: p ? p.name : "" }), { back: chat ? "#/chat/" + enc(chat.id) : "#/reports/" + enc(projectId) });
  const msg = errBox("routing-msg");
  const own = h("ul", { class: "plain-list", id: "project-rules" });
  const business = h("ul", { class: "plain-list", id: "business-rules" });
  const form = mayManage(projectId) ? ruleForm(t("rep_rule_new_project"), null, (rule) => {
    msg.textContent = "";
    post("/routing-rules", { ...rule, project_id: projectId }).then(load, (ex) => { msg.textContent = ruleError(ex); });
  }) : null;
  const load = guard(msg, async () => {
    const { rules } = await get("/routing-rules?project_id=" + enc(projectId));
    const mine = rules.filter((r) => r.project_id === projectId);
    const all = rules.filter((r) => !r.project_id);
    clear(own).append(...(mine.length ? mine.map((r) => ruleItem(r, null, form && guard(msg, async () => {
      await del("/routing-rules/" + enc(r.id));
      load();
    }))) : [h("li", { class: "muted" }, t("rep_project_rules_none"))]));
    clear(business).append(...(all.length ? all.map((r) => ruleItem(r, t("rep_rule_all_projects"), null)) : [h("li", { class: "muted" }, t("rep_rules_none"))]));
  });
  main.append(h("div", null, projectNav(projectId, "routing"),
    h("p", { class: "muted" }, t("rep_routing_project_hint")), form, msg,
    title(t("rep_project_rules")), own, title(t("rep_business_rules")), business));
  if (form) form.fill();
  load();
}

// The business's times to acknowledge a report and to answer a customer; filled before it is
// shown, so a slow answer never overwrites what was typed.
async function timingForm(msg) {
  const note = h("p", { role: "status" });
  let r = {};
  await guard(msg, async () => { r = await get("/tenant/rules"); })();
  const form = h("form", { class: "card" }, h("h2", null, t("rep_timing")),
    field("escalation", t("rep_escalation_minutes"), { type: "number", min: "1", max: "1440", required: true, value: r.escalation_minutes }),
    field("reply", t("rep_reply_minutes"), { type: "number", min: "1", max: "10080", required: true, value: r.reply_minutes }),
    h("button", { type: "submit", class: "primary" }, t("save")), note);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    guard(note, async () => {
      await patch("/tenant/rules", { escalation_minutes: Number(val(form, "f-escalation")), reply_minutes: Number(val(form, "f-reply")) });
      note.textContent = t("saved");
    })();
  });
  return form;
}

// Owner and office: archive exports for the tax office (docs/archive.md). Start an export of
// the business or one project for a period, watch it run, download the signed ZIP.
// Loaded only when opened (from the admin screen).
import { get, post } from "./api.js";
import { h, clear } from "./dom.js";
import { t } from "./i18n.js";
import { errorText } from "./main.js";

const POLL_MS = 1000;

export async function renderArchive(body, msg) {
  clear(body);
  const scope = h("select", { id: "ex-scope", name: "scope" },
    h("option", { value: "business" }, t("archive_scope_business")),
    h("option", { value: "project" }, t("archive_scope_project")));
  const project = h("select", { id: "ex-project", name: "project", disabled: true });
  scope.addEventListener("change", () => { project.disabled = scope.value !== "project"; });
  const date = (id, label) => h("div", { class: "field" },
    h("label", { for: id }, label), h("input", { id, name: id, type: "date" }));
  const form = h("form", { class: "card", id: "export-form" },
    h("h2", null, t("archive_new")),
    h("p", { class: "muted" }, t("archive_explain")),
    h("div", { class: "field" }, h("label", { for: "ex-scope" }, t("archive_scope")), scope),
    h("div", { class: "field" }, h("label", { for: "ex-project" }, t("archive_scope_project")), project),
    date("ex-from", t("archive_from")),
    date("ex-to", t("archive_to")),
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
  try {
    const out = await get("/projects");
    for (const p of out.projects) project.append(h("option", { value: p.id }, p.name));
  } catch (ex) {
    msg.textContent = errorText(ex);
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const request = { scope: scope.value };
    if (scope.value === "project") request.ref_id = project.value;
    if (form["ex-from"].value) request.date_from = form["ex-from"].value;
    if (form["ex-to"].value) request.date_to = form["ex-to"].value;
    try {
      await post("/archive/exports", request);
      msg.textContent = t("archive_started");
      refresh(list, msg);
    } catch (ex) {
      msg.textContent = errorText(ex);
    }
  });
  refresh(list, msg);
}

async function refresh(list, msg) {
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
  for (const job of out.exports) list.append(item(job));
  // Poll while one runs and the screen is still shown.
  if (out.exports.some((j) => j.state === "running")) {
    setTimeout(() => { if (list.isConnected) refresh(list, msg); }, POLL_MS);
  }
}

function item(job) {
  const when = new Date(job.created_at).toLocaleString();
  const what = job.scope === "business" ? t("archive_scope_business") : t("archive_scope_" + job.scope);
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
      h("span", { class: "chat-title" }, `${what} · ${when}`),
      h("span", { class: "chat-preview" }, state +
        (job.state === "done" ? " · " + t("archive_counts", { messages: job.messages, files: job.files }) : ""))),
    detail);
}

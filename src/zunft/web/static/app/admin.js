// Owner and office: staff (invite, change role, disable) and projects (create, members,
// complete, archive). Loaded only when opened.
import { get, patch, post, del } from "./api.js";
import { h, clear } from "./dom.js";
import { t } from "./i18n.js";
import { errorText, field, state } from "./main.js";
import { presenceLine } from "./presence.js";

const ROLES = ["owner", "office", "lead", "worker", "apprentice"];

export function renderAdminScreen(main, section) {
  main.append(h("nav", { class: "subtabs", "aria-label": t("nav_admin") },
    h("a", { href: "#/admin/users", class: "tab", "aria-current": section === "users" ? "page" : null }, t("admin_users")),
    h("a", { href: "#/admin/projects", class: "tab", "aria-current": section === "projects" ? "page" : null }, t("admin_projects")),
    h("a", { href: "#/admin/archive", class: "tab", "aria-current": section === "archive" ? "page" : null }, t("archive_tab")),
    h("a", { href: "#/admin/compliance", class: "tab" }, t("cmp_title")),
    // Customers and reports (cust.js, reports.js)
    ["questions", "consent", "routing"].map((s) => h("a", { href: "#/admin/" + s, class: "tab", "aria-current": section === s ? "page" : null }, t("admin_" + s)))));
  const body = h("div");
  const msg = h("p", { role: "status", class: "notice" });
  main.append(msg, body);
  if (section === "archive") import("./archive.js").then((m) => m.renderArchive(body, msg));
  else if (section === "projects") projects(body, msg);
  else if (section === "questions" || section === "consent") import("./cust.js").then((m) => m.renderAdminSection(body, section));
  else if (section === "routing") import("./reports.js").then((m) => m.renderRouting(body));
  else users(body, msg);
}

function roleSelect(id, value, onchange) {
  return h("select", { id, onchange, "aria-label": t("profile_role") },
    ROLES.map((r) => h("option", { value: r, selected: r === value ? true : null }, t("role_" + r))));
}

async function users(body, msg) {
  clear(body);
  const invite = h("form", { class: "card" },
    h("h2", null, t("admin_invite")),
    h("div", { class: "field" }, h("label", { for: "inv-role" }, t("profile_role")), roleSelect("inv-role", "worker")),
    field("note", t("admin_invite_note"), { maxlength: "200" }),
    h("button", { type: "submit", class: "primary" }, t("admin_invite_create")));
  const link = h("p", { class: "invite-link" });
  invite.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const out = await post("/invitations", { role: invite.querySelector("#inv-role").value, note: invite.note.value || null });
      // The token travels in the fragment, which browsers never send to a server.
      const url = location.origin + "/#/invite/" + encodeURIComponent(out.token);
      clear(link).append(t("admin_invite_done"), " ", h("code", { id: "invite-url" }, url));
    } catch (ex) {
      msg.textContent = errorText(ex);
    }
  });
  const list = h("ul", { class: "plain-list" });
  body.append(invite, link, h("h2", null, t("admin_users")), list);
  try {
    const out = await get("/users");
    for (const u of out.users) {
      const self = u.id === state.me.id;
      list.append(h("li", { class: "device" + (u.disabled ? " disabled" : "") },
        h("span", { class: "chat-main" },
          h("span", { class: "chat-title" }, u.name, " ", self ? null : presenceLine(u.id)),
          h("span", { class: "chat-preview" }, (u.email || "") + (u.disabled ? " · " + t("admin_disabled") : ""))),
        self ? h("span", { class: "muted" }, t("role_" + u.role)) : roleSelect("role-" + u.id, u.role, async (e) => {
          try { await patch("/users/" + u.id, { role: e.target.value }); msg.textContent = t("saved"); } catch (ex) { msg.textContent = errorText(ex); }
        }),
        self ? null : h("button", {
          class: u.disabled ? "secondary small" : "danger small",
          onclick: async () => {
            try { await patch("/users/" + u.id, { disabled: !u.disabled }); users(body, msg); } catch (ex) { msg.textContent = errorText(ex); }
          },
        }, u.disabled ? t("admin_enable") : t("admin_disable"))));
    }
  } catch (ex) {
    msg.textContent = errorText(ex);
  }
}

async function projects(body, msg) {
  clear(body);
  const create = h("form", { class: "card" },
    h("h2", null, t("admin_project_new")),
    field("name", t("admin_project_name"), { required: true, maxlength: "200" }),
    field("address", t("admin_project_address"), { maxlength: "300" }),
    h("button", { type: "submit", class: "primary" }, t("admin_project_create")));
  create.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await post("/projects", { name: create.name.value, address: create.address.value || null });
      msg.textContent = t("saved");
      projects(body, msg);
    } catch (ex) {
      msg.textContent = errorText(ex);
    }
  });
  const list = h("ul", { class: "plain-list" });
  body.append(create, h("h2", null, t("admin_projects")), list);
  let people = [];
  try {
    const [out, us] = await Promise.all([get("/projects"), get("/users")]);
    people = us.users.filter((u) => !u.disabled);
    // The list names no members; each project's own view does.
    const full = await Promise.all(out.projects.map((p) => get("/projects/" + p.id).catch(() => p)));
    for (const p of full) list.append(projectItem(p, people, body, msg));
  } catch (ex) {
    msg.textContent = errorText(ex);
  }
}

function projectItem(p, people, body, msg) {
  const setStatus = (status) => async () => {
    try { await patch("/projects/" + p.id, { status }); projects(body, msg); } catch (ex) { msg.textContent = errorText(ex); }
  };
  const members = new Set(p.member_ids || (p.members || []).map((m) => m.user_id || m.id || m));
  const add = h("select", { "aria-label": t("admin_member_add") },
    h("option", { value: "" }, t("admin_member_add")),
    people.filter((u) => !members.has(u.id)).map((u) => h("option", { value: u.id }, u.name)));
  add.addEventListener("change", async () => {
    if (!add.value) return;
    try { await post(`/projects/${p.id}/members`, { user_id: add.value }); projects(body, msg); } catch (ex) { msg.textContent = errorText(ex); }
  });
  return h("li", { class: "card project" },
    h("h3", null, p.name, " ", h("span", { class: "chip" }, t("status_" + p.status))),
    p.address ? h("p", { class: "muted" }, p.address) : null,
    h("ul", { class: "members" }, [...members].map((id) => {
      const u = people.find((x) => x.id === id);
      return h("li", null, u ? u.name : id, " ", presenceLine(id), " ", h("button", {
        class: "link small", "aria-label": t("admin_member_remove") + " " + (u ? u.name : ""),
        onclick: async () => {
          try { await del(`/projects/${p.id}/members/${id}`); projects(body, msg); } catch (ex) { msg.textContent = errorText(ex); }
        },
      }, "×"));
    })),
    h("div", { class: "row" },
      add,
      p.status === "active" ? h("button", { class: "secondary small", onclick: setStatus("completed") }, t("admin_complete")) : null,
      p.status !== "archived" ? h("button", { class: "secondary small", onclick: setStatus("archived") }, t("admin_archive")) : null,
      p.status !== "active" ? h("button", { class: "secondary small", onclick: setStatus("active") }, t("admin_reopen")) : null));
}

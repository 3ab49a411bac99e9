// zunft web app: boot, login, routing and the screens around the chat view.
import { ApiError, del, get, patch, post, put } from "./api.js";
import { h, clear } from "./dom.js";
import { formatTime, language, setLanguage, t } from "./i18n.js";
import { kvClear, kvGet, kvSet } from "./store.js";
import { Stream } from "./stream.js";
import { ChatView } from "./chat.js";
import { Outbox } from "./outbox.js";
import { applyPresence, presenceLine } from "./presence.js";

const root = document.getElementById("app");

export const state = {
  me: null,
  chats: new Map(), // id -> chat as GET /chats returns it
  projects: new Map(), // id -> project
  users: new Map(), // id -> {id, name, role, disabled}
  stream: null,
  outbox: null,
  view: null, // the screen object in front (ChatView or null)
  online: navigator.onLine,
  connected: false,
};

export function userName(id) {
  if (state.me && id === state.me.id) return t("you");
  const u = state.users.get(id);
  return u ? u.name : t("unknown_person");
}

export function isAdmin() {
  return state.me && (state.me.role === "owner" || state.me.role === "office");
}

// Owner, office and the project's lead manage a project: its customers, its routing overrides.
export function mayManage(projectId) {
  const p = state.projects.get(projectId);
  return isAdmin() || !!(p && state.me && p.lead_id === state.me.id);
}

// The project's own screens, one tap apart, for those who manage it (cust.js, reports.js).
export function projectNav(projectId, current) {
  if (!mayManage(projectId)) return null;
  const pid = encodeURIComponent(projectId);
  return h("nav", { class: "subtabs", "aria-label": t("project_nav") },
    [["customers", "cust_staff_nav"], ["reports", "nav_reports"], ["routing", "admin_routing"]].map(([screen, label]) =>
      h("a", { href: `#/${screen}/${pid}`, class: "tab", "aria-current": screen === current ? "page" : null }, t(label))));
}

// ---------------------------------------------------------------- boot

async function boot() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch(() => {});
  }
  window.addEventListener("hashchange", route);
  window.addEventListener("online", () => setOnline(true));
  window.addEventListener("offline", () => setOnline(false));
  const invite = (location.hash || "").match(/^#\/invite\/([A-Za-z0-9_-]+)$/);
  if (invite) return renderInvite(invite[1]);
  // A customer's link (/kunde#<token>) or a customer's session: their own small app.
  if (location.pathname === "/kunde") return customerApp((location.hash || "").slice(1));
  try {
    state.me = await get("/me");
    await kvSet("me", state.me);
  } catch (err) {
    if (err.code === "staff_only") return customerApp("");
    if (err.offline) {
      state.me = await kvGet("me");
    } else if (err.code === "totp_setup_required") {
      return renderTotpSetup(true);
    }
    if (!state.me) return renderLogin();
  }
  await startSession();
}

async function customerApp(token) {
  const { openCustomerLink, startCustomer } = await import("./customer.js");
  return /^[A-Za-z0-9_-]{20,}$/.test(token) ? openCustomerLink(token) : startCustomer();
}

async function startSession() {
  if (state.me.totp_setup_required) return renderTotpSetup(true);
  const cached = await kvGet("chats");
  if (cached && cached.user_id === state.me.id) setChats(cached.chats);
  const people = await kvGet("users");
  if (people && people.user_id === state.me.id) setUsers(people.users);
  state.outbox = new Outbox(state);
  state.stream = new Stream(state.me.id, {
    frame: onFrame,
    ready: () => {
      state.connected = true;
      renderStatus();
      state.outbox.flush();
      if (state.view && state.view.onReady) state.view.onReady();
    },
    closed: () => {
      state.connected = false;
      state.outbox.connectionLost();
      renderStatus();
    },
    ended: () => logoutLocal(),
  });
  state.outbox.onChange = (change) => {
    if (state.view && state.view.outboxChanged) state.view.outboxChanged(change);
  };
  state.loaded = refreshLists();
  state.stream.start();
  route();
}

async function refreshLists() {
  try {
    const [chats, projects, users] = await Promise.all([
      get("/chats"),
      get("/projects"),
      get("/users").catch(() => ({ users: [] })),
    ]);
    setUsers(users.users);
    state.projects = new Map(projects.projects.map((p) => [p.id, p]));
    setChats(chats.chats);
    kvSet("users", { user_id: state.me.id, users: users.users });
    rerenderList();
  } catch (err) {
    if (err.status === 401) logoutLocal();
  }
}

function setUsers(list) {
  state.users = new Map(list.map((u) => [u.id, u]));
}

function setChats(list) {
  state.chats = new Map(list.map((c) => [c.id, c]));
  kvSet("chats", { user_id: state.me.id, chats: list });
}

function saveChats() {
  kvSet("chats", { user_id: state.me.id, chats: [...state.chats.values()] });
}

function setOnline(on) {
  state.online = on;
  renderStatus();
}

// ---------------------------------------------------------------- stream frames

function onFrame(frame) {
  if (frame.type === "sync") {
    setChats(frame.chats);
    rerenderList();
    if (state.view && state.view.resync) state.view.resync();
    return;
  }
  if (frame.type === "ack" || (frame.type === "error" && frame.client_id)) {
    state.outbox.answer(frame);
    return;
  }
  if (frame.type === "hello" || frame.type === "presence") {
    applyPresence(frame);
    return;
  }
  if (frame.type === "typing") {
    if (state.view && state.view.typing) state.view.typing(frame);
    return;
  }
  if (frame.type === "event") {
    applyEvent(frame);
    if (state.view && state.view.event) state.view.event(frame);
  }
}

function applyEvent(ev) {
  const chat = state.chats.get(ev.chat_id);
  const d = ev.data || {};
  switch (ev.kind) {
    case "message.sent":
      if (!chat || !d.message_id) {  // (no id: an erased entry replayed; the list reloads)
        refreshLists();
        return;
      }
      // A replay after a reconnect can bring what the chat list already counts.
      if (ev.seq <= (chat.last_seq || 0)) return;
      chat.last_seq = ev.seq;
      chat.last_message = {
        id: d.message_id, seq: ev.seq, sender_id: d.sender_id, text: d.text,
        created_at: ev.ts, deleted: false, chat_id: ev.chat_id,
      };
      if (d.sender_id === state.me.id) {
        chat.last_read_seq = Math.max(chat.last_read_seq || 0, ev.seq);
      } else if (!(state.view && state.view.chatId === ev.chat_id && state.view.visible())) {
        chat.unread = (chat.unread || 0) + 1;
      }
      break;
    case "message.edited":
      if (chat && chat.last_message && chat.last_message.id === d.message_id) {
        chat.last_message.text = d.text;
      }
      break;
    case "message.deleted":
      if (chat && chat.last_message && chat.last_message.id === d.message_id) {
        chat.last_message.deleted = true;
        chat.last_message.text = null;
      }
      break;
    case "chat.read":
      if (chat && d.user_id === state.me.id) {
        chat.last_read_seq = d.seq;
        // The exact count comes with the next list; nothing after the marker is unread here.
        if (d.seq >= chat.last_seq) chat.unread = 0;
      }
      break;
    case "consent.withdrawn":
      if (chat) chat.consent_withdrawn = true;
      break;
    case "chat.created":
    case "chat.member_added":
    case "chat.member_removed":
    case "user.profile_changed":
      refreshLists();
      return;
    default:
      return;
  }
  saveChats();
  rerenderList();
}

// ---------------------------------------------------------------- layout

function shell(title, { back, actions } = {}) {
  clear(root);
  const main = h("main", { id: "main", class: "screen", tabindex: "-1" });
  const header = h("header", { class: "topbar" },
    back ? h("a", { class: "icon-btn", href: back, "aria-label": t("back") }, "‹") : null,
    h("h1", { class: "title" }, title),
    h("span", { id: "status", class: "status", role: "status", "aria-live": "polite" }),
    actions || null,
  );
  const nav = h("nav", { class: "tabs", "aria-label": t("nav") },
    tab("#/", t("nav_chats")),
    tab("#/reports", t("nav_reports")),
    tab("#/search", t("nav_search")),
    tab("#/devices", t("nav_devices")),
    tab("#/profile", t("nav_profile")),
    isAdmin() ? tab("#/admin", t("nav_admin")) : null,
  );
  root.append(header, main, nav);
  renderStatus();
  return main;
}

function tab(href, label) {
  const here = (location.hash || "#/") === href ||
    (href !== "#/" && (location.hash || "").startsWith(href));
  return h("a", { href, class: "tab", "aria-current": here ? "page" : null }, label);
}

export function renderStatus() {
  // The stream's state on the root element too (styles and tests can wait for it).
  document.documentElement.dataset.stream = state.connected ? "ready" : "closed";
  const el = document.getElementById("status");
  if (!el) return;
  let text = "";
  if (!state.online) text = t("status_offline");
  else if (state.stream && !state.connected) text = t("status_connecting");
  el.textContent = text;
  el.hidden = !text;
}

// ---------------------------------------------------------------- routing

function route() {
  if (!state.me || state.me.kind === "customer") return;
  if (state.view && state.view.close) state.view.close();
  state.view = null;
  const hash = location.hash || "#/";
  const [, screen, arg] = hash.match(/^#\/([^/]*)\/?(.*)$/) || [];
  switch (screen) {
    case "chat": {
      // #/chat/<id> opens at the end; #/chat/<id>/<seq> at that message (a search hit).
      const [id, seq] = arg.split("/");
      return renderChat(decodeURIComponent(id), /^\d+$/.test(seq || "") ? Number(seq) : null);
    }
    case "new":
      return renderNewChatScreen();
    case "search":
      return renderSearch();
    case "devices":
      return renderDevices();
    case "profile":
      return renderProfile();
    case "admin":
      return renderAdmin(arg);
    case "gallery":
      return renderGalleryScreen(decodeURIComponent(arg));
    case "customers":
    case "questions":
    case "reports":
    case "report":
    case "report-new":
    case "routing":
      return renderLazy(screen, arg, hash);
    default:
      return renderList();
  }
}

// From this width the chat list stays beside the open chat (app.css has the same number).
const WIDE = window.matchMedia("(min-width: 900px)");

function rerenderList() {
  if (!state.view && (location.hash || "#/") === "#/" && state.me) renderList();
  else if (state.view && state.view.titleChanged) state.view.titleChanged();
}

// ---------------------------------------------------------------- login

function renderLogin(step) {
  clear(root);
  const lastTenant = localStorage.getItem("zunft.tenant") || "";
  const err = h("p", { class: "error", role: "alert", id: "login-error" });
  const fields = step
    ? [
      h("p", null, t("login_totp_hint")),
      field("totp_code", t("login_totp"), { inputmode: "numeric", autocomplete: "one-time-code", required: true, pattern: "[0-9 ]*" }),
    ]
    : [
      field("tenant", t("login_tenant"), { value: lastTenant, autocomplete: "organization", required: true, autocapitalize: "none" }),
      field("email", t("login_email"), { type: "email", autocomplete: "username", required: true }),
      field("password", t("login_password"), { type: "password", autocomplete: "current-password", required: true }),
    ];
  const form = h("form", { class: "card login", novalidate: false },
    h("h1", null, h("img", { src: "/app/icons/icon.svg", alt: "", width: "40", height: "40" }), " zunft"),
    h("p", { class: "muted" }, t("login_intro")),
    ...fields,
    err,
    h("button", { type: "submit", class: "primary" }, step ? t("login_confirm") : t("login_submit")),
    langSwitch(() => renderLogin(step)),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    const creds = step ? { ...step, totp_code: data.totp_code.replace(/\s/g, "") } : data;
    err.textContent = "";
    try {
      await post("/auth/login", { ...creds, session_kind: "cookie", device_name: deviceName() });
      localStorage.setItem("zunft.tenant", creds.tenant);
      state.me = await get("/me");
      await kvSet("me", state.me);
      location.hash = "#/";
      await startSession();
    } catch (ex) {
      if (ex.code === "totp_required" && !step) return renderLogin(data);
      err.textContent = errorText(ex);
    }
  });
  root.append(h("main", { class: "screen center" }, form));
  form.querySelector("input").focus();
}

// An invitation link (#/invite/<token>: the fragment never reaches a server log).
async function renderInvite(token) {
  clear(root);
  const err = h("p", { class: "error", role: "alert" });
  const card = h("div", { class: "card login" });
  root.append(h("main", { class: "screen center" }, card));
  let info;
  try {
    info = await post("/invitations/lookup", { token });
  } catch (ex) {
    card.append(h("h1", null, t("invite_title")), h("p", { role: "alert", class: "error" }, errorText(ex)),
      h("a", { href: "#/", onclick: () => setTimeout(() => location.reload()) }, t("login_submit")));
    return;
  }
  const form = h("form", { class: "login" },
    h("h1", null, t("invite_title")),
    h("p", null, t("invite_text", { business: info.tenant_name, role: t("role_" + info.role) })),
    field("name", t("profile_name"), { required: true, autocomplete: "name", maxlength: "100" }),
    field("email", t("login_email"), { type: "email", required: true, autocomplete: "username" }),
    field("password", t("invite_password"), { type: "password", required: true, autocomplete: "new-password" }),
    err,
    h("button", { type: "submit", class: "primary" }, t("invite_accept")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    err.textContent = "";
    try {
      await post("/invitations/accept", { ...data, token, session_kind: "cookie", device_name: deviceName() });
      localStorage.setItem("zunft.tenant", info.tenant);
      state.me = await get("/me");
      await kvSet("me", state.me);
      history.replaceState(null, "", "/#/");
      await startSession();
    } catch (ex) {
      err.textContent = errorText(ex);
    }
  });
  card.append(form);
  form.querySelector("input").focus();
}

export function deviceName() {
  const ua = navigator.userAgent;
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS"
    : /Windows/.test(ua) ? "Windows" : /Mac OS/.test(ua) ? "macOS" : /Linux/.test(ua) ? "Linux" : "";
  return os ? t("device_browser_on", { os }) : t("device_browser");
}

// Set up a second factor: the secret (to type or to open in an authenticator app), then a
// code from the app confirms it. Required before anything else when the business asks it of
// owners and office; otherwise reached from the profile.
async function renderTotpSetup(required) {
  clear(root);
  const err = h("p", { class: "error", role: "alert" });
  const card = h("div", { class: "card login" });
  root.append(h("main", { class: "screen center" }, card));
  let setup;
  try {
    setup = await post("/me/totp");
  } catch (ex) {
    card.append(h("p", { class: "error", role: "alert" }, errorText(ex)));
    return;
  }
  const form = h("form", { class: "login" },
    h("h1", null, t("totp_setup_title")),
    h("p", null, t(required ? "totp_setup_required" : "totp_setup_text")),
    h("p", null, t("totp_setup_secret")),
    h("p", { class: "secret" }, h("code", { id: "totp-secret" }, setup.secret.replace(/(.{4})/g, "$1 ").trim())),
    qrCode(setup.qr_svg),
    h("p", null, h("a", { href: setup.otpauth_uri, class: "button-link" }, t("totp_open_app"))),
    field("code", t("login_totp"), { inputmode: "numeric", autocomplete: "one-time-code", required: true }),
    err,
    h("button", { type: "submit", class: "primary" }, t("login_confirm")),
    required
      ? h("button", { type: "button", class: "link", onclick: logout }, t("logout"))
      : h("a", { href: "#/profile", class: "button-link", onclick: () => setTimeout(route) }, t("cancel")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    try {
      await post("/me/totp/confirm", { code: form.code.value.replace(/\s/g, "") });
      state.me = await get("/me");
      await kvSet("me", state.me);
      history.replaceState(null, "", "/#/");
      if (state.stream) route();
      else await startSession();
    } catch (ex) {
      err.textContent = errorText(ex);
    }
  });
  card.append(form);
  form.code.focus();
}

// The server's SVG QR code, parsed as SVG (never as HTML) and taken only if it is one.
function qrCode(svg) {
  const doc = svg ? new DOMParser().parseFromString(svg, "image/svg+xml") : null;
  const el = doc && doc.documentElement;
  if (!el || el.nodeName !== "svg" || el.querySelector("script, foreignObject")) return null;
  el.setAttribute("role", "img");
  el.setAttribute("aria-label", t("totp_qr"));
  el.setAttribute("id", "totp-qr");
  return h("p", { class: "qr" }, document.importNode(el, true));
}

export function field(name, label, attrs = {}) {
  const id = "f-" + name;
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, name, ...attrs }),
  );
}

export function errorText(ex) {
  if (ex instanceof ApiError || (ex && ex.code)) {
    if (ex.offline) return t("err_offline");
    const key = "err_" + ex.code;
    const text = t(key);
    return text === key ? t("err_generic", { code: ex.code }) : text;
  }
  return t("err_generic", { code: String(ex) });
}

function langSwitch(after) {
  const next = language() === "de" ? "en" : "de";
  return h("button", {
    type: "button", class: "link", lang: next,
    onclick: () => { setLanguage(next); after(); },
  }, t("switch_language"));
}

async function logout() {
  try {
    await post("/auth/logout");
  } catch {
    // Offline or already ended: the local state goes anyway.
  }
  logoutLocal();
}

async function logoutLocal() {
  if (state.stream) state.stream.stop();
  state.stream = null;
  state.me = null;
  state.view = null;
  state.chats = new Map();
  await kvClear();
  renderLogin();
}

// ---------------------------------------------------------------- chat list

const KIND_LABEL = { project: "kind_project", customer: "kind_customer", channel: "kind_channel", direct: "kind_direct" };

function renderList() {
  const start = h("a", { class: "top-btn", href: "#/new", id: "new-chat" }, t("newchat_open"));
  fillList(shell(t("nav_chats"), { actions: start }));
}

// Neuer Chat (newchat.js): a 1:1 chat with a colleague, or a channel (owner, office).
async function renderNewChatScreen() {
  const { renderNewChat } = await import("./newchat.js");
  await state.loaded; // the colleagues to choose from
  if ((location.hash || "#/") === "#/new" && state.me) renderNewChat(shell(t("newchat_title"), { back: "#/" }));
}

// The chat list into a container: the list screen, or the left pane next to a chat on a
// wide screen (the office's desktop).
function fillList(main, currentId) {
  clear(main);
  // Beside an open chat (a wide screen) the list's own top bar is not shown: start from here.
  if (currentId !== undefined) main.append(h("a", { class: "button-like secondary pane-new", href: "#/new" }, t("newchat_open")));
  const groups = new Map(); // key -> {title, chats, latest}
  for (const chat of state.chats.values()) {
    const p = chat.project_id ? state.projects.get(chat.project_id) : null;
    const key = chat.project_id || "";
    let title = chat.project_id ? (p ? p.name : chat.title) : t("group_general");
    if (p && p.status !== "active") title += " · " + t("status_" + p.status);
    if (!groups.has(key)) groups.set(key, { title, chats: [], latest: 0 });
    const g = groups.get(key);
    g.chats.push(chat);
    g.latest = Math.max(g.latest, chat.last_seq || 0);
  }
  if (!groups.size) {
    main.append(h("p", { class: "empty" }, t("no_chats")));
    return;
  }
  // Projects by latest activity; the general chats (channels, 1:1) after them.
  const general = groups.get("");
  groups.delete("");
  const sorted = [...groups.values()].sort((a, b) => b.latest - a.latest);
  if (general) sorted.push(general);
  for (const g of sorted) {
    g.chats.sort((a, b) => (b.last_seq || 0) - (a.last_seq || 0));
    main.append(h("section", { class: "group" },
      h("h2", { class: "group-title" }, g.title),
      h("ul", { class: "chat-list" }, g.chats.map((c) => chatItem(c, c.id === currentId))),
    ));
  }
}

function chatItem(chat, current) {
  const m = chat.last_message;
  let preview = t("no_messages");
  if (m) {
    const who = m.sender_id === state.me.id ? t("you") : userName(m.sender_id);
    preview = who + ": " + (m.deleted ? t("message_deleted") : m.text || t("media_attachment"));
  }
  const unread = chat.unread || 0;
  return h("li", null, h("a", {
    class: "chat-item" + (unread ? " has-unread" : ""),
    href: "#/chat/" + encodeURIComponent(chat.id),
    dataset: { chatId: chat.id },
    "aria-current": current ? "true" : null,
  },
  h("span", { class: "chat-main" },
    h("span", { class: "chat-title" }, chat.title || t(KIND_LABEL[chat.kind] || "kind_channel")),
    h("span", { class: "chat-kind" }, t(KIND_LABEL[chat.kind] || "kind_channel"),
      chat.consent_withdrawn ? h("span", { class: "chip" }, " · " + t("consent_withdrawn")) : null),
    h("span", { class: "chat-preview" }, preview)),
  h("span", { class: "chat-meta" },
    m ? h("time", null, formatTime(m.created_at)) : null,
    unread ? h("span", { class: "badge", "aria-label": t("unread_count", { n: unread }) }, String(unread)) : null),
  ));
}

// ---------------------------------------------------------------- chat view

function renderChat(chatId, target = null) {
  const chat = state.chats.get(chatId);
  const main = shell(chat ? chat.title : t("nav_chats"), { back: "#/", actions: chatActions(chat) });
  if (chat && chat.peer_id) root.querySelector(".topbar .title").append(presenceLine(chat.peer_id));
  let pane = main;
  let side = null;
  if (WIDE.matches) {
    side = h("nav", { class: "list-pane", "aria-label": t("nav_chats") });
    pane = h("section", { class: "chat-screen chat-pane" });
    main.classList.add("split");
    main.append(side, pane);
    fillList(side, chatId);
  } else {
    main.classList.add("chat-screen");
  }
  state.view = new ChatView(state, chatId, pane, target);
  state.view.titleChanged = () => {
    const c = state.chats.get(chatId);
    const title = root.querySelector(".topbar .title");
    if (c && title) title.firstChild.textContent = c.title; // the presence line stays
    if (c && title && c.peer_id && !title.querySelector(".presence")) title.append(presenceLine(c.peer_id));
    if (side) fillList(side, chatId);
  };
  state.view.open();
}

// In a project's chats: raise a report (Meldung); the project's customers for owner, office
// and the project's lead, whose screens lead on to the project's reports and routing
// (projectNav; docs/webapp.md).
function chatActions(chat) {
  if (!chat || !chat.project_id) return null;
  const pid = encodeURIComponent(chat.project_id);
  const gallery = h("a", { class: "top-link", id: "open-gallery", href: "#/gallery/" + pid }, t("gallery_open"));
  if (chat.project_status === "archived") return gallery;
  return h("span", { class: "row top-actions" },
    gallery,
    chat.kind === "project" ? h("a", { class: "top-btn", href: "#/report-new/" + pid, id: "raise-report" }, t("rep_raise")) : null,
    mayManage(chat.project_id) ? h("a", { class: "top-btn", href: "#/customers/" + pid }, t("cust_staff_nav")) : null);
}

export function markChatRead(chatId, seq) {
  const chat = state.chats.get(chatId);
  if (!chat || !chat.is_member) return;
  if (chat.last_read_seq >= seq && !chat.unread) return;
  chat.last_read_seq = Math.max(chat.last_read_seq || 0, seq);
  chat.unread = 0;
  saveChats();
  if (!state.stream || !state.stream.send({ type: "read", chat_id: chatId, seq })) {
    post("/chats/" + encodeURIComponent(chatId) + "/read", { seq }).catch(() => {});
  }
}

// ---------------------------------------------------------------- search

function renderSearch() {
  const main = shell(t("nav_search"));
  const results = h("ul", { class: "results", "aria-live": "polite" });
  const form = h("form", { class: "searchbar", role: "search" },
    h("label", { for: "q", class: "visually-hidden" }, t("search_label")),
    h("input", { id: "q", name: "q", type: "search", placeholder: t("search_placeholder"), required: true }),
    h("button", { type: "submit", class: "primary" }, t("search_submit")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = form.q.value.trim();
    clear(results);
    try {
      const out = await get("/search?q=" + encodeURIComponent(q));
      const hits = out.results || out.messages || [];
      if (!hits.length) results.append(h("li", { class: "empty" }, t("search_none")));
      for (const m of hits) {
        const chat = state.chats.get(m.chat_id);
        const at = "#/chat/" + encodeURIComponent(m.chat_id) + "/" + m.seq;
        results.append(h("li", null, h("a", { class: "result", href: at },
          h("span", { class: "chat-title" }, chat ? chat.title : ""),
          h("span", { class: "chat-preview" }, userName(m.sender_id) + ": " + (m.text || t("message_deleted"))),
          h("time", null, formatTime(m.created_at)))));
      }
    } catch (ex) {
      results.append(h("li", { class: "error", role: "alert" }, errorText(ex)));
    }
  });
  main.append(form, results);
  form.q.focus();
}

// ---------------------------------------------------------------- devices

async function renderDevices() {
  const main = shell(t("nav_devices"));
  const list = h("ul", { class: "plain-list", id: "sessions" });
  const msg = h("p", { role: "status" });
  const others = h("button", {
    class: "danger", id: "revoke-others",
    onclick: async () => {
      try {
        const out = await post("/sessions/revoke-others");
        msg.textContent = t("devices_revoked", { n: out.revoked ?? "" });
        load();
      } catch (ex) {
        msg.textContent = errorText(ex);
      }
    },
  }, t("devices_logout_others"));
  main.append(h("p", { class: "muted" }, t("devices_intro")), list, others, msg,
    h("button", { class: "secondary", onclick: logout }, t("logout")));
  async function load() {
    clear(list);
    try {
      const out = await get("/sessions");
      for (const s of out.sessions) {
        const current = s.current || s.id === state.me.session_id;
        list.append(h("li", { class: "device" },
          h("span", { class: "chat-main" },
            h("span", { class: "chat-title" }, s.device_name || t("device_browser")),
            h("span", { class: "chat-preview" },
              current ? t("devices_this") : t("devices_last_seen", { when: formatTime(s.last_seen_at || s.created_at) }))),
          current ? null : h("button", {
            class: "secondary small",
            onclick: async () => {
              try { await del("/sessions/" + encodeURIComponent(s.id)); load(); } catch (ex) { msg.textContent = errorText(ex); }
            },
          }, t("devices_logout_one"))));
      }
    } catch (ex) {
      list.append(h("li", { class: "error" }, errorText(ex)));
    }
  }
  load();
}

// ---------------------------------------------------------------- profile

function renderProfile() {
  const main = shell(t("nav_profile"));
  const me = state.me;
  const msg = h("p", { role: "status", id: "profile-msg" });
  const form = h("form", { class: "card profile" },
    field("name", t("profile_name"), { value: me.name, required: true, autocomplete: "name" }),
    field("phone", t("profile_phone"), { value: me.phone || "", type: "tel", autocomplete: "tel" }),
    h("p", { class: "muted" }, t("profile_role") + ": " + t("role_" + me.role)),
    h("p", { class: "muted" }, t("profile_email") + ": " + (me.email || "")),
    h("p", { class: "muted" }, t(me.totp_enabled ? "profile_totp_on" : "profile_totp_off")),
    me.totp_enabled ? null : h("button", { type: "button", class: "secondary", onclick: () => renderTotpSetup(false) }, t("totp_setup_start")),
    h("button", { type: "submit", class: "primary" }, t("save")),
    msg,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const phone = form.phone.value.trim();
      state.me = { ...state.me, ...(await patch("/me", { name: form.name.value, phone: phone || null })) };
      kvSet("me", state.me);
      msg.textContent = t("saved");
    } catch (ex) {
      msg.textContent = errorText(ex);
    }
  });
  main.append(form, workingHours(), h("div", { class: "card" },
    h("h2", null, t("language")),
    langSwitch(renderProfile)));
}

// Working hours: one line per day, e.g. "07:00-12:00, 12:30-16:00"; empty is a day off.
const DAYS = ["mo", "di", "mi", "do", "fr", "sa", "so"];

function workingHours() {
  const msg = h("p", { role: "status", id: "hours-msg" });
  const note = h("p", { class: "muted" });
  const form = h("form", { class: "card hours" }, h("h2", null, t("hours_title")), note,
    DAYS.map((d) => field("day-" + d, t("day_" + d), { placeholder: t("hours_off") })),
    h("div", { class: "row" },
      h("button", { type: "submit", class: "primary" }, t("save")),
      h("button", { type: "button", class: "secondary", onclick: () => save(null) }, t("hours_reset"))),
    msg);
  const url = "/users/" + encodeURIComponent(state.me.id) + "/working-hours";
  // Typing while the hours (re)load must not be overwritten by what the server had before.
  let edits = 0;
  form.addEventListener("input", () => edits++);
  async function load() {
    try {
      const before = edits;
      const out = await get(url);
      note.textContent = t(out.own ? "hours_own" : "hours_business");
      if (edits !== before) return;
      for (const d of DAYS) {
        form.querySelector("#f-day-" + d).value = (out.hours[d] || []).map(([a, b]) => a + "–" + b).join(", ");
      }
    } catch (ex) {
      msg.textContent = errorText(ex);
    }
  }
  async function save(hours) {
    try {
      await put(url, { hours });
      msg.textContent = t("saved");
      load();
    } catch (ex) {
      msg.textContent = errorText(ex);
    }
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const hours = {};
    for (const d of DAYS) {
      const text = form.querySelector("#f-day-" + d).value.trim();
      hours[d] = text ? text.split(",").map((part) => part.trim().split(/\s*[-–]\s*/)) : [];
    }
    save(hours);
  });
  load();
  return form;
}

// ---------------------------------------------------------------- project gallery (gallery.js)

async function renderGalleryScreen(projectId) {
  const { renderGallery } = await import("./gallery.js");
  const chat = [...state.chats.values()].find((c) => c.project_id === projectId);
  const main = shell(t("gallery_title"), { back: chat ? "#/chat/" + encodeURIComponent(chat.id) : "#/" });
  state.view = renderGallery(main, projectId);
}

// Customers of a project and open customer questions (cust.js), reports and a project's
// routing overrides (reports.js): loaded when opened.
async function renderLazy(screen, arg, hash) {
  const mod = await import(screen === "customers" || screen === "questions" ? "./cust.js" : "./reports.js");
  await state.loaded; // projects and people, for names and choices
  if ((location.hash || "#/") === hash && state.me) mod.renderScreen(screen, decodeURIComponent(arg), shell);
}

// ---------------------------------------------------------------- admin (owner, office)

async function renderAdmin(section) {
  if (section === "compliance") {  // retention, holds, GDPR, audit log (compliance.js)
    const { renderComplianceScreen } = await import("./compliance.js");
    return renderComplianceScreen(shell(t("nav_admin")));
  }
  const { renderAdminScreen } = await import("./admin.js");
  const main = shell(t("nav_admin"));
  renderAdminScreen(main, section || "users");
}

boot();

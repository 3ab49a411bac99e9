// The customer's side (docs/customers.md, docs/webapp.md "Customers"): a non-technical person
// on their own phone. The invitation link /kunde#<token> shows who invites them and the
// consent text; accepting leads into their chat, nothing else: no tabs, no staff list, no
// admin. A menu holds "Einwilligung widerrufen". Loaded only on /kunde or for a customer
// session (GET /me answers staff_only).
import { get, post } from "./api.js";
import { h, clear } from "./dom.js";
import { formatTime, t } from "./i18n.js";
import { kvClear } from "./store.js";
import { Stream } from "./stream.js";
import { Outbox } from "./outbox.js";
import { ChatView } from "./chat.js";
import { deviceName, errorText, state } from "./main.js";

const root = document.getElementById("app");

// The screen of one step: a card in the middle, big text. The chat's stream stops here, so
// a session ended by this step (withdrawal) is told by the step, not by the stream's close.
function page(...children) {
  document.documentElement.classList.add("customer");
  stopLive();
  clear(root);
  const card = h("div", { class: "card cust-card" }, ...children);
  root.append(h("main", { id: "main", class: "screen center" }, card));
  const focus = card.querySelector("h1");
  if (focus) {
    focus.tabIndex = -1;
    focus.focus();
  }
  return card;
}

function consentBox(consent) {
  return h("div", { class: "consent-text", tabindex: "0", role: "region", "aria-label": t("cust_consent_title") },
    h("p", { class: "muted" }, t("cust_consent_version", { v: consent.version })),
    h("p", { class: "text" }, consent.text));
}

// ---------------------------------------------------------------- the invitation link

export async function openCustomerLink(token) {
  page(h("p", { class: "muted" }, t("cust_loading")));
  let info;
  try {
    info = await post("/customer/invitations/lookup", { token });
  } catch (ex) {
    return linkInvalid(ex);
  }
  showInvitation(token, info, null);
}

function linkInvalid(ex) {
  page(h("h1", null, t("cust_link_invalid_title")),
    h("p", { role: "alert" }, ex && ex.code !== "invitation_invalid" ? errorText(ex) : t("cust_link_invalid")));
}

function showInvitation(token, info, notice) {
  const err = h("p", { class: "error", role: "alert" });
  const accept = h("button", { type: "button", class: "primary big", id: "cust-accept" }, t("cust_accept"));
  const decline = h("button", { type: "button", class: "secondary big", id: "cust-decline" }, t("cust_decline"));
  page(
    h("h1", null, info.name ? t("cust_hello_name", { name: info.name }) : t("cust_hello")),
    h("p", null, t("cust_invites", { business: info.business_name, project: info.project_name })),
    notice ? h("p", { class: "notice", role: "alert" }, notice) : null,
    h("h2", null, t("cust_consent_title")),
    h("p", null, t("cust_consent_intro")),
    consentBox(info.consent),
    err,
    h("div", { class: "cust-actions" }, accept, decline),
  );
  accept.addEventListener("click", async () => {
    accept.disabled = true;
    err.textContent = "";
    try {
      await post("/customer/invitations/accept", {
        token,
        consent_version: info.consent.version,
        consent_sha256: info.consent.sha256,
        device_name: deviceName(),
        session_kind: "cookie",
      });
    } catch (ex) {
      accept.disabled = false;
      // The business published a new text while this one was being read: show it.
      const fresh = ex.code === "consent_changed" && ex.body && ex.body.error.details;
      if (fresh && fresh.consent) return showInvitation(token, { ...info, consent: fresh.consent }, t("cust_consent_changed"));
      if (ex.code === "invitation_invalid") return linkInvalid(ex);
      err.textContent = errorText(ex);
      return;
    }
    // The link is spent: it leaves the address bar and the history.
    history.replaceState(null, "", "/kunde");
    startCustomer();
  });
  decline.addEventListener("click", () => confirmDecline(token, info));
}

function confirmDecline(token, info) {
  const err = h("p", { class: "error", role: "alert" });
  const yes = h("button", { type: "button", class: "danger big" }, t("cust_decline_yes"));
  page(h("h1", null, t("cust_decline_title")), h("p", null, t("cust_decline_text")), err,
    h("div", { class: "cust-actions" }, yes,
      h("button", { type: "button", class: "secondary big", onclick: () => showInvitation(token, info, null) }, t("back"))));
  yes.addEventListener("click", async () => {
    try {
      await post("/customer/invitations/decline", { token });
    } catch (ex) {
      if (ex.code !== "invitation_invalid") {
        err.textContent = errorText(ex);
        return;
      }
    }
    history.replaceState(null, "", "/kunde");
    page(h("h1", null, t("cust_declined_title")), h("p", null, t("cust_declined_text", { business: info.business_name })));
  });
}

// ---------------------------------------------------------------- the customer's session

export async function startCustomer() {
  let me;
  try {
    me = await get("/customer/me");
  } catch (ex) {
    if (ex.status === 401 || ex.code === "account_disabled") return noAccess();
    return page(h("h1", null, t("cust_title")), h("p", { role: "alert" }, errorText(ex)));
  }
  state.me = { id: me.id, name: me.name, role: "customer", kind: "customer" };
  state.customer = me;
  if (me.consent.needs_acceptance && me.consent.current) return reconsent(me);
  if (me.chats.length === 1) return openChat(me, me.chats[0]);
  page(h("h1", null, me.business_name),
    h("ul", { class: "plain-list", id: "cust-chats-list" }, me.chats.slice().sort((a, b) => a.project_name.localeCompare(b.project_name)).map((c) => h("li", null,
      h("button", { type: "button", class: "secondary big wide", onclick: () => openChat(me, c) }, c.project_name)))),
    menuButton(me));
}

function noAccess() {
  page(h("h1", null, t("cust_title")), h("p", null, t("cust_no_access")));
}

// The business published a new consent text: read and accept it before anything else.
function reconsent(me) {
  const err = h("p", { class: "error", role: "alert" });
  const accept = h("button", { type: "button", class: "primary big" }, t("cust_accept"));
  page(h("h1", null, t("cust_reconsent_title")),
    h("p", null, t("cust_reconsent_text", { business: me.business_name })),
    consentBox(me.consent.current), err,
    h("div", { class: "cust-actions" }, accept,
      h("button", { type: "button", class: "secondary big", onclick: () => confirmWithdraw(me) }, t("cust_reconsent_no"))));
  accept.addEventListener("click", async () => {
    try {
      const c = me.consent.current;
      await post("/customer/consent", { version: c.version, sha256: c.sha256, device_name: deviceName() });
      startCustomer();
    } catch (ex) {
      if (ex.code === "consent_changed") return startCustomer();
      err.textContent = errorText(ex);
    }
  });
}

function menuButton(me) {
  return h("button", { type: "button", class: "secondary big", id: "cust-menu", onclick: () => menu(me) }, t("cust_menu"));
}

function menu(me) {
  const c = me.consent;
  page(h("h1", null, t("cust_menu")),
    h("p", null, me.business_name),
    h("p", { class: "muted" }, t("cust_consent_given", { v: c.version, when: formatTime(c.accepted_at) })),
    h("details", null, h("summary", null, t("cust_consent_read")), h("p", { class: "text" }, c.text)),
    h("div", { class: "cust-actions" },
      h("button", { type: "button", class: "primary big", onclick: startCustomer }, t("cust_back_to_chat")),
      h("button", { type: "button", class: "danger big", id: "cust-withdraw", onclick: () => confirmWithdraw(me) }, t("cust_withdraw"))));
}

function confirmWithdraw(me) {
  const err = h("p", { class: "error", role: "alert" });
  const yes = h("button", { type: "button", class: "danger big" }, t("cust_withdraw_yes"));
  page(h("h1", null, t("cust_withdraw")), h("p", null, t("cust_withdraw_text", { business: me.business_name })), err,
    h("div", { class: "cust-actions" }, yes,
      h("button", { type: "button", class: "secondary big", onclick: startCustomer }, t("cancel"))));
  yes.addEventListener("click", async () => {
    try {
      await post("/customer/consent/withdraw");
    } catch (ex) {
      err.textContent = errorText(ex);
      return;
    }
    ended();
  });
}

async function ended() {
  stopLive();
  await kvClear();
  state.me = null;
  page(h("h1", null, t("cust_withdrawn_title")), h("p", null, t("cust_withdrawn_text")));
}

// ---------------------------------------------------------------- the chat

function stopLive() {
  if (state.view && state.view.close) state.view.close();
  state.view = null;
  if (state.stream) state.stream.stop();
  state.stream = null;
}

function openChat(me, c) {
  stopLive();
  document.documentElement.classList.add("customer");
  clear(root);
  state.chats = new Map([[c.chat_id, { id: c.chat_id, kind: "customer", title: c.project_name, is_member: true }]]);
  const main = h("main", { id: "main", class: "screen chat-screen", tabindex: "-1" });
  root.append(h("header", { class: "topbar" },
    // Chats about several jobs: back to the list of them.
    me.chats.length > 1 ? h("button", { type: "button", class: "icon-btn", id: "cust-chats", "aria-label": t("cust_all_chats"), onclick: startCustomer }, "‹") : null,
    h("h1", { class: "title" }, c.project_name),
    h("span", { id: "status", class: "status", role: "status", "aria-live": "polite", hidden: true }),
    h("button", { type: "button", class: "secondary", id: "cust-menu", onclick: () => menu(me) }, t("cust_menu"))),
  h("p", { class: "cust-business" }, t("cust_chat_with", { business: me.business_name })), main);
  // Names of the people in the chat come with the chat view (name only: nothing more).
  state.users = new Map();
  state.outbox = new Outbox(state);
  state.stream = new Stream(me.id, {
    frame: (f) => onFrame(me, f),
    ready: () => {
      state.connected = true;
      document.documentElement.dataset.stream = "ready";
      state.outbox.flush();
      if (state.view && state.view.onReady) state.view.onReady();
    },
    closed: () => {
      state.connected = false;
      document.documentElement.dataset.stream = "closed";
      if (state.outbox) state.outbox.connectionLost();
    },
    // Session ended (withdrawn on another device, or revoked): say so.
    ended: () => startCustomer(),
  });
  state.outbox.onChange = (change) => {
    if (state.view && state.view.outboxChanged) state.view.outboxChanged(change);
  };
  state.view = new ChatView(state, c.chat_id, main);
  state.view.open();
  state.stream.start();
}

function onFrame(me, frame) {
  if (frame.type === "ack" || (frame.type === "error" && frame.client_id)) {
    state.outbox.answer(frame);
    // A new consent text meanwhile: the send was refused; read and accept it first.
    if (frame.code === "consent_required") startCustomer();
    return;
  }
  if (frame.type === "sync" && state.view) return state.view.resync();
  if (frame.type === "typing" && state.view) return state.view.typing(frame);
  if (frame.type === "event" && state.view) state.view.event(frame);
}

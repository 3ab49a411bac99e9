// Start a conversation: a 1:1 chat with a colleague (any staff member), or a company channel
// with chosen members (owner and office). Loaded when "Neuer Chat" is opened.
import { post } from "./api.js";
import { h, clear } from "./dom.js";
import { t } from "./i18n.js";
import { errorText, field, isAdmin, state } from "./main.js";
import { newClientId } from "./outbox.js";

function colleagues() {
  return [...state.users.values()]
    .filter((u) => u.id !== state.me.id && !u.disabled)
    .sort((a, b) => a.name.localeCompare(b.name, "de"));
}

export function renderNewChat(main) {
  clear(main);
  const msg = h("p", { role: "alert", class: "notice", id: "newchat-msg" });
  const people = colleagues();
  const direct = h("section", { class: "card", "aria-labelledby": "newchat-direct" },
    h("h2", { id: "newchat-direct" }, t("newchat_direct")),
    people.length
      ? h("ul", { class: "plain-list people" }, people.map((u) => h("li", null,
        h("button", {
          type: "button",
          class: "person",
          dataset: { userId: u.id },
          onclick: (e) => openDirect(u.id, e.currentTarget, msg),
        }, h("span", { class: "person-name" }, u.name), h("span", { class: "muted" }, t("role_" + u.role))))))
      : h("p", { class: "empty" }, t("newchat_nobody")));
  main.append(msg, direct);
  if (isAdmin()) main.append(channelForm(people, msg));
}

async function openDirect(userId, button, msg) {
  button.disabled = true;
  try {
    const chat = await post("/chats/direct", { user_id: userId });
    location.hash = "#/chat/" + encodeURIComponent(chat.id);
  } catch (ex) {
    msg.textContent = errorText(ex);
    button.disabled = false;
  }
}

function channelForm(people, msg) {
  // One client id per form shown: pressing "create" twice (or a retry after a lost answer)
  // makes one channel.
  const clientId = newClientId();
  const form = h("form", { class: "card", id: "channel-form" },
    h("h2", null, t("newchat_channel")),
    h("p", { class: "muted" }, t("newchat_channel_explain")),
    field("title", t("newchat_channel_title"), { required: true, maxlength: "100" }),
    h("fieldset", { class: "checks" },
      h("legend", null, t("newchat_members")),
      people.map((u) => h("label", { class: "check" },
        h("input", { type: "checkbox", name: "member", value: u.id }), " ", u.name))),
    h("button", { type: "submit", class: "primary" }, t("newchat_channel_create")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const members = [...form.querySelectorAll("input[name=member]:checked")].map((x) => x.value);
    try {
      const chat = await post("/chats/channels", { client_id: clientId, title: form.querySelector("#f-title").value.trim(), member_ids: members });
      location.hash = "#/chat/" + encodeURIComponent(chat.id);
    } catch (ex) {
      msg.textContent = errorText(ex);
    }
  });
  return form;
}

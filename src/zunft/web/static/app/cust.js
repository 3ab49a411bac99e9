// Staff screens for customers (docs/customers.md, docs/webapp.md): a project's customers
// (#/customers/<project id>: its open questions; invite a new customer or one known from
// another project, with link, QR code and e-mail; open invitations; customers with their
// consent state), open customer questions (admin section, and #/questions for a project lead)
// and the consent text (admin section).
import { del, get, post } from "./api.js";
import { h, clear } from "./dom.js";
import { formatTime, t } from "./i18n.js";
import { errorText, field, isAdmin, projectNav, state } from "./main.js";
import { newClientId } from "./outbox.js";

const enc = encodeURIComponent;

// An action whose failure is shown in `box` (never thrown at the page).
const guard = (box, fn) => async (...args) => {
  try {
    await fn(...args);
  } catch (ex) {
    box.textContent = errorText(ex);
  }
};

export function renderScreen(screen, projectId, shell) {
  if (screen === "questions") return questionsScreen(shell);
  const p = state.projects.get(projectId);
  const chat = [...state.chats.values()].find((c) => c.project_id === projectId && c.kind === "project");
  const main = shell(t("cust_staff_title", { project: p ? p.name : "" }), { back: chat ? "#/chat/" + enc(chat.id) : "#/" });
  const result = h("div", { id: "invite-result", "aria-live": "polite" });
  const invitations = h("ul", { class: "plain-list", id: "cust-invitations" });
  const customers = h("ul", { class: "plain-list", id: "cust-list" });
  const questions = h("ul", { class: "plain-list", id: "project-questions" });
  const msg = h("p", { role: "status", class: "notice" });
  const nameField = field("cust-name", t("cust_invite_name"), { name: "name", required: true, maxlength: "100", autocomplete: "off" });
  const nameInput = nameField.querySelector("input");
  // A customer known from another project (same account): picked here instead of typed.
  const knownSelect = h("select", { id: "cust-known", name: "customer_id" });
  const knownField = h("div", { class: "field", hidden: true }, h("label", { for: "cust-known" }, t("cust_known_label")), knownSelect);
  const choice = h("fieldset", { class: "prio", id: "cust-who", hidden: true }, h("legend", null, t("cust_who")),
    ["new", "known"].map((v) => h("label", { class: "radio" },
      h("input", { type: "radio", name: "who", value: v, checked: v === "new" }), t("cust_who_" + v))));
  const known = () => !choice.hidden && choice.querySelector("input[value=known]").checked;
  const showChoice = () => {
    const k = known();
    nameField.hidden = k;
    nameInput.disabled = k; // a hidden field is neither asked for nor in the way of submitting
    nameInput.required = !k;
    knownField.hidden = !k;
  };
  choice.addEventListener("change", showChoice);
  const form = h("form", { class: "card" },
    h("h2", null, t("cust_invite_title")),
    h("p", { class: "muted" }, t("cust_invite_hint")),
    choice, nameField, knownField,
    field("cust-email", t("cust_invite_email"), { name: "email", type: "email", maxlength: "254", autocomplete: "off" }),
    h("div", { class: "check" },
      h("input", { type: "checkbox", id: "cust-send", name: "send_email" }),
      h("label", { for: "cust-send" }, t("cust_invite_send"))),
    h("button", { type: "submit", class: "primary" }, t("cust_invite_submit")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clear(result);
    const email = form.querySelector("#f-cust-email").value.trim();
    const body = { client_id: newClientId(), send_email: form.querySelector("#cust-send").checked };
    if (known()) body.customer_id = knownSelect.value;
    else body.name = nameInput.value.trim();
    if (email) body.email = email;
    try {
      const out = await post("/projects/" + enc(projectId) + "/customer-invitations", body);
      form.reset();
      showChoice();
      showLink(result, out, body.send_email);
      result.scrollIntoView({ block: "start" });
      load();
    } catch (ex) {
      result.append(h("p", { class: "error", role: "alert" }, errorText(ex)));
    }
  });
  main.append(...[projectNav(projectId, "customers")].filter(Boolean),
    h("h2", { class: "group-title" }, t("cust_open_questions")), questions,
    h("p", null, h("a", { class: "button-link", href: isAdmin() ? "#/admin/questions" : "#/questions" }, t("cust_questions_all"))),
    form, result, msg,
    h("h2", { class: "group-title" }, t("cust_open_invitations")), invitations,
    h("h2", { class: "group-title" }, t("cust_customers")), customers);

  const load = guard(msg, async () => {
    const [inv, cc, qs] = await Promise.all([
      get("/projects/" + enc(projectId) + "/customer-invitations"),
      get("/customer-chats"), // every customer chat I see: this project's, and the known customers
      get("/customer-questions"),
    ]);
    fillQuestions(questions, qs.questions.filter((q) => q.project_id === projectId), "muted");
    clear(invitations);
    if (!inv.invitations.length) invitations.append(h("li", { class: "muted" }, t("cust_none_open")));
    for (const i of inv.invitations) {
      invitations.append(h("li", { class: "device" },
        h("span", { class: "chat-main" },
          h("span", { class: "chat-title" }, i.name || t("cust_unnamed")),
          h("span", { class: "chat-preview" }, (i.email ? i.email + " · " : "") + t("cust_valid_until", { when: formatTime(i.expires_at) }))),
        h("button", {
          type: "button", class: "secondary small", "aria-label": t("cust_revoke") + ": " + (i.name || ""),
          onclick: guard(msg, async () => {
            await del("/customer-invitations/" + enc(i.id));
            msg.textContent = t("cust_revoked");
            load();
          }),
        }, t("cust_revoke"))));
    }
    fillKnown(cc.chats);
    const mine = cc.chats.filter((c) => c.project_id === projectId);
    clear(customers);
    if (!mine.length) customers.append(h("li", { class: "muted" }, t("cust_none")));
    for (const c of mine) {
      const withdrawn = c.consent_state === "widerrufen";
      customers.append(h("li", { class: "row" }, h("a", { class: "chat-item grow", href: "#/chat/" + enc(c.chat_id) },
        h("span", { class: "chat-main" },
          h("span", { class: "chat-title" }, c.customer_name),
          h("span", { class: "chat-preview" }, withdrawn
            ? t("consent_withdrawn") + " " + formatTime(c.withdrawn_at)
            : t("cust_consent_since", { v: c.consent_version, when: formatTime(c.consent_at) })))),
      // Lost phone or cleared browser: a link that opens the same account on another device.
      withdrawn ? null : h("button", {
        type: "button", class: "secondary small", "aria-label": t("cust_device_link") + ": " + c.customer_name,
        onclick: guard(msg, async () => {
          clear(result);
          showLink(result, await post("/customer-chats/" + enc(c.chat_id) + "/device-links", { client_id: newClientId() }), false);
          result.scrollIntoView({ block: "start" });
          load();
        }),
      }, t("cust_device_link"))));
    }
  });

  // Customers of my other projects who may be invited here: not withdrawn, not here yet. The
  // choice between a new and a known customer shows only when there is somebody to pick.
  function fillKnown(chats) {
    const here = new Set(chats.filter((c) => c.project_id === projectId).map((c) => c.customer_id));
    const byCustomer = new Map();
    for (const c of chats) {
      if (here.has(c.customer_id) || c.consent_state === "widerrufen") continue;
      const k = byCustomer.get(c.customer_id) || { name: c.customer_name, projects: [] };
      const proj = state.projects.get(c.project_id);
      if (proj) k.projects.push(proj.name);
      byCustomer.set(c.customer_id, k);
    }
    const picked = knownSelect.value;
    clear(knownSelect).append(...[...byCustomer].sort((a, b) => a[1].name.localeCompare(b[1].name)).map(([id, k]) =>
      h("option", { value: id, selected: id === picked || null }, k.projects.length ? k.name + " (" + k.projects.join(", ") + ")" : k.name)));
    choice.hidden = !byCustomer.size;
    showChoice();
  }
  load();
}

// The new link: as text to copy and as QR code (the server's SVG shown as an image from a
// blob: URL, so nothing of it becomes part of the page and no inline style is needed).
function showLink(box, out, wanted) {
  if (!out.link) {
    box.append(h("p", { class: "notice" }, t("cust_replayed")));
    return;
  }
  const input = h("input", { id: "invite-link", readonly: true, value: out.link, "aria-label": t("cust_link") });
  const copied = h("span", { role: "status" });
  const img = h("img", { class: "qr", alt: t("cust_qr_alt"), width: "240", height: "240", id: "invite-qr" });
  img.src = URL.createObjectURL(new Blob([out.qr_svg], { type: "image/svg+xml" }));
  let mail = null;
  if (out.emailed) mail = h("p", { class: "notice", id: "invite-mail" }, t("cust_mail_sent", { email: out.email }));
  else if (wanted) mail = h("p", { class: "error", id: "invite-mail" }, t("cust_mail_failed"));
  box.append(h("div", { class: "card invite-link" },
    h("h2", null, t("cust_link_for", { name: out.name || "" })),
    h("p", { class: "muted" }, t("cust_valid_until", { when: formatTime(out.expires_at) })),
    mail,
    h("label", { for: "invite-link" }, t("cust_link")),
    input,
    h("div", { class: "row" },
      h("button", {
        type: "button", class: "secondary", id: "invite-copy",
        onclick: async () => {
          input.select();
          try {
            await navigator.clipboard.writeText(out.link);
            copied.textContent = t("cust_copied");
          } catch {
            copied.textContent = t("cust_copy_manual");
          }
        },
      }, t("cust_copy")), copied),
    h("p", { class: "muted" }, t("cust_qr_hint")),
    img));
}

// ---------------------------------------------------------------- admin sections

export function renderAdminSection(body, section) {
  if (section === "consent") consent(body);
  else questions(body);
}

// Customer questions not yet answered, oldest first: the office sees all of them, everybody
// else those of the customer chats they are in (the API decides: GET /customer-questions).
async function questions(body) {
  const list = h("ul", { class: "plain-list", id: "questions" });
  body.append(h("h2", null, t("admin_questions")), h("p", { class: "muted" }, t(isAdmin() ? "cust_questions_hint" : "cust_questions_hint_mine")), list);
  try {
    fillQuestions(list, (await get("/customer-questions")).questions);
  } catch (ex) {
    list.append(h("li", { class: "error" }, errorText(ex)));
  }
}

// #/questions: the same list for a project lead (the admin section is not theirs).
function questionsScreen(shell) {
  questions(shell(t("admin_questions"), { back: "#/" }));
}

function fillQuestions(list, qs, emptyClass = "empty") {
  clear(list);
  if (!qs.length) list.append(h("li", { class: emptyClass }, t("cust_questions_none")));
  for (const q of qs) {
    list.append(h("li", null, h("a", { class: "chat-item" + (q.overdue ? " overdue" : ""), href: "#/chat/" + enc(q.chat_id) },
      h("span", { class: "chat-main" },
        h("span", { class: "chat-title" }, q.customer_name + " · " + q.project_name),
        h("span", { class: "chat-preview" }, q.text || ""),
        h("span", { class: "chat-kind" }, t("cust_asked", { when: formatTime(q.asked_at) }))),
      h("span", { class: "chat-meta" }, q.overdue
        ? h("span", { class: "tag urgent" }, "⚠ " + t("cust_overdue"))
        : h("span", null, t("cust_due", { when: formatTime(q.reply_due_at) }))))));
  }
}

// The consent text: a new version on save; every version stays readable.
async function consent(body) {
  const msg = h("p", { role: "status", class: "notice", id: "consent-msg" });
  const area = h("textarea", { id: "consent-text", name: "text", rows: "14", maxlength: "20000", required: true });
  const versions = h("ul", { class: "plain-list", id: "consent-versions" });
  const form = h("form", { class: "card" },
    h("h2", null, t("admin_consent")),
    h("p", { class: "muted" }, t("cust_consent_edit_hint")),
    h("label", { for: "consent-text" }, t("cust_consent_label")),
    area,
    h("button", { type: "submit", class: "primary" }, t("cust_consent_publish")), msg);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const out = await post("/consent-texts", { text: area.value });
      msg.textContent = t("cust_consent_published", { v: out.version });
      load();
    } catch (ex) {
      msg.textContent = errorText(ex);
    }
  });
  body.append(form, h("h2", { class: "group-title" }, t("cust_consent_versions")), versions);
  async function load() {
    try {
      const out = await get("/consent-texts");
      const list = out.versions.slice().reverse();
      area.value = list.length ? list[0].text : "";
      clear(versions);
      for (const v of list) {
        versions.append(h("li", { class: "card" }, h("details", null,
          h("summary", null, t("cust_consent_version", { v: v.version }) + (v.created_at ? " · " + formatTime(v.created_at) : "")),
          h("p", { class: "text" }, v.text))));
      }
    } catch (ex) {
      msg.textContent = errorText(ex);
    }
  }
  load();
}

// The chat view: paged history, live events, send through the outbox, reply, edit, delete,
// read state. Only a window of at most WINDOW_MAX messages is in the DOM at any time, however
// long the chat: scrolling near an edge moves the window (and loads older pages when needed).
import { get, patch, del } from "./api.js";
import { h, clear } from "./dom.js";
import { formatTime, t } from "./i18n.js";
import { kvGet, kvSet } from "./store.js";
import { errorText, markChatRead, userName } from "./main.js";
import { composerButtons, hasPreview, renderAttachments, renderPendingFiles, renderTray } from "./media.js";

// What shows instead of a message's text: deleted by a person, or erased when its retention
// ended (docs/compliance.md); null while the text is there.
function gone(m) {
  if (m.erased) return t("message_erased");
  return m.deleted ? t("message_deleted") : null;
}

const PAGE = 50;
const WINDOW_MAX = 150; // messages in the DOM at most
const STEP = 50; // messages the window moves by
const EDGE_PX = 300; // how near an edge scrolling moves the window
const REVEAL_PAGES = 10; // a search hit is looked for at most 2,000 messages back

export class ChatView {
  // target: the seq of a message to show (a search hit), else the chat opens at its end.
  constructor(state, chatId, main, target = null) {
    this.state = state;
    this.chatId = chatId;
    this.main = main;
    this.target = target;
    this.hit = null; // id of the message the chat was opened at, marked until left
    this.messages = []; // loaded, oldest first (by seq)
    this.byId = new Map();
    this.hasMore = false; // older messages exist on the server (known once a page came)
    this.loadingOlder = false;
    this.lo = 0; // window [lo, hi) over this.messages; hi === length means "at the end"
    this.hi = 0;
    this.markers = new Map(); // other members' read markers: user id -> seq
    this.selected = null; // message id with its actions open
    this.replyTo = null;
    this.editing = null;
    this.confirmDelete = false;
    this.people = []; // members by name, for @-mentions: {id, name}
    this.mentioned = new Map(); // name -> user id, picked from the suggestions
    this.suggestions = [];
    this.active = 0;
    this.lastTyping = 0;
    this.typists = new Map(); // user id -> timer
  }

  visible() {
    return document.visibilityState === "visible";
  }

  // ------------------------------------------------------------ building

  open() {
    // The list is re-drawn as a whole; a screen reader hears only what is new, from the
    // separate live region below (never the whole list again).
    this.list = h("ol", { class: "messages", "aria-label": t("messages") });
    this.announcer = h("p", { class: "visually-hidden", "aria-live": "polite", id: "announcer" });
    this.scroller = h("div", { class: "scroller", tabindex: "0" }, this.list);
    this.scroller.addEventListener("scroll", () => this.onScroll(), { passive: true });
    this.actions = h("div", { class: "actions", hidden: true });
    this.banner = h("div", { class: "banner", hidden: true });
    this.input = h("textarea", {
      id: "composer", name: "text", rows: "1", maxlength: "10000",
      placeholder: t("composer_placeholder"), "aria-label": t("composer_placeholder"),
    });
    this.input.addEventListener("input", () => this.onInput());
    this.input.addEventListener("keydown", (e) => {
      if (this.suggestions.length && ["ArrowDown", "ArrowUp", "Enter", "Tab"].includes(e.key)) {
        e.preventDefault();
        if (e.key === "ArrowDown") this.active = (this.active + 1) % this.suggestions.length;
        else if (e.key === "ArrowUp") this.active = (this.active + this.suggestions.length - 1) % this.suggestions.length;
        else this.pickMention(this.suggestions[this.active]);
        this.renderSuggestions();
        return;
      }
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.form.requestSubmit();
      } else if (e.key === "Escape") {
        this.cancelCompose();
      }
    });
    // Camera, files and voice (media.js); chosen files wait in the tray until sent.
    this.files = [];
    this.tray = h("div", { class: "tray-slot" });
    this.attachSlot = h("div", { class: "attach-slot", id: "attach-slot" },
      composerButtons((list) => this.addFiles(list), window.MediaRecorder ? () => this.recordVoice() : null));
    this.form = h("form", { class: "composer" },
      this.attachSlot,
      this.input,
      h("button", { type: "submit", class: "primary send", "aria-label": t("send") }, t("send")));
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.syncComposer();
    this.error = h("p", { class: "error", role: "alert" });
    this.suggestBox = h("ul", { class: "suggestions", id: "mention-list", role: "listbox", hidden: true, "aria-label": t("mention_label") });
    this.input.setAttribute("aria-controls", "mention-list");
    this.typingLine = h("p", { class: "typing", "aria-live": "polite" });
    const chat = this.state.chats.get(this.chatId);
    const readOnly = chat && chat.project_status === "archived";
    // A customer chat whose customer withdrew consent: nobody may post (docs/customers.md).
    this.withdrawnNote = h("p", { class: "notice withdrawn", id: "withdrawn-note", role: "status" });
    this.main.append(this.announcer, this.scroller, this.typingLine, this.error, this.suggestBox, this.banner, this.actions, this.tray,
      this.withdrawnNote, readOnly ? h("p", { class: "muted center" }, t("chat_read_only")) : this.form);
    if (chat && chat.consent_withdrawn) this.consentWithdrawn();
    this.onVisible = () => this.markRead();
    document.addEventListener("visibilitychange", this.onVisible);
    this.load();
  }

  consentWithdrawn() {
    this.withdrawnNote.textContent = t("consent_withdrawn_chat");
    this.input.disabled = true;
    this.input.setAttribute("aria-describedby", "withdrawn-note");
    for (const b of this.form.querySelectorAll("button")) b.disabled = true;
  }

  close() {
    document.removeEventListener("visibilitychange", this.onVisible);
    for (const timer of this.typists.values()) clearTimeout(timer);
    this.closed = true;
  }

  async load() {
    const cached = await kvGet("msgs:" + this.chatId);
    if (cached && !this.messages.length) {
      this.setMessages(cached.messages, true);
    }
    this.loadPeople();
    await this.loadLatest();
    if (this.target !== null) await this.reveal(this.target);
    this.loadMarkers();
  }

  // Opened from a search hit: load back until the message is there (pages of the largest
  // size, at most REVEAL_PAGES of them), show the window around it and mark it. A message
  // that is gone or further back leaves the chat at its end.
  async reveal(seq) {
    try {
      for (let n = 0; n < REVEAL_PAGES && this.hasMore && this.messages.length && this.messages[0].seq > seq; n++) {
        const before = this.messages[0].seq;
        const page = await get(`/chats/${encodeURIComponent(this.chatId)}/messages?before=${before}&limit=200`);
        if (this.closed) return;
        this.hasMore = page.has_more;
        for (const m of page.messages) this.put(m);
      }
    } catch (ex) {
      if (!ex.offline) this.error.textContent = errorText(ex);
    }
    const i = this.messages.findIndex((m) => m.seq === seq);
    if (i < 0 || this.closed) return;
    this.hit = this.messages[i].id;
    this.lo = Math.max(0, i - STEP);
    this.hi = Math.min(this.messages.length, this.lo + WINDOW_MAX);
    this.render({ keepAnchor: true });
    const el = this.list.querySelector(`[data-key="${CSS.escape(this.hit)}"]`);
    if (el) {
      el.scrollIntoView({ block: "center" });
      el.focus({ preventScroll: true });
    }
  }

  async loadPeople() {
    try {
      const out = await get(`/chats/${encodeURIComponent(this.chatId)}/people`);
      this.people = out.people.filter((p) => p.id !== this.state.me.id);
      // Names the staff list lacks (a customer; for a customer, everybody): from here.
      const unknown = out.people.filter((p) => !this.state.users.has(p.id));
      for (const p of unknown) this.state.users.set(p.id, { id: p.id, name: p.name, kind: p.kind });
      if (unknown.length && !this.closed) this.render({ keepAnchor: !this.atBottom() });
    } catch {
      this.people = [];
    }
    // Someone quick may have typed "@…" already.
    if (!this.closed) this.suggest();
  }

  // ------------------------------------------------------------ @-mentions and typing

  onInput() {
    this.syncComposer();
    const now = Date.now();
    if (now - this.lastTyping > 3000 && this.input.value) {
      this.lastTyping = now;
      this.state.stream && this.state.stream.send({ type: "typing", chat_id: this.chatId });
    }
    this.suggest();
  }

  suggest() {
    const before = this.input.value.slice(0, this.input.selectionStart);
    const m = before.match(/(?:^|\s)@([^\s@]{0,30})$/);
    if (!m) {
      this.suggestions = [];
    } else {
      const q = m[1].toLocaleLowerCase();
      this.suggestions = this.people.filter((p) => p.name.toLocaleLowerCase().split(/\s+/).some((w) => w.startsWith(q))
        || p.name.toLocaleLowerCase().startsWith(q)).slice(0, 6);
      this.active = 0;
    }
    this.renderSuggestions();
  }

  renderSuggestions() {
    clear(this.suggestBox);
    this.suggestBox.hidden = !this.suggestions.length;
    this.suggestions.forEach((p, i) => {
      const li = h("li", {
        role: "option", id: "mention-" + i, "aria-selected": i === this.active ? "true" : "false",
        class: "suggestion",
        onmousedown: (e) => e.preventDefault(),
        onclick: () => this.pickMention(p),
      }, "@" + p.name);
      this.suggestBox.append(li);
    });
    if (this.suggestions.length) this.input.setAttribute("aria-activedescendant", "mention-" + this.active);
    else this.input.removeAttribute("aria-activedescendant");
  }

  pickMention(p) {
    const pos = this.input.selectionStart;
    const before = this.input.value.slice(0, pos).replace(/@([^\s@]*)$/, "@" + p.name + " ");
    this.input.value = before + this.input.value.slice(pos);
    this.input.setSelectionRange(before.length, before.length);
    this.mentioned.set(p.name, p.id);
    this.suggestions = [];
    this.renderSuggestions();
    this.input.focus();
  }

  typing(frame) {
    if (frame.chat_id !== this.chatId || frame.user_id === this.state.me.id) return;
    clearTimeout(this.typists.get(frame.user_id));
    // A typing signal holds for 4 s unless a newer one or the message comes.
    this.typists.set(frame.user_id, setTimeout(() => this.stopTyping(frame.user_id), 4000));
    this.renderTyping();
  }

  stopTyping(userId) {
    clearTimeout(this.typists.get(userId));
    this.typists.delete(userId);
    this.renderTyping();
  }

  renderTyping() {
    const names = [...this.typists.keys()].map(userName);
    this.typingLine.textContent = names.length ? t("typing", { names: names.join(", ") }) : "";
  }

  async loadLatest() {
    try {
      const page = await get(`/chats/${encodeURIComponent(this.chatId)}/messages?limit=${PAGE}`);
      if (this.closed) return;
      // Keep what is loaded when the page connects to it; otherwise start from this page.
      const first = page.messages[0];
      if (first && this.byId.has(first.id)) {
        for (const m of page.messages) this.put(m);
        this.hi = this.messages.length;
        this.lo = Math.max(0, this.hi - WINDOW_MAX);
      } else {
        this.messages = [];
        this.byId.clear();
        this.setMessages(page.messages, page.has_more);
      }
      this.saveCache();
      this.render({ toEnd: true });
      this.markRead();
    } catch (ex) {
      if (!ex.offline) this.error.textContent = errorText(ex);
      this.render({ toEnd: true });
    }
  }

  async loadMarkers() {
    try {
      const out = await get(`/chats/${encodeURIComponent(this.chatId)}/members`);
      for (const m of out.members) {
        if (m.user_id !== this.state.me.id) this.markers.set(m.user_id, m.last_read_seq);
      }
      this.render();
    } catch {
      // Offline: read state follows with the stream.
    }
  }

  setMessages(list, hasMore) {
    for (const m of list) this.put(m);
    this.hasMore = hasMore;
    this.lo = Math.max(0, this.messages.length - WINDOW_MAX);
    this.hi = this.messages.length;
  }

  put(m) {
    const old = this.byId.get(m.id);
    if (old) {
      Object.assign(old, m);
      return false;
    }
    this.byId.set(m.id, m);
    const atEnd = this.hi === this.messages.length;
    let i = this.messages.length;
    while (i > 0 && this.messages[i - 1].seq > m.seq) i--;
    this.messages.splice(i, 0, m);
    if (i < this.lo) this.lo++;
    if (i < this.hi || atEnd) this.hi++;
    return true;
  }

  saveCache() {
    kvSet("msgs:" + this.chatId, { messages: this.messages.slice(-PAGE) });
  }

  // ------------------------------------------------------------ scrolling and the window

  atBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 40;
  }

  onScroll() {
    if (this.scrolling) return;
    const s = this.scroller;
    if (s.scrollTop < EDGE_PX) {
      if (this.lo > 0) this.shiftWindow(-STEP);
      else if (this.hasMore) this.loadOlder();
    } else if (s.scrollHeight - s.scrollTop - s.clientHeight < EDGE_PX && this.hi < this.messages.length) {
      this.shiftWindow(STEP);
    }
  }

  shiftWindow(delta) {
    const n = this.messages.length;
    if (delta < 0) {
      this.lo = Math.max(0, this.lo + delta);
      this.hi = Math.min(this.hi, this.lo + WINDOW_MAX);
    } else {
      this.hi = Math.min(n, this.hi + delta);
      this.lo = Math.max(this.lo, this.hi - WINDOW_MAX);
    }
    this.render({ keepAnchor: true });
  }

  async loadOlder() {
    if (this.loadingOlder || !this.messages.length) return;
    this.loadingOlder = true;
    try {
      const before = this.messages[0].seq;
      const page = await get(`/chats/${encodeURIComponent(this.chatId)}/messages?before=${before}&limit=${PAGE}`);
      if (this.closed) return;
      this.hasMore = page.has_more;
      for (const m of page.messages) this.put(m);
      this.lo = 0;
      this.hi = Math.min(this.hi, WINDOW_MAX);
      this.render({ keepAnchor: true });
    } catch (ex) {
      if (!ex.offline) this.error.textContent = errorText(ex);
    } finally {
      this.loadingOlder = false;
    }
  }

  // ------------------------------------------------------------ rendering

  render({ toEnd = false, keepAnchor = false } = {}) {
    if (this.closed) return;
    const s = this.scroller;
    const stick = toEnd || (!keepAnchor && this.atBottom());
    let anchor = null;
    if (keepAnchor) {
      for (const el of this.list.children) {
        if (el.dataset.key && el.offsetTop + el.offsetHeight > s.scrollTop) {
          anchor = { id: el.dataset.key, offset: el.offsetTop - s.scrollTop };
          break;
        }
      }
    }
    this.scrolling = true;
    clear(this.list);
    if (this.lo === 0 && this.hasMore) {
      this.list.append(h("li", { class: "loading-older" }, t("loading_older")));
    } else if (this.lo === 0) {
      this.list.append(h("li", { class: "chat-start" }, t("chat_start")));
    }
    const shown = this.messages.slice(this.lo, this.hi);
    for (const m of shown) this.list.append(this.renderMessage(m));
    if (this.hi === this.messages.length) {
      for (const f of this.state.outbox.failures(this.chatId)) this.list.append(this.renderPending(f.entry, f.code));
      for (const e of this.state.outbox.pending(this.chatId)) this.list.append(this.renderPending(e));
    }
    if (stick) {
      s.scrollTop = s.scrollHeight;
    } else if (anchor) {
      const el = this.list.querySelector(`[data-key="${CSS.escape(anchor.id)}"]`);
      if (el) s.scrollTop = el.offsetTop - anchor.offset;
    }
    this.renderActions();
    this.syncComposer();
    // Scroll events caused by this render are not the reader's; once it is painted, look
    // again whether the reader is near an edge (they may have got there meanwhile).
    requestAnimationFrame(() => {
      this.scrolling = false;
      this.onScroll();
    });
  }

  renderMessage(m) {
    const mine = m.sender_id === this.state.me.id;
    const replied = m.reply_to_id ? this.byId.get(m.reply_to_id) : null;
    const forMe = !mine && !gone(m) && (m.mention_all || (m.mentions || []).includes(this.state.me.id));
    const el = h("li", {
      class: "msg" + (mine ? " mine" : "") + (gone(m) ? " deleted" : "") + (this.selected === m.id ? " selected" : "") + (this.hit === m.id ? " hit" : "") + (forMe ? " mentions-me" : ""),
      tabindex: "0",
      dataset: { key: m.id, id: m.id, seq: String(m.seq) },
      "aria-label": (forMe ? t("mention_you") + ". " : "") + (mine ? t("you") : userName(m.sender_id)) + ": " + (gone(m) || m.text || t("media_attachment")),
    },
    mine ? null : h("span", { class: "sender" }, userName(m.sender_id)),
    m.reply_to_id ? h("blockquote", { class: "quote" },
      replied ? (replied.deleted ? t("message_deleted") : `${userName(replied.sender_id)}: ${replied.text}`) : t("reply_earlier")) : null,
    h("span", { class: "text" }, gone(m) || this.mentionText(m)),
    renderAttachments(m, (a) => this.openViewer(a)),
    h("span", { class: "meta" },
      forMe ? h("span", { class: "tag mention-tag" }, "@ " + t("mention_you")) : null,
      h("time", null, formatTime(m.created_at)),
      m.edited_at && !gone(m) ? h("span", { class: "edited" }, t("edited")) : null,
      mine && !gone(m) ? h("span", { class: "state" }, this.readState(m)) : null),
    );
    el.addEventListener("click", () => this.select(m.id));
    el.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        this.select(m.id);
      }
    });
    return el;
  }

  // The text with its @-mentions as nodes: a mention of me (my name, or @alle) is a <mark>
  // (background and bold), others' names bold. A name changed since is left as typed.
  mentionText(m) {
    const me = this.state.me;
    const toMe = m.sender_id !== me.id;
    const names = new Map(); // "@name" (lower case) -> mentions me
    for (const id of m.mentions || []) {
      const name = id === me.id ? me.name : (this.state.users.get(id) || {}).name;
      if (name) names.set("@" + name.toLocaleLowerCase(), toMe && id === me.id);
    }
    if (m.mention_all) names.set("@alle", toMe);
    if (!m.text || !names.size) return m.text;
    const escape = (x) => x.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    // Longest first, and whole names only ("@alle" is not the start of "@allendorf").
    const pattern = new RegExp("(" + [...names.keys()].sort((a, b) => b.length - a.length).map(escape).join("|") + ")(?![\\p{L}\\p{N}])", "iu");
    return m.text.split(pattern).map((part, i) => {
      if (i % 2 === 0) return part;
      return names.get(part.toLocaleLowerCase()) ? h("mark", { class: "mention me" }, part) : h("strong", { class: "mention" }, part);
    });
  }

  renderPending(e, failedCode) {
    return h("li", { class: "msg mine pending", dataset: { key: e.client_id, clientId: e.client_id } },
      e.reply_to_id ? h("blockquote", { class: "quote" }, this.quoteText(e.reply_to_id)) : null,
      h("span", { class: "text" }, e.text),
      renderPendingFiles(e, this.state.outbox.progress.get(e.client_id)),
      h("span", { class: "meta" },
        h("time", null, formatTime(e.created_at)),
        h("span", { class: "state" + (failedCode ? " failed" : "") },
          failedCode ? t("state_failed") : t("state_sending"))),
      failedCode ? h("span", { class: "row" },
        h("span", { class: "error" }, errorText({ code: failedCode })),
        h("button", { type: "button", class: "secondary small", onclick: () => this.takeBack(e) }, t("take_back"))) : null);
  }

  // A refused message: its text goes back into the composer to fix and send again.
  takeBack(e) {
    this.state.outbox.failed.delete(e.client_id);
    this.input.value = e.text;
    if (e.files && e.files.length) this.addFiles(e.files.map((f) => new File([f.blob], f.name, { type: f.blob.type })));
    this.render();
    this.input.focus();
  }

  quoteText(id) {
    const m = this.byId.get(id);
    if (!m) return t("reply_earlier");
    return m.deleted ? t("message_deleted") : `${userName(m.sender_id)}: ${m.text}`;
  }

  readState(m) {
    for (const seq of this.markers.values()) if (seq >= m.seq) return t("state_read");
    return t("state_sent");
  }

  // ------------------------------------------------------------ actions on a message

  select(id) {
    this.selected = this.selected === id ? null : id;
    this.confirmDelete = false;
    this.render({ keepAnchor: true });
  }

  renderActions() {
    const m = this.selected ? this.byId.get(this.selected) : null;
    clear(this.actions);
    this.actions.hidden = !m || gone(m);
    if (!m || gone(m)) return;
    const mine = m.sender_id === this.state.me.id;
    const admin = ["owner", "office"].includes(this.state.me.role);
    this.actions.append(
      h("button", { type: "button", class: "secondary", onclick: () => this.startReply(m) }, t("reply")),
      mine ? h("button", { type: "button", class: "secondary", onclick: () => this.startEdit(m) }, t("edit")) : null,
      mine || admin ? h("button", {
        type: "button", class: "danger",
        onclick: () => this.remove(m),
      }, this.confirmDelete ? t("delete_confirm") : t("delete")) : null,
      // Owner and office classify documents (retention, compliance.js).
      admin ? h("button", {
        type: "button", class: "secondary",
        onclick: () => import("./compliance.js").then((c) => c.classifyMenu(this.actions, m)),
      }, t("doc_class")) : null,
      h("button", { type: "button", class: "link", onclick: () => this.select(m.id) }, t("cancel")),
    );
  }

  startReply(m) {
    this.replyTo = m.id;
    this.editing = null;
    this.selected = null;
    this.showBanner(t("replying_to", { name: userName(m.sender_id) }) + " " + (m.text || ""));
    this.render({ keepAnchor: true });
    this.input.focus();
  }

  startEdit(m) {
    this.editing = m.id;
    this.replyTo = null;
    this.selected = null;
    this.input.value = m.text;
    this.showBanner(t("editing"));
    this.render({ keepAnchor: true });
    this.input.focus();
  }

  showBanner(text) {
    clear(this.banner);
    this.banner.hidden = false;
    this.banner.append(h("span", null, text),
      h("button", { type: "button", class: "link", onclick: () => this.cancelCompose() }, t("cancel")));
  }

  cancelCompose() {
    if (this.editing) this.input.value = "";
    this.syncComposer();
    this.editing = null;
    this.replyTo = null;
    this.banner.hidden = true;
  }

  async remove(m) {
    if (!this.confirmDelete) {
      this.confirmDelete = true;
      this.renderActions();
      return;
    }
    try {
      this.put(await del(`/messages/${encodeURIComponent(m.id)}`));
      this.selected = null;
      this.render({ keepAnchor: true });
    } catch (ex) {
      this.error.textContent = errorText(ex);
    }
  }

  async submit() {
    const text = this.input.value.trim();
    if (!text && !(this.files.length && !this.editing)) return;
    this.error.textContent = "";
    if (this.editing) {
      try {
        this.put(await patch(`/messages/${encodeURIComponent(this.editing)}`, { text }));
        this.input.value = "";
        this.cancelCompose();
        this.render({ keepAnchor: true });
      } catch (ex) {
        this.error.textContent = errorText(ex);
      }
      return;
    }
    const replyTo = this.replyTo;
    const mentions = [...this.mentioned].filter(([name]) => text.includes("@" + name)).map(([, id]) => id);
    this.mentioned.clear();
    this.input.value = "";
    this.cancelCompose();
    const files = this.files.map((f) => ({ blob: f, name: f.name }));
    this.files = [];
    this.renderTray();
    // Written to the outbox first: it shows as "wird gesendet" until the server has it.
    await this.state.outbox.add(this.chatId, text, replyTo, mentions, files);
  }

  // ------------------------------------------------------------ media (media.js, viewer.js, voice.js)

  addFiles(list) {
    this.files.push(...list);
    this.files = this.files.slice(0, 20); // a message carries at most 20 files
    this.renderTray();
  }

  // Nothing to send: the microphone takes the send button's place (more room to type).
  syncComposer() {
    this.form.classList.toggle("empty", !this.input.value && !this.files.length);
  }

  renderTray() {
    this.syncComposer();
    clear(this.tray);
    const tray = renderTray(this.files, (i) => {
      this.files.splice(i, 1);
      this.renderTray();
    });
    if (tray) this.tray.append(tray);
  }

  async openViewer(a) {
    const items = [];
    for (const m of this.messages) {
      if (m.deleted) continue;
      for (const x of m.attachments || []) {
        if ((x.kind === "photo" || x.kind === "video") && hasPreview(x, "thumb")) items.push({ ...x, uploader_id: m.sender_id, taken_at: m.created_at });
      }
    }
    const { openViewer } = await import("./viewer.js");
    openViewer(items, Math.max(0, items.findIndex((x) => x.id === a.id)));
  }

  async recordVoice() {
    const { recordVoice } = await import("./voice.js");
    recordVoice(this.form, (blob, name) => this.state.outbox.add(this.chatId, "", null, [], [{ blob, name }]),
      (ex) => { this.error.textContent = errorText(ex); });
  }

  // A message from the stream names its files by id; their details come from GET /files/{id}.
  async loadAttachments(m, ids) {
    try {
      m.attachments = await Promise.all(ids.map((id) => get("/files/" + encodeURIComponent(id))));
      this.saveCache();
      this.render({ keepAnchor: !this.atBottom() });
    } catch {
      // Offline: they come with the next page of history.
    }
  }

  // ------------------------------------------------------------ live

  outboxChanged(change) {
    if (change && change.progress) {
      const bar = this.list.querySelector(`[data-client-id="${CSS.escape(change.progress.client_id)}"] progress`);
      if (bar) bar.value = Math.round((this.state.outbox.progress.get(change.progress.client_id) || 0) * 100);
      return;
    }
    if (change && change.message && change.message.chat_id === this.chatId) {
      this.put(change.message);
      if (this.hi < this.messages.length) this.hi = this.messages.length;
      this.saveCache();
    }
    this.render({ toEnd: !!(change && change.entry && !change.message && !change.error) });
  }

  event(ev) {
    if (ev.chat_id !== this.chatId) return;
    const d = ev.data || {};
    const m = this.byId.get(d.message_id);
    switch (ev.kind) {
      case "message.sent":
        if (!d.message_id) return;  // replayed after its retention ended: erased (history has it)
        this.put({
          id: d.message_id, chat_id: ev.chat_id, seq: ev.seq, sender_id: d.sender_id, text: d.text,
          reply_to_id: d.reply_to_id, mentions: d.mentions || [], mention_all: !!d.mention_all, created_at: ev.ts,
          edited_at: null, edit_count: 0, deleted: false,
        });
        if (d.attachments && d.attachments.length) {
          const sent = this.byId.get(d.message_id);
          if (!(sent.attachments && sent.attachments.length)) this.loadAttachments(sent, d.attachments);
        }
        this.saveCache();
        if (this.typists.has(d.sender_id)) this.stopTyping(d.sender_id);
        this.render();
        if (d.sender_id !== this.state.me.id) {
          this.announcer.textContent = t("announce_message", { name: userName(d.sender_id), text: d.text });
          this.markRead();
        }
        return;
      case "message.edited":
        if (m) Object.assign(m, { text: d.text, edited_at: ev.ts, edit_count: (m.edit_count || 0) + 1 });
        break;
      case "message.deleted":
        if (m) Object.assign(m, { text: null, deleted: true });
        break;
      case "consent.withdrawn":
        if (this.state.me.kind !== "customer") this.consentWithdrawn();
        return;
      case "chat.read":
        if (d.user_id !== this.state.me.id) {
          this.markers.set(d.user_id, Math.max(this.markers.get(d.user_id) || 0, d.seq));
        }
        break;
      default:
        return;
    }
    this.render({ keepAnchor: !this.atBottom() });
  }

  resync() {
    this.loadLatest();
    this.loadMarkers();
  }

  onReady() {
    this.markRead();
  }

  markRead() {
    if (this.closed || !this.visible() || !this.messages.length) return;
    markChatRead(this.chatId, this.messages[this.messages.length - 1].seq);
  }
}


// The outbox: every message (with its photos, videos, voice recording, files as Blobs) is
// written to IndexedDB first, then sent with its client id, in the order written: over the
// stream when it is up, otherwise over HTTP (POST with the same client id). The server stores
// a client id once, so sending again after a lost connection, over the other path or from a
// second tab never creates a second message. Temporary failures (no network, 5xx, 429, 503
// with Retry-After) are retried with backoff; a refusal (4xx with a code) leaves the queue
// and is shown with its reason.
import { post } from "./api.js";
import { outboxAdd, outboxAll, outboxRemove } from "./store.js";

// A client id for an idempotent write (the server answers a repeat with the first answer).
export function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

// Worth trying again later: no answer at all, the server's trouble, or "slow down".
// 401: the session ended; the entry waits for the next login instead of being refused.
const BUSY = ["offset_mismatch", "upload_busy"]; // tus: another request on the upload
export function temporary(ex) {
  const s = ex && ex.status;
  return s === 0 || s === 401 || s === 408 || s === 429 || s >= 500 || (s === 409 && BUSY.includes(ex.code));
}

const BACKOFF_MAX_MS = 30000;

export class Outbox {
  constructor(state) {
    this.state = state;
    this.items = []; // in the order written
    this.inflight = new Set(); // client ids sent on the current stream connection
    this.failed = new Map(); // client id -> {entry, code}
    this.progress = new Map(); // client id -> upload progress 0..1
    this.onChange = () => {};
    this.retry = 0;
    this.timer = null;
    this.busy = false;
    this.again = false;
    this.chain = outboxAll().then((all) => {
      this.items = all.filter((e) => e.user_id === state.me.id);
    });
    window.addEventListener("online", () => this.flush());
  }

  // Resolves with the entry once it is safely in IndexedDB (and starts sending it).
  // files: [{blob, name}] – uploaded first, then sent as the message's attachments.
  add(chatId, text, replyToId, mentions, files) {
    const entry = {
      client_id: newClientId(),
      chat_id: chatId,
      text,
      reply_to_id: replyToId || null,
      mentions: mentions || [],
      files: files || [],
      user_id: this.state.me.id,
      created_at: Date.now(),
    };
    this.chain = this.chain.then(async () => {
      entry.order = await outboxAdd(entry);
      this.items.push(entry);
      this.onChange({ entry });
      this.flush();
    });
    return this.chain.then(() => entry);
  }

  pending(chatId) {
    return this.items.filter((e) => e.chat_id === chatId);
  }

  failures(chatId) {
    return [...this.failed.values()].filter((f) => f.entry.chat_id === chatId);
  }

  flush() {
    this.chain = this.chain.then(() => {
      this.pump();
    });
  }

  connectionLost() {
    // Whatever was not acknowledged goes again (same client ids), over HTTP meanwhile.
    this.inflight.clear();
    this.flush();
  }

  // One sender at a time walks the queue in order; a call while it runs makes it look again.
  async pump() {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        await this.sendAll();
      } while (this.again);
    } finally {
      this.busy = false;
    }
  }

  async sendAll() {
    for (const e of [...this.items]) {
      if (!this.items.includes(e) || this.inflight.has(e.client_id)) continue;
      // Only the first unsent entry may go (the order written is the order stored).
      if (this.items.find((x) => !this.inflight.has(x.client_id)) !== e) {
        this.again = true;
        return;
      }
      if (!navigator.onLine) return;
      try {
        if (e.files && e.files.length && !e.file_ids) e.file_ids = await this.uploadAll(e);
        const stream = this.state.stream;
        const frame = { type: "send", chat_id: e.chat_id, client_id: e.client_id, ...this.body(e) };
        if (stream && stream.isReady && stream.send(frame)) {
          this.inflight.add(e.client_id);
          continue;
        }
        // Frames still waiting for their ack on a stream that is going: they go first.
        if (this.inflight.size) return;
        const message = await post(`/chats/${encodeURIComponent(e.chat_id)}/messages`,
          { client_id: e.client_id, ...this.body(e) });
        this.retry = 0;
        this.answer({ type: "ack", client_id: e.client_id, message });
      } catch (ex) {
        if (temporary(ex)) {
          this.later(ex);
          return;
        }
        this.answer({ type: "error", client_id: e.client_id, code: ex.code || "http_" + ex.status });
      }
    }
  }

  body(e) {
    const b = { text: e.text };
    if (e.reply_to_id) b.reply_to_id = e.reply_to_id;
    if (e.mentions && e.mentions.length) b.mentions = e.mentions;
    if (e.file_ids && e.file_ids.length) b.attachments = e.file_ids;
    return b;
  }

  async uploadAll(e) {
    const { upload } = await import("./upload.js");
    const total = e.files.reduce((n, f) => n + f.blob.size, 0) || 1;
    const ids = [];
    let done = 0;
    for (const [i, f] of e.files.entries()) {
      ids.push(await upload(f.blob, {
        chatId: e.chat_id, clientId: e.client_id + "." + i, name: f.name,
        onProgress: (p) => {
          this.progress.set(e.client_id, (done + p * f.blob.size) / total);
          this.onChange({ progress: e });
        },
      }));
      done += f.blob.size;
    }
    return ids;
  }

  // Backoff 1 s, 2 s, 4 s … 30 s, or what the server asked for (Retry-After, in seconds).
  later(ex) {
    clearTimeout(this.timer);
    if (ex && ex.status === 401) return; // logged out: the entries wait for the next login
    const asked = Number(ex && ex.retryAfter);
    const wait = asked > 0 ? asked * 1000 : Math.min(BACKOFF_MAX_MS, 1000 * 2 ** this.retry++);
    this.timer = setTimeout(() => this.flush(), wait);
  }

  answer(frame) {
    const entry = this.items.find((e) => e.client_id === frame.client_id);
    if (!entry) return;
    this.items = this.items.filter((e) => e !== entry);
    this.inflight.delete(entry.client_id);
    this.progress.delete(entry.client_id);
    outboxRemove(entry.client_id);
    if (frame.type === "ack") {
      this.retry = 0;
      this.onChange({ entry, message: frame.message });
    } else {
      this.failed.set(entry.client_id, { entry, code: frame.code });
      this.onChange({ entry, error: frame.code });
    }
  }
}

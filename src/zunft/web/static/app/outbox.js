// The outbox: every message is written to IndexedDB first, then sent over the stream with its
// client id, in the order written. The server stores a client id once, so sending again after
// a lost connection (or from a second tab) never creates a second message.
import { outboxAdd, outboxAll, outboxRemove } from "./store.js";

function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

export class Outbox {
  constructor(state) {
    this.state = state;
    this.items = []; // in the order written
    this.inflight = new Set(); // client ids sent on the current connection
    this.failed = new Map(); // client id -> {entry, code}
    this.onChange = () => {};
    this.chain = outboxAll().then((all) => {
      this.items = all.filter((e) => e.user_id === state.me.id);
    });
  }

  // Resolves with the entry once it is safely in IndexedDB (and hands it to the stream).
  add(chatId, text, replyToId, mentions) {
    const entry = {
      client_id: newClientId(),
      chat_id: chatId,
      text,
      reply_to_id: replyToId || null,
      mentions: mentions || [],
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
      const stream = this.state.stream;
      if (!stream || !stream.isReady) return;
      for (const e of this.items) {
        if (this.inflight.has(e.client_id)) continue;
        const frame = { type: "send", chat_id: e.chat_id, client_id: e.client_id, text: e.text };
        if (e.reply_to_id) frame.reply_to_id = e.reply_to_id;
        if (e.mentions && e.mentions.length) frame.mentions = e.mentions;
        if (!stream.send(frame)) return;
        this.inflight.add(e.client_id);
      }
    });
  }

  connectionLost() {
    // Whatever was not acknowledged goes again on the next connection (same client ids).
    this.inflight.clear();
  }

  answer(frame) {
    const entry = this.items.find((e) => e.client_id === frame.client_id);
    if (!entry) return;
    this.items = this.items.filter((e) => e !== entry);
    this.inflight.delete(entry.client_id);
    outboxRemove(entry.client_id);
    if (frame.type === "ack") {
      this.onChange({ entry, message: frame.message });
    } else {
      this.failed.set(entry.client_id, { entry, code: frame.code });
      this.onChange({ entry, error: frame.code });
    }
  }
}

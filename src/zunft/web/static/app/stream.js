// The WebSocket stream (docs/realtime.md): resume from the stored position, answer pings,
// reconnect with backoff, stay closed while the browser says it is offline.
import { kvGet, kvSet } from "./store.js";

export class Stream {
  constructor(userId, handlers) {
    this.userId = userId;
    this.h = handlers; // {frame(frame), ready(), closed(code), ended()}
    this.ws = null;
    this.position = 0;
    this.isReady = false;
    this.stopped = false;
    this.retry = 0;
    this.timer = null;
    this.savedPosition = 0;
    this.onOnline = () => this.connect();
    this.onOffline = () => this.drop();
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
  }

  async start() {
    const saved = await kvGet("pos");
    if (saved && saved.user_id === this.userId) this.position = saved.seq;
    this.savedPosition = this.position;
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    clearTimeout(this.timer);
    this.drop();
  }

  drop() {
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      this.isReady = false;
      ws.onclose = null;
      ws.close();
      this.h.closed(1000);
    }
  }

  connect() {
    clearTimeout(this.timer);
    if (this.stopped || this.ws || !navigator.onLine) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    // batch=1: a backlog arrives in a few frames, not hundreds (docs/realtime.md).
    const since = this.position ? "&since=" + this.position : "";
    const ws = new WebSocket(scheme + "//" + location.host + "/api/v1/stream?batch=1" + since);
    this.ws = ws;
    this.isReady = false;
    ws.onmessage = (e) => this.receive(JSON.parse(e.data));
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.isReady = false;
      this.h.closed(e.code);
      if (e.code === 4001 || e.code === 1008) {
        this.stopped = true;
        this.h.ended();
        return;
      }
      // Backoff: 0.5 s, 1 s, 2 s … at most 15 s; "online" reconnects at once.
      const wait = Math.min(15000, 500 * 2 ** this.retry++);
      this.timer = setTimeout(() => this.connect(), wait);
    };
  }

  advance(seq) {
    if (typeof seq === "number" && seq > this.position) {
      this.position = seq;
      this.persist();
    }
  }

  persist() {
    // Written at most once per turn of the event loop; the position only grows.
    if (this.persisting) return;
    this.persisting = true;
    queueMicrotask(async () => {
      this.persisting = false;
      if (this.position !== this.savedPosition) {
        this.savedPosition = this.position;
        await kvSet("pos", { user_id: this.userId, seq: this.position });
      }
    });
  }

  receive(frame) {
    switch (frame.type) {
      case "batch":
        for (const inner of frame.frames) this.receive(inner);
        return;
      case "ping":
        this.send({ type: "pong" });
        return;
      case "hello":
        this.retry = 0;
        if (!frame.resumed) this.position = 0;
        break;
      case "ready":
        this.advance(frame.seq);
        this.isReady = true;
        this.h.frame(frame);
        this.h.ready();
        return;
      case "event":
      case "pos":
      case "sync":
        this.h.frame(frame);
        this.advance(frame.seq);
        return;
      default:
        break;
    }
    this.h.frame(frame);
  }

  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }
}

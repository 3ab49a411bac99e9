// Presence (docs/realtime.md): who is online now and when the others were last seen, from the
// stream's `hello` (everyone at joining) and `presence` frames (someone comes or goes).
import { formatTime, t } from "./i18n.js";

const online = new Set();
const lastSeen = new Map(); // user id -> ms
const listeners = new Set();

export function applyPresence(frame) {
  if (frame.type === "hello") {
    online.clear();
    for (const id of frame.online || []) online.add(id);
    for (const [id, ms] of Object.entries(frame.last_seen || {})) if (ms) lastSeen.set(id, ms);
  } else if (frame.online) {
    online.add(frame.user_id);
  } else {
    online.delete(frame.user_id);
    if (frame.last_seen) lastSeen.set(frame.user_id, frame.last_seen);
  }
  for (const fn of listeners) fn();
}

// "online", "zuletzt gesehen 14:02", or "" when nothing is known.
export function presenceText(userId) {
  if (online.has(userId)) return t("presence_online");
  const ms = lastSeen.get(userId);
  return ms ? t("presence_last_seen", { when: formatTime(ms) }) : "";
}

// An element that keeps showing a person's presence while it is in the page.
export function presenceLine(userId, tag = "span") {
  const el = document.createElement(tag);
  el.className = "presence";
  const update = () => {
    if (!el.isConnected && el.dataset.shown) {
      listeners.delete(update);
      return;
    }
    el.dataset.shown = "1";
    el.textContent = presenceText(userId);
    el.classList.toggle("online", online.has(userId));
  };
  listeners.add(update);
  update();
  return el;
}

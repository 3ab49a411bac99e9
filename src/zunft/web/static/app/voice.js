// Voice messages: tap the microphone to start, "Senden" to stop and send, "Verwerfen" to
// throw the recording away. While recording, a bar over the composer shows the time.
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { duration } from "./media.js";

// What the server takes as a voice message (docs/media.md): WebM/Opus, Ogg/Opus, M4A/AAC.
const TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4"];
const MAX_MS = 15 * 60 * 1000; // a longer recording is stopped and sent

export async function recordVoice(form, send, fail) {
  if (form.querySelector(".recording")) return;
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch {
    fail({ code: "microphone_denied" });
    return;
  }
  const mimeType = TYPES.find((x) => MediaRecorder.isTypeSupported(x));
  const rec = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
  const chunks = [];
  let keep = false;
  const began = Date.now();
  const time = h("span", { class: "rec-time", role: "timer", "aria-live": "off" }, "0:00");
  const bar = h("div", { class: "recording", role: "group", "aria-label": t("voice_recording") },
    h("span", { class: "rec-dot", "aria-hidden": "true" }),
    h("span", null, t("voice_recording")), time,
    h("button", { type: "button", class: "secondary", onclick: () => stop(false) }, t("voice_discard")),
    h("button", { type: "button", class: "primary", id: "voice-send", onclick: () => stop(true) }, t("voice_send")));
  const tick = setInterval(() => {
    const ms = Date.now() - began;
    time.textContent = duration(ms);
    if (ms > MAX_MS) stop(true);
  }, 250);
  function stop(send) {
    keep = send;
    clearInterval(tick);
    if (rec.state !== "inactive") rec.stop();
  }
  rec.addEventListener("dataavailable", (e) => {
    if (e.data.size) chunks.push(e.data);
  });
  rec.addEventListener("stop", () => {
    for (const track of stream.getTracks()) track.stop();
    bar.remove();
    form.classList.remove("is-recording");
    if (!keep || !chunks.length) return;
    const type = rec.mimeType || chunks[0].type || "audio/webm";
    const ext = type.includes("mp4") ? "m4a" : type.includes("ogg") ? "ogg" : "webm";
    const stamp = new Date().toISOString().slice(0, 19).replace(/[-:T]/g, "");
    send(new Blob(chunks, { type }), `sprachnachricht-${stamp}.${ext}`);
  });
  form.classList.add("is-recording");
  form.prepend(bar);
  rec.start(1000);
  bar.querySelector("#voice-send").focus();
}

// Attachments in the chat: photo and video thumbnails that open the viewer, voice messages
// to play, files to download; the composer's buttons (camera, files, voice) and the tray of
// chosen files. docs/webapp.md "Photos, videos, voice messages and files".
import { h } from "./dom.js";
import { t } from "./i18n.js";

export const fileUrl = (id) => "/api/v1/files/" + encodeURIComponent(id);

// GET /files/{id} names previews as an object, a message's attachment as a list of names.
export function hasPreview(a, size) {
  const p = a.previews || [];
  return Array.isArray(p) ? p.includes(size) : !!p[size];
}

export const previewUrl = (a, size) => fileUrl(a.id) + "/preview?size=" + size;
export const contentUrl = (a) => fileUrl(a.id) + "/content";

export function duration(ms) {
  if (!ms && ms !== 0) return "";
  const s = Math.round(ms / 1000);
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

export function size(bytes) {
  if (bytes < 1024 * 1024) return Math.max(1, Math.round(bytes / 1024)) + " KB";
  return (bytes / 1024 / 1024).toFixed(1).replace(".", t("decimal")) + " MB";
}

// Icons drawn here (24×24 paths), so the buttons need no font or image file.
const ICONS = {
  camera: "M9 3 7.2 5H4a2 2 0 0 0-2 2v11a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2h-3.2L15 3H9zm3 5a5 5 0 1 1 0 10 5 5 0 0 1 0-10zm0 2a3 3 0 1 0 0 6 3 3 0 0 0 0-6z",
  clip: "M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10h-1.5z",
  mic: "M12 15a3.5 3.5 0 0 0 3.5-3.5v-6a3.5 3.5 0 0 0-7 0v6A3.5 3.5 0 0 0 12 15zm6-3.5h-1.8a4.2 4.2 0 0 1-8.4 0H6a6 6 0 0 0 5 5.9V21h2v-3.6a6 6 0 0 0 5-5.9z",
  file: "M6 2h8l6 6v12a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm7 1.5V9h5.5L13 3.5z",
};

export function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name]);
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

// The attachments of a message. open(a) shows a photo or video in the viewer.
export function renderAttachments(m, open) {
  const list = m.attachments || [];
  if (!list.length || m.deleted) return null;
  return h("div", { class: "attachments" }, list.map((a) => renderOne(a, open)));
}

function renderOne(a, open) {
  const label = a.kind === "video" ? t("media_video") : t("media_photo");
  if ((a.kind === "photo" || a.kind === "video") && hasPreview(a, "thumb")) {
    const w = a.width && a.height ? Math.round(240 * Math.min(1, a.width / a.height)) : 240;
    return h("button", {
      type: "button", class: "thumb" + (a.kind === "video" ? " video" : ""),
      "aria-label": label + (a.kind === "video" ? " " + duration(a.duration_ms) : "") + ": " + t("media_open"),
      onclick: (e) => { e.stopPropagation(); open(a); },
    }, h("img", { src: previewUrl(a, "thumb"), alt: a.name || label, loading: "lazy", width: String(w), height: "240" }),
    a.kind === "video" ? h("span", { class: "play", "aria-hidden": "true" }, "▶ " + duration(a.duration_ms)) : null);
  }
  if (a.kind === "voice") {
    return h("span", { class: "voice" },
      h("audio", { controls: true, preload: "metadata", src: contentUrl(a), "aria-label": t("media_voice") + " " + duration(a.duration_ms) }),
      a.duration_ms ? h("span", { class: "muted" }, duration(a.duration_ms)) : null);
  }
  if (a.kind === "video") {
    return h("video", { controls: true, preload: "none", src: contentUrl(a), "aria-label": label });
  }
  return h("a", { class: "file", href: contentUrl(a), download: a.name || "", onclick: (e) => e.stopPropagation() },
    icon("file"), h("span", null, a.name || t("media_file")), h("span", { class: "muted" }, size(a.size || 0)));
}

// What a waiting message shows of its files: local previews (blob: URLs) and the progress.
const localUrls = new WeakMap();
function localUrl(blob) {
  if (!localUrls.has(blob)) localUrls.set(blob, URL.createObjectURL(blob));
  return localUrls.get(blob);
}

export function renderPendingFiles(e, progress) {
  if (!e.files || !e.files.length) return null;
  return h("div", { class: "attachments" },
    e.files.map((f) => {
      const type = f.blob.type || "";
      if (type.startsWith("image/")) return h("img", { class: "local", src: localUrl(f.blob), alt: f.name, width: "120", height: "120" });
      if (type.startsWith("audio/")) return h("span", { class: "file" }, icon("mic"), t("media_voice"));
      return h("span", { class: "file" }, icon("file"), f.name);
    }),
    h("progress", { max: "100", value: String(Math.round((progress || 0) * 100)), "aria-label": t("media_progress") }));
}

// The composer's buttons: camera (photo or video), files, voice. onFiles(list of File).
export function composerButtons(onFiles, onVoice) {
  const pick = (accept, capture) => {
    // Hidden: the buttons below open it (a click on a hidden file input still opens the picker).
    const input = h("input", { type: "file", accept, multiple: !capture, capture, hidden: true });
    input.addEventListener("change", () => {
      if (input.files.length) onFiles([...input.files]);
      input.value = "";
    });
    return input;
  };
  const camera = pick("image/*,video/*", "environment");
  const files = pick("", null);
  return [
    camera, files,
    h("button", { type: "button", class: "icon-action", id: "attach-camera", "aria-label": t("media_camera"), onclick: () => camera.click() }, icon("camera")),
    h("button", { type: "button", class: "icon-action", id: "attach-file", "aria-label": t("media_pick"), onclick: () => files.click() }, icon("clip")),
    onVoice ? h("button", { type: "button", class: "icon-action", id: "attach-voice", "aria-label": t("voice_record"), onclick: onVoice }, icon("mic")) : null,
  ];
}

// Files chosen but not sent yet, above the composer, each removable.
export function renderTray(files, remove) {
  if (!files.length) return null;
  return h("ul", { class: "tray", "aria-label": t("media_tray") }, files.map((f, i) => h("li", null,
    (f.type || "").startsWith("image/") ? h("img", { src: localUrl(f), alt: "", width: "56", height: "56" }) : icon("file"),
    h("span", { class: "name" }, f.name),
    h("button", { type: "button", class: "link small", "aria-label": t("media_remove") + " " + f.name, onclick: () => remove(i) }, "✕"))));
}

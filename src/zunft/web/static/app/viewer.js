// The full-screen viewer for photos and videos: a modal <dialog> (focus stays inside,
// Escape closes), arrow keys and buttons step, a swipe (pointer events) steps on a phone.
import { h, clear } from "./dom.js";
import { formatTime, t } from "./i18n.js";
import { userName } from "./main.js";
import { contentUrl, hasPreview, previewUrl } from "./media.js";

const SWIPE_PX = 50; // a horizontal move at least this long (and mostly sideways) steps

export function openViewer(items, index) {
  if (!items.length) return;
  const opener = document.activeElement;
  let i = index;
  const stage = h("div", { class: "viewer-stage" });
  const caption = h("p", { class: "viewer-caption", "aria-live": "polite" });
  const prev = h("button", { type: "button", class: "viewer-nav", "aria-label": t("viewer_prev"), onclick: () => step(-1) }, "‹");
  const next = h("button", { type: "button", class: "viewer-nav", "aria-label": t("viewer_next"), onclick: () => step(1) }, "›");
  const download = h("a", { class: "viewer-link", download: "" }, t("viewer_original"));
  const dialog = h("dialog", { class: "viewer", "aria-label": t("viewer_title") },
    h("div", { class: "viewer-bar" },
      download,
      h("button", { type: "button", class: "viewer-close", "aria-label": t("viewer_close"), onclick: () => dialog.close() }, "✕")),
    stage, h("div", { class: "viewer-foot" }, prev, caption, next));

  function show() {
    const a = items[i];
    clear(stage);
    if (a.kind === "video") {
      stage.append(h("video", {
        controls: true, preload: "metadata", src: contentUrl(a), "aria-label": a.name || t("media_video"),
        poster: hasPreview(a, "large") ? previewUrl(a, "large") : null,
      }));
    } else {
      stage.append(h("img", { src: previewUrl(a, hasPreview(a, "large") ? "large" : "thumb"), alt: a.caption || a.name || t("media_photo"), draggable: "false" }));
    }
    download.href = contentUrl(a);
    download.setAttribute("download", a.name || "");
    const who = a.uploader_id ? userName(a.uploader_id) : "";
    const when = a.taken_at ? formatTime(a.taken_at) : "";
    caption.textContent = [t("viewer_position", { n: i + 1, total: items.length }), who, when, a.caption].filter(Boolean).join(" · ");
    dialog.dataset.index = String(i);
    prev.disabled = i === 0;
    next.disabled = i === items.length - 1;
  }

  function step(d) {
    const j = i + d;
    if (j < 0 || j >= items.length) return;
    i = j;
    show();
  }

  dialog.addEventListener("keydown", (e) => {
    if (e.key === "ArrowLeft") step(-1);
    else if (e.key === "ArrowRight") step(1);
    else return;
    e.preventDefault();
  });
  let start = null;
  stage.addEventListener("pointerdown", (e) => {
    start = { x: e.clientX, y: e.clientY };
  });
  stage.addEventListener("pointerup", (e) => {
    if (!start) return;
    const dx = e.clientX - start.x;
    const dy = e.clientY - start.y;
    start = null;
    if (Math.abs(dx) >= SWIPE_PX && Math.abs(dx) > 2 * Math.abs(dy)) step(dx < 0 ? 1 : -1);
  });
  stage.addEventListener("pointercancel", () => { start = null; });
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (opener && opener.focus) opener.focus();
  });
  document.body.append(dialog);
  show();
  dialog.showModal();
}

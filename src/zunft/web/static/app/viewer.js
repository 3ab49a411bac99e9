// The full-screen viewer for photos and videos: a modal <dialog> (focus stays inside,
// Escape closes), arrow keys and buttons step, a swipe (pointer events) steps on a phone.
// Below the picture its caption and tags; staff change them here (PATCH /files/{id},
// docs/media.md), customers only read them.
import { get, patch } from "./api.js";
import { h, clear } from "./dom.js";
import { formatTime, t } from "./i18n.js";
import { errorText, state, userName } from "./main.js";
import { contentUrl, hasPreview, previewUrl } from "./media.js";

const SWIPE_PX = 50; // a horizontal move at least this long (and mostly sideways) steps

// openViewer(items, index, {onChange}): onChange(item) after a caption or tags were saved
// (the item is updated in place).
export function openViewer(items, index, { onChange } = {}) {
  if (!items.length) return;
  const opener = document.activeElement;
  const mayEdit = Boolean(state.me && state.me.kind !== "customer"); // staff (GET /me has no kind)
  let i = index;
  let editing = false;
  let suggestions = null; // GET /gallery/tags, once per opening
  const details = new WeakMap(); // item -> the promise of its caption and tags
  const stage = h("div", { class: "viewer-stage" });
  const caption = h("p", { class: "viewer-caption", "aria-live": "polite" });
  const info = h("div", { class: "viewer-info" });
  const prev = h("button", { type: "button", class: "viewer-nav", "aria-label": t("viewer_prev"), onclick: () => step(-1) }, "‹");
  const next = h("button", { type: "button", class: "viewer-nav", "aria-label": t("viewer_next"), onclick: () => step(1) }, "›");
  const download = h("a", { class: "viewer-link", download: "" }, t("viewer_original"));
  const dialog = h("dialog", { class: "viewer", "aria-label": t("viewer_title") },
    h("div", { class: "viewer-bar" },
      download,
      h("button", { type: "button", class: "viewer-close", "aria-label": t("viewer_close"), onclick: () => dialog.close() }, "✕")),
    stage, info, h("div", { class: "viewer-foot" }, prev, caption, next));

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
    caption.textContent = [t("viewer_position", { n: i + 1, total: items.length }), who, when].filter(Boolean).join(" · ");
    dialog.dataset.index = String(i);
    prev.disabled = i === 0;
    next.disabled = i === items.length - 1;
    renderInfo();
    // A photo from a chat message comes without caption and tags: ask for them.
    if (!Array.isArray(a.tags)) load(a).then(() => { if (items[i] === a && !editing) renderInfo(); }, () => {});
  }

  function load(a) {
    if (Array.isArray(a.tags)) return Promise.resolve(a);
    if (!details.has(a)) {
      details.set(a, get("/files/" + encodeURIComponent(a.id)).then((f) => Object.assign(a, { caption: f.caption, tags: f.tags })));
    }
    return details.get(a);
  }

  function renderInfo(note) {
    const a = items[i];
    editing = false;
    dialog.classList.remove("editing");
    const tags = a.tags || [];
    clear(info).append(...[ // Element.append would write a null as "null"
      a.caption ? h("p", { class: "viewer-text" }, a.caption) : null,
      tags.length ? h("ul", { class: "viewer-tags", "aria-label": t("viewer_tags") }, tags.map((tag) => h("li", { class: "chip" }, tag))) : null,
      mayEdit ? h("button", { type: "button", class: "viewer-edit", onclick: edit }, t("viewer_edit")) : null,
      note ? h("span", { class: "viewer-note", role: "status" }, note) : null].filter(Boolean));
  }

  function focusEdit() {
    const button = info.querySelector(".viewer-edit");
    if (button) button.focus();
  }

  async function edit() {
    const a = items[i];
    try {
      await load(a);
      if (!suggestions) suggestions = (await get("/gallery/tags")).tags;
    } catch (ex) {
      renderInfo(errorText(ex));
      return;
    }
    if (items[i] !== a) return;
    editing = true;
    dialog.classList.add("editing");
    const text = h("input", { id: "viewer-caption-input", name: "caption", maxlength: "1000", autocomplete: "off", value: a.caption || "" });
    const boxes = h("div", { class: "viewer-choices" });
    const addBox = (tag, checked) => boxes.append(h("label", { class: "check" },
      h("input", { type: "checkbox", name: "tag", value: tag, checked }), tag));
    const shown = new Set();
    for (const tag of [...suggestions, ...a.tags]) {
      if (shown.has(tag)) continue;
      shown.add(tag);
      addBox(tag, a.tags.includes(tag));
    }
    const newTag = h("input", { id: "viewer-new-tag", maxlength: "40", autocomplete: "off" });
    const add = () => {
      const tag = newTag.value.split(/\s+/).filter(Boolean).join(" ");
      if (!tag) return;
      // "Vorher" is the tag "vorher" (the server folds the default tags the same way).
      const same = [...boxes.querySelectorAll("input")].find((b) => b.value.toLowerCase() === tag.toLowerCase());
      if (same) same.checked = true;
      else addBox(tag, true);
      newTag.value = "";
      newTag.focus();
    };
    newTag.addEventListener("keydown", (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault(); // adds the tag; Enter in the caption saves
      add();
    });
    const error = h("p", { class: "error", role: "alert" });
    const form = h("form", { class: "viewer-form" },
      h("div", { class: "field" }, h("label", { for: "viewer-caption-input" }, t("viewer_caption")), text),
      h("fieldset", { class: "viewer-tagset" }, h("legend", null, t("viewer_tags")), boxes,
        h("div", { class: "viewer-add" },
          h("label", { for: "viewer-new-tag" }, t("viewer_new_tag")), newTag,
          h("button", { type: "button", class: "secondary", onclick: add }, t("viewer_add_tag")))),
      error,
      h("div", { class: "row" },
        h("button", { type: "submit", class: "primary" }, t("save")),
        h("button", { type: "button", class: "secondary", onclick: () => { renderInfo(); focusEdit(); } }, t("cancel"))));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const tags = [...boxes.querySelectorAll("input:checked")].map((b) => b.value);
      try {
        const out = await patch("/files/" + encodeURIComponent(a.id), { caption: text.value.trim() || null, tags });
        Object.assign(a, { caption: out.caption, tags: out.tags });
      } catch (ex) {
        error.textContent = errorText(ex);
        return;
      }
      if (onChange) onChange(a);
      if (items[i] !== a) return;
      const img = stage.querySelector("img");
      if (img) img.alt = a.caption || a.name || t("media_photo");
      renderInfo(t("viewer_saved"));
      focusEdit();
    });
    clear(info).append(form);
    text.focus();
  }

  function step(d) {
    const j = i + d;
    if (j < 0 || j >= items.length) return;
    i = j;
    show();
  }

  dialog.addEventListener("keydown", (e) => {
    if (editing) return; // the arrow keys move in the form's fields
    if (e.key === "ArrowLeft") step(-1);
    else if (e.key === "ArrowRight") step(1);
    else return;
    e.preventDefault();
  });
  // Escape while editing leaves the form, not the viewer.
  dialog.addEventListener("cancel", (e) => {
    if (!editing) return;
    e.preventDefault();
    renderInfo();
    focusEdit();
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

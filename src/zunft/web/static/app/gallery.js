// A project's gallery (#/gallery/<project id>): its photos, videos, voice messages and files,
// newest first, filtered by kind, person, period and tag (GET /projects/{id}/gallery). Pages of
// PAGE come when the end of the grid nears; a thumbnail is requested only when its tile
// comes near the screen, so 2,000 photos never mean 2,000 requests at once.
import { get } from "./api.js";
import { h, clear } from "./dom.js";
import { formatTime, t } from "./i18n.js";
import { errorText, state, userName } from "./main.js";
import { contentUrl, duration, hasPreview, icon, previewUrl } from "./media.js";
import { openViewer } from "./viewer.js";

const PAGE = 60;
const TYPE_PAUSE_MS = 300; // the search field looks once typing pauses this long
const NEAR = "300px"; // how far outside the screen thumbnails and pages start loading
const KINDS = { "": [], photo: ["photo"], video: ["video"], voice: ["voice"], file: ["document", "file"] };

export function renderGallery(main, projectId) {
  const project = state.projects.get(projectId);
  const form = h("form", { class: "filters", "aria-label": t("gallery_filters") },
    select("kind", t("gallery_kind"), Object.keys(KINDS).map((k) => [k, t("gallery_kind_" + (k || "all"))])),
    select("uploader_id", t("gallery_person"), [["", t("gallery_everyone")]]),
    select("tag", t("gallery_tag"), [["", t("gallery_all_tags")]]),
    h("div", { class: "field" }, h("label", { for: "g-text" }, t("gallery_text")),
      h("input", { id: "g-text", name: "text", type: "search", maxlength: "100", enterkeyhint: "search" })),
    dateField("date_from", t("gallery_from")),
    dateField("date_to", t("gallery_to")));
  const grid = h("ul", { class: "gallery", id: "gallery", "aria-label": t("gallery_title") });
  const status = h("p", { class: "muted center", role: "status" });
  const sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
  const report = h("a", { class: "button-link", id: "gallery-report", download: "" }, t("gallery_report"));
  main.append(h("h2", { class: "gallery-title" }, project ? project.name : ""), form, report, grid, status, sentinel);

  // The people to filter by: the business's staff (state.users may still be loading).
  const person = form.querySelector("#g-uploader_id");
  const addPeople = (list) => person.append(...list.map((u) => h("option", { value: u.id }, u.name)));
  if (state.users.size) addPeople([...state.users.values()]);
  else get("/users").then((out) => addPeople(out.users), () => {});
  // The tags to filter by: the defaults, the business's own, and any added in the viewer.
  const tagSelect = form.querySelector("#g-tag");
  const addTags = (tags) => {
    const known = new Set([...tagSelect.options].map((o) => o.value));
    tagSelect.append(...tags.filter((tag) => !known.has(tag)).map((tag) => h("option", { value: tag }, tag)));
  };
  get("/gallery/tags").then((out) => addTags(out.tags), () => {});

  let items = [];
  let next = null;
  let loading = false;
  let generation = 0;
  // Each tile asks for its thumbnail when it comes near the screen (once).
  const thumbs = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      const img = e.target.querySelector("img[data-src]");
      if (img) {
        img.src = img.dataset.src;
        delete img.dataset.src;
      }
      thumbs.unobserve(e.target);
    }
  }, { root: main, rootMargin: NEAR }); // main scrolls (the margin works only on the scroller)
  const more = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && next && !loading) load();
  }, { root: main, rootMargin: NEAR });

  function query() {
    const p = new URLSearchParams();
    const data = new FormData(form);
    for (const k of KINDS[data.get("kind")]) p.append("kind", k);
    for (const k of ["uploader_id", "date_from", "date_to"]) if (data.get(k)) p.set(k, data.get(k));
    if (data.get("text").trim()) p.set("text", data.get("text").trim());
    if (data.get("tag")) p.append("tag", data.get("tag"));
    return p;
  }

  async function load(restart) {
    const mine = restart ? ++generation : generation;
    if (restart) {
      items = [];
      next = null;
      clear(grid);
      thumbs.disconnect();
    }
    loading = true;
    status.textContent = t("gallery_loading");
    const p = query();
    p.set("limit", String(PAGE));
    if (next) p.set("before", next);
    try {
      const out = await get(`/projects/${encodeURIComponent(projectId)}/gallery?${p}`);
      if (mine !== generation) return;
      next = out.next;
      for (const a of out.items) {
        items.push(a);
        grid.append(tile(a));
      }
      status.textContent = items.length ? "" : t("gallery_empty");
    } catch (ex) {
      if (mine === generation) status.textContent = errorText(ex);
    } finally {
      if (mine === generation) loading = false;
    }
    // The sentinel may still be in view (a tall screen, a short page): look again.
    if (mine === generation && next) {
      more.unobserve(sentinel);
      more.observe(sentinel);
    }
  }

  function tile(a) {
    const when = formatTime(a.taken_at || a.created_at);
    const who = userName(a.uploader_id);
    let body;
    if ((a.kind === "photo" || a.kind === "video") && hasPreview(a, "thumb")) {
      body = h("button", {
        type: "button", class: "tile", "aria-label": tileLabel(a),
        onclick: () => {
          const shown = items.filter((x) => (x.kind === "photo" || x.kind === "video") && hasPreview(x, "thumb"));
          openViewer(shown, shown.indexOf(a), { onChange: changed });
        },
      }, h("img", { alt: "", width: "160", height: "160", dataset: { src: previewUrl(a, "thumb") } }),
      a.kind === "video" ? h("span", { class: "play", "aria-hidden": "true" }, "▶ " + duration(a.duration_ms)) : null);
    } else if (a.kind === "voice") {
      body = h("span", { class: "tile doc" }, icon("mic"), h("span", null, who + " · " + when),
        h("audio", { controls: true, preload: "none", src: contentUrl(a), "aria-label": t("media_voice") + " " + who }));
    } else {
      body = h("a", { class: "tile doc", href: contentUrl(a), download: a.name || "" }, icon("file"),
        h("span", null, a.name || t("media_file")), h("span", { class: "muted" }, who + " · " + when));
    }
    const li = h("li", { dataset: { id: a.id, kind: a.kind } }, body);
    thumbs.observe(li);
    return li;
  }

  // A caption or tags changed in the viewer: the tile's name and the tag choice follow.
  function changed(a) {
    addTags(a.tags);
    const button = grid.querySelector(`li[data-id="${CSS.escape(a.id)}"] .tile`);
    if (button) button.setAttribute("aria-label", tileLabel(a));
  }

  function syncReport() {
    const p = query();
    p.delete("kind");
    p.delete("uploader_id");
    p.delete("text"); // the photo report takes period and tag
    report.href = `/api/v1/projects/${encodeURIComponent(projectId)}/report?${p}`;
    const kind = new FormData(form).get("kind");
    report.hidden = !(kind === "" || kind === "photo");
  }

  form.addEventListener("change", () => {
    syncReport();
    load(true);
  });
  // Typing in the search field: look once the person pauses (Enter and the clear button
  // of the field go at once).
  let typing = 0;
  const text = form.querySelector("#g-text");
  text.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => load(true), TYPE_PAUSE_MS);
  });
  text.addEventListener("search", () => {
    clearTimeout(typing);
    load(true);
  });
  form.addEventListener("submit", (e) => e.preventDefault());
  syncReport();
  more.observe(sentinel);
  load(true);
  return {
    close() {
      generation++;
      thumbs.disconnect();
      more.disconnect();
    },
  };
}

// A photo's or video's name for a screen reader: what, who, when, caption and tags.
function tileLabel(a) {
  return [t(a.kind === "video" ? "media_video" : "media_photo"), userName(a.uploader_id),
    formatTime(a.taken_at || a.created_at), a.caption, ...(a.tags || [])].filter(Boolean).join(", ");
}

function select(name, label, options) {
  const id = "g-" + name;
  return h("div", { class: "field" }, h("label", { for: id }, label),
    h("select", { id, name }, options.map(([v, text]) => h("option", { value: v }, text))));
}

function dateField(name, label) {
  const id = "g-" + name;
  return h("div", { class: "field" }, h("label", { for: id }, label), h("input", { id, name, type: "date" }));
}

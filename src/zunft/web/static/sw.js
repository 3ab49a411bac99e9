// Service worker: keeps the app shell so zunft opens without a network. The API and the
// stream are never cached here (the app keeps its own data in IndexedDB).
// Shell files are answered from the cache at once and refreshed in the background
// (stale-while-revalidate); a new version of this file replaces the whole cache.
const VERSION = "zunft-shell-v9";
const SHELL = [
  "/",
  "/manifest.webmanifest",
  "/app/app.css",
  "/app/main.js",
  "/app/api.js",
  "/app/dom.js",
  "/app/i18n.js",
  "/app/i18n/de.js",
  "/app/i18n/en.js",
  "/app/store.js",
  "/app/stream.js",
  "/app/outbox.js",
  "/app/chat.js",
  "/app/admin.js",
  "/app/media.js",
  "/app/upload.js",
  "/app/viewer.js",
  "/app/voice.js",
  "/app/gallery.js",
  "/app/presence.js",
  "/app/archive.js",
  "/app/compliance.js",
  "/app/customer.js",
  "/app/cust.js",
  "/app/reports.js",
  "/app/newchat.js",
  "/app/icons/icon.svg",
  "/app/icons/icon-192.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(VERSION).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n !== VERSION).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) return;
  const key = req.mode === "navigate" ? "/" : url.pathname;
  event.respondWith(
    caches.open(VERSION).then(async (cache) => {
      const cached = await cache.match(key);
      const fresh = fetch(req.mode === "navigate" ? "/" : req)
        .then((res) => {
          if (res.ok) cache.put(key, res.clone());
          return res;
        });
      if (cached) {
        event.waitUntil(fresh.catch(() => undefined));
        return cached;
      }
      return fresh;
    }),
  );
});

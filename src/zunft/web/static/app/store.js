// IndexedDB: the stream position, cached data for offline start, and the outbox.
// Stores: "kv" (key -> value) and "outbox" (auto-increment key = the order written).

const DB_NAME = "zunft";
let dbPromise = null;

function open() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => {
        const db = req.result;
        db.createObjectStore("kv");
        const outbox = db.createObjectStore("outbox", { keyPath: "order", autoIncrement: true });
        outbox.createIndex("client_id", "client_id", { unique: true });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return dbPromise;
}

function done(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function store(name, mode) {
  const db = await open();
  return db.transaction(name, mode).objectStore(name);
}

export async function kvGet(key) {
  return done((await store("kv", "readonly")).get(key));
}

export async function kvSet(key, value) {
  return done((await store("kv", "readwrite")).put(value, key));
}

export async function kvClear() {
  return done((await store("kv", "readwrite")).clear());
}

// Outbox entries: {order, client_id, chat_id, text, reply_to_id, mentions, user_id, created_at}.
export async function outboxAdd(entry) {
  return done((await store("outbox", "readwrite")).add(entry));
}

export async function outboxAll() {
  return done((await store("outbox", "readonly")).getAll());
}

export async function outboxRemove(clientId) {
  const s = await store("outbox", "readwrite");
  const key = await done(s.index("client_id").getKey(clientId));
  if (key !== undefined) await done(s.delete(key));
}

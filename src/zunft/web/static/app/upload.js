// Resumable uploads: a small tus 1.0 client over fetch (server side: docs/media.md).
// The creation carries a client id, so asking again after a lost connection (or a reload)
// finds the same upload; HEAD says how much arrived and PATCH sends the rest in chunks.
import { ApiError, csrfToken } from "./api.js";

const CHUNK = 512 * 1024; // progress moves per chunk; a dropped chunk costs at most this much

function b64(text) {
  let bin = "";
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin);
}

async function tus(method, url, headers, body) {
  let res;
  try {
    res = await fetch(url, {
      method, body, credentials: "same-origin", cache: "no-store",
      headers: { ...headers, "Tus-Resumable": "1.0.0", "X-CSRF-Token": csrfToken() },
    });
  } catch {
    throw new ApiError(0, "offline", "offline");
  }
  if (res.ok) return res;
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  const err = (data && data.error) || {};
  const ex = new ApiError(res.status, err.code || "http_" + res.status, err.message, data);
  ex.retryAfter = res.headers.get("Retry-After");
  throw ex;
}

// Uploads `blob` into the chat; resolves with the file id (the upload's id).
export async function upload(blob, { chatId, clientId, name, onProgress }) {
  const meta = { chat_id: chatId, client_id: clientId, filename: name || "datei" };
  const created = await tus("POST", "/api/v1/uploads", {
    "Upload-Length": String(blob.size),
    "Upload-Metadata": Object.entries(meta).map(([k, v]) => k + " " + b64(v)).join(","),
  });
  const url = created.headers.get("Location");
  let offset = Number((await tus("HEAD", url, {})).headers.get("Upload-Offset"));
  while (offset < blob.size) {
    onProgress(offset / blob.size);
    const res = await tus("PATCH", url, {
      "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream",
    }, blob.slice(offset, offset + CHUNK));
    offset = Number(res.headers.get("Upload-Offset"));
  }
  onProgress(1);
  return url.slice(url.lastIndexOf("/") + 1);
}

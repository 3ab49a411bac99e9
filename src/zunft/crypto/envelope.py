"""AES-256-GCM envelope encryption with the object's identity as associated data.

Ciphertext layout (version 1):  b"\\x01" | key_id (4 bytes, big endian) | nonce (12) | ct+tag
Ciphertext layout (version 2):  b"\\x02" | content key id (16 random bytes) | nonce (12) | ct+tag
Version 2 is content under an erasure unit's content key (docs/security.md, "Content keys"):
destroying that key shreds it. The associated data is "<tenant_id>/<purpose>", e.g.
"01j…/messages.body/01k…", so a ciphertext copied into another row, column or tenant fails
to decrypt.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import secrets
import struct
import threading
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = 1
CONTENT_VERSION = 2
CONTENT_KEY_ID_BYTES = 16
_HEADER = struct.Struct(">BI")
CONTENT_CACHE_MAX = 10_000  # unwrapped content keys remembered per tenant (cleared whole)
NONCE_BYTES = 12
INDEX_CACHE_MAX = 10_000  # remembered word tokens per tenant (about 1.5 MB at most)


class DecryptionError(Exception):
    """A ciphertext was altered, moved to another row, or its key was destroyed."""


def wrap_key(kek: bytes, tenant_id: str, key_id: int, data_key: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    aad = f"zunft-kek/{tenant_id}/{key_id}".encode()
    return nonce + AESGCM(kek).encrypt(nonce, data_key, aad)


def unwrap_key(kek: bytes, tenant_id: str, key_id: int, wrapped: bytes) -> bytes:
    aad = f"zunft-kek/{tenant_id}/{key_id}".encode()
    try:
        return AESGCM(kek).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
    except InvalidTag as exc:
        raise DecryptionError(f"data key {key_id} of tenant {tenant_id}: wrong KEK") from exc


def derive(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


def content_key_id(blob: bytes | None) -> bytes | None:
    """The content key a ciphertext was made with (None: a data key, or no ciphertext)."""
    if blob is None or len(blob) < 1 + CONTENT_KEY_ID_BYTES or blob[0] != CONTENT_VERSION:
        return None
    return bytes(blob[1 : 1 + CONTENT_KEY_ID_BYTES])


ContentLoader = Callable[[str, bytes], bytes | None]


class TenantCipher:
    """Encrypts and decrypts one tenant's fields; also makes its keyed search/index tokens."""

    def __init__(
        self,
        tenant_id: str,
        keys: dict[int, bytes],
        current_key_id: int,
        load_content: ContentLoader | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self._load_content = load_content
        self._content: dict[bytes, AESGCM] = {}
        # Keys this process made, apart from the cache: the transaction that made one may not
        # have committed yet, so it cannot be loaded back if dropped. Only the oldest go (a
        # batch holds at most a few hundred writes; thousands of keys ago is committed).
        self._made: dict[bytes, AESGCM] = {}
        self._default_key: bytes | None = None  # see keyed()
        self._aead = {kid: AESGCM(k) for kid, k in keys.items()}
        self._current = current_key_id
        # The index key comes from the first data key so tokens stay stable across rotation.
        first = keys[min(keys)]
        self._index_key = derive(first, b"zunft search index v1")
        self._index_mac = hmac.new(self._index_key, digestmod=hashlib.sha256)
        # Word stems repeat a lot (every message is indexed, every search hashes its words):
        # remember recent word tokens. Bounded, and cleared whole when full (no LRU order).
        self._index_cache: dict[tuple[str, int], bytes] = {}

    def encrypt(self, purpose: str, plaintext: str | bytes, key: bytes | None = None) -> bytes:
        """Encrypt under the current data key, or under content key `key` (its id)."""
        data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
        nonce = secrets.token_bytes(NONCE_BYTES)
        aad = f"{self.tenant_id}/{purpose}".encode()
        key = key if key is not None else self._default_key
        if key is not None:
            aead = self._content_aead(key)
            if aead is None:
                raise DecryptionError(f"{purpose}: content key is destroyed")
            return bytes([CONTENT_VERSION]) + key + nonce + aead.encrypt(nonce, data, aad)
        return (
            _HEADER.pack(VERSION, self._current)
            + nonce
            + self._aead[self._current].encrypt(nonce, data, aad)
        )

    # --- content keys (erasure units) ---------------------------------------------------

    def new_content_key(self) -> tuple[bytes, bytes]:
        """A fresh content key: (its id, the key wrapped by the current data key). Installed
        in this cipher at once, so the transaction that makes it can use it before commit."""
        key_id = secrets.token_bytes(CONTENT_KEY_ID_BYTES)
        raw = AESGCM.generate_key(bit_length=256)
        wrapped = self.encrypt(f"content_keys/{key_id.hex()}", raw)
        if len(self._made) >= CONTENT_CACHE_MAX:
            del self._made[next(iter(self._made))]  # dicts keep insertion order
        self._made[key_id] = AESGCM(raw)
        return key_id, wrapped

    def keyed(self, key_id: bytes | None) -> TenantCipher:
        """This cipher, encrypting under content key `key_id` by default (a file's segments:
        zunft.blobs.segments knows nothing of content keys). Shares the key caches."""
        view = copy.copy(self)
        view._default_key = key_id
        return view

    def forget_content_key(self, key_id: bytes) -> None:
        self._content.pop(key_id, None)
        self._made.pop(key_id, None)

    def _remember(self, key_id: bytes, aead: AESGCM) -> None:
        if len(self._content) >= CONTENT_CACHE_MAX:
            self._content.clear()
        self._content[key_id] = aead

    def _content_aead(self, key_id: bytes) -> AESGCM | None:
        aead = self._content.get(key_id) or self._made.get(key_id)
        if aead is not None or self._load_content is None:
            return aead
        wrapped = self._load_content(self.tenant_id, key_id)
        if wrapped is None:
            return None  # destroyed (or never committed)
        aead = AESGCM(self.decrypt_bytes(f"content_keys/{key_id.hex()}", wrapped))
        self._remember(key_id, aead)
        return aead

    def decrypt_bytes(self, purpose: str, blob: bytes) -> bytes:
        if blob[:1] == bytes([CONTENT_VERSION]):
            return self._decrypt_content(purpose, blob)
        if len(blob) < _HEADER.size + NONCE_BYTES + 16:
            raise DecryptionError(f"{purpose}: ciphertext too short")
        version, key_id = _HEADER.unpack_from(blob)
        if version != VERSION:
            raise DecryptionError(f"{purpose}: unknown ciphertext version {version}")
        aead = self._aead.get(key_id)
        if aead is None:
            raise DecryptionError(f"{purpose}: key {key_id} is not available (destroyed?)")
        nonce = blob[_HEADER.size : _HEADER.size + NONCE_BYTES]
        aad = f"{self.tenant_id}/{purpose}".encode()
        try:
            return aead.decrypt(nonce, blob[_HEADER.size + NONCE_BYTES :], aad)
        except InvalidTag as exc:
            raise DecryptionError(f"{purpose}: ciphertext altered or misplaced") from exc

    def _decrypt_content(self, purpose: str, blob: bytes) -> bytes:
        start = 1 + CONTENT_KEY_ID_BYTES
        if len(blob) < start + NONCE_BYTES + 16:
            raise DecryptionError(f"{purpose}: ciphertext too short")
        aead = self._content_aead(bytes(blob[1:start]))
        if aead is None:
            raise DecryptionError(f"{purpose}: its content key was destroyed (erased)")
        aad = f"{self.tenant_id}/{purpose}".encode()
        try:
            return aead.decrypt(blob[start : start + NONCE_BYTES], blob[start + NONCE_BYTES :], aad)
        except InvalidTag as exc:
            raise DecryptionError(f"{purpose}: ciphertext altered or misplaced") from exc

    def decrypt(self, purpose: str, blob: bytes) -> str:
        return self.decrypt_bytes(purpose, blob).decode("utf-8")

    def encrypt_opt(self, purpose: str, plaintext: str | None) -> bytes | None:
        return None if plaintext is None else self.encrypt(purpose, plaintext)

    def decrypt_opt(self, purpose: str, blob: bytes | None) -> str | None:
        return None if blob is None else self.decrypt(purpose, blob)

    def index_token(self, domain: str, value: str, length: int = 16) -> bytes:
        """Keyed hash of a normalised value (word stem, e-mail address) for equality lookups."""
        cacheable = domain == "word"  # only word stems: no e-mail addresses kept in memory
        key = (value, length)
        token = self._index_cache.get(key) if cacheable else None
        if token is None:
            mac = self._index_mac.copy()  # keyed state prepared once; same digest as hmac.new
            mac.update(f"{domain}\x00{value}".encode())
            token = mac.digest()[:length]
            if cacheable:
                if len(self._index_cache) >= INDEX_CACHE_MAX:
                    self._index_cache.clear()
                self._index_cache[key] = token
        return token


class Keyring:
    """Caches unwrapped tenant keys; `load` is called with the tenant id on a miss.

    `reread`, when given, returns the KEK as configured now: after `zunft admin rotate-key`
    (crypto/rotate.py) a running server unwraps with the new key without a restart.
    """

    def __init__(
        self,
        kek: bytes,
        load: Callable[[str], list[tuple[int, bytes]]],
        load_content: ContentLoader | None = None,
        reread: Callable[[], bytes] | None = None,
    ) -> None:
        self._kek = kek
        self._load = load
        self._load_content = load_content
        self._reread = reread
        self._ciphers: dict[str, TenantCipher] = {}
        self._lock = threading.Lock()

    @property
    def kek(self) -> bytes:
        """The KEK for wrapping a new data key: the one configured now."""
        if self._reread is not None:
            self._kek = self._reread()
        return self._kek

    def _unwrap(self, tenant_id: str, wrapped: list[tuple[int, bytes]]) -> dict[int, bytes]:
        try:
            return {kid: unwrap_key(self._kek, tenant_id, kid, w) for kid, w in wrapped}
        except DecryptionError:
            if self._reread is None:
                raise
            fresh = self._reread()
            if fresh == self._kek:
                raise
            self._kek = fresh  # the key was rotated while this process ran
            return {kid: unwrap_key(self._kek, tenant_id, kid, w) for kid, w in wrapped}

    def cipher(self, tenant_id: str) -> TenantCipher:
        found = self._ciphers.get(tenant_id)
        if found is not None:
            return found
        # Made under the lock: two threads asking at once (the writer and the search
        # indexer of a fresh process) must get the same cipher. With two, a content key made
        # in the writer's transaction was installed in one and looked for in the other,
        # where it read as destroyed (it is not committed yet).
        with self._lock:
            found = self._ciphers.get(tenant_id)
            if found is not None:
                return found
            wrapped = self._load(tenant_id)
            if not wrapped:
                raise DecryptionError(f"tenant {tenant_id} has no data key")
            keys = self._unwrap(tenant_id, wrapped)
            cipher = TenantCipher(tenant_id, keys, max(keys), self._load_content)
            self._ciphers[tenant_id] = cipher
            return cipher

    def install(self, tenant_id: str, keys: dict[int, bytes]) -> TenantCipher:
        """Register keys made in a transaction that has not committed yet (a new tenant)."""
        cipher = TenantCipher(tenant_id, keys, max(keys), self._load_content)
        with self._lock:
            self._ciphers[tenant_id] = cipher
        return cipher

    def forget(self, tenant_id: str) -> None:
        with self._lock:
            self._ciphers.pop(tenant_id, None)

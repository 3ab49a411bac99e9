"""Client ids: every client write names itself, so a retry (flaky network, outbox replay)
returns the first result instead of doing the work twice.

The check, the work and the stored answer share one transaction in the single writer, so two
concurrent retries cannot both do the work. The stored answer is encrypted: it may contain
message text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, insert, select

from zunft.accounts.actor import Actor
from zunft.db import schema as s
from zunft.db.prepared import Prepared
from zunft.db.tx import Tx
from zunft.errors import Conflict, Invalid
from zunft.journal.chain import canonical

CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
# Every message sent runs both: prepared once (db/prepared.py), not built per call.
_SELECT = Prepared(
    select(
        s.client_writes.c.request_hash, s.client_writes.c.status, s.client_writes.c.response_enc
    ).where(
        s.client_writes.c.tenant_id == bindparam("tenant_id"),
        s.client_writes.c.user_id == bindparam("user_id"),
        s.client_writes.c.client_id == bindparam("client_id"),
    )
)
_INSERT = Prepared(insert(s.client_writes))


def check_client_id(client_id: str) -> str:
    if not CLIENT_ID.match(client_id):
        raise Invalid(
            "client_id must be 8 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'.",
            code="invalid_client_id",
        )
    return client_id


def do_once(
    tx: Tx,
    actor: Actor,
    client_id: str,
    request: dict[str, Any],
    work: Callable[[], dict[str, Any]],
    *,
    status: int = 201,
) -> tuple[int, dict[str, Any], bool]:
    """Run `work` once per (user, client_id). Returns (status, body, replayed)."""
    check_client_id(client_id)
    request_hash = hashlib.sha256(canonical(request)).digest()
    cipher = tx.cipher(actor.tenant_id)
    purpose = f"client_writes/{actor.user_id}/{client_id}"
    key = {"tenant_id": actor.tenant_id, "user_id": actor.user_id, "client_id": client_id}
    row = _SELECT.first(tx.conn, key)
    if row is not None:
        stored_hash, stored_status, response_enc = row
        if bytes(stored_hash) != request_hash:
            raise Conflict(
                "This client_id was used for a different request.", code="client_id_reused"
            )
        return stored_status, json.loads(cipher.decrypt(purpose, bytes(response_enc))), True
    body = work()
    _INSERT.run(
        tx.conn,
        {
            **key,
            "request_hash": request_hash,
            "status": status,
            "response_enc": cipher.encrypt(purpose, canonical(body)),
            "created_at": tx.now_ms,
        },
    )
    return status, body, False

"""What a device receives when it (re)connects, read in one consistent snapshot of the
database at journal head S: the chats it may see, and either the entries it missed (resume)
or, when that would be too many or its position is unusable, a compact catch-up: per chat the
latest message and the unread count (the same as GET /chats)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from zunft.accounts.actor import Actor
from zunft.chats.service import get_chats, get_visible_chat_ids
from zunft.db import schema as s
from zunft.db.tx import Rx
from zunft.journal.chain import Event
from zunft.journal.read import get_entries
from zunft.realtime.hub import CHAT_KINDS, TENANT_KINDS, read_heads


@dataclass
class Snapshot:
    head: int
    visible: set[str]
    replay: list[Event] | None = None  # entries after the resume position, up to head
    chats: list[dict[str, Any]] | None = None  # the compact catch-up instead
    error: tuple[str, str] | None = None  # (code, message) for an unusable resume position
    last_seen: dict[str, int] = field(default_factory=dict)


def read_snapshot(rx: Rx, actor: Actor, since: int | None, catchup_max: int) -> Snapshot:
    head = read_heads(rx, [actor.tenant_id]).get(actor.tenant_id, 0)
    snap = Snapshot(head=head, visible=set(get_visible_chat_ids(rx, actor)))
    if since is not None and since > head:
        snap.error = (
            "invalid_resume",
            f"Position {since} lies beyond the journal (head {head}); resynchronised.",
        )
    elif since is not None and head - since <= catchup_max:
        snap.replay = get_entries(rx, actor.tenant_id, after=since, limit=max(head - since, 1))
        snap.replay = [ev for ev in snap.replay if ev.seq <= head]
    if snap.replay is None:
        snap.chats = get_chats(rx, actor)
    if actor.kind == "staff":
        snap.last_seen = {
            r.user_id: int(r.seen)
            for r in rx.conn.execute(
                select(s.sessions.c.user_id, func.max(s.sessions.c.last_seen_at).label("seen"))
                .join(s.users, s.users.c.id == s.sessions.c.user_id)
                .where(s.sessions.c.tenant_id == actor.tenant_id, s.users.c.kind == "staff")
                .group_by(s.sessions.c.user_id)
            ).all()
        }
    return snap


def may_see(actor: Actor, visible: set[str], ev: Event) -> bool:
    """Whether a replayed entry goes to a device (visibility as of the snapshot)."""
    if ev.kind in CHAT_KINDS:
        return ev.chat_id in visible
    return ev.kind in TENANT_KINDS and actor.kind == "staff"

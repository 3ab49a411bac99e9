"""Chats and who may see them.

Visibility: a member sees a chat. Owner and office also see every project chat and channel of
their business; direct chats stay between their two members (see docs/architecture.md, "Who
sees what", for why).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update

from zunft.accounts.actor import Actor
from zunft.accounts.users import get_user_row
from zunft.db import schema as s
from zunft.db.tx import Rx, Tx
from zunft.errors import Conflict, Forbidden, Invalid, NotFound
from zunft.ids import new_id


def _customer_consent_in_force(actor: Actor) -> Any:
    """True while the customer's accepted consent text is the business's current one and not
    withdrawn (docs/customers.md): consent first, whatever the transport (HTTP, stream)."""
    current = (
        select(func.coalesce(func.max(s.consent_texts.c.version), 1))
        .where(s.consent_texts.c.tenant_id == actor.tenant_id)
        .scalar_subquery()
    )
    return (
        select(s.customers.c.user_id)
        .where(
            s.customers.c.user_id == actor.user_id,
            s.customers.c.withdrawn_at.is_(None),
            s.customers.c.consent_version >= current,
        )
        .exists()
    )


def check_customer_consent(rx: Rx, actor: Actor) -> None:
    """For a customer: their consent is in force, or Forbidden consent_required."""
    if (
        actor.kind == "customer"
        and not rx.conn.execute(select(_customer_consent_in_force(actor))).scalar()
    ):
        raise Forbidden(
            "Please read and accept the business's consent text first.", code="consent_required"
        )


def _visible_clause(actor: Actor) -> Any:
    is_member = s.chats.c.id.in_(
        select(s.chat_members.c.chat_id).where(s.chat_members.c.user_id == actor.user_id)
    )
    if actor.kind == "customer":
        return and_(
            s.chats.c.tenant_id == actor.tenant_id, is_member, _customer_consent_in_force(actor)
        )
    if actor.is_admin:
        return and_(
            s.chats.c.tenant_id == actor.tenant_id, or_(s.chats.c.kind != "direct", is_member)
        )
    return and_(s.chats.c.tenant_id == actor.tenant_id, is_member)


def get_visible_chat_ids(rx: Rx, actor: Actor) -> list[str]:
    return list(rx.conn.execute(select(s.chats.c.id).where(_visible_clause(actor))).scalars())


def is_member(rx: Rx, chat_id: str, user_id: str) -> bool:
    return (
        rx.conn.execute(
            select(s.chat_members.c.user_id).where(
                s.chat_members.c.chat_id == chat_id, s.chat_members.c.user_id == user_id
            )
        ).first()
        is not None
    )


def access_chat(rx: Rx, actor: Actor, chat_id: str) -> Any:
    """The chat row if the actor may see it; otherwise NotFound, exactly like a missing id."""
    row = rx.conn.execute(
        select(s.chats).where(s.chats.c.id == chat_id, _visible_clause(actor))
    ).first()
    if row is None:
        raise NotFound("No such chat.")
    return row


CONSENT_WITHDRAWN_MESSAGE = (
    "Einwilligung widerrufen: the customer withdrew their consent; nobody can post here."
)


def _consent_withdrawn(rx: Rx, chat_id: str) -> bool:
    """A customer chat whose customer withdrew their consent (docs/customers.md)."""
    withdrawn = rx.conn.execute(
        select(s.customers.c.withdrawn_at)
        .join(s.customer_chats, s.customer_chats.c.customer_id == s.customers.c.user_id)
        .where(s.customer_chats.c.chat_id == chat_id)
    ).scalar()
    return withdrawn is not None


def access_chat_for_posting(rx: Rx, actor: Actor, chat_id: str) -> Any:
    row = access_chat(rx, actor, chat_id)
    if not is_member(rx, chat_id, actor.user_id) and not actor.is_admin:
        raise Forbidden("You are not a member of this chat.", code="not_a_member")
    if row.project_id is not None:
        status = rx.conn.execute(
            select(s.projects.c.status).where(s.projects.c.id == row.project_id)
        ).scalar()
        if status == "archived":
            raise Conflict("The project is archived; its chat is read-only.", code="chat_read_only")
    if row.kind == "customer" and _consent_withdrawn(rx, chat_id):
        raise Conflict(CONSENT_WITHDRAWN_MESSAGE, code="consent_withdrawn")
    return row


def do_insert_chat(
    tx: Tx,
    *,
    tenant_id: str,
    kind: str,
    actor_id: str | None,
    title: str | None = None,
    project_id: str | None = None,
    direct_key: str | None = None,
    is_default: bool = False,
) -> str:
    """Create a chat row and journal it; callers check permissions and add the members."""
    chat_id = new_id()
    tx.conn.execute(
        insert(s.chats),
        {
            "id": chat_id,
            "tenant_id": tenant_id,
            "kind": kind,
            "title": title,
            "project_id": project_id,
            "direct_key": direct_key,
            "is_default": is_default,
            "last_seq": 0,
            "created_at": tx.now_ms,
        },
    )
    payload: dict[str, Any] = {"chat_id": chat_id, "kind": kind}
    if title is not None:
        payload["title"] = title
    if project_id is not None:
        payload["project_id"] = project_id
    tx.append(tenant_id, "chat.created", payload, actor_id=actor_id, chat_id=chat_id)
    return chat_id


def do_add_member(
    tx: Tx, *, tenant_id: str, chat_id: str, user_id: str, actor_id: str | None
) -> bool:
    """Add a user to a chat; False when they were a member already (no journal entry then)."""
    if is_member(tx, chat_id, user_id):
        return False
    # A new member starts with everything read: history is there to scroll, not to nag about.
    last_seq = tx.conn.execute(
        select(s.chats.c.last_seq).where(s.chats.c.id == chat_id)
    ).scalar_one()
    tx.conn.execute(
        insert(s.chat_members),
        {
            "chat_id": chat_id,
            "user_id": user_id,
            "tenant_id": tenant_id,
            "joined_at": tx.now_ms,
            "last_read_seq": last_seq,
        },
    )
    tx.append(
        tenant_id,
        "chat.member_added",
        {"chat_id": chat_id, "user_id": user_id},
        actor_id=actor_id,
        chat_id=chat_id,
    )
    return True


def do_remove_member(
    tx: Tx, *, tenant_id: str, chat_id: str, user_id: str, actor_id: str | None
) -> None:
    if not is_member(tx, chat_id, user_id):
        raise NotFound("This person is not a member of the chat.")
    tx.conn.execute(
        delete(s.chat_members).where(
            s.chat_members.c.chat_id == chat_id, s.chat_members.c.user_id == user_id
        )
    )
    tx.append(
        tenant_id,
        "chat.member_removed",
        {"chat_id": chat_id, "user_id": user_id},
        actor_id=actor_id,
        chat_id=chat_id,
    )


def _active_staff(tx: Rx, tenant_id: str, user_id: str) -> Any:
    row = get_user_row(tx, tenant_id, user_id)
    if row.kind != "staff" or row.disabled_at is not None:
        raise NotFound("No such user.")
    return row


def check_channel_title(title: str) -> str:
    title = " ".join(title.split())
    if not 1 <= len(title) <= 100:
        raise Invalid("A channel name needs 1 to 100 characters.", code="invalid_title")
    return title


def do_create_channel(tx: Tx, actor: Actor, *, title: str, member_ids: list[str]) -> str:
    if not actor.is_admin:
        raise Forbidden("Only owner and office create company channels.")
    title = check_channel_title(title)
    for uid in member_ids:
        _active_staff(tx, actor.tenant_id, uid)
    chat_id = do_insert_chat(
        tx, tenant_id=actor.tenant_id, kind="channel", title=title, actor_id=actor.user_id
    )
    for uid in dict.fromkeys([actor.user_id, *member_ids]):
        do_add_member(
            tx, tenant_id=actor.tenant_id, chat_id=chat_id, user_id=uid, actor_id=actor.user_id
        )
    return chat_id


def do_open_direct_chat(tx: Tx, actor: Actor, other_user_id: str) -> str:
    """The 1:1 chat with a colleague, created on first use."""
    if other_user_id == actor.user_id:
        raise Invalid("A direct chat needs another person.", code="direct_with_self")
    _active_staff(tx, actor.tenant_id, other_user_id)
    key = ":".join(sorted([actor.user_id, other_user_id]))
    existing = tx.conn.execute(
        select(s.chats.c.id).where(
            s.chats.c.tenant_id == actor.tenant_id, s.chats.c.direct_key == key
        )
    ).scalar()
    if existing is not None:
        return str(existing)
    chat_id = do_insert_chat(
        tx, tenant_id=actor.tenant_id, kind="direct", direct_key=key, actor_id=actor.user_id
    )
    for uid in (actor.user_id, other_user_id):
        do_add_member(
            tx, tenant_id=actor.tenant_id, chat_id=chat_id, user_id=uid, actor_id=actor.user_id
        )
    return chat_id


def check_manage_members(rx: Rx, actor: Actor, chat: Any) -> None:
    if chat.kind == "direct":
        raise Forbidden("A direct chat always has its two people.", code="direct_fixed")
    if chat.is_default:
        raise Forbidden("Everybody is in the company channel.", code="default_channel_fixed")
    if actor.is_admin:
        return
    if chat.project_id is not None:
        lead = rx.conn.execute(
            select(s.projects.c.lead_id).where(s.projects.c.id == chat.project_id)
        ).scalar()
        if lead == actor.user_id:
            return
    raise Forbidden("Only owner, office or the project lead change members.")


def do_change_membership(tx: Tx, actor: Actor, chat_id: str, user_id: str, *, add: bool) -> None:
    chat = access_chat(tx, actor, chat_id)
    check_manage_members(tx, actor, chat)
    if add:
        _active_staff(tx, actor.tenant_id, user_id)
        do_add_member(
            tx, tenant_id=actor.tenant_id, chat_id=chat_id, user_id=user_id, actor_id=actor.user_id
        )
    else:
        kind = tx.conn.execute(
            select(s.users.c.kind).where(
                s.users.c.id == user_id, s.users.c.tenant_id == actor.tenant_id
            )
        ).scalar()
        if kind == "customer":
            # A customer leaves their chat by withdrawing consent (docs/customers.md).
            raise Forbidden("A customer stays in their chat.", code="customer_fixed")
        do_remove_member(
            tx, tenant_id=actor.tenant_id, chat_id=chat_id, user_id=user_id, actor_id=actor.user_id
        )


def do_mark_read(tx: Tx, actor: Actor, chat_id: str, seq: int) -> int:
    """Move the actor's read marker forward (never back); returns the marker now in force."""
    access_chat(tx, actor, chat_id)
    row = tx.conn.execute(
        select(s.chat_members.c.last_read_seq).where(
            s.chat_members.c.chat_id == chat_id, s.chat_members.c.user_id == actor.user_id
        )
    ).first()
    if row is None:
        raise Forbidden("Only members keep a read marker.", code="not_a_member")
    last_seq = tx.conn.execute(
        select(s.chats.c.last_seq).where(s.chats.c.id == chat_id)
    ).scalar_one()
    target = int(min(max(seq, 0), last_seq))
    if target <= row.last_read_seq:
        return int(row.last_read_seq)
    tx.conn.execute(
        update(s.chat_members)
        .where(s.chat_members.c.chat_id == chat_id, s.chat_members.c.user_id == actor.user_id)
        .values(last_read_seq=target)
    )
    tx.append(
        actor.tenant_id,
        "chat.read",
        {"chat_id": chat_id, "user_id": actor.user_id, "seq": target},
        actor_id=actor.user_id,
        chat_id=chat_id,
    )
    return target


def get_members(rx: Rx, actor: Actor, chat_id: str) -> list[dict[str, Any]]:
    access_chat(rx, actor, chat_id)
    rows = rx.conn.execute(
        select(s.chat_members.c.user_id, s.chat_members.c.last_read_seq).where(
            s.chat_members.c.chat_id == chat_id
        )
    ).all()
    return [{"user_id": r.user_id, "last_read_seq": r.last_read_seq} for r in rows]


def _customer_chat_states(rx: Rx, chat_ids: list[str]) -> dict[str, tuple[str, bytes, bool]]:
    """chat id -> (customer id, customer's encrypted name, consent withdrawn)."""
    if not chat_ids:
        return {}
    rows = rx.conn.execute(
        select(
            s.customer_chats.c.chat_id,
            s.users.c.id,
            s.users.c.name_enc,
            s.customers.c.withdrawn_at,
        )
        .join(s.users, s.users.c.id == s.customer_chats.c.customer_id)
        .join(s.customers, s.customers.c.user_id == s.customer_chats.c.customer_id)
        .where(s.customer_chats.c.chat_id.in_(chat_ids))
    ).all()
    return {r.chat_id: (r.id, r.name_enc, r.withdrawn_at is not None) for r in rows}


def get_chats(rx: Rx, actor: Actor) -> list[dict[str, Any]]:
    """The chat list: every visible chat with its unread count and last message."""
    from zunft.messages.service import get_attachments, message_view

    cipher = rx.cipher(actor.tenant_id)
    mine = (
        select(s.chat_members.c.chat_id, s.chat_members.c.last_read_seq)
        .where(s.chat_members.c.user_id == actor.user_id)
        .subquery()
    )
    rows = rx.conn.execute(
        select(s.chats, mine.c.last_read_seq, s.projects.c.name_enc, s.projects.c.status)
        .outerjoin(mine, mine.c.chat_id == s.chats.c.id)
        .outerjoin(s.projects, s.projects.c.id == s.chats.c.project_id)
        .where(_visible_clause(actor))
    ).all()
    unread: dict[str, int] = dict(
        rx.conn.execute(
            select(s.messages.c.chat_id, func.count())
            .join(mine, mine.c.chat_id == s.messages.c.chat_id)
            .where(
                s.messages.c.seq > mine.c.last_read_seq,
                s.messages.c.sender_id != actor.user_id,
                s.messages.c.deleted_at.is_(None),
            )
            .group_by(s.messages.c.chat_id)
        ).all()
    )
    last_seqs = [r.last_seq for r in rows if r.last_seq]
    last_msgs = {}
    if last_seqs:
        lasts = rx.conn.execute(
            select(s.messages).where(
                s.messages.c.tenant_id == actor.tenant_id, s.messages.c.seq.in_(last_seqs)
            )
        ).all()
        files = get_attachments(rx, cipher, [m.id for m in lasts])
        for m in lasts:
            last_msgs[m.chat_id] = message_view(cipher, m, files.get(m.id))
    directs = {r.id: r.direct_key for r in rows if r.kind == "direct"}
    names: dict[str, str] = {}
    if directs:
        others = {uid for key in directs.values() for uid in key.split(":") if uid != actor.user_id}
        for u in rx.conn.execute(
            select(s.users.c.id, s.users.c.name_enc).where(s.users.c.id.in_(others))
        ).all():
            names[u.id] = cipher.decrypt(f"users.name/{u.id}", u.name_enc)
    customer_chats = _customer_chat_states(rx, [r.id for r in rows if r.kind == "customer"])
    result = []
    for r in rows:
        consent = customer_chats.get(r.id)
        if r.kind == "project" or (r.kind == "customer" and actor.kind == "customer"):
            title = cipher.decrypt(f"projects.name/{r.project_id}", r.name_enc)
        elif consent is not None:  # staff see whom a customer chat is with
            title = cipher.decrypt(f"users.name/{consent[0]}", consent[1])
        elif r.kind == "direct":
            other = next(uid for uid in r.direct_key.split(":") if uid != actor.user_id)
            title = names.get(other, "")
        else:
            title = r.title
        result.append(
            {
                "id": r.id,
                "kind": r.kind,
                "title": title,
                "project_id": r.project_id,
                "project_status": r.status,
                "is_member": r.last_read_seq is not None,
                "last_seq": r.last_seq,
                "last_read_seq": r.last_read_seq,
                "unread": int(unread.get(r.id, 0)),
                "last_message": last_msgs.get(r.id),
                # Customer chats only: True once the customer withdrew ("Einwilligung widerrufen").
                "consent_withdrawn": None if consent is None else consent[2],
                # Direct chats only: the other person (the app shows their presence).
                "peer_id": _peer(r.direct_key, actor.user_id) if r.kind == "direct" else None,
            }
        )
    result.sort(key=lambda c: c["last_seq"], reverse=True)
    return result


def _peer(direct_key: str, user_id: str) -> str:
    return next((uid for uid in direct_key.split(":") if uid != user_id), user_id)

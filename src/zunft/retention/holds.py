"""Legal holds (Sperrvermerke) on a project or a customer (docs/compliance.md,
"Legal hold").

While a hold is in force nothing of what it covers is erased, whatever its retention says:
not by the daily job, not by a GDPR erasure request (Art. 17 (3) (e): the establishment,
exercise or defence of legal claims). A hold on a project covers every chat of the project
(its team chat and its customer chats); a hold on a customer covers the customer chats they
are in and the customer's own account data.

Owner and office may set a hold (when a lawyer's letter or a tax audit arrives, whoever opens
the post must be able to stop erasure at once); only the owner lifts one, since lifting lets
the daily job destroy content for good.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, or_, select, update

from zunft.accounts.actor import Actor
from zunft.db import schema as s
from zunft.db.tx import Rx, Tx
from zunft.errors import Forbidden, Invalid, NotFound
from zunft.ids import new_id

TARGETS = ("project", "customer")
MAX_REASON = 500

_h = s.legal_holds


def _check_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("Only owner and office manage legal holds.", code="admin_only")


def _check_target(rx: Rx, tenant_id: str, target_kind: str, target_id: str) -> None:
    if target_kind == "project":
        found = rx.conn.execute(
            select(s.projects.c.id).where(
                s.projects.c.id == target_id, s.projects.c.tenant_id == tenant_id
            )
        ).first()
    elif target_kind == "customer":
        found = rx.conn.execute(
            select(s.users.c.id).where(
                s.users.c.id == target_id,
                s.users.c.tenant_id == tenant_id,
                s.users.c.kind == "customer",
            )
        ).first()
    else:
        raise Invalid("A legal hold is on a project or a customer.", code="invalid_target")
    if found is None:
        raise NotFound(f"No such {target_kind}.")


def hold_view(rx: Rx, row: Any) -> dict[str, Any]:
    cipher = rx.cipher(row.tenant_id)
    return {
        "id": row.id,
        "target_kind": row.target_kind,
        "target_id": row.target_id,
        "reason": cipher.decrypt(f"legal_holds.reason/{row.id}", row.reason_enc),
        "set_by": row.set_by,
        "set_at": row.set_at,
        "lifted_by": row.lifted_by,
        "lifted_at": row.lifted_at,
        "active": row.lifted_at is None,
    }


def do_set_hold(
    tx: Tx, actor: Actor, *, target_kind: str, target_id: str, reason: str
) -> dict[str, Any]:
    _check_admin(actor)
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise Invalid(
            f"Give a reason (1 to {MAX_REASON} characters), e.g. the case or file number.",
            code="invalid_reason",
        )
    _check_target(tx, actor.tenant_id, target_kind, target_id)
    hold_id = new_id()
    tx.conn.execute(
        insert(_h),
        {
            "id": hold_id,
            "tenant_id": actor.tenant_id,
            "target_kind": target_kind,
            "target_id": target_id,
            "reason_enc": tx.cipher(actor.tenant_id).encrypt(
                f"legal_holds.reason/{hold_id}", reason
            ),
            "set_by": actor.user_id,
            "set_at": tx.now_ms,
            "lifted_by": None,
            "lifted_at": None,
        },
    )
    tx.append(
        actor.tenant_id,
        "legal_hold.set",
        {"hold_id": hold_id, "target_kind": target_kind, "target_id": target_id, "reason": reason},
        actor_id=actor.user_id,
    )
    return hold_view(tx, tx.conn.execute(select(_h).where(_h.c.id == hold_id)).one())


def do_lift_hold(tx: Tx, actor: Actor, hold_id: str) -> dict[str, Any]:
    if actor.kind != "staff" or actor.role != "owner":
        raise Forbidden("Only the owner lifts a legal hold.", code="owner_only")
    row = tx.conn.execute(
        select(_h).where(_h.c.id == hold_id, _h.c.tenant_id == actor.tenant_id)
    ).first()
    if row is None:
        raise NotFound("No such legal hold.")
    if row.lifted_at is None:
        tx.conn.execute(
            update(_h)
            .where(_h.c.id == hold_id)
            .values(lifted_by=actor.user_id, lifted_at=tx.now_ms)
        )
        tx.append(
            actor.tenant_id,
            "legal_hold.lifted",
            {"hold_id": hold_id, "target_kind": row.target_kind, "target_id": row.target_id},
            actor_id=actor.user_id,
        )
    return hold_view(tx, tx.conn.execute(select(_h).where(_h.c.id == hold_id)).one())


def get_holds(rx: Rx, actor: Actor, *, include_lifted: bool = False) -> list[dict[str, Any]]:
    _check_admin(actor)
    query = select(_h).where(_h.c.tenant_id == actor.tenant_id).order_by(_h.c.set_at.desc())
    if not include_lifted:
        query = query.where(_h.c.lifted_at.is_(None))
    return [hold_view(rx, r) for r in rx.conn.execute(query)]


def _active(rx: Rx, tenant_id: str, target_kind: str) -> list[str]:
    return list(
        rx.conn.execute(
            select(_h.c.target_id).where(
                _h.c.tenant_id == tenant_id,
                _h.c.target_kind == target_kind,
                _h.c.lifted_at.is_(None),
            )
        ).scalars()
    )


def get_held_chat_ids(rx: Rx, tenant_id: str) -> set[str]:
    """Every chat whose content a hold in force keeps (building block, no permission check)."""
    projects = _active(rx, tenant_id, "project")
    customers = _active(rx, tenant_id, "customer")
    if not projects and not customers:
        return set()
    cc = s.customer_chats
    held: set[str] = set()
    if projects:
        held.update(
            rx.conn.execute(
                select(s.chats.c.id).where(
                    s.chats.c.tenant_id == tenant_id, s.chats.c.project_id.in_(projects)
                )
            ).scalars()
        )
    if customers:
        held.update(
            rx.conn.execute(
                select(cc.c.chat_id).where(
                    cc.c.tenant_id == tenant_id,
                    or_(cc.c.customer_id.in_(customers), cc.c.project_id.in_(projects or [""])),
                )
            ).scalars()
        )
    return held


def is_person_held(rx: Rx, tenant_id: str, user_id: str) -> bool:
    """A customer under a hold in force (a staff member is never held as a person; their
    content in a held project is, through the project)."""
    return user_id in _active(rx, tenant_id, "customer")

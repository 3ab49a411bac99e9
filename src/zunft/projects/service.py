"""Projects. A project's members are the members of its team chat, created with it.

A project's name, address and customer name (personal data: a customer's name and home) are
encrypted under the project's own content key (zunft.retention.keys.PROJECT_KEY_CLASS), as is
the payload of `project.created`. Once the project is completed, its business letters'
period has ended and nothing of its chats is kept, the daily job destroys that key
(zunft.retention.erasure.get_due_project_keys); the project then reads "Auftrag vom …
(gelöscht)".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from zunft.accounts.actor import PROJECT_CREATORS, Actor
from zunft.accounts.users import get_user_row
from zunft.chats.service import do_add_member, do_insert_chat, get_visible_chat_ids
from zunft.crypto.envelope import TenantCipher
from zunft.db import schema as s
from zunft.db.tx import Rx, Tx
from zunft.errors import Conflict, Forbidden, Invalid, NotFound
from zunft.ids import new_id
from zunft.retention.keys import do_record_project_key

STATUSES = ("active", "completed", "archived")


def _text(value: str | None, field: str, limit: int, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise Invalid(f"The {field} is required.", code=f"invalid_{field}")
        return None
    value = " ".join(value.split())
    if required and not value:
        raise Invalid(f"The {field} is required.", code=f"invalid_{field}")
    if len(value) > limit:
        raise Invalid(f"The {field} may have at most {limit} characters.", code=f"invalid_{field}")
    return value or None


def _staff(rx: Rx, tenant_id: str, user_id: str) -> None:
    row = get_user_row(rx, tenant_id, user_id)
    if row.kind != "staff" or row.disabled_at is not None:
        raise NotFound("No such user.")


def project_view(cipher: TenantCipher, row: Any, chat_id: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": cipher.decrypt(f"projects.name/{row.id}", row.name_enc),
        "address": cipher.decrypt_opt(f"projects.address/{row.id}", row.address_enc),
        "customer_name": cipher.decrypt_opt(
            f"projects.customer_name/{row.id}", row.customer_name_enc
        ),
        "lead_id": row.lead_id,
        "status": row.status,
        "chat_id": chat_id,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "erased": row.erased_at is not None,
    }


def do_create_project(
    tx: Tx,
    actor: Actor,
    *,
    name: str,
    address: str | None = None,
    customer_name: str | None = None,
    lead_id: str | None = None,
    member_ids: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    if actor.kind != "staff" or actor.role not in PROJECT_CREATORS:
        raise Forbidden("Owner, office and site leads create projects.")
    name = _text(name, "name", 200, required=True) or ""
    address = _text(address, "address", 300)
    customer_name = _text(customer_name, "customer_name", 200)
    lead_id = lead_id or (actor.user_id if actor.role == "lead" else None)
    for uid in [u for u in (lead_id, *member_ids) if u]:
        _staff(tx, actor.tenant_id, uid)
    project_id = new_id()
    cipher = tx.cipher(actor.tenant_id)
    # The project's own key; its row names the team chat, stored once that exists.
    key, wrapped = cipher.new_content_key()
    tx.conn.execute(
        insert(s.projects),
        {
            "id": project_id,
            "tenant_id": actor.tenant_id,
            "name_enc": cipher.encrypt(f"projects.name/{project_id}", name, key),
            "address_enc": _encrypt_opt(cipher, f"projects.address/{project_id}", address, key),
            "customer_name_enc": _encrypt_opt(
                cipher, f"projects.customer_name/{project_id}", customer_name, key
            ),
            "lead_id": lead_id,
            "status": "active",
            "created_at": tx.now_ms,
            "updated_at": tx.now_ms,
            "content_key": key,
            "erased_at": None,
        },
    )
    tx.append(
        actor.tenant_id,
        "project.created",
        {"project_id": project_id, "name": name, "lead_id": lead_id},
        actor_id=actor.user_id,
        key=key,
    )
    chat_id = do_insert_chat(
        tx, tenant_id=actor.tenant_id, kind="project", project_id=project_id, actor_id=actor.user_id
    )
    do_record_project_key(
        tx, actor.tenant_id, key, wrapped, chat_id=chat_id, author_id=actor.user_id
    )
    for uid in dict.fromkeys(u for u in (actor.user_id, lead_id, *member_ids) if u):
        do_add_member(
            tx, tenant_id=actor.tenant_id, chat_id=chat_id, user_id=uid, actor_id=actor.user_id
        )
    return get_project(tx, actor, project_id)


def _encrypt_opt(
    cipher: TenantCipher, purpose: str, value: str | None, key: bytes | None
) -> bytes | None:
    return None if value is None else cipher.encrypt(purpose, value, key)


def _team_chat(rx: Rx, project_id: str) -> str:
    return str(
        rx.conn.execute(
            select(s.chats.c.id).where(
                s.chats.c.project_id == project_id, s.chats.c.kind == "project"
            )
        ).scalar_one()
    )


def access_project(rx: Rx, actor: Actor, project_id: str) -> tuple[Any, str]:
    row = rx.conn.execute(
        select(s.projects).where(
            s.projects.c.id == project_id, s.projects.c.tenant_id == actor.tenant_id
        )
    ).first()
    if row is None:
        raise NotFound("No such project.")
    chat_id = _team_chat(rx, project_id)
    if not actor.is_admin and chat_id not in get_visible_chat_ids(rx, actor):
        raise NotFound("No such project.")
    return row, chat_id


def get_project(rx: Rx, actor: Actor, project_id: str) -> dict[str, Any]:
    row, chat_id = access_project(rx, actor, project_id)
    view = project_view(rx.cipher(actor.tenant_id), row, chat_id)
    view["member_ids"] = sorted(
        rx.conn.execute(
            select(s.chat_members.c.user_id).where(s.chat_members.c.chat_id == chat_id)
        ).scalars()
    )
    return view


def get_projects(rx: Rx, actor: Actor, *, status: str | None = None) -> list[dict[str, Any]]:
    if status is not None and status not in STATUSES:
        raise Invalid(f"Status is one of {', '.join(STATUSES)}.", code="invalid_status")
    query = (
        select(s.projects, s.chats.c.id.label("chat_id"))
        .join(s.chats, (s.chats.c.project_id == s.projects.c.id) & (s.chats.c.kind == "project"))
        .where(s.projects.c.tenant_id == actor.tenant_id)
    )
    if status is not None:
        query = query.where(s.projects.c.status == status)
    if not actor.is_admin:
        query = query.where(
            s.chats.c.id.in_(
                select(s.chat_members.c.chat_id).where(s.chat_members.c.user_id == actor.user_id)
            )
        )
    cipher = rx.cipher(actor.tenant_id)
    views = [project_view(cipher, r, r.chat_id) for r in rx.conn.execute(query).all()]
    return sorted(views, key=lambda v: v["updated_at"], reverse=True)


def check_manage_project(actor: Actor, row: Any) -> None:
    """Owner, office, and whoever the project names as its lead, whatever their role (an
    owner may make an experienced Monteur lead of a small job): the same rule as for the
    project's routing overrides and its reports."""
    if actor.is_admin or (actor.kind == "staff" and row.lead_id == actor.user_id):
        return
    raise Forbidden("Only owner, office or the project's lead change a project.")


def do_update_project(
    tx: Tx, actor: Actor, project_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    row, _chat_id = access_project(tx, actor, project_id)
    check_manage_project(actor, row)
    cipher = tx.cipher(actor.tenant_id)
    key = row.content_key  # None: a project from before content keys (data key)
    values: dict[str, Any] = {}
    if row.erased_at is not None and {"name", "address", "customer_name"} & set(changes):
        raise Conflict(
            "The project's name and address were erased when its retention ended.",
            code="project_erased",
        )
    if "name" in changes:
        name = _text(changes["name"], "name", 200, required=True) or ""
        values["name_enc"] = cipher.encrypt(f"projects.name/{project_id}", name, key)
    if "address" in changes:
        address = _text(changes["address"], "address", 300)
        values["address_enc"] = _encrypt_opt(cipher, f"projects.address/{project_id}", address, key)
    if "customer_name" in changes:
        customer = _text(changes["customer_name"], "customer_name", 200)
        values["customer_name_enc"] = _encrypt_opt(
            cipher, f"projects.customer_name/{project_id}", customer, key
        )
    if "lead_id" in changes:
        if changes["lead_id"] is not None:
            _staff(tx, actor.tenant_id, changes["lead_id"])
        values["lead_id"] = changes["lead_id"]
    if "status" in changes:
        if changes["status"] not in STATUSES:
            raise Invalid(f"Status is one of {', '.join(STATUSES)}.", code="invalid_status")
        values["status"] = changes["status"]
    if values:
        values["updated_at"] = tx.now_ms
        tx.conn.execute(update(s.projects).where(s.projects.c.id == project_id).values(**values))
        payload: dict[str, Any] = {
            "project_id": project_id,
            "fields": sorted(set(values) - {"updated_at"}),
        }
        if "status" in values:
            payload["status"] = values["status"]
        if "lead_id" in values:
            payload["lead_id"] = values["lead_id"]
        tx.append(actor.tenant_id, "project.updated", payload, actor_id=actor.user_id)
        if values.get("lead_id"):
            do_add_member(
                tx,
                tenant_id=actor.tenant_id,
                chat_id=_chat_id,
                user_id=values["lead_id"],
                actor_id=actor.user_id,
            )
    return get_project(tx, actor, project_id)

"""Customers: invitation links, accounts bound to one business and their own customer chats,
consent first (accepted with the invitation, re-accepted when the text changes), withdrawal.

A customer is a users row (kind "customer", role "customer", no e-mail, no password) plus a
row in `customers` (the consent in force). The existing visibility rule then does the rest:
a customer is a member of their customer chats only, and is never an admin. Why not a table of
its own: sessions, chat members, messages and the journal all point at users rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.orm import aliased

from zunft.accounts.actor import Actor
from zunft.accounts.sessions import DAY_MS, NewSession, do_create_session, secret_hash
from zunft.accounts.users import check_name, normalise_email
from zunft.chats.service import (
    access_chat,
    do_add_member,
    do_insert_chat,
    get_visible_chat_ids,
)
from zunft.customers.consent import do_ensure_consent_text, get_current_consent
from zunft.db import schema as s
from zunft.db.tx import Rx, Tx
from zunft.errors import Conflict, Forbidden, Invalid, NotFound
from zunft.hours.service import add_working_minutes, business_week, do_notify, get_rules
from zunft.ids import new_id, new_token
from zunft.projects.service import access_project, check_manage_project

CONSENT_GIVEN = "erteilt"
CONSENT_WITHDRAWN = "Einwilligung widerrufen"
TOKEN_BYTES = 32  # 256 random bits


def _invalid_link() -> NotFound:
    # Used, declined, revoked, expired and unknown all read the same.
    return NotFound("This invitation link is not valid (any more).", code="invitation_invalid")


def check_customer_actor(actor: Actor) -> None:
    if actor.kind != "customer":
        raise Forbidden("This is for customers.", code="customers_only")


def check_staff_actor(actor: Actor) -> None:
    if actor.kind != "staff":
        raise Forbidden("This is for staff of the business.", code="staff_only")


# --- invitations (staff side) -----------------------------------------------------------------


def do_create_customer_invitation(
    tx: Tx,
    actor: Actor,
    project_id: str,
    *,
    name: str | None,
    email: str | None,
    days: int,
    customer_id: str | None = None,
) -> dict[str, Any]:
    """Office, owner or the project's lead invite a customer to the project's customer chat:
    a new one by name, or (customer_id) one they already know from another project, who then
    gets a chat in this project on the same account. The token is returned once; only its
    hash is stored."""
    check_staff_actor(actor)
    project, _team_chat = access_project(tx, actor, project_id)
    check_manage_project(actor, project)
    if project.status == "archived":
        raise Conflict("The project is archived.", code="project_archived")
    if customer_id is not None:
        name = _known_customer_name(tx, actor, customer_id, project_id)
    elif name is None:
        raise Invalid("The name needs 1 to 100 characters.", code="invalid_name")
    name = check_name(name)
    if email is not None and email.strip():
        normalise_email(email)
        email = email.strip()
    else:
        email = None
    if not 1 <= days <= 30:
        raise Invalid("An invitation is valid for 1 to 30 days.", code="invalid_days")
    do_ensure_consent_text(tx, actor.tenant_id)
    invitation_id = new_id()
    token = new_token(TOKEN_BYTES)
    expires = tx.now_ms + days * DAY_MS
    cipher = tx.cipher(actor.tenant_id)
    tx.conn.execute(
        insert(s.customer_invitations),
        {
            "id": invitation_id,
            "tenant_id": actor.tenant_id,
            "project_id": project_id,
            "token_hash": secret_hash(token),
            "name_enc": cipher.encrypt(f"customer_invitations.name/{invitation_id}", name),
            "email_enc": cipher.encrypt_opt(f"customer_invitations.email/{invitation_id}", email),
            "created_by": actor.user_id,
            "created_at": tx.now_ms,
            "expires_at": expires,
            "customer_id": customer_id,
        },
    )
    payload: dict[str, Any] = {
        "invitation_id": invitation_id,
        "project_id": project_id,
        "expires_at": expires,
    }
    if customer_id is not None:
        payload["customer_id"] = customer_id
    tx.append(actor.tenant_id, "customer_invitation.created", payload, actor_id=actor.user_id)
    return {
        "id": invitation_id,
        "token": token,
        "project_id": project_id,
        "name": name,
        "email": email,
        "expires_at": expires,
    }


def _known_customer_name(tx: Tx, actor: Actor, customer_id: str, project_id: str) -> str:
    """The name of a customer the actor knows (from a customer chat they see), who has not
    withdrawn and has no chat in this project yet."""
    visible = set(get_visible_chat_ids(tx, actor))
    rows = tx.conn.execute(
        select(
            s.customer_chats.c.chat_id,
            s.customer_chats.c.project_id,
            s.customers.c.withdrawn_at,
            s.users.c.name_enc,
        )
        .join(s.customers, s.customers.c.user_id == s.customer_chats.c.customer_id)
        .join(s.users, s.users.c.id == s.customer_chats.c.customer_id)
        .where(
            s.customer_chats.c.customer_id == customer_id,
            s.customer_chats.c.tenant_id == actor.tenant_id,
        )
    ).all()
    if not any(r.chat_id in visible for r in rows):
        raise NotFound("No such customer.")
    if rows[0].withdrawn_at is not None:
        raise Conflict(
            "The customer withdrew their consent; invite them anew if they wish.",
            code="consent_withdrawn",
        )
    if any(r.project_id == project_id for r in rows):
        raise Conflict(
            "The customer has a chat in this project already; send a device link instead.",
            code="customer_in_project",
        )
    return tx.cipher(actor.tenant_id).decrypt(f"users.name/{customer_id}", rows[0].name_enc)


def do_create_device_link(tx: Tx, actor: Actor, chat_id: str, *, days: int) -> dict[str, Any]:
    """A new link for an existing customer (a new phone, a cleared browser): it opens the same
    account and chats; consent is asked for again and recorded for the new device."""
    check_staff_actor(actor)
    chat = access_chat(tx, actor, chat_id)
    link = tx.conn.execute(
        select(s.customer_chats.c.customer_id, s.customers.c.withdrawn_at)
        .join(s.customers, s.customers.c.user_id == s.customer_chats.c.customer_id)
        .where(s.customer_chats.c.chat_id == chat_id)
    ).first()
    if chat.kind != "customer" or link is None:
        raise NotFound("No such customer chat.")
    project, _ = access_project(tx, actor, chat.project_id)
    check_manage_project(actor, project)
    if link.withdrawn_at is not None:
        raise Conflict(
            "The customer withdrew their consent; invite them anew if they wish.",
            code="consent_withdrawn",
        )
    if not 1 <= days <= 30:
        raise Invalid("An invitation is valid for 1 to 30 days.", code="invalid_days")
    cipher = tx.cipher(actor.tenant_id)
    enc = tx.conn.execute(
        select(s.users.c.name_enc).where(s.users.c.id == link.customer_id)
    ).scalar_one()
    name = cipher.decrypt(f"users.name/{link.customer_id}", enc)
    invitation_id = new_id()
    token = new_token(TOKEN_BYTES)
    expires = tx.now_ms + days * DAY_MS
    tx.conn.execute(
        insert(s.customer_invitations),
        {
            "id": invitation_id,
            "tenant_id": actor.tenant_id,
            "project_id": chat.project_id,
            "customer_id": link.customer_id,
            "token_hash": secret_hash(token),
            "name_enc": cipher.encrypt(f"customer_invitations.name/{invitation_id}", name),
            "email_enc": None,
            "created_by": actor.user_id,
            "created_at": tx.now_ms,
            "expires_at": expires,
        },
    )
    tx.append(
        actor.tenant_id,
        "customer_invitation.created",
        {
            "invitation_id": invitation_id,
            "project_id": chat.project_id,
            "customer_id": link.customer_id,
            "expires_at": expires,
        },
        actor_id=actor.user_id,
    )
    return {
        "id": invitation_id,
        "token": token,
        "project_id": chat.project_id,
        "name": name,
        "email": None,
        "expires_at": expires,
    }


def _invitation_view(cipher: Any, row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "project_id": row.project_id,
        "customer_id": row.customer_id,  # set: a link for another device of this customer
        "name": cipher.decrypt_opt(f"customer_invitations.name/{row.id}", row.name_enc),
        "email": cipher.decrypt_opt(f"customer_invitations.email/{row.id}", row.email_enc),
        "created_at": row.created_at,
        "expires_at": row.expires_at,
    }


def get_customer_invitations(rx: Rx, actor: Actor, project_id: str) -> list[dict[str, Any]]:
    """Open customer invitations of a project (those who may invite)."""
    check_staff_actor(actor)
    project, _ = access_project(rx, actor, project_id)
    check_manage_project(actor, project)
    ci = s.customer_invitations
    rows = rx.conn.execute(
        select(ci)
        .where(
            ci.c.tenant_id == actor.tenant_id,
            ci.c.project_id == project_id,
            ci.c.used_at.is_(None),
            ci.c.revoked_at.is_(None),
            ci.c.expires_at > rx.now_ms,
        )
        .order_by(ci.c.created_at)
    ).all()
    cipher = rx.cipher(actor.tenant_id)
    return [_invitation_view(cipher, r) for r in rows]


def do_revoke_customer_invitation(tx: Tx, actor: Actor, invitation_id: str) -> None:
    check_staff_actor(actor)
    ci = s.customer_invitations
    row = tx.conn.execute(
        select(ci).where(ci.c.id == invitation_id, ci.c.tenant_id == actor.tenant_id)
    ).first()
    if row is None:
        raise NotFound("No such open invitation.")
    project, _ = access_project(tx, actor, row.project_id)  # NotFound when not visible
    check_manage_project(actor, project)
    if row.used_at is not None or row.revoked_at is not None:
        raise NotFound("No such open invitation.")
    tx.conn.execute(update(ci).where(ci.c.id == invitation_id).values(revoked_at=tx.now_ms))
    tx.append(
        actor.tenant_id,
        "customer_invitation.revoked",
        {"invitation_id": invitation_id},
        actor_id=actor.user_id,
    )


# --- invitations (the customer's side, no login) ---------------------------------------------


def _open_invitation(rx: Rx, token: str) -> Any:
    ci = s.customer_invitations
    row = rx.conn.execute(
        select(
            ci,
            s.tenants.c.name.label("tenant_name"),
            s.projects.c.name_enc.label("project_name_enc"),
            s.projects.c.status.label("project_status"),
            s.customers.c.withdrawn_at.label("customer_withdrawn_at"),
        )
        .join(s.tenants, s.tenants.c.id == ci.c.tenant_id)
        .join(s.projects, s.projects.c.id == ci.c.project_id)
        .outerjoin(s.customers, s.customers.c.user_id == ci.c.customer_id)
        .where(ci.c.token_hash == secret_hash(token))
    ).first()
    if (
        row is None
        or row.used_at is not None
        or row.revoked_at is not None
        or row.expires_at <= rx.now_ms
        or row.project_status == "archived"
        or row.customer_withdrawn_at is not None
    ):
        raise _invalid_link()
    return row


def get_customer_invitation_info(rx: Rx, token: str) -> dict[str, Any]:
    """What the customer sees before deciding: who invites them, for which job, and the consent
    text in force (with version and hash, which the acceptance must name)."""
    row = _open_invitation(rx, token)
    cipher = rx.cipher(row.tenant_id)
    return {
        "business_name": row.tenant_name,
        "project_name": cipher.decrypt(f"projects.name/{row.project_id}", row.project_name_enc),
        "name": cipher.decrypt_opt(f"customer_invitations.name/{row.id}", row.name_enc),
        "expires_at": row.expires_at,
        "consent": get_current_consent(rx, row.tenant_id),
    }


def check_consent_matches(rx: Rx, tenant_id: str, version: int, sha256_hex: str) -> dict[str, Any]:
    """The customer accepted the text in force, or a Conflict carrying the text in force."""
    current = get_current_consent(rx, tenant_id)
    if version != current["version"] or sha256_hex.lower() != current["sha256"]:
        raise Conflict(
            "The consent text has changed; please read and accept the new version.",
            code="consent_changed",
            consent=current,
        )
    return current


def _spend(tx: Tx, invitation_id: str, **values: Any) -> None:
    ci = s.customer_invitations
    spent = tx.conn.execute(
        update(ci)
        .where(ci.c.id == invitation_id, ci.c.used_at.is_(None), ci.c.revoked_at.is_(None))
        .values(used_at=tx.now_ms, **values)
    ).rowcount
    if spent != 1:
        raise _invalid_link()


def _active_staff_ids(rx: Rx, tenant_id: str, ids: list[str | None]) -> list[str]:
    wanted = [i for i in dict.fromkeys(ids) if i]
    if not wanted:
        return []
    rows = rx.conn.execute(
        select(s.users.c.id).where(
            s.users.c.tenant_id == tenant_id,
            s.users.c.id.in_(wanted),
            s.users.c.kind == "staff",
            s.users.c.disabled_at.is_(None),
        )
    ).scalars()
    found = set(rows)
    return [i for i in wanted if i in found]


def do_accept_customer_invitation(
    tx: Tx,
    *,
    token: str,
    consent_version: int,
    consent_sha256: str,
    device_name: str,
    kind: str,
    days: int,
) -> tuple[Actor, str, NewSession]:
    """Consent first: the link is exchanged for an account, the customer chat and a device
    session only together with the consent to the text in force (evidence to the journal)."""
    row = _open_invitation(tx, token)
    tenant_id = row.tenant_id
    current = check_consent_matches(tx, tenant_id, consent_version, consent_sha256)
    device = " ".join(device_name.split())[:100] or "Browser"
    if row.customer_id is not None:
        return _accept_device_link(tx, row, current, device, kind, days)
    user_id = new_id()
    _spend(tx, row.id)
    cipher = tx.cipher(tenant_id)
    name = cipher.decrypt(f"customer_invitations.name/{row.id}", row.name_enc)
    tx.conn.execute(
        insert(s.users),
        {
            "id": user_id,
            "tenant_id": tenant_id,
            "kind": "customer",
            "role": "customer",
            "name_enc": cipher.encrypt(f"users.name/{user_id}", name),
            "email_enc": None,
            "email_idx": None,
            "phone_enc": None,
            "password_hash": None,
            "totp_enabled": False,
            "failed_logins": 0,
            "created_at": tx.now_ms,
        },
    )
    tx.conn.execute(
        update(s.customer_invitations)
        .where(s.customer_invitations.c.id == row.id)
        .values(used_by=user_id)
    )
    sha = bytes.fromhex(current["sha256"])
    tx.conn.execute(
        insert(s.customers),
        {
            "user_id": user_id,
            "tenant_id": tenant_id,
            "invitation_id": row.id,
            "consent_version": current["version"],
            "consent_sha256": sha,
            "consent_at": tx.now_ms,
            "withdrawn_at": None,
        },
    )
    tx.append(
        tenant_id,
        "customer.joined",
        {"customer_id": user_id, "invitation_id": row.id, "project_id": row.project_id},
        actor_id=user_id,
    )
    chat_id = _create_customer_chat(tx, row, user_id)
    _journal_consent(tx, tenant_id, user_id, chat_id, current, device)
    session = do_create_session(
        tx, tenant_id=tenant_id, user_id=user_id, kind=kind, device_name=device, days=days
    )
    actor = Actor(tenant_id, user_id, "customer", session.id, "customer")
    return actor, chat_id, session


def _create_customer_chat(tx: Tx, row: Any, user_id: str) -> str:
    """The customer chat of an invitation's project: the customer, the project lead and the
    person who invited them."""
    chat_id = do_insert_chat(
        tx, tenant_id=row.tenant_id, kind="customer", project_id=row.project_id, actor_id=user_id
    )
    tx.conn.execute(
        insert(s.customer_chats),
        {
            "chat_id": chat_id,
            "tenant_id": row.tenant_id,
            "customer_id": user_id,
            "project_id": row.project_id,
        },
    )
    lead = tx.conn.execute(
        select(s.projects.c.lead_id).where(s.projects.c.id == row.project_id)
    ).scalar()
    for member in [user_id, *_active_staff_ids(tx, row.tenant_id, [lead, row.created_by])]:
        do_add_member(
            tx, tenant_id=row.tenant_id, chat_id=chat_id, user_id=member, actor_id=user_id
        )
    return chat_id


def _accept_device_link(
    tx: Tx, row: Any, current: dict[str, Any], device: str, kind: str, days: int
) -> tuple[Actor, str, NewSession]:
    """An existing customer: another device (the same account and chats), or an invitation to
    a further project (its chat is added to the same account). Consent is recorded again for
    this device (it may be a newer version of the text)."""
    user_id = row.customer_id
    _spend(tx, row.id, used_by=user_id)
    has_chat = tx.conn.execute(
        select(s.customer_chats.c.chat_id).where(
            s.customer_chats.c.customer_id == user_id,
            s.customer_chats.c.project_id == row.project_id,
        )
    ).first()
    if has_chat is None:
        _create_customer_chat(tx, row, user_id)
    tx.conn.execute(
        update(s.customers)
        .where(s.customers.c.user_id == user_id)
        .values(
            consent_version=current["version"],
            consent_sha256=bytes.fromhex(current["sha256"]),
            consent_at=tx.now_ms,
        )
    )
    chats = _chat_ids(tx, user_id)
    for chat_id in chats:
        _journal_consent(tx, row.tenant_id, user_id, chat_id, current, device)
    chat_id = tx.conn.execute(
        select(s.customer_chats.c.chat_id).where(
            s.customer_chats.c.customer_id == user_id,
            s.customer_chats.c.project_id == row.project_id,
        )
    ).scalar_one()
    session = do_create_session(
        tx, tenant_id=row.tenant_id, user_id=user_id, kind=kind, device_name=device, days=days
    )
    return Actor(row.tenant_id, user_id, "customer", session.id, "customer"), chat_id, session


def _journal_consent(
    tx: Tx, tenant_id: str, user_id: str, chat_id: str | None, consent: dict[str, Any], device: str
) -> None:
    tx.append(
        tenant_id,
        "consent.given",
        {
            "customer_id": user_id,
            "version": consent["version"],
            "sha256": consent["sha256"],
            "at": tx.now_ms,
            "device": device,
        },
        actor_id=user_id,
        chat_id=chat_id,
    )


def do_decline_customer_invitation(tx: Tx, *, token: str) -> None:
    """The customer says no: the link ends and what the invitation held about them (name,
    e-mail address) is erased; nothing more is stored."""
    row = _open_invitation(tx, token)
    _spend(tx, row.id, declined_at=tx.now_ms, name_enc=None, email_enc=None)
    tx.append(row.tenant_id, "customer_invitation.declined", {"invitation_id": row.id})


# --- the customer's own account ---------------------------------------------------------------


def _customer_row(rx: Rx, actor: Actor) -> Any:
    check_customer_actor(actor)
    row = rx.conn.execute(
        select(s.customers).where(
            s.customers.c.user_id == actor.user_id, s.customers.c.tenant_id == actor.tenant_id
        )
    ).first()
    if row is None:
        raise NotFound("No such customer.")
    return row


def needs_consent(rx: Rx, actor: Actor) -> dict[str, Any] | None:
    """The consent text a customer has still to accept, or None when theirs is in force."""
    row = _customer_row(rx, actor)
    current = get_current_consent(rx, actor.tenant_id)
    if row.consent_version == current["version"]:
        return None
    return current


def _chat_ids(rx: Rx, customer_id: str) -> list[str]:
    return list(
        rx.conn.execute(
            select(s.customer_chats.c.chat_id)
            .where(s.customer_chats.c.customer_id == customer_id)
            .order_by(s.customer_chats.c.chat_id)
        ).scalars()
    )


def do_reconsent(
    tx: Tx, actor: Actor, *, version: int, sha256_hex: str, device_name: str
) -> dict[str, Any]:
    """Accept a new version of the consent text (after the business changed it)."""
    row = _customer_row(tx, actor)
    current = check_consent_matches(tx, actor.tenant_id, version, sha256_hex)
    if row.consent_version != current["version"]:
        tx.conn.execute(
            update(s.customers)
            .where(s.customers.c.user_id == actor.user_id)
            .values(
                consent_version=current["version"],
                consent_sha256=bytes.fromhex(current["sha256"]),
                consent_at=tx.now_ms,
            )
        )
        device = " ".join(device_name.split())[:100] or "Browser"
        for chat_id in _chat_ids(tx, actor.user_id):
            _journal_consent(tx, actor.tenant_id, actor.user_id, chat_id, current, device)
    return get_customer_me(tx, actor)


def do_withdraw_consent(tx: Tx, actor: Actor) -> None:
    """Access ends at once (every device session, the account), staff see the withdrawal in
    the chat and can no longer post there. Records made so far stay under retention."""
    row = _customer_row(tx, actor)
    if row.withdrawn_at is not None:
        return
    tx.conn.execute(
        update(s.customers)
        .where(s.customers.c.user_id == actor.user_id)
        .values(withdrawn_at=tx.now_ms)
    )
    tx.conn.execute(
        update(s.users).where(s.users.c.id == actor.user_id).values(disabled_at=tx.now_ms)
    )
    ended = tx.conn.execute(
        update(s.sessions)
        .where(s.sessions.c.user_id == actor.user_id, s.sessions.c.revoked_at.is_(None))
        .values(revoked_at=tx.now_ms)
    ).rowcount
    for chat_id in _chat_ids(tx, actor.user_id):
        tx.append(
            actor.tenant_id,
            "consent.withdrawn",
            {"customer_id": actor.user_id, "at": tx.now_ms, "sessions_ended": ended},
            actor_id=actor.user_id,
            chat_id=chat_id,
        )


def get_customer_me(rx: Rx, actor: Actor) -> dict[str, Any]:
    row = _customer_row(rx, actor)
    cipher = rx.cipher(actor.tenant_id)
    user = rx.conn.execute(select(s.users).where(s.users.c.id == actor.user_id)).one()
    business = rx.conn.execute(
        select(s.tenants.c.name).where(s.tenants.c.id == actor.tenant_id)
    ).scalar()
    current = get_current_consent(rx, actor.tenant_id)
    chats = rx.conn.execute(
        select(s.customer_chats.c.chat_id, s.projects.c.id, s.projects.c.name_enc)
        .join(s.projects, s.projects.c.id == s.customer_chats.c.project_id)
        .where(s.customer_chats.c.customer_id == actor.user_id)
    ).all()
    return {
        "id": actor.user_id,
        "name": cipher.decrypt(f"users.name/{actor.user_id}", user.name_enc),
        "business_name": business,
        "consent": {
            "version": row.consent_version,
            "text": rx.conn.execute(
                select(s.consent_texts.c.text).where(
                    s.consent_texts.c.tenant_id == actor.tenant_id,
                    s.consent_texts.c.version == row.consent_version,
                )
            ).scalar(),
            "sha256": row.consent_sha256.hex(),
            "accepted_at": row.consent_at,
            "current_version": current["version"],
            "needs_acceptance": row.consent_version != current["version"],
            # The text to read and accept when a new version is in force (the customer's
            # screen shows it at once; every other route answers consent_required).
            "current": current if row.consent_version != current["version"] else None,
        },
        "chats": [
            {
                "chat_id": c.chat_id,
                "project_name": cipher.decrypt(f"projects.name/{c.id}", c.name_enc),
            }
            for c in chats
        ],
    }


def get_chat_people(rx: Rx, actor: Actor, chat_id: str) -> list[dict[str, Any]]:
    """Who is in a chat, by name only: what a customer may know of the staff (no e-mail, no
    phone, no role list of the business)."""
    access_chat(rx, actor, chat_id)
    rows = rx.conn.execute(
        select(s.users.c.id, s.users.c.name_enc, s.users.c.kind)
        .join(s.chat_members, s.chat_members.c.user_id == s.users.c.id)
        .where(s.chat_members.c.chat_id == chat_id)
    ).all()
    cipher = rx.cipher(actor.tenant_id)
    people = [
        {
            "id": r.id,
            "name": cipher.decrypt(f"users.name/{r.id}", r.name_enc),
            "kind": r.kind,
        }
        for r in rows
    ]
    return sorted(people, key=lambda p: (p["kind"] != "customer", p["name"].casefold()))


# --- staff views of customers -----------------------------------------------------------------


def get_customer_chats(
    rx: Rx, actor: Actor, *, project_id: str | None = None
) -> list[dict[str, Any]]:
    """The customer chats the actor may see, with the consent state ("Einwilligung widerrufen"
    once withdrawn: staff can no longer post there)."""
    check_staff_actor(actor)
    visible = set(get_visible_chat_ids(rx, actor))
    cc = s.customer_chats
    query = (
        select(
            cc.c.chat_id,
            cc.c.project_id,
            cc.c.customer_id,
            s.users.c.name_enc,
            s.customers.c.consent_version,
            s.customers.c.consent_at,
            s.customers.c.withdrawn_at,
        )
        .join(s.users, s.users.c.id == cc.c.customer_id)
        .join(s.customers, s.customers.c.user_id == cc.c.customer_id)
        .where(cc.c.tenant_id == actor.tenant_id)
    )
    if project_id is not None:
        access_project(rx, actor, project_id)
        query = query.where(cc.c.project_id == project_id)
    cipher = rx.cipher(actor.tenant_id)
    out = []
    for r in rx.conn.execute(query).all():
        if r.chat_id not in visible:
            continue
        withdrawn = r.withdrawn_at is not None
        out.append(
            {
                "chat_id": r.chat_id,
                "project_id": r.project_id,
                "customer_id": r.customer_id,
                "customer_name": cipher.decrypt(f"users.name/{r.customer_id}", r.name_enc),
                "consent_state": "widerrufen" if withdrawn else "erteilt",
                "consent_label": CONSENT_WITHDRAWN if withdrawn else "Einwilligung erteilt",
                "consent_version": r.consent_version,
                "consent_at": r.consent_at,
                "withdrawn_at": r.withdrawn_at,
                "can_post": not withdrawn,
            }
        )
    return out


# --- customer questions not answered in time --------------------------------------------------


def open_question_rows(rx: Rx, tenant_id: str | None) -> list[Any]:
    """Per customer chat whose customer has not withdrawn: the first customer message after the
    last staff message (not deleted), if any. That is the open question; it is answered as soon
    as anybody of the staff writes in the chat."""
    m, m2, cc = s.messages, aliased(s.messages), s.customer_chats
    last_staff = (
        select(func.coalesce(func.max(m2.c.seq), 0))
        .where(m2.c.chat_id == m.c.chat_id, m2.c.sender_id != cc.c.customer_id)
        .scalar_subquery()
    )
    firsts = (
        select(m.c.chat_id, func.min(m.c.seq).label("seq"))
        .join(cc, and_(cc.c.chat_id == m.c.chat_id, cc.c.customer_id == m.c.sender_id))
        .join(s.customers, s.customers.c.user_id == cc.c.customer_id)
        .where(s.customers.c.withdrawn_at.is_(None), m.c.deleted_at.is_(None), m.c.seq > last_staff)
        .group_by(m.c.chat_id)
    )
    if tenant_id is not None:
        firsts = firsts.where(cc.c.tenant_id == tenant_id)
    first = firsts.subquery()
    return list(
        rx.conn.execute(
            select(
                m.c.id,
                m.c.tenant_id,
                m.c.chat_id,
                m.c.seq,
                m.c.sender_id,
                m.c.created_at,
                m.c.body_enc,
                m.c.erased_at,
                cc.c.project_id,
                s.projects.c.lead_id,
                s.projects.c.name_enc.label("project_name_enc"),
            )
            .join(first, and_(first.c.chat_id == m.c.chat_id, first.c.seq == m.c.seq))
            .join(cc, cc.c.chat_id == m.c.chat_id)
            .join(s.projects, s.projects.c.id == cc.c.project_id)
            .order_by(m.c.created_at)
        ).all()
    )


def get_open_questions(rx: Rx, actor: Actor) -> list[dict[str, Any]]:
    """The office's list of customer questions waiting for an answer (others: of the customer
    chats they are in), oldest first, with when the reply time runs out."""
    check_staff_actor(actor)
    visible = set(get_visible_chat_ids(rx, actor))
    week, tz = business_week(rx, actor.tenant_id)
    reply = get_rules(rx, actor.tenant_id)["reply_minutes"]
    cipher = rx.cipher(actor.tenant_id)
    names: dict[str, str] = {}
    out = []
    for r in open_question_rows(rx, actor.tenant_id):
        if r.chat_id not in visible:
            continue
        if r.sender_id not in names:
            enc = rx.conn.execute(
                select(s.users.c.name_enc).where(s.users.c.id == r.sender_id)
            ).scalar_one()
            names[r.sender_id] = cipher.decrypt(f"users.name/{r.sender_id}", enc)
        due = add_working_minutes(week, tz, r.created_at, reply)
        out.append(
            {
                "message_id": r.id,
                "chat_id": r.chat_id,
                "project_id": r.project_id,
                "project_name": cipher.decrypt(f"projects.name/{r.project_id}", r.project_name_enc),
                "customer_id": r.sender_id,
                "customer_name": names[r.sender_id],
                "text": None  # erased when its retention ended (zunft.retention)
                if r.erased_at is not None
                else cipher.decrypt(f"messages.body/{r.id}", r.body_enc),
                "asked_at": r.created_at,
                "reply_due_at": due,
                "overdue": due <= rx.now_ms,
            }
        )
    return out


def _office_ids(rx: Rx, tenant_id: str) -> list[str]:
    """Active office staff; the owners when the business has no office."""
    for role in ("office", "owner"):
        ids = list(
            rx.conn.execute(
                select(s.users.c.id)
                .where(
                    s.users.c.tenant_id == tenant_id,
                    s.users.c.kind == "staff",
                    s.users.c.role == role,
                    s.users.c.disabled_at.is_(None),
                )
                .order_by(s.users.c.created_at, s.users.c.id)
            ).scalars()
        )
        if ids:
            return ids
    return []


def office_ids(rx: Rx, tenant_id: str) -> list[str]:
    return _office_ids(rx, tenant_id)


def do_remind_unanswered(tx: Tx) -> int:
    """Remind about customer questions past their reply time: first the project lead (or the
    office when the project has none), after twice the reply time the office. Each reminder is
    given once (customer_reminders), journaled, and becomes notifications."""
    rows = open_question_rows(tx, None)
    if not rows:
        return 0
    done = {
        (r.message_id, r.stage)
        for r in tx.conn.execute(
            select(s.customer_reminders.c.message_id, s.customer_reminders.c.stage).where(
                s.customer_reminders.c.message_id.in_([r.id for r in rows])
            )
        ).all()
    }
    given = 0
    for r in rows:
        week, tz = business_week(tx, r.tenant_id)
        reply = get_rules(tx, r.tenant_id)["reply_minutes"]
        for stage, factor in (("lead", 1), ("office", 2)):
            if (r.id, stage) in done:
                continue
            if add_working_minutes(week, tz, r.created_at, reply * factor) > tx.now_ms:
                break
            lead = _active_staff_ids(tx, r.tenant_id, [r.lead_id])
            recipients = lead if stage == "lead" and lead else _office_ids(tx, r.tenant_id)
            tx.conn.execute(
                insert(s.customer_reminders),
                {
                    "message_id": r.id,
                    "stage": stage,
                    "tenant_id": r.tenant_id,
                    "created_at": tx.now_ms,
                },
            )
            for uid in recipients:
                do_notify(
                    tx,
                    tenant_id=r.tenant_id,
                    user_id=uid,
                    kind="customer_question",
                    ref_id=r.id,
                    urgent=False,
                )
            # Not addressed to the chat (the journal's chat_id routes realtime delivery, and
            # the customer is a member): reminders are the staff's business.
            tx.append(
                r.tenant_id,
                "customer_question.reminded",
                {
                    "message_id": r.id,
                    "chat_id": r.chat_id,
                    "stage": stage,
                    "recipients": recipients,
                },
            )
            given += 1
    return given

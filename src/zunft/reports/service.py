"""Problem reports (Meldungen): raised by staff in a project, routed to the person responsible,
acknowledged or escalated along a chain, followed through offen → angenommen → in Arbeit →
erledigt (and reopened). Every change is journaled and posted into the project's team chat.

Routing: the chain of a report is, in order and without repeats, the targets of the project's
own rules for its category, then the business's rules for it, then the project lead, then the
office (the owners when there is no office). A rule names a person, a role, or another category
("handle like"); the last kind can loop, so a rule that closes a loop is refused when saved.
Disabled people are skipped: a report never waits on somebody who cannot answer.

Retention: a report is a business letter (GoBD: complaints and reports with their photos, six
years), whatever the class of its project chat. Its text and position, and the payload of its
`report.created` entry, are encrypted under the content key of the erasure unit (team chat,
geschaeftsbrief, year, author): they are erased together with the author's business letters
of that year in that chat, spared by a legal hold on the project, and erased or scheduled by a
GDPR erasure of the author (zunft.retention). The row stays, blanked, with `erased_at` set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, or_, select, update

from zunft.accounts.actor import ROLES, Actor
from zunft.chats.service import access_chat, access_chat_for_posting, do_add_member
from zunft.crypto.envelope import TenantCipher
from zunft.customers.service import check_staff_actor, office_ids
from zunft.db import schema as s
from zunft.db.tx import Rx, Tx
from zunft.errors import Conflict, Forbidden, Invalid, NotFound
from zunft.hours.service import add_working_minutes, do_notify, get_rules, person_week
from zunft.ids import new_id
from zunft.messages.service import access_message, check_text, do_send_message
from zunft.projects.service import access_project
from zunft.retention.keys import UnitErased, get_unit_key
from zunft.retention.rules import GESCHAEFTSBRIEF, year_of

BUILTIN_CATEGORIES = {
    "mangel": "Mangel",
    "materialbedarf": "Materialbedarf",
    "sicherheit": "Sicherheit",
    "terminproblem": "Terminproblem",
    "kundenanliegen": "Kundenanliegen",
}
STATUSES = ("offen", "angenommen", "in_arbeit", "erledigt")
STATUS_LABELS = {
    "offen": "offen",
    "angenommen": "angenommen",
    "in_arbeit": "in Arbeit",
    "erledigt": "erledigt",
}
PRIORITIES = ("normal", "dringend")
TARGET_KINDS = ("user", "role", "category")
MAX_PHOTOS = 20
_ID = re.compile(r"^[0-9a-z]{26}$")
# Allowed status changes; any other is refused (409 invalid_transition).
TRANSITIONS = {
    "offen": {"angenommen", "in_arbeit", "erledigt"},
    "angenommen": {"in_arbeit", "erledigt"},
    "in_arbeit": {"erledigt", "angenommen"},
    "erledigt": {"offen"},  # reopen
}


# --- categories -------------------------------------------------------------------------------


def get_categories(rx: Rx, actor: Actor) -> list[dict[str, Any]]:
    check_staff_actor(actor)
    out = [{"key": k, "name": v, "builtin": True} for k, v in BUILTIN_CATEGORIES.items()]
    rows = rx.conn.execute(
        select(s.report_categories)
        .where(s.report_categories.c.tenant_id == actor.tenant_id)
        .order_by(s.report_categories.c.created_at)
    ).all()
    return out + [{"key": r.id, "name": r.name, "builtin": False} for r in rows]


def do_create_category(tx: Tx, actor: Actor, name: str) -> dict[str, Any]:
    if not actor.is_admin:
        raise Forbidden("Only owner and office add report categories.")
    name = " ".join(name.split())
    if not 1 <= len(name) <= 60:
        raise Invalid("A category name has 1 to 60 characters.", code="invalid_category")
    taken = {c["name"].casefold() for c in get_categories(tx, actor)}
    if name.casefold() in taken:
        raise Conflict("This category exists already.", code="category_exists")
    category_id = new_id()
    tx.conn.execute(
        insert(s.report_categories),
        {"id": category_id, "tenant_id": actor.tenant_id, "name": name, "created_at": tx.now_ms},
    )
    tx.append(
        actor.tenant_id,
        "report_category.created",
        {"category": category_id, "name": name},
        actor_id=actor.user_id,
    )
    return {"key": category_id, "name": name, "builtin": False}


def category_name(rx: Rx, tenant_id: str, key: str) -> str:
    if key in BUILTIN_CATEGORIES:
        return BUILTIN_CATEGORIES[key]
    name = rx.conn.execute(
        select(s.report_categories.c.name).where(
            s.report_categories.c.id == key, s.report_categories.c.tenant_id == tenant_id
        )
    ).scalar()
    if name is None:
        raise Invalid("Unknown report category.", code="invalid_category")
    return str(name)


# --- routing rules ----------------------------------------------------------------------------


def _rule_view(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "category": r.category,
        "project_id": r.project_id,
        "target_kind": r.target_kind,
        "target": r.target,
        "created_at": r.created_at,
    }


def _check_rule_rights(rx: Rx, actor: Actor, project_id: str | None) -> None:
    check_staff_actor(actor)
    if project_id is None:
        if not actor.is_admin:
            raise Forbidden("Only owner and office set the business's routing rules.")
        return
    project, _ = access_project(rx, actor, project_id)
    if not (actor.is_admin or project.lead_id == actor.user_id):
        raise Forbidden("Only owner, office or the project's lead set its routing rules.")


def get_routing_rules(rx: Rx, actor: Actor, project_id: str | None = None) -> list[dict[str, Any]]:
    check_staff_actor(actor)
    rr = s.routing_rules
    query = select(rr).where(rr.c.tenant_id == actor.tenant_id)
    if project_id is not None:
        access_project(rx, actor, project_id)
        query = query.where(or_(rr.c.project_id.is_(None), rr.c.project_id == project_id))
    elif not actor.is_admin:
        query = query.where(rr.c.project_id.is_(None))
    rows = rx.conn.execute(query.order_by(rr.c.created_at, rr.c.id)).all()
    if project_id is None and actor.is_admin:
        return [_rule_view(r) for r in rows]
    visible = {project_id}
    return [_rule_view(r) for r in rows if r.project_id is None or r.project_id in visible]


def _delegations(rx: Rx, tenant_id: str, project_id: str | None) -> dict[str, set[str]]:
    """category -> categories it is handled like, in one scope (a project sees its own rules
    and the business's)."""
    rr = s.routing_rules
    scope: Any = rr.c.project_id.is_(None)
    if project_id is not None:
        scope = or_(scope, rr.c.project_id == project_id)
    edges: dict[str, set[str]] = {}
    for r in rx.conn.execute(
        select(rr.c.category, rr.c.target).where(
            rr.c.tenant_id == tenant_id, rr.c.target_kind == "category", scope
        )
    ).all():
        edges.setdefault(r.category, set()).add(r.target)
    return edges


def _find_loop(edges: dict[str, set[str]], start: str) -> list[str] | None:
    """A path start → ... → start through the delegations, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(edges.get(node, ())):
            if nxt == start:
                return [*path, nxt]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def _active_staff(rx: Rx, tenant_id: str, user_id: str) -> bool:
    row = rx.conn.execute(
        select(s.users.c.kind, s.users.c.disabled_at).where(
            s.users.c.id == user_id, s.users.c.tenant_id == tenant_id
        )
    ).first()
    return row is not None and row.kind == "staff" and row.disabled_at is None


def do_add_routing_rule(
    tx: Tx,
    actor: Actor,
    *,
    category: str,
    target_kind: str,
    target: str,
    project_id: str | None = None,
) -> dict[str, Any]:
    _check_rule_rights(tx, actor, project_id)
    category_name(tx, actor.tenant_id, category)
    if target_kind not in TARGET_KINDS:
        raise Invalid(f"target_kind is one of {', '.join(TARGET_KINDS)}.", code="invalid_target")
    if target_kind == "user" and not _active_staff(tx, actor.tenant_id, target):
        raise NotFound("No such user.")
    if target_kind == "role" and target not in ROLES:
        raise Invalid(f"Unknown role; use one of {', '.join(ROLES)}.", code="invalid_role")
    if target_kind == "category":
        category_name(tx, actor.tenant_id, target)
    rule_id = new_id()
    tx.conn.execute(
        insert(s.routing_rules),
        {
            "id": rule_id,
            "tenant_id": actor.tenant_id,
            "category": category,
            "project_id": project_id,
            "target_kind": target_kind,
            "target": target,
            "created_at": tx.now_ms,
        },
    )
    # The new rule closes a loop in its own scope, or (a business rule) in any project's.
    scopes: list[str | None] = [project_id]
    if project_id is None:
        scopes += list(
            tx.conn.execute(
                select(s.routing_rules.c.project_id)
                .where(
                    s.routing_rules.c.tenant_id == actor.tenant_id,
                    s.routing_rules.c.project_id.is_not(None),
                )
                .distinct()
            ).scalars()
        )
    if target_kind == "category":
        for scope in scopes:
            loop = _find_loop(_delegations(tx, actor.tenant_id, scope), category)
            if loop:
                names = [category_name(tx, actor.tenant_id, c) for c in loop]
                raise Conflict(
                    "This rule would make routing go round in a circle: " + " → ".join(names),
                    code="routing_loop",
                    loop=loop,
                )
    tx.append(
        actor.tenant_id,
        "routing_rule.added",
        {
            "rule_id": rule_id,
            "category": category,
            "project_id": project_id,
            "target_kind": target_kind,
            "target": target,
        },
        actor_id=actor.user_id,
    )
    row = tx.conn.execute(select(s.routing_rules).where(s.routing_rules.c.id == rule_id)).one()
    return _rule_view(row)


def do_delete_routing_rule(tx: Tx, actor: Actor, rule_id: str) -> None:
    check_staff_actor(actor)
    row = tx.conn.execute(
        select(s.routing_rules).where(
            s.routing_rules.c.id == rule_id, s.routing_rules.c.tenant_id == actor.tenant_id
        )
    ).first()
    if row is None:
        raise NotFound("No such routing rule.")
    _check_rule_rights(tx, actor, row.project_id)
    tx.conn.execute(s.routing_rules.delete().where(s.routing_rules.c.id == rule_id))
    tx.append(actor.tenant_id, "routing_rule.deleted", {"rule_id": rule_id}, actor_id=actor.user_id)


def _role_users(rx: Rx, tenant_id: str, role: str, team_chat: str) -> list[str]:
    """Active staff with a role: those in the project's team chat first."""
    rows = rx.conn.execute(
        select(s.users.c.id, s.chat_members.c.user_id.label("member"))
        .outerjoin(
            s.chat_members,
            (s.chat_members.c.user_id == s.users.c.id) & (s.chat_members.c.chat_id == team_chat),
        )
        .where(
            s.users.c.tenant_id == tenant_id,
            s.users.c.kind == "staff",
            s.users.c.role == role,
            s.users.c.disabled_at.is_(None),
        )
        .order_by(s.users.c.created_at, s.users.c.id)
    ).all()
    return [r.id for r in rows if r.member] + [r.id for r in rows if not r.member]


def resolve_chain(rx: Rx, tenant_id: str, project_id: str, category: str) -> list[str]:
    """Who is responsible, in escalation order (see the module's docstring)."""
    project = rx.conn.execute(select(s.projects).where(s.projects.c.id == project_id)).one()
    team_chat = rx.conn.execute(
        select(s.chats.c.id).where(s.chats.c.project_id == project_id, s.chats.c.kind == "project")
    ).scalar_one()
    rr = s.routing_rules
    chain: list[str] = []

    def expand(cat: str, seen: frozenset[str]) -> None:
        rows = rx.conn.execute(
            select(rr)
            .where(
                rr.c.tenant_id == tenant_id,
                rr.c.category == cat,
                or_(rr.c.project_id == project_id, rr.c.project_id.is_(None)),
            )
            .order_by(rr.c.project_id.is_(None), rr.c.created_at, rr.c.id)
        ).all()
        for r in rows:
            if r.target_kind == "user":
                chain.append(r.target)
            elif r.target_kind == "role":
                chain.extend(_role_users(rx, tenant_id, r.target, team_chat))
            elif r.target not in seen:  # loops are refused when saved; never follow one
                expand(r.target, seen | {r.target})

    expand(category, frozenset({category}))
    if project.lead_id:
        chain.append(project.lead_id)
    chain.extend(office_ids(rx, tenant_id))
    return [u for u in dict.fromkeys(chain) if _active_staff(rx, tenant_id, u)]


# --- reports ----------------------------------------------------------------------------------


def _ack_due(rx: Rx, tenant_id: str, user_id: str, priority: str, from_ms: int) -> int:
    """When the person must have acknowledged: the escalation time counts within their working
    hours; for dringend reports it runs around the clock."""
    minutes = int(get_rules(rx, tenant_id)["escalation_minutes"])
    if priority == "dringend":
        return from_ms + minutes * 60_000
    week, tz = person_week(rx, tenant_id, user_id)
    return add_working_minutes(week, tz, from_ms, minutes)


def _history(tx: Tx, report: Any, kind: str, actor_id: str | None, detail: dict[str, Any]) -> None:
    n = tx.conn.execute(
        select(func.count())
        .select_from(s.report_history)
        .where(s.report_history.c.report_id == report.id)
    ).scalar_one()
    tx.conn.execute(
        insert(s.report_history),
        {
            "report_id": report.id,
            "n": int(n) + 1,
            "tenant_id": report.tenant_id,
            "at": tx.now_ms,
            "kind": kind,
            "actor_id": actor_id,
            "detail": json.dumps(detail),
        },
    )


def _team_chat(rx: Rx, project_id: str) -> str:
    return str(
        rx.conn.execute(
            select(s.chats.c.id).where(
                s.chats.c.project_id == project_id, s.chats.c.kind == "project"
            )
        ).scalar_one()
    )


def _name(rx: Rx, tenant_id: str, user_id: str | None) -> str:
    if user_id is None:
        return "niemand"
    enc = rx.conn.execute(select(s.users.c.name_enc).where(s.users.c.id == user_id)).scalar_one()
    return rx.cipher(tenant_id).decrypt(f"users.name/{user_id}", enc)


def _assign(tx: Tx, report: Any, user_id: str, *, notify_kind: str) -> None:
    """Make user_id responsible: in the project chat, with a notification (dringend at once,
    otherwise when their working hours allow)."""
    do_add_member(
        tx,
        tenant_id=report.tenant_id,
        chat_id=_team_chat(tx, report.project_id),
        user_id=user_id,
        actor_id=None,
    )
    do_notify(
        tx,
        tenant_id=report.tenant_id,
        user_id=user_id,
        kind=notify_kind,
        ref_id=report.id,
        urgent=report.priority == "dringend",
    )


def _get_row(rx: Rx, report_id: str) -> Any:
    return rx.conn.execute(select(s.reports).where(s.reports.c.id == report_id)).one()


def _post(tx: Tx, actor: Actor, report: Any, text: str) -> None:
    """Say it in the project chat, as the person who did it (not in an archived project)."""
    status = tx.conn.execute(
        select(s.projects.c.status).where(s.projects.c.id == report.project_id)
    ).scalar()
    if status == "archived":
        return
    do_send_message(tx, actor, _team_chat(tx, report.project_id), text=text[:2000])


REPORT_CLASS = GESCHAEFTSBRIEF
ERASED_TEXT = "gelöscht"  # what a board shows for a report whose retention has ended


def report_unit_key(tx: Tx, tenant_id: str, team_chat: str, author_id: str, at_ms: int) -> bytes:
    """The content key of a report's erasure unit (raises UnitErased when already shredded)."""
    return get_unit_key(
        tx,
        tenant_id,
        chat_id=team_chat,
        doc_class=REPORT_CLASS,
        year=year_of(at_ms),
        author_id=author_id,
    )


def check_photo_ids(photo_ids: list[str]) -> list[str]:
    if len(photo_ids) > MAX_PHOTOS or not all(_ID.match(p) for p in photo_ids):
        raise Invalid(f"At most {MAX_PHOTOS} photo ids.", code="invalid_photos")
    return list(dict.fromkeys(photo_ids))


def check_photos_in_project(rx: Rx, actor: Actor, project_id: str, photo_ids: list[str]) -> None:
    """Each photo must be a file the actor can see in one of this project's chats: a report
    cannot point at another project's, chat's or business's files."""
    if not photo_ids:
        return
    b, c = s.blobs, s.chats
    found = {
        r.id: r.chat_id
        for r in rx.conn.execute(
            select(b.c.id, b.c.chat_id)
            .join(c, c.c.id == b.c.chat_id)
            .where(
                b.c.tenant_id == actor.tenant_id,
                b.c.id.in_(photo_ids),
                c.c.project_id == project_id,
            )
        )
    }
    for photo_id in photo_ids:
        chat_id = found.get(photo_id)
        try:
            if chat_id is None:
                raise NotFound("No such file.")
            access_chat(rx, actor, chat_id)
        except NotFound:
            raise Invalid(
                f"Photo {photo_id} is not a file of this project's chats.", code="invalid_photos"
            ) from None


def check_position(position: dict[str, Any] | None) -> dict[str, Any] | None:
    if position is None:
        return None
    lat, lon, note = position.get("lat"), position.get("lon"), position.get("note")
    if (lat is None) != (lon is None):
        raise Invalid("Give latitude and longitude together.", code="invalid_position")
    if lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):  # type: ignore[operator]
        raise Invalid("Latitude is -90..90, longitude -180..180.", code="invalid_position")
    if note is not None and len(note) > 300:
        raise Invalid("The position note has at most 300 characters.", code="invalid_position")
    if lat is None and not note:
        return None
    # Degrees as decimal strings (6 places, about 10 cm): the journal's canonical JSON and the
    # stored idempotent answers have no floats.
    if lat is not None:
        return {"lat": f"{float(lat):.6f}", "lon": f"{float(lon):.6f}", "note": note}  # type: ignore[arg-type]
    return {"lat": None, "lon": None, "note": note}


def do_create_report(
    tx: Tx,
    actor: Actor,
    project_id: str,
    *,
    category: str,
    priority: str,
    text: str,
    position: dict[str, Any] | None = None,
    photo_ids: list[str] | None = None,
    source_message_id: str | None = None,
) -> dict[str, Any]:
    check_staff_actor(actor)
    access_project(tx, actor, project_id)
    team_chat = _team_chat(tx, project_id)
    access_chat_for_posting(tx, actor, team_chat)
    cat_name = category_name(tx, actor.tenant_id, category)
    if priority not in PRIORITIES:
        raise Invalid("Priority is normal or dringend.", code="invalid_priority")
    text = check_text(text)
    position = check_position(position)
    photos = check_photo_ids(photo_ids or [])
    check_photos_in_project(tx, actor, project_id, photos)
    if source_message_id is not None:
        # From the team chat, or from one of the project's customer chats (Kundenanliegen).
        source = access_message(tx, actor, source_message_id)
        source_project = tx.conn.execute(
            select(s.chats.c.project_id).where(s.chats.c.id == source.chat_id)
        ).scalar()
        if source_project != project_id:
            raise Invalid("The message is not in this project's chats.", code="invalid_source")
    chain = resolve_chain(tx, actor.tenant_id, project_id, category)
    number = (
        int(
            tx.conn.execute(
                select(func.coalesce(func.max(s.reports.c.number), 0)).where(
                    s.reports.c.tenant_id == actor.tenant_id
                )
            ).scalar_one()
        )
        + 1
    )
    report_id = new_id()
    assignee = chain[0] if chain else None
    cipher = tx.cipher(actor.tenant_id)
    try:
        key = report_unit_key(tx, actor.tenant_id, team_chat, actor.user_id, tx.now_ms)
    except UnitErased:
        # Only after a GDPR erasure of this very author's current business letters.
        raise Conflict(
            "Your business letters of this year in this project were erased.",
            code="retention_ended",
        ) from None
    tx.conn.execute(
        insert(s.reports),
        {
            "id": report_id,
            "tenant_id": actor.tenant_id,
            "project_id": project_id,
            "number": number,
            "category": category,
            "priority": priority,
            "text_enc": cipher.encrypt(f"reports.text/{report_id}", text, key),
            "position_enc": (
                cipher.encrypt(f"reports.position/{report_id}", json.dumps(position), key)
                if position
                else None
            ),
            "photo_ids": json.dumps(photos),
            "source_message_id": source_message_id,
            "status": "offen",
            "created_by": actor.user_id,
            "created_at": tx.now_ms,
            "updated_at": tx.now_ms,
            "chain": json.dumps(chain),
            "chain_pos": 0,
            "assignee_id": assignee,
            "assigned_at": tx.now_ms if assignee else None,
            "ack_due_at": (
                _ack_due(tx, actor.tenant_id, assignee, priority, tx.now_ms) if assignee else None
            ),
            "acknowledged_at": None,
            "content_key": key,
            "erased_at": None,
        },
    )
    report = _get_row(tx, report_id)
    _history(tx, report, "created", actor.user_id, {"assignee_id": assignee, "chain": chain})
    tx.append(
        actor.tenant_id,
        "report.created",
        {
            "report_id": report_id,
            "number": number,
            "project_id": project_id,
            "category": category,
            "priority": priority,
            "text": text,
            "position": position,
            "photo_ids": photos,
            "assignee_id": assignee,
            "chain": chain,
        },
        actor_id=actor.user_id,
        chat_id=team_chat,
        key=key,
    )
    if assignee:
        _assign(tx, report, assignee, notify_kind="report.assigned")
    urgent = ", dringend" if priority == "dringend" else ""
    _post(
        tx,
        actor,
        report,
        f"Meldung #{number} ({cat_name}{urgent}): {text}\n"
        f"Zuständig: {_name(tx, actor.tenant_id, assignee)} · Status: offen",
    )
    return get_report(tx, actor, report_id)


def access_report(rx: Rx, actor: Actor, report_id: str) -> Any:
    """The report row if the actor may see it: admins; whoever can see its project; anyone in
    its chain. Otherwise NotFound, like a missing id."""
    check_staff_actor(actor)
    row = rx.conn.execute(
        select(s.reports).where(
            s.reports.c.id == report_id, s.reports.c.tenant_id == actor.tenant_id
        )
    ).first()
    if row is None:
        raise NotFound("No such report.")
    if actor.is_admin or actor.user_id in json.loads(row.chain):
        return row
    try:
        access_project(rx, actor, row.project_id)
    except NotFound:
        raise NotFound("No such report.") from None
    return row


def _view(
    rx: Rx, cipher: TenantCipher, r: Any, names: dict[str, str], stored: set[str]
) -> dict[str, Any]:
    def name(uid: str | None) -> str | None:
        if uid is None:
            return None
        if uid not in names:
            names[uid] = _name(rx, r.tenant_id, uid)
        return names[uid]

    chain = json.loads(r.chain)
    erased = r.erased_at is not None
    position = None if erased else cipher.decrypt_opt(f"reports.position/{r.id}", r.position_enc)
    return {
        "id": r.id,
        "number": r.number,
        "project_id": r.project_id,
        "category": r.category,
        "category_name": category_name(rx, r.tenant_id, r.category),
        "priority": r.priority,
        "text": ERASED_TEXT if erased else cipher.decrypt(f"reports.text/{r.id}", r.text_enc),
        "erased": erased,
        "erased_at": r.erased_at,
        "position": json.loads(position) if position else None,
        "photo_ids": [i for i in json.loads(r.photo_ids) if i in stored],
        "source_message_id": r.source_message_id,
        "status": r.status,
        "status_label": STATUS_LABELS[r.status],
        "created_by": r.created_by,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "assignee_id": r.assignee_id,
        "assignee_name": name(r.assignee_id),
        "acknowledged_at": r.acknowledged_at,
        "ack_due_at": r.ack_due_at,
        "chain": [
            {
                "user_id": uid,
                "name": name(uid),
                "step": i,
                "current": i == r.chain_pos and r.assignee_id == uid,
                "passed": i < r.chain_pos,
            }
            for i, uid in enumerate(chain)
        ],
        "escalation_exhausted": (
            r.status == "offen" and r.ack_due_at is None and r.acknowledged_at is None
        ),
    }


def stored_photo_ids(rx: Rx, tenant_id: str, rows: Sequence[Any]) -> set[str]:
    """Which of these reports' photos are still stored (a file's retention is its own), in
    one query per 500 ids for a whole board or export page."""
    ids = sorted({i for r in rows for i in json.loads(r.photo_ids)})
    b = s.blobs
    stored: set[str] = set()
    for at in range(0, len(ids), 500):
        chunk = ids[at : at + 500]
        stored.update(
            rx.conn.execute(
                select(b.c.id).where(b.c.tenant_id == tenant_id, b.c.id.in_(chunk))
            ).scalars()
        )
    return stored


def get_report(rx: Rx, actor: Actor, report_id: str) -> dict[str, Any]:
    row = access_report(rx, actor, report_id)
    stored = stored_photo_ids(rx, actor.tenant_id, [row])
    view = _view(rx, rx.cipher(actor.tenant_id), row, {}, stored)
    view["history"] = [
        {"at": h.at, "kind": h.kind, "actor_id": h.actor_id, **json.loads(h.detail)}
        for h in rx.conn.execute(
            select(s.report_history)
            .where(s.report_history.c.report_id == report_id)
            .order_by(s.report_history.c.n)
        ).all()
    ]
    return view


def get_reports(
    rx: Rx,
    actor: Actor,
    *,
    project_id: str | None = None,
    status: list[str] | None = None,
    assignee_id: str | None = None,
    category: str | None = None,
    priority: str | None = None,
) -> dict[str, Any]:
    """A board: the reports the actor may see, filtered, newest first, with counts by status."""
    check_staff_actor(actor)
    r = s.reports
    query = select(r).where(r.c.tenant_id == actor.tenant_id)
    if project_id is not None:
        access_project(rx, actor, project_id)
        query = query.where(r.c.project_id == project_id)
    for value in status or []:
        if value not in STATUSES:
            raise Invalid(f"Status is one of {', '.join(STATUSES)}.", code="invalid_status")
    if status:
        query = query.where(r.c.status.in_(status))
    if assignee_id is not None:
        query = query.where(r.c.assignee_id == assignee_id)
    if category is not None:
        query = query.where(r.c.category == category)
    if priority is not None:
        if priority not in PRIORITIES:
            raise Invalid("Priority is normal or dringend.", code="invalid_priority")
        query = query.where(r.c.priority == priority)
    rows = rx.conn.execute(query.order_by(r.c.number.desc())).all()
    if not actor.is_admin:
        visible_projects = {
            p for p in {row.project_id for row in rows} if _can_see_project(rx, actor, p)
        }
        rows = [
            row
            for row in rows
            if row.project_id in visible_projects or actor.user_id in json.loads(row.chain)
        ]
    cipher = rx.cipher(actor.tenant_id)
    names: dict[str, str] = {}
    stored = stored_photo_ids(rx, actor.tenant_id, rows)
    views = [_view(rx, cipher, row, names, stored) for row in rows]
    counts = {st: sum(1 for v in views if v["status"] == st) for st in STATUSES}
    return {"reports": views, "counts": counts}


def _can_see_project(rx: Rx, actor: Actor, project_id: str) -> bool:
    try:
        access_project(rx, actor, project_id)
    except NotFound:
        return False
    return True


def _check_may_change(rx: Rx, actor: Actor, report: Any, to: str) -> None:
    if actor.is_admin or actor.user_id == report.assignee_id:
        return
    lead = rx.conn.execute(
        select(s.projects.c.lead_id).where(s.projects.c.id == report.project_id)
    ).scalar()
    if lead == actor.user_id:
        return
    chain = json.loads(report.chain)
    if to in ("angenommen", "in_arbeit") and actor.user_id in chain[: report.chain_pos + 1]:
        return  # somebody asked earlier takes it after all
    if to == "offen" and actor.user_id == report.created_by:
        return  # the reporter sees it is not solved
    raise Forbidden(
        "Only the person responsible, the project lead, owner or office change a report.",
        code="not_responsible",
    )


def do_set_status(tx: Tx, actor: Actor, report_id: str, to: str) -> dict[str, Any]:
    report = access_report(tx, actor, report_id)
    if to not in STATUSES:
        raise Invalid(f"Status is one of {', '.join(STATUSES)}.", code="invalid_status")
    if report.status == to:
        return get_report(tx, actor, report_id)
    if to not in TRANSITIONS[report.status]:
        raise Conflict(
            f"A report cannot go from {STATUS_LABELS[report.status]} to {STATUS_LABELS[to]}.",
            code="invalid_transition",
        )
    _check_may_change(tx, actor, report, to)
    values: dict[str, Any] = {"status": to, "updated_at": tx.now_ms}
    if report.status == "offen" and to != "offen":
        # Taking it on acknowledges it; whoever does so is responsible from now on.
        values.update(acknowledged_at=tx.now_ms, ack_due_at=None, assignee_id=actor.user_id)
        chain = json.loads(report.chain)
        if actor.user_id in chain:
            values["chain_pos"] = chain.index(actor.user_id)
    if to == "offen":  # reopened: the person responsible must acknowledge it again
        assignee = report.assignee_id
        if assignee is None or not _active_staff(tx, actor.tenant_id, assignee):
            chain = resolve_chain(tx, actor.tenant_id, report.project_id, report.category)
            assignee = chain[0] if chain else None
            values.update(chain=json.dumps(chain), chain_pos=0)
        values.update(
            assignee_id=assignee,
            acknowledged_at=None,
            assigned_at=tx.now_ms,
            ack_due_at=(
                _ack_due(tx, actor.tenant_id, assignee, report.priority, tx.now_ms)
                if assignee
                else None
            ),
        )
    tx.conn.execute(update(s.reports).where(s.reports.c.id == report_id).values(**values))
    updated = _get_row(tx, report_id)
    _history(tx, updated, "status", actor.user_id, {"from": report.status, "to": to})
    tx.append(
        actor.tenant_id,
        "report.status_changed",
        {
            "report_id": report_id,
            "from": report.status,
            "to": to,
            "assignee_id": updated.assignee_id,
        },
        actor_id=actor.user_id,
        chat_id=_team_chat(tx, report.project_id),
    )
    if to == "offen" and updated.assignee_id:
        _assign(tx, updated, updated.assignee_id, notify_kind="report.reopened")
    verb = "wieder geöffnet" if to == "offen" else STATUS_LABELS[to]
    _post(
        tx,
        actor,
        updated,
        f"Meldung #{report.number}: {STATUS_LABELS[report.status]} → {STATUS_LABELS[to]} "
        f"({verb} von {_name(tx, actor.tenant_id, actor.user_id)})",
    )
    return get_report(tx, actor, report_id)


def do_acknowledge(tx: Tx, actor: Actor, report_id: str) -> dict[str, Any]:
    return do_set_status(tx, actor, report_id, "angenommen")


# --- escalation, driven by the clock (zunft.due.run_due) -------------------------------------


def do_escalate_due(tx: Tx) -> int:
    """Pass every open, unacknowledged report whose time ran out (or whose responsible person
    was disabled) to the next active person in its chain. When nobody is left, the office is
    told and the report waits there. Returns how many reports moved."""
    r = s.reports
    candidates = tx.conn.execute(
        select(r).where(
            r.c.status == "offen",
            r.c.acknowledged_at.is_(None),
            r.c.assignee_id.is_not(None),
        )
    ).all()
    moved = 0
    for report in candidates:
        due = report.ack_due_at is not None and report.ack_due_at <= tx.now_ms
        gone = not _active_staff(tx, report.tenant_id, report.assignee_id)
        if not (due or gone):
            continue
        chain = json.loads(report.chain)
        pos = report.chain_pos + 1
        while pos < len(chain) and not _active_staff(tx, report.tenant_id, chain[pos]):
            pos += 1
        team_chat = _team_chat(tx, report.project_id)
        if pos < len(chain):
            nxt = chain[pos]
            tx.conn.execute(
                update(r)
                .where(r.c.id == report.id)
                .values(
                    assignee_id=nxt,
                    chain_pos=pos,
                    assigned_at=tx.now_ms,
                    ack_due_at=_ack_due(tx, report.tenant_id, nxt, report.priority, tx.now_ms),
                    updated_at=tx.now_ms,
                )
            )
            updated = _get_row(tx, report.id)
            reason = "disabled" if gone else "not_acknowledged"
            _history(
                tx,
                updated,
                "escalated",
                None,
                {"from": report.assignee_id, "to": nxt, "reason": reason},
            )
            tx.append(
                report.tenant_id,
                "report.escalated",
                {"report_id": report.id, "from": report.assignee_id, "to": nxt, "reason": reason},
                chat_id=team_chat,
            )
            _assign(tx, updated, nxt, notify_kind="report.escalated")
            moved += 1
        elif report.ack_due_at is not None or gone:
            # End of the chain: it stays with the last person; the office is told once.
            tx.conn.execute(
                update(r)
                .where(r.c.id == report.id)
                .values(
                    ack_due_at=None,
                    assignee_id=None if gone else report.assignee_id,
                    updated_at=tx.now_ms,
                )
            )
            updated = _get_row(tx, report.id)
            _history(tx, updated, "chain_exhausted", None, {"assignee_id": report.assignee_id})
            tx.append(
                report.tenant_id,
                "report.escalation_exhausted",
                {"report_id": report.id, "assignee_id": report.assignee_id},
                chat_id=team_chat,
            )
            for uid in office_ids(tx, report.tenant_id):
                do_notify(
                    tx,
                    tenant_id=report.tenant_id,
                    user_id=uid,
                    kind="report.unacknowledged",
                    ref_id=report.id,
                    urgent=report.priority == "dringend",
                )
            moved += 1
    return moved

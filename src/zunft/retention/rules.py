"""Document classes and retention rules (docs/compliance.md, "Aufbewahrung").

"Keep at least": content of calendar year Y in a class kept N years may be erased from
1 January of year Y + N + 1 (the period runs from the end of the calendar year, AO § 147 (4),
HGB § 257 (5)). The calendar year is Germany's (Europe/Berlin): the law is German.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, insert, literal_column, select, update
from sqlalchemy.sql.elements import ColumnElement

from zunft.accounts.actor import Actor
from zunft.db import schema as s
from zunft.db.tx import Rx, Tx
from zunft.errors import Forbidden, Invalid

LEGAL_TZ = ZoneInfo("Europe/Berlin")

GESCHAEFTSBRIEF = "geschaeftsbrief"
BUCHUNGSBELEG = "buchungsbeleg"
INTERN = "intern"
CLASSES = (GESCHAEFTSBRIEF, BUCHUNGSBELEG, INTERN)

# The legal minimum a business cannot go below, and the default it starts with.
# geschaeftsbrief: HGB § 257 (1) no. 2/3, (4), AO § 147 (1) no. 2/3, (3): 6 years.
# buchungsbeleg: AO § 147 (3) as amended 2025 (Bürokratieentlastungsgesetz IV): 8 years.
# intern: no duty to keep; a year by default so last year's small talk can still be looked up.
LEGAL_MINIMUM = {GESCHAEFTSBRIEF: 6, BUCHUNGSBELEG: 8, INTERN: 0}
DEFAULT_YEARS = {GESCHAEFTSBRIEF: 6, BUCHUNGSBELEG: 8, INTERN: 1}
MAX_YEARS = 30  # the longest period in German law (BGB § 197); more is a typo

# A chat's class unless the office set another: customer and project chats carry the order
# (offers, appointments, defects, reports and their photos; a 5-year building warranty,
# BGB § 634a, outlasts nothing shorter); channels and 1:1 chats are internal talk.
CHAT_DEFAULTS = {"customer": GESCHAEFTSBRIEF, "project": GESCHAEFTSBRIEF}


def chat_default_class(kind: str) -> str:
    return CHAT_DEFAULTS.get(kind, INTERN)


def chat_class_expr() -> ColumnElement[Any]:
    """SQL for a chat's class (needs `chats` in the FROM clause). The constants are SQL
    literals, not parameters, so the send path's prepared statement can use it."""

    def lit(value: str) -> ColumnElement[Any]:
        assert value.isidentifier()  # our own constants only
        return literal_column(f"'{value}'")

    default = case(
        *[(s.chats.c.kind == lit(kind), lit(value)) for kind, value in CHAT_DEFAULTS.items()],
        else_=lit(INTERN),
    )
    return func.coalesce(s.chats.c.doc_class, default)


def check_class(value: Any) -> str:
    if value not in CLASSES:
        raise Invalid(
            "Unknown document class: geschaeftsbrief, buchungsbeleg or intern.",
            code="invalid_doc_class",
        )
    return str(value)


def year_of(ms: int) -> int:
    """The German calendar year of a moment (milliseconds)."""
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(LEGAL_TZ).year


def erase_from_ms(year: int, years: int) -> int:
    """When content of `year` kept `years` years may go: 1 January of year + years + 1."""
    return int(datetime(year + years + 1, 1, 1, tzinfo=LEGAL_TZ).timestamp() * 1000)


def get_retention_years(rx: Rx, tenant_id: str) -> dict[str, int]:
    years = dict(DEFAULT_YEARS)
    for r in rx.conn.execute(
        select(s.retention_rules.c.doc_class, s.retention_rules.c.years).where(
            s.retention_rules.c.tenant_id == tenant_id
        )
    ):
        years[r.doc_class] = r.years
    return years


def get_rules(rx: Rx, actor: Actor) -> list[dict[str, Any]]:
    if not actor.is_admin:
        raise Forbidden("Only owner and office see retention rules.", code="admin_only")
    years = get_retention_years(rx, actor.tenant_id)
    return [
        {
            "doc_class": c,
            "years": years[c],
            "legal_minimum": LEGAL_MINIMUM[c],
            "default": DEFAULT_YEARS[c],
        }
        for c in CLASSES
    ]


def do_set_rule(tx: Tx, actor: Actor, doc_class: str, years: int) -> list[dict[str, Any]]:
    """Owner only: change how long a class is kept; never below the legal minimum."""
    if actor.kind != "staff" or actor.role != "owner":
        raise Forbidden("Only the owner changes retention rules.", code="owner_only")
    doc_class = check_class(doc_class)
    if isinstance(years, bool) or not isinstance(years, int) or years > MAX_YEARS:
        raise Invalid(f"years is a whole number up to {MAX_YEARS}.", code="invalid_years")
    if years < LEGAL_MINIMUM[doc_class]:
        raise Invalid(
            f"{doc_class} must be kept at least {LEGAL_MINIMUM[doc_class]} years by law.",
            code="below_legal_minimum",
            minimum=LEGAL_MINIMUM[doc_class],
        )
    before = get_retention_years(tx, actor.tenant_id)[doc_class]
    r = s.retention_rules
    found = tx.conn.execute(
        select(r.c.years).where(r.c.tenant_id == actor.tenant_id, r.c.doc_class == doc_class)
    ).first()
    if found is None:
        tx.conn.execute(
            insert(r),
            {
                "tenant_id": actor.tenant_id,
                "doc_class": doc_class,
                "years": years,
                "updated_at": tx.now_ms,
            },
        )
    else:
        tx.conn.execute(
            update(r)
            .where(r.c.tenant_id == actor.tenant_id, r.c.doc_class == doc_class)
            .values(years=years, updated_at=tx.now_ms)
        )
    if before != years:
        tx.append(
            actor.tenant_id,
            "retention.rule_changed",
            {"doc_class": doc_class, "from": before, "to": years},
            actor_id=actor.user_id,
        )
    return get_rules(tx, actor)

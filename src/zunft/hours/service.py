"""Working time: the business's rules (time zone, week, reply and escalation times), each staff
member's working hours, and the one rule for notifications: outside their working hours a
person is told nothing except urgent (dringend) things.

A week is a JSON object {"mo": [["07:00", "16:00"]], "di": [...], ...}: German day keys
mo di mi do fr sa so, each a list of [start, end) intervals in the business's time zone.
"""

from __future__ import annotations

import itertools
import json
import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import insert, select, update

from zunft.accounts.actor import Actor
from zunft.accounts.users import get_user_row
from zunft.db import schema as s
from zunft.db.tx import Rx, Tx
from zunft.errors import Forbidden, Invalid, NotFound
from zunft.ids import new_id

DAYS = ("mo", "di", "mi", "do", "fr", "sa", "so")  # datetime.weekday() order
DEFAULT_TIMEZONE = "Europe/Berlin"
DEFAULT_WEEK: dict[str, list[list[str]]] = {
    d: ([["07:00", "17:00"]] if d not in ("sa", "so") else []) for d in DAYS
}
DEFAULT_REPLY_MINUTES = 240  # 4 working hours to answer a customer
DEFAULT_ESCALATION_MINUTES = 30  # to acknowledge a report
MINUTE_MS = 60_000
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$|^24:00$")

Week = dict[int, list[tuple[int, int]]]  # weekday -> [(start minute, end minute)]


def _minutes(value: Any) -> int:
    if not isinstance(value, str) or not _TIME.match(value):
        raise Invalid("Times are written HH:MM, from 00:00 to 24:00.", code="invalid_hours")
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def check_week(week: Any) -> dict[str, list[list[str]]]:
    """Validate a week; returns it in canonical form (every day present, intervals sorted)."""
    if not isinstance(week, dict) or set(week) - set(DAYS):
        raise Invalid(f"Working hours name the days {', '.join(DAYS)}.", code="invalid_hours")
    out: dict[str, list[list[str]]] = {}
    for day in DAYS:
        intervals = week.get(day, [])
        if not isinstance(intervals, list) or len(intervals) > 6:
            raise Invalid("Each day has at most 6 intervals.", code="invalid_hours")
        parsed = []
        for item in intervals:
            if not isinstance(item, list) or len(item) != 2:
                raise Invalid("An interval is [start, end].", code="invalid_hours")
            start, end = _minutes(item[0]), _minutes(item[1])
            if start >= end:
                raise Invalid("An interval ends after it starts.", code="invalid_hours")
            parsed.append((start, end, item))
        parsed.sort()
        for (_s1, e1, _), (s2, _e2, _) in itertools.pairwise(parsed):
            if s2 < e1:
                raise Invalid("Intervals of a day must not overlap.", code="invalid_hours")
        out[day] = [list(p[2]) for p in parsed]
    return out


def parse_week(week: dict[str, list[list[str]]]) -> Week:
    return {
        i: [(_minutes(a), _minutes(b)) for a, b in week.get(day, [])] for i, day in enumerate(DAYS)
    }


def check_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid("Unknown time zone, e.g. Europe/Berlin.", code="invalid_timezone") from None


def _local_ms(tz: ZoneInfo, day: date, minute: int) -> int:
    """Epoch ms of a wall-clock minute of a local day (24:00 is the next day's midnight)."""
    if minute >= 24 * 60:
        day, minute = day + timedelta(days=1), minute - 24 * 60
    local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=tz)
    return int(local.timestamp() * 1000)


def _intervals(week: Week, tz: ZoneInfo, start_ms: int, days: int) -> list[tuple[int, int]]:
    """Working intervals as epoch-ms ranges from the day of start_ms on, for `days` days."""
    first = datetime.fromtimestamp(start_ms / 1000, tz).date()
    out = []
    for offset in range(-1, days):
        day = first + timedelta(days=offset)
        for a, b in week.get(day.weekday(), []):
            out.append((_local_ms(tz, day, a), _local_ms(tz, day, b)))
    return out


def is_working(week: Week, tz: ZoneInfo, at_ms: int) -> bool:
    return any(a <= at_ms < b for a, b in _intervals(week, tz, at_ms, 1))


def next_working_start(week: Week, tz: ZoneInfo, at_ms: int) -> int | None:
    """at_ms itself if it is working time, else the next start; None for an empty week."""
    for a, b in _intervals(week, tz, at_ms, 8):
        if b > at_ms:
            return max(a, at_ms)
    return None


def add_working_minutes(week: Week, tz: ZoneInfo, start_ms: int, minutes: int) -> int:
    """The moment `minutes` of working time after start_ms. A week without working time counts
    wall-clock time (nobody set hours: nothing waits forever)."""
    left = minutes * MINUTE_MS
    cursor = start_ms
    for _ in range(60):  # at most 60 weeks ahead
        intervals = _intervals(week, tz, cursor, 8)
        if not intervals:
            return start_ms + minutes * MINUTE_MS
        for a, b in intervals:
            if b <= cursor:
                continue
            begin = max(a, cursor)
            if b - begin >= left:
                return begin + left
            left -= b - begin
            cursor = b
    return start_ms + minutes * MINUTE_MS


# --- the business's rules ---------------------------------------------------------------------


def get_rules(rx: Rx, tenant_id: str) -> dict[str, Any]:
    row = rx.conn.execute(
        select(s.business_rules).where(s.business_rules.c.tenant_id == tenant_id)
    ).first()
    if row is None:
        return {
            "timezone": DEFAULT_TIMEZONE,
            "hours": check_week(DEFAULT_WEEK),
            "reply_minutes": DEFAULT_REPLY_MINUTES,
            "escalation_minutes": DEFAULT_ESCALATION_MINUTES,
        }
    return {
        "timezone": row.timezone,
        "hours": json.loads(row.hours),
        "reply_minutes": row.reply_minutes,
        "escalation_minutes": row.escalation_minutes,
    }


def do_set_rules(tx: Tx, actor: Actor, changes: dict[str, Any]) -> dict[str, Any]:
    if not actor.is_admin:
        raise Forbidden("Only owner and office change the business's time rules.")
    rules = {**get_rules(tx, actor.tenant_id), **changes}
    check_timezone(rules["timezone"])
    rules["hours"] = check_week(rules["hours"])
    for key, upper in (("reply_minutes", 7 * 24 * 60), ("escalation_minutes", 24 * 60)):
        value = rules[key]
        if not isinstance(value, int) or not 1 <= value <= upper:
            raise Invalid(f"{key} is 1 to {upper}.", code=f"invalid_{key}")
    values = {
        "timezone": rules["timezone"],
        "hours": json.dumps(rules["hours"]),
        "reply_minutes": rules["reply_minutes"],
        "escalation_minutes": rules["escalation_minutes"],
        "updated_at": tx.now_ms,
    }
    exists = tx.conn.execute(
        select(s.business_rules.c.tenant_id).where(s.business_rules.c.tenant_id == actor.tenant_id)
    ).first()
    if exists:
        tx.conn.execute(
            update(s.business_rules)
            .where(s.business_rules.c.tenant_id == actor.tenant_id)
            .values(**values)
        )
    else:
        tx.conn.execute(insert(s.business_rules), {"tenant_id": actor.tenant_id, **values})
    tx.append(actor.tenant_id, "rules.changed", dict(rules), actor_id=actor.user_id)
    return get_rules(tx, actor.tenant_id)


def business_week(rx: Rx, tenant_id: str) -> tuple[Week, ZoneInfo]:
    rules = get_rules(rx, tenant_id)
    return parse_week(rules["hours"]), ZoneInfo(rules["timezone"])


# --- a person's working hours -----------------------------------------------------------------


def _own_hours(rx: Rx, tenant_id: str, user_id: str) -> dict[str, list[list[str]]] | None:
    row = rx.conn.execute(
        select(s.working_hours.c.hours).where(
            s.working_hours.c.user_id == user_id, s.working_hours.c.tenant_id == tenant_id
        )
    ).first()
    return None if row is None else dict(json.loads(row.hours))


def _staff_row(rx: Rx, actor: Actor, user_id: str) -> Any:
    if actor.kind != "staff":
        raise NotFound("No such user.")
    row = get_user_row(rx, actor.tenant_id, user_id)
    if row.kind != "staff":
        raise NotFound("No such user.")
    return row


def get_working_hours(rx: Rx, actor: Actor, user_id: str) -> dict[str, Any]:
    """A colleague's working hours (staff see each other's: who can be reached when)."""
    _staff_row(rx, actor, user_id)
    own = _own_hours(rx, actor.tenant_id, user_id)
    rules = get_rules(rx, actor.tenant_id)
    return {
        "user_id": user_id,
        "timezone": rules["timezone"],
        "hours": own if own is not None else rules["hours"],
        "own": own is not None,  # False: the business's hours apply
    }


def do_set_working_hours(
    tx: Tx, actor: Actor, user_id: str, hours: dict[str, Any] | None
) -> dict[str, Any]:
    """Set (or with None reset to the business's) a person's hours: oneself, or owner/office."""
    _staff_row(tx, actor, user_id)
    if user_id != actor.user_id and not actor.is_admin:
        raise Forbidden("Only owner and office set a colleague's working hours.")
    wh = s.working_hours
    tx.conn.execute(wh.delete().where(wh.c.user_id == user_id))
    week = None
    if hours is not None:
        week = check_week(hours)
        tx.conn.execute(
            insert(wh),
            {
                "user_id": user_id,
                "tenant_id": actor.tenant_id,
                "hours": json.dumps(week),
                "updated_at": tx.now_ms,
            },
        )
    tx.append(
        actor.tenant_id,
        "working_hours.changed",
        {"user_id": user_id, "hours": week},
        actor_id=actor.user_id,
    )
    return get_working_hours(tx, actor, user_id)


def person_week(rx: Rx, tenant_id: str, user_id: str) -> tuple[Week, ZoneInfo]:
    rules = get_rules(rx, tenant_id)
    own = _own_hours(rx, tenant_id, user_id)
    return parse_week(own if own is not None else rules["hours"]), ZoneInfo(rules["timezone"])


def may_notify(rx: Rx, tenant_id: str, user_id: str, at_ms: int, *, urgent: bool) -> bool:
    """THE rule: a person is notified within their working hours; urgent things always."""
    if urgent:
        return True
    week, tz = person_week(rx, tenant_id, user_id)
    return is_working(week, tz, at_ms)


def notify_after(rx: Rx, tenant_id: str, user_id: str, at_ms: int, *, urgent: bool) -> int:
    """When a notification made at at_ms may reach the person."""
    if urgent:
        return at_ms
    week, tz = person_week(rx, tenant_id, user_id)
    start = next_working_start(week, tz, at_ms)
    return at_ms if start is None else start


def get_notify_rule(
    rx: Rx, actor: Actor, user_id: str, *, urgent: bool, at_ms: int | None = None
) -> dict[str, Any]:
    _staff_row(rx, actor, user_id)
    at = rx.now_ms if at_ms is None else at_ms
    return {
        "user_id": user_id,
        "at": at,
        "urgent": urgent,
        "notify_now": may_notify(rx, actor.tenant_id, user_id, at, urgent=urgent),
        "deliver_after": notify_after(rx, actor.tenant_id, user_id, at, urgent=urgent),
    }


# --- notifications ----------------------------------------------------------------------------


def do_notify(tx: Tx, *, tenant_id: str, user_id: str, kind: str, ref_id: str, urgent: bool) -> str:
    notification_id = new_id()
    tx.conn.execute(
        insert(s.notifications),
        {
            "id": notification_id,
            "tenant_id": tenant_id,
            "user_id": user_id,
            "kind": kind,
            "ref_id": ref_id,
            "urgent": urgent,
            "created_at": tx.now_ms,
            "deliver_after": notify_after(tx, tenant_id, user_id, tx.now_ms, urgent=urgent),
            "read_at": None,
        },
    )
    return notification_id


def get_notifications(rx: Rx, actor: Actor, *, include_held: bool = False) -> list[dict[str, Any]]:
    """The actor's notifications that may reach them now (or all, with include_held)."""
    n = s.notifications
    query = select(n).where(n.c.user_id == actor.user_id, n.c.tenant_id == actor.tenant_id)
    if not include_held:
        query = query.where(n.c.deliver_after <= rx.now_ms)
    rows = rx.conn.execute(query.order_by(n.c.created_at.desc()).limit(200)).all()
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "ref_id": r.ref_id,
            "urgent": bool(r.urgent),
            "created_at": r.created_at,
            "deliver_after": r.deliver_after,
            "read": r.read_at is not None,
        }
        for r in rows
    ]

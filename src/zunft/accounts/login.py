"""Logging in with password (and second factor), with throttling and lockout.

Password hashing is slow on purpose (Argon2id), so it runs in the request's thread, never in
the single writer: the writer only records the outcome. Policy, with its reasons:
- the first FREE_FAILURES failures cost nothing (typos happen, gloves are thick);
- after that each attempt must wait 2^(n - FREE_FAILURES) seconds, at most MAX_DELAY_S;
- LOCK_AFTER failures in a row lock the account for LOCK_MINUTES (journaled), which bounds an
  online guessing attack at about LOCK_AFTER guesses per LOCK_MINUTES.

An attempt is counted as failed *before* its password is checked (`do_begin_attempt`, in the
writer, which sees every earlier attempt): otherwise many guesses sent at the same moment
would all pass the throttle while their slow hashes run, and only then be counted. A right
password resets the count; an attempt that turns out not to be a failure (the password was
right, but the second factor is still to come) gives its count back (`do_release_attempt`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update

from zunft.accounts.sessions import NewSession, do_create_session
from zunft.accounts.totp import matching_step
from zunft.accounts.users import email_index
from zunft.db import schema as s
from zunft.db.tx import Rx, Tx
from zunft.errors import Forbidden, Invalid, TooManyAttempts, Unauthenticated

if TYPE_CHECKING:
    from zunft.context import AppContext

FREE_FAILURES = 3
MAX_DELAY_S = 60
LOCK_AFTER = 10
LOCK_MINUTES = 15


def delay_ms(failures: int) -> int:
    if failures < FREE_FAILURES:
        return 0
    return int(min(2 ** (failures - FREE_FAILURES), MAX_DELAY_S)) * 1000


@dataclass
class _Shadow:
    """The throttle state an account would have, for an e-mail address with no account."""

    failed_logins: int = 0
    last_failed_at: int | None = None
    locked_until: int | None = None


class ShadowThrottle:
    """Slows down and locks e-mail addresses that have no account exactly as real accounts
    are: otherwise the fourth wrong guess would answer 429 for an account and 401 for
    nobody, telling an attacker which addresses exist. Kept in memory (bounded); a restart
    forgets it, which only makes a guesser's life easier for addresses that lead nowhere."""

    MAX_KEYS = 10_000

    def __init__(self) -> None:
        self._state: dict[tuple[str, str], _Shadow] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> _Shadow:
        with self._lock:
            return self._state.get(key) or _Shadow()

    def attempt(self, key: tuple[str, str], now: int) -> None:
        """Check the throttle and count the attempt as failed, in one step (every attempt at
        an address without an account fails)."""
        with self._lock:
            shadow = self._state.pop(key, None) or _Shadow()
            try:
                check_not_throttled(shadow, now)
            finally:
                self._state[key] = shadow  # most recent last
            shadow.failed_logins += 1
            shadow.last_failed_at = now
            if shadow.failed_logins >= LOCK_AFTER:
                shadow.locked_until = now + LOCK_MINUTES * 60_000
                shadow.failed_logins = 0
            while len(self._state) > self.MAX_KEYS:
                del self._state[next(iter(self._state))]


@dataclass(frozen=True)
class LoginResult:
    session: NewSession
    user_id: str
    tenant_id: str


def _invalid() -> Unauthenticated:
    return Unauthenticated("E-mail address or password is not right.", code="invalid_credentials")


def _lookup(rx: Rx, slug: str, email: str) -> tuple[Any, Any]:
    tenant = rx.conn.execute(
        select(s.tenants).where(s.tenants.c.slug == slug.strip().lower())
    ).first()
    if tenant is None:
        return None, None
    try:
        idx = email_index(rx.cipher(tenant.id), email)
    except Invalid:
        return tenant, None
    user = rx.conn.execute(
        select(s.users).where(
            s.users.c.tenant_id == tenant.id, s.users.c.email_idx == idx, s.users.c.kind == "staff"
        )
    ).first()
    return tenant, user


def do_begin_attempt(tx: Tx, *, user_id: str) -> None:
    """Refuse the attempt if the account is throttled; else count it as failed until a right
    password (do_login_success) or a release says otherwise."""
    row = tx.conn.execute(
        select(s.users.c.failed_logins, s.users.c.last_failed_at, s.users.c.locked_until).where(
            s.users.c.id == user_id
        )
    ).one()
    check_not_throttled(row, tx.now_ms)
    tx.conn.execute(
        update(s.users)
        .where(s.users.c.id == user_id)
        .values(failed_logins=s.users.c.failed_logins + 1, last_failed_at=tx.now_ms)
    )


def do_release_attempt(tx: Tx, *, user_id: str) -> None:
    """The attempt was no failure after all (right password, second factor still to come)."""
    tx.conn.execute(
        update(s.users)
        .where(s.users.c.id == user_id, s.users.c.failed_logins > 0)
        .values(failed_logins=s.users.c.failed_logins - 1)
    )


def do_record_login_failure(
    tx: Tx, *, tenant_id: str, user_id: str | None, reason: str, device_name: str
) -> None:
    """Journal a failed attempt (already counted by do_begin_attempt); lock the account when
    it has failed LOCK_AFTER times in a row."""
    payload: dict[str, Any] = {"user_id": user_id, "reason": reason, "device": device_name[:100]}
    tx.append(tenant_id, "auth.login_failed", payload, actor_id=user_id)
    if user_id is None:
        return
    failures = tx.conn.execute(
        select(s.users.c.failed_logins).where(s.users.c.id == user_id)
    ).scalar_one()
    if failures >= LOCK_AFTER:
        until = tx.now_ms + LOCK_MINUTES * 60_000
        tx.conn.execute(
            update(s.users)
            .where(s.users.c.id == user_id)
            .values(locked_until=until, failed_logins=0)
        )
        tx.append(
            tenant_id,
            "auth.account_locked",
            {"user_id": user_id, "until": until, "failures": failures},
            actor_id=user_id,
        )


def do_login_success(
    tx: Tx,
    *,
    tenant_id: str,
    user_id: str,
    kind: str,
    device_name: str,
    days: int,
    totp_step: int | None,
    new_hash: str | None,
) -> NewSession:
    values: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
    if totp_step is not None:
        # The code was checked outside the writer; two requests with the same code can both
        # pass that check, so spending its time step is decided here, once.
        last = s.users.c.totp_last_step
        spent = tx.conn.execute(
            update(s.users)
            .where(s.users.c.id == user_id, or_(last.is_(None), last < totp_step))
            .values(totp_last_step=totp_step)
        ).rowcount
        if spent != 1:
            raise Unauthenticated("The code is not right.", code="invalid_totp")
    if new_hash is not None:
        values["password_hash"] = new_hash
    tx.conn.execute(update(s.users).where(s.users.c.id == user_id).values(**values))
    return do_create_session(
        tx, tenant_id=tenant_id, user_id=user_id, kind=kind, device_name=device_name, days=days
    )


def check_not_throttled(user: Any, now: int) -> None:
    """Refuse an attempt while the account is locked or must wait after recent failures."""
    if user.locked_until is not None and user.locked_until > now:
        raise TooManyAttempts(
            "Too many failed attempts: the account is locked for a while.",
            code="account_locked",
            retry_after=(user.locked_until - now + 999) // 1000,
        )
    wait = delay_ms(user.failed_logins)
    if wait and user.last_failed_at is not None and now < user.last_failed_at + wait:
        raise TooManyAttempts(
            "Please wait a moment before trying again.",
            code="slow_down",
            retry_after=(user.last_failed_at + wait - now + 999) // 1000,
        )


def record_failure(ctx: AppContext, user: Any, *, reason: str, device_name: str) -> None:
    ctx.write(
        lambda tx: do_record_login_failure(
            tx, tenant_id=user.tenant_id, user_id=user.id, reason=reason, device_name=device_name
        )
    )


def login(
    ctx: AppContext,
    *,
    tenant: str,
    email: str,
    password: str,
    totp_code: str | None,
    device_name: str,
    kind: str,
) -> LoginResult:
    tenant_row, user = ctx.read(lambda rx: _lookup(rx, tenant, email))
    if tenant_row is None:
        ctx.hasher.verify(None, password)
        raise _invalid()
    if user is None:
        key = (tenant_row.id, email.strip().casefold())
        ctx.login_shadow.attempt(key, ctx.now_ms())
        ctx.hasher.verify(None, password)
        ctx.write(
            lambda tx: do_record_login_failure(
                tx,
                tenant_id=tenant_row.id,
                user_id=None,
                reason="unknown_account",
                device_name=device_name,
            )
        )
        raise _invalid()
    ctx.write(lambda tx: do_begin_attempt(tx, user_id=user.id))

    def fail(reason: str) -> None:
        record_failure(ctx, user, reason=reason, device_name=device_name)

    def release() -> None:
        ctx.write(lambda tx: do_release_attempt(tx, user_id=user.id))

    if not ctx.hasher.verify(user.password_hash, password):
        fail("password")
        raise _invalid()
    if user.disabled_at is not None:
        release()
        raise Forbidden("This account is disabled.", code="account_disabled")
    step: int | None = None
    if user.totp_enabled:
        if not totp_code:
            release()
            raise Unauthenticated(
                "Please enter the code from your authenticator app.", code="totp_required"
            )
        secret = ctx.keys.cipher(user.tenant_id).decrypt(
            f"users.totp/{user.id}", user.totp_secret_enc
        )
        step = matching_step(secret, totp_code, ctx.clock.now(), user.totp_last_step)
        if step is None:
            fail("totp")
            raise Unauthenticated("The code is not right.", code="invalid_totp")
    new_hash = ctx.hasher.hash(password) if ctx.hasher.needs_rehash(user.password_hash) else None
    session = ctx.write(
        lambda tx: do_login_success(
            tx,
            tenant_id=user.tenant_id,
            user_id=user.id,
            kind=kind,
            device_name=device_name,
            days=ctx.settings.session_days,
            totp_step=step,
            new_hash=new_hash,
        )
    )
    return LoginResult(session, user.id, user.tenant_id)

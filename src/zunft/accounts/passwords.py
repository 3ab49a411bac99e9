"""Password policy and hashing (Argon2id via argon2-cffi)."""

from __future__ import annotations

import functools
import re
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from zunft.errors import Invalid

MIN_LENGTH = 10
MAX_LENGTH = 256  # Argon2 takes any length; this bounds the work an attacker can ask for


@functools.cache
def _common() -> frozenset[str]:
    text = resources.files("zunft.accounts").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def check_password_policy(password: str, *, personal: tuple[str, ...] = ()) -> None:
    """Raise Invalid with a German-translatable code when a password is too weak."""
    if len(password) < MIN_LENGTH:
        raise Invalid(
            f"The password needs at least {MIN_LENGTH} characters.", code="password_too_short"
        )
    if len(password) > MAX_LENGTH:
        raise Invalid(
            f"The password may have at most {MAX_LENGTH} characters.", code="password_too_long"
        )
    folded = password.casefold()
    stripped = folded.rstrip("0123456789!?.")
    if folded in _common() or stripped in _common() or len(set(folded)) < 4:
        raise Invalid("This password is too common; please choose another.", code="password_common")
    # Each word of a name or address counts on its own: "Becker-2026!" contains the name of
    # Wolfgang Becker as much as "Wolfgang Becker" does.
    words = {w for part in personal for w in re.split(r"[\W_]+", part.casefold())}
    for word in words:
        if len(word) >= 4 and word in folded:
            raise Invalid(
                "The password must not contain your name or e-mail address.",
                code="password_personal",
            )


class Hasher:
    """Argon2id with configurable cost (RFC 9106 low-memory profile by default)."""

    def __init__(
        self, *, memory_kib: int = 65536, time_cost: int = 3, parallelism: int = 4
    ) -> None:
        self._ph = PasswordHasher(
            memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism
        )
        # Verified when the account does not exist, so both paths take about as long.
        self._dummy = self._ph.hash("zunft-dummy-password")

    def hash(self, password: str) -> str:
        return self._ph.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._ph.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._ph.check_needs_rehash(stored)

"""Identifiers made by the application, so a row's identity is known before it is written
(it is the associated data of its ciphertexts) and sorts roughly by creation time."""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def new_id() -> str:
    """26 characters: 48 bits of milliseconds, then 80 random bits (like a ULID)."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


_VALUE = {c: i for i, c in enumerate(_ALPHABET)}


def id_time_ms(value: str) -> int | None:
    """When an id of new_id() was made; None for anything that is not such an id."""
    if len(value) != 26 or any(c not in _VALUE for c in value):
        return None
    number = 0
    for c in value:
        number = (number << 5) | _VALUE[c]
    return number >> 80


def new_token(nbytes: int = 32) -> str:
    """A bearer secret for sessions and invitations (256 random bits by default)."""
    return secrets.token_urlsafe(nbytes)

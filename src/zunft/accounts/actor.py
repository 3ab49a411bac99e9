"""Who is acting: the authenticated user of a request, as domain functions see them."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("owner", "office", "lead", "worker", "apprentice")
ADMIN_ROLES = frozenset({"owner", "office"})
PROJECT_CREATORS = frozenset({"owner", "office", "lead"})


@dataclass(frozen=True)
class Actor:
    tenant_id: str
    user_id: str
    role: str
    session_id: str | None = None
    kind: str = "staff"
    # Set when the business requires a second factor for this role and none is set up yet:
    # the session may then only set one up (and log out).
    needs_totp_setup: bool = False

    @property
    def is_admin(self) -> bool:
        return self.kind == "staff" and self.role in ADMIN_ROLES

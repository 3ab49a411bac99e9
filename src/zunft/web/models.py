"""Request bodies. Unknown fields are refused (extra="forbid"), so a typo never passes silently."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Str100 = Field(max_length=100)


# NUL, which PostgreSQL refuses in text, and lone UTF-16 surrogates (JSON's "\ud800"), which
# cannot be encoded as UTF-8 for hashing, encryption or storage. Either would fail late, as a 500.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _unstorable(value: Any) -> bool:
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, list | tuple):
        return any(_unstorable(v) for v in value)
    return False


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        if _unstorable(value):
            raise ValueError("must not contain NUL or unpaired surrogate characters")
        return value


class LoginIn(Body):
    tenant: str = Field(
        max_length=63, description="The business's short name (Betrieb), e.g. 'mueller'."
    )
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    totp_code: str | None = Field(default=None, max_length=10)
    device_name: str = Field(default="Browser", max_length=100)
    session_kind: Literal["cookie", "bearer"] = "cookie"


class InvitationIn(Body):
    role: Literal["owner", "office", "lead", "worker", "apprentice"]
    note: str | None = Field(default=None, max_length=200)
    days: int | None = Field(
        default=None,
        ge=1,
        le=30,
        description="Valid for this many days (default: ZUNFT_INVITATION_DAYS).",
    )
    client_id: str | None = Field(default=None, max_length=64)


class InvitationLookupIn(Body):
    token: str = Field(max_length=100)


class AcceptInvitationIn(Body):
    token: str = Field(max_length=100)
    name: str = Field(max_length=100)
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    phone: str | None = Field(default=None, max_length=30)
    device_name: str = Field(default="Browser", max_length=100)
    session_kind: Literal["cookie", "bearer"] = "cookie"


class ProfileIn(Body):
    name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=30)


class PasswordIn(Body):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class TotpCodeIn(Body):
    code: str = Field(max_length=10)


class UserChangeIn(Body):
    role: Literal["owner", "office", "lead", "worker", "apprentice"] | None = None
    disabled: bool | None = None


class TenantSettingsIn(Body):
    require_totp_admins: bool


class ProjectIn(Body):
    client_id: str | None = Field(default=None, max_length=64)
    name: str = Field(max_length=200)
    address: str | None = Field(default=None, max_length=300)
    customer_name: str | None = Field(default=None, max_length=200)
    lead_id: str | None = Field(default=None, max_length=26)
    member_ids: list[str] = Field(default_factory=list, max_length=200)


class ProjectChangeIn(Body):
    name: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=300)
    customer_name: str | None = Field(default=None, max_length=200)
    lead_id: str | None = Field(default=None, max_length=26)
    status: Literal["active", "completed", "archived"] | None = None


class MemberIn(Body):
    user_id: str = Field(max_length=26)


class ChannelIn(Body):
    client_id: str | None = Field(default=None, max_length=64)
    title: str = Field(max_length=100)
    member_ids: list[str] = Field(default_factory=list, max_length=500)


class DirectIn(Body):
    user_id: str = Field(max_length=26)


class MessageIn(Body):
    client_id: str = Field(
        max_length=64,
        description="Chosen by the client; a retry with the same id returns the first result.",
    )
    # No max_length here: the limit (10,000 characters after trimming, code text_too_long)
    # is the domain's, and max_body_bytes bounds what reaches it.
    text: str = Field(
        description=(
            "Source text; *bold*, _italic_, '- ' lists, links. "
            "Limit 10,000 characters after trimming (text_too_long)."
        ),
    )
    reply_to_id: str | None = Field(default=None, max_length=26)
    mentions: list[str] = Field(default_factory=list, max_length=50)
    attachments: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Ids of files uploaded for this chat (POST /uploads); the text may then "
        "be empty.",
    )


class MessageEditIn(Body):
    text: str = Field(description="Limit 10,000 characters after trimming (text_too_long).")


class ReadIn(Body):
    seq: int = Field(ge=0)


# --- retention, legal hold, GDPR (docs/compliance.md) ------------------------------


class RetentionRuleIn(Body):
    doc_class: str = Field(max_length=16, description="geschaeftsbrief, buchungsbeleg or intern")
    years: int = Field(description="Keep at least this many years after the calendar year")


class DocClassIn(Body):
    doc_class: str = Field(max_length=16, description="geschaeftsbrief, buchungsbeleg or intern")


class LegalHoldIn(Body):
    target_kind: Literal["project", "customer"]
    target_id: str = Field(max_length=26)
    reason: str = Field(max_length=500, description="Why, e.g. the case or file number")

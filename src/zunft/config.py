"""Settings: one declarative table drives the loader, `zunft --help` and docs/operations.md.

Every setting is read from an environment variable named ZUNFT_<NAME>. tests/test_docs.py fails
when a setting is missing from docs/operations.md, or the docs name one that does not exist.
A value that does not parse stops the program with a SettingsError naming the variable, the
value and what was expected: a typo in a unit file must not start a server on a default.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """An environment variable holds a value its setting cannot take."""


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false (also 1/0, yes/no, on/off)")


def _int(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value.strip(), 10)
        except ValueError:
            raise ValueError("expected a whole number") from None
        if number < minimum or (maximum is not None and number > maximum):
            upper = "" if maximum is None else f" and at most {maximum}"
            raise ValueError(f"expected a number of at least {minimum}{upper}")
        return number

    return parse


KINDS = ("photo", "video", "voice", "document", "file")


def parse_limits(value: str) -> dict[str, int]:
    """ "photo=50,video=4096,...": the largest file in MB per kind (docs/media.md)."""
    limits: dict[str, int] = {}
    for item in value.split(","):
        kind, sep, number = item.strip().partition("=")
        if not sep or kind.strip() not in KINDS or not number.strip().isdigit():
            raise ValueError(f"expected kind=MB pairs for {', '.join(KINDS)}")
        limits[kind.strip()] = int(number)
    missing = set(KINDS) - set(limits)
    if missing:
        raise ValueError(f"missing a limit for {', '.join(sorted(missing))}")
    return limits


def _limits(value: str) -> str:
    parse_limits(value)
    return value.replace(" ", "")


@dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str

    @property
    def env(self) -> str:
        return f"ZUNFT_{self.name.upper()}"


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data_dir",
        str,
        "./zunft-data",
        "Directory for the SQLite database, the key file and local blobs.",
    ),
    Setting(
        "database_url",
        str,
        "",
        "SQLAlchemy URL of the database; empty means SQLite at <data_dir>/zunft.sqlite3. "
        "PostgreSQL: postgresql+psycopg://user@host/dbname.",
    ),
    Setting("host", str, "127.0.0.1", "Address the server listens on."),
    Setting("port", _int(1, 65535), 8080, "Port the server listens on."),
    Setting(
        "public_url",
        str,
        "",
        "Origin users reach zunft at (https://zunft.example.de). When it starts with https://, "
        "session cookies are marked Secure.",
    ),
    Setting(
        "hosting_location",
        str,
        "",
        "Where the server stands, for the generated data protection documents "
        "(e.g. 'Rechenzentrum der Beispiel GmbH, Nürnberg, Deutschland').",
    ),
    Setting(
        "operator",
        str,
        "",
        "Who runs the server, for the generated data protection documents "
        "(e.g. 'IT-Service Schmidt, Ulm', or the business itself).",
    ),
    Setting(
        "kek",
        str,
        "",
        "Key-encryption key, 32 bytes as base64. When empty, the key is read from (or created in) "
        "<data_dir>/kek with mode 0600.",
    ),
    Setting("max_body_bytes", _int(1), 1_048_576, "Largest accepted JSON request body in bytes."),
    # The expiry is fixed at login (sessions.do_create_session); using a device does not extend it.
    Setting(
        "session_days",
        _int(1),
        90,
        "A device session not used for this many days ends (using it extends it).",
    ),
    Setting("invitation_days", _int(1, 30), 7, "Days a staff invitation link stays valid."),
    Setting(
        "customer_invitation_days",
        _int(1, 30),
        7,
        "Days a customer invitation link (and its QR code) stays valid.",
    ),
    Setting(
        "due_interval_seconds",
        _int(5, 3600),
        60,
        "How often the server checks for due report escalations, customer reminders and"
        " erasures whose retention ended.",
    ),
    Setting(
        "smtp_host",
        str,
        "",
        "SMTP server for invitation e-mails; empty means zunft sends no e-mail.",
    ),
    Setting("smtp_port", _int(1, 65535), 587, "Port of the SMTP server."),
    Setting("smtp_user", str, "", "SMTP login name; empty means no login."),
    Setting("smtp_password", str, "", "SMTP password (used with ZUNFT_SMTP_USER)."),
    Setting(
        "smtp_from",
        str,
        "",
        "Sender address of e-mails (zunft@betrieb.example); needed when ZUNFT_SMTP_HOST is set.",
    ),
    Setting(
        "smtp_starttls",
        _bool,
        True,
        "Encrypt the SMTP connection with STARTTLS (turn off only for a server on loopback).",
    ),
    Setting(
        "demo", _bool, True, "Create the demo business when `zunft serve` finds an empty database."
    ),
    # Argon2 needs at least 8 KiB per lane; the hasher uses 4 lanes.
    Setting(
        "argon2_memory_kib", _int(32), 65536, "Memory cost of Argon2id password hashing in KiB."
    ),
    Setting("argon2_time_cost", _int(1), 3, "Iterations of Argon2id password hashing."),
    Setting(
        "bus_url",
        str,
        "",
        "Bus between several app processes: redis://host:port. Empty: one process, in-process "
        "delivery.",
    ),
    Setting(
        "bus_channel",
        str,
        "zunft",
        "Name of the Redis pub/sub channel; installations sharing one Redis need different ones.",
    ),
    Setting(
        "stream_buffer_frames",
        _int(16),
        2000,
        "Frames queued for one WebSocket before its device is told to resume (close 4008).",
    ),
    Setting(
        "stream_catchup_max",
        _int(0),
        500,
        "A device more journal entries behind than this gets a compact catch-up, not a replay.",
    ),
    Setting(
        "stream_max_frame_bytes",
        _int(1024),
        262_144,
        "Largest WebSocket frame a client may send; larger ones close the socket (1009).",
    ),
    Setting(
        "stream_poll_seconds",
        _int(1),
        5,
        "With a bus: how often each process reads the journal heads in case a doorbell was lost.",
    ),
    Setting(
        "group_commit_max",
        _int(1),
        256,
        "Most writes the single writer commits in one transaction.",
    ),
    Setting(
        "blob_url",
        str,
        "",
        "Where file contents go (encrypted): empty means <data_dir>/blobs; file:///path for "
        "another directory; s3://bucket/prefix for an S3-compatible store.",
    ),
    Setting(
        "s3_endpoint",
        str,
        "",
        "Endpoint URL of the S3-compatible store (empty: AWS). Credentials come from "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.",
    ),
    Setting(
        "blob_min_free_mb",
        _int(0),
        1024,
        "Uploads are refused (507) when the blob directory's disk would have less free space.",
    ),
    Setting("media_quota_mb", _int(1), 51200, "Total size of all files of one business in MB."),
    Setting(
        "file_limits_mb",
        _limits,
        "photo=50,video=4096,voice=100,document=200,file=200",
        "Largest single file in MB per kind (photo, video, voice, document, file).",
    ),
    Setting(
        "upload_expiry_hours",
        _int(1, 720),
        24,
        "An unfinished upload not continued for this many hours expires and is deleted.",
    ),
    # --- archive: signing key, checkpoints (docs/archive.md) ---
    Setting(
        "signing_key",
        str,
        "",
        "Ed25519 signing key of the installation (checkpoints, export manifests), the 32-byte "
        "seed as base64. When empty, read from (or created in) <data_dir>/signing-key, mode 0600.",
    ),
    Setting(
        "checkpoint_dir",
        str,
        "",
        "Directory for signed journal checkpoints; empty means <data_dir>/checkpoints. Best on "
        "another disk or a mounted share the database server cannot write.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        if name == "values":  # not set yet (copy, pickle): do not recurse into ourselves
            raise AttributeError(name)
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def data_path(self) -> Path:
        return Path(self.values["data_dir"])

    @property
    def effective_database_url(self) -> str:
        url: str = self.values["database_url"]
        if url:
            return url
        return f"sqlite:///{(self.data_path / 'zunft.sqlite3').resolve()}"

    @property
    def checkpoint_path(self) -> Path:
        configured: str = self.values["checkpoint_dir"]
        return Path(configured) if configured else self.data_path / "checkpoints"

    @property
    def secure_cookies(self) -> bool:
        return str(self.values["public_url"]).startswith("https://")

    def with_overrides(self, **overrides: Any) -> Settings:
        unknown = set(overrides) - set(_BY_NAME)
        if unknown:
            raise KeyError(f"unknown settings: {sorted(unknown)}")
        return Settings({**self.values, **overrides})


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults, then ZUNFT_* variables from `environ` (os.environ if None), then overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = env.get(setting.env)
        if raw is None:
            values[setting.name] = setting.default
            continue
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as exc:
            raise SettingsError(f"{setting.env}={raw!r}: {exc}.") from None
    return Settings(values).with_overrides(**overrides)

"""Settings: one declarative table drives the loader, `zunft serve --help` and docs/operations.md.

Every setting is read from an environment variable named ZUNFT_<NAME>. A test
(tests/test_config.py) fails when a setting is missing from docs/operations.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


@dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str


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
    Setting("port", int, 8080, "Port the server listens on."),
    Setting(
        "public_url",
        str,
        "",
        "Origin users reach zunft at (https://zunft.example.de). When it starts with https://, "
        "session cookies are marked Secure.",
    ),
    Setting(
        "kek",
        str,
        "",
        "Key-encryption key, 32 bytes as base64. When empty, the key is read from (or created in) "
        "<data_dir>/kek with mode 0600.",
    ),
    Setting("max_body_bytes", int, 1_048_576, "Largest accepted JSON request body in bytes."),
    Setting("session_days", int, 90, "A device session not used for this many days ends."),
    Setting("invitation_days", int, 7, "Days a staff invitation link stays valid."),
    Setting(
        "demo", _bool, True, "Create the demo business when `zunft serve` finds an empty database."
    ),
    Setting("argon2_memory_kib", int, 65536, "Memory cost of Argon2id password hashing in KiB."),
    Setting("argon2_time_cost", int, 3, "Iterations of Argon2id password hashing."),
    Setting(
        "group_commit_max", int, 256, "Most writes the single writer commits in one transaction."
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
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
    def secure_cookies(self) -> bool:
        return str(self.values["public_url"]).startswith("https://")

    def with_overrides(self, **overrides: Any) -> Settings:
        unknown = set(overrides) - set(_BY_NAME)
        if unknown:
            raise KeyError(f"unknown settings: {sorted(unknown)}")
        return Settings({**self.values, **overrides})


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = env.get(f"ZUNFT_{setting.name.upper()}")
        values[setting.name] = setting.default if raw is None else setting.parse(raw)
    return Settings(values).with_overrides(**overrides)

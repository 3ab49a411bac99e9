"""The real `zunft` command, run as a subprocess the way an operator runs it.

The flow test runs twice: on SQLite in a temporary data directory, and on a scratch
PostgreSQL database made and dropped here (skipped only when PostgreSQL cannot be reached
and CI is not "true").
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from zunft.cli import build_parser

PG_URL = os.environ.get(
    "ZUNFT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
_SCRIPT = Path(sys.executable).with_name("zunft")
ZUNFT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "zunft.cli"]
PASSWORD = "Werkbank-Lötkolben-7"
HEAD = re.compile(
    r"^(?P<slug>[a-z0-9-]+): OK, (?P<count>\d+) entries, head (?P<hash>[0-9a-f]{64})$"
)


def base_env(data_dir: Path) -> dict[str, str]:
    """The caller's environment without its ZUNFT_* settings, plus a private data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZUNFT_")}
    env.update(
        ZUNFT_DATA_DIR=str(data_dir),
        # Cheap hashing keeps the subprocesses quick; the production cost is a setting.
        ZUNFT_ARGON2_MEMORY_KIB="1024",
        ZUNFT_ARGON2_TIME_COST="1",
        PYTHONUTF8="1",
    )
    return env


def zunft(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ZUNFT, *args],
        env=env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def refused(result: subprocess.CompletedProcess[str], code: int, *phrases: str) -> str:
    """A clean refusal: the exit code, one-line 'error:' messages, no traceback."""
    assert result.returncode == code, (
        f"exit {result.returncode}, expected {code}\n{result.stdout}\n{result.stderr}"
    )
    assert "Traceback" not in result.stderr, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, f"{phrase!r} not in {result.stderr!r}"
    return result.stderr


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- help -----------------------------------------------------------------------------------

# Each command's --help must say what it is for, in words an operator looks for.
PURPOSES = {
    "zunft": "messenger for craft businesses",
    "zunft serve": "start the server",
    "zunft demo": "demo business Müller Haustechnik GmbH",
    "zunft admin": "manage businesses and accounts",
    "zunft admin create-tenant": "create a business",
    "zunft admin create-user": "create a staff account",
    "zunft admin reset-password": "set a new password",
    "zunft admin set-media-limits": "storage quota",
    "zunft archive": "archive tools",
    "zunft archive verify": "hash chain",
    "zunft archive documents": "Verfahrensdokumentation",
    "zunft backup": "encrypted, consistent backup",
    "zunft restore": "empty installation",
    "zunft admin rotate-key": "new key-encryption key",
    "zunft admin sweep-files": "crash leftovers",
    "zunft archive public-key": "public signing key",
    "zunft archive checkpoint": "signed checkpoint",
    "zunft archive export": "signed ZIP",
    "zunft archive verify-export": "offline",
    "zunft gdpr": "GDPR request",
    "zunft gdpr access": "everything stored about a person",
    "zunft gdpr erase": "erasure request",
}


def _all_commands() -> list[str]:
    found = ["zunft"]

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    found.append(f"{path} {name}")
                    walk(child, f"{path} {name}")

    walk(build_parser(), "zunft")
    return found


def test_every_command_has_a_stated_purpose() -> None:
    assert sorted(_all_commands()) == sorted(PURPOSES)


@pytest.mark.parametrize("command", sorted(PURPOSES))
def test_help_exits_0_and_states_the_purpose(command: str, tmp_path: Path) -> None:
    out = ok(zunft(base_env(tmp_path / "data"), *command.split()[1:], "--help"))
    assert out.startswith("usage: " + command)
    assert PURPOSES[command].casefold() in " ".join(out.split()).casefold()
    assert not (tmp_path / "data").exists(), "--help must not create the data directory"


def test_settings_are_listed_in_the_help(tmp_path: Path) -> None:
    out = ok(zunft(base_env(tmp_path / "data"), "serve", "--help"))
    assert "ZUNFT_DATA_DIR" in out
    assert "ZUNFT_DEMO" in out


def test_no_command_is_a_usage_error(tmp_path: Path) -> None:
    result = zunft(base_env(tmp_path / "data"), "admin")
    assert result.returncode == 2
    assert "usage:" in result.stderr


# --- the flow on SQLite and PostgreSQL ------------------------------------------------------


@dataclass
class Backend:
    env: dict[str, str]
    data_dir: Path
    sql: Callable[[str], list[tuple[object, ...]]]  # runs one statement, returns its rows


def _sqlite_backend(tmp_path: Path) -> Backend:
    data = tmp_path / "data"

    def sql(statement: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(data / "zunft.sqlite3") as db:
            return db.execute(statement).fetchall()

    return Backend(base_env(data), data, sql)


@pytest.fixture
def pg_database() -> Iterator[str]:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        admin.dispose()
        message = f"PostgreSQL at {PG_URL} is not reachable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    name = f"zunft_cli_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield _sqlite_backend(tmp_path)
        return
    url: str = request.getfixturevalue("pg_database")
    env = base_env(tmp_path / "data")
    env["ZUNFT_DATABASE_URL"] = url
    engine = create_engine(url)

    def sql(statement: str) -> list[tuple[object, ...]]:
        with engine.begin() as conn:
            result = conn.execute(text(statement))
            return [tuple(r) for r in result] if result.returns_rows else []

    yield Backend(env, tmp_path / "data", sql)
    engine.dispose()


def test_admin_demo_and_verify_flow(backend: Backend) -> None:
    env, sql = backend.env, backend.sql

    # A business, with the key file made on first use, readable by its owner only.
    out = ok(zunft(env, "admin", "create-tenant", "acme", "Acme Sanitär GmbH"))
    assert out.startswith("Created business acme (")
    assert mode(backend.data_dir / "kek") == 0o600

    # An account; the password comes as one line on stdin.
    out = ok(
        zunft(
            env,
            *("admin", "create-user", "acme", "anna@acme.example", "Anna Acme"),
            *("--role", "office"),
            stdin=PASSWORD + "\n",
        )
    )
    assert out.startswith("Created office anna@acme.example (")
    [(role, first_hash)] = sql("SELECT role, password_hash FROM users")
    assert role == "office"
    assert PasswordHasher().verify(str(first_hash), PASSWORD)

    # Weak passwords are refused, and nothing is created.
    for weak, why in (
        ("kurz", "at least 10 characters"),
        ("passwort123", "too common"),
        ("Bernd-sicher-2026", "name or e-mail"),
    ):
        refused(
            zunft(
                env,
                *("admin", "create-user", "acme", "bernd@acme.example", "Bernd Acme"),
                stdin=weak + "\n",
            ),
            2,
            why,
        )
    assert sql("SELECT count(*) FROM users") == [(1,)]

    # Reset: a new password that verifies, and the account unlocked.
    sql("UPDATE users SET failed_logins = 7, locked_until = 99999999999999")
    new_password = "Rohrzange-Messing-42"
    out = ok(zunft(env, "admin", "reset-password", "acme", "anna@acme.example", stdin=new_password))
    assert "unlocked" in out
    [(new_hash, failed, locked)] = sql(
        "SELECT password_hash, failed_logins, locked_until FROM users"
    )
    assert PasswordHasher().verify(str(new_hash), new_password)
    assert (failed, locked) == (0, None)
    refused(
        zunft(env, "admin", "reset-password", "acme", "anna@acme.example", stdin="kurz"),
        2,
        "at least 10 characters",
    )
    refused(
        zunft(env, "admin", "reset-password", "acme", "nobody@acme.example", stdin=new_password),
        2,
        "No account",
    )

    # Unknown businesses: exit 2 with a message naming them.
    refused(zunft(env, "archive", "verify", "--tenant", "unknown"), 2, "'unknown'")
    refused(
        zunft(env, "admin", "create-user", "unknown", "x@y.example", "X Y", stdin=PASSWORD),
        2,
        "'unknown'",
    )
    refused(zunft(env, "admin", "create-tenant", "acme", "Again"), 2, "acme")

    # The demo refuses a database with businesses unless forced.
    refused(zunft(env, "demo"), 1, "--force")
    out = ok(zunft(env, "demo", "--force"))
    assert "Müller Haustechnik GmbH" in out
    # The demo's Meldungen board is not empty: one open report, waiting for its lead.
    assert sql(
        "SELECT r.status, r.priority FROM reports r "
        "JOIN tenants t ON t.id = r.tenant_id WHERE t.slug = 'mueller'"
    ) == [("offen", "dringend")]

    # An intact journal: exit 0, one line per business with its entry count and head hash.
    lines = ok(zunft(env, "archive", "verify")).splitlines()
    heads = {m["slug"]: m for m in map(HEAD.match, lines) if m}
    assert sorted(heads) == ["acme", "mueller"], lines
    [(seq, head_hash)] = sql(
        "SELECT h.seq, h.head_hash FROM journal_heads h "
        "JOIN tenants t ON t.id = h.tenant_id WHERE t.slug = 'acme'"
    )
    assert int(heads["acme"]["count"]) == seq
    assert heads["acme"]["hash"] == bytes(head_hash).hex()  # type: ignore[arg-type]
    only = ok(zunft(env, "archive", "verify", "--tenant", "acme")).splitlines()
    assert only == [lines[0]]

    # Change one entry behind zunft's back: verify fails and names entry 3.
    sql(
        "UPDATE journal SET kind = 'x' "
        "WHERE seq = 3 AND tenant_id = (SELECT id FROM tenants WHERE slug = 'acme')"
    )
    result = zunft(env, "archive", "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "acme: FAILED at entry 3: entry 3 was altered" in result.stdout
    assert re.search(r"^mueller: OK, \d+ entries", result.stdout, re.MULTILINE)


# --- demo -----------------------------------------------------------------------------------


def test_demo_prints_logins_and_writes_them_for_the_owner_only(tmp_path: Path) -> None:
    b = _sqlite_backend(tmp_path)
    b.data_dir.mkdir()
    stale = b.data_dir / "demo-login.txt"
    stale.write_text("old\n")
    stale.chmod(0o644)  # left readable by an earlier mistake: the new logins must not be

    out = ok(zunft(b.env, "demo"))
    assert out.splitlines()[0] == "Demo business: Müller Haustechnik GmbH (Betrieb: mueller)"
    password = re.search(r"^Password for every demo account: (Demo-\S+)$", out, re.MULTILINE)
    assert password
    for role in ("owner", "office", "lead", "worker", "apprentice"):
        assert re.search(rf"^  {role}\s+\S+@mueller-haustechnik\.example$", out, re.MULTILINE)
    assert stale.read_text(encoding="utf-8") == out
    assert mode(stale) == 0o600
    assert mode(b.data_dir / "kek") == 0o600

    # Every account has that password.
    hashes = b.sql("SELECT password_hash FROM users")
    assert len(hashes) == 5
    for (h,) in hashes:
        assert PasswordHasher().verify(str(h), password[1])
    assert HEAD.match(ok(zunft(b.env, "archive", "verify")).strip())


# --- GDPR requests --------------------------------------------------------------------------


def test_gdpr_access_and_erase_from_the_command_line(tmp_path: Path) -> None:
    import json
    import zipfile

    b = _sqlite_backend(tmp_path)
    b.data_dir.mkdir()
    ok(zunft(b.env, "demo"))
    worker = "jonas.schmitt@mueller-haustechnik.example"
    out = tmp_path / "Auskunft.zip"
    printed = ok(zunft(b.env, "gdpr", "access", "mueller", worker, "--out", str(out)))
    assert printed.startswith(f"Wrote {out}:")
    data = json.loads(zipfile.ZipFile(out).read("daten.json"))
    assert data["person"]["email"] == worker
    refused(zunft(b.env, "gdpr", "access", "mueller", worker, "--out", str(out)), 2, "exists")
    refused(zunft(b.env, "gdpr", "access", "mueller", "niemand@x.example", "--out", "x"), 2)

    answer = tmp_path / "Antwort.pdf"
    text = ok(zunft(b.env, "gdpr", "erase", "mueller", worker, "--answer", str(answer)))
    assert "Ihr Antrag auf Löschung Ihrer Daten (Art. 17 DSGVO)" in text
    assert answer.read_bytes().startswith(b"%PDF")
    assert HEAD.match(ok(zunft(b.env, "archive", "verify")).strip())


# --- keys and settings ----------------------------------------------------------------------


def test_world_readable_key_file_is_refused(tmp_path: Path) -> None:
    b = _sqlite_backend(tmp_path)
    ok(zunft(b.env, "admin", "create-tenant", "acme", "Acme"))
    kek = b.data_dir / "kek"
    assert mode(kek) == 0o600
    kek.chmod(0o644)
    for args in (("admin", "create-tenant", "b", "B"), ("archive", "verify"), ("demo",)):
        refused(zunft(b.env, *args), 2, f"error: {kek}: mode 644", "chmod 600")
    assert b.sql("SELECT slug FROM tenants") == [("acme",)]


def test_lost_key_file_is_not_silently_replaced(tmp_path: Path) -> None:
    b = _sqlite_backend(tmp_path)
    ok(zunft(b.env, "admin", "create-tenant", "acme", "Acme"))
    kek = b.data_dir / "kek"
    kek.rename(tmp_path / "kek.saved")
    refused(zunft(b.env, "admin", "create-tenant", "b", "B"), 2, "missing", "backup")
    refused(zunft(b.env, "archive", "verify"), 2, "missing")
    assert not kek.exists()
    (tmp_path / "kek.saved").rename(kek)
    ok(zunft(b.env, "archive", "verify"))


def test_wrong_key_is_named(tmp_path: Path) -> None:
    b = _sqlite_backend(tmp_path)
    ok(zunft(b.env, "admin", "create-tenant", "acme", "Acme"))
    env = {**b.env, "ZUNFT_KEK": "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="}  # 32 x "A"
    refused(zunft(env, "archive", "verify"), 2, "wrong KEK")
    refused(zunft({**b.env, "ZUNFT_KEK": "not base64!"}, "archive", "verify"), 2, "ZUNFT_KEK")


def test_verify_on_an_empty_data_dir_creates_nothing(tmp_path: Path) -> None:
    b = _sqlite_backend(tmp_path)
    refused(zunft(b.env, "archive", "verify"), 2, "no database")
    assert not b.data_dir.exists()


@pytest.mark.parametrize(
    ("name", "value", "phrase"),
    [
        ("ZUNFT_PORT", "abc", "error: ZUNFT_PORT='abc': expected a whole number"),
        ("ZUNFT_DEMO", "vielleicht", "error: ZUNFT_DEMO='vielleicht': expected true or false"),
        ("ZUNFT_SESSION_DAYS", "0", "error: ZUNFT_SESSION_DAYS='0': expected a number"),
    ],
)
def test_bad_setting_is_a_clear_error(tmp_path: Path, name: str, value: str, phrase: str) -> None:
    env = {**base_env(tmp_path / "data"), name: value}
    refused(zunft(env, "serve"), 2, phrase)
    assert not (tmp_path / "data").exists()


def test_bad_port_option_is_a_usage_error(tmp_path: Path) -> None:
    result = zunft(base_env(tmp_path / "data"), "serve", "--port", "70000")
    assert result.returncode == 2
    assert "1 to 65535" in result.stderr


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on once it is closed again
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = base_env(tmp_path / "data")
    env["ZUNFT_DATABASE_URL"] = f"postgresql+psycopg://zunft:geheim@127.0.0.1:{port}/zunft"
    stderr = refused(zunft(env, "admin", "create-tenant", "acme", "Acme"), 2, "database")
    assert "geheim" not in stderr

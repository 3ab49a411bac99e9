"""Encryption at rest: a unique marker written through every encrypted field appears in no
file under the data directory (SQLite, WAL included) and nowhere in a pg_dump."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.factories import Business, general_chat
from zunft.accounts.invitations import do_create_invitation
from zunft.accounts.users import do_create_user, do_update_profile
from zunft.context import AppContext
from zunft.messages.service import do_edit_message, do_send_message
from zunft.projects.service import do_create_project
from zunft.search.service import get_search_results


def write_markers(ctx: AppContext, biz: Business, marker: str) -> None:
    chat = general_chat(ctx, biz)
    worker = biz.actor("worker")
    msg = ctx.write(
        lambda tx: do_send_message(tx, worker, chat, text=f"Rohrbruch {marker} im Keller")
    )
    ctx.write(lambda tx: do_edit_message(tx, worker, msg["id"], text=f"Rohrbruch {marker} im Bad"))
    ctx.write(
        lambda tx: do_update_profile(tx, worker, name=f"Jonas {marker}", phone="+49 221 555 0101")
    )
    ctx.write(
        lambda tx: do_create_user(
            tx,
            tenant_id=biz.tenant_id,
            role="worker",
            name=f"Neu {marker}",
            email=f"{marker}@example.de",
            password_hash="x",
        )
    )
    ctx.write(
        lambda tx: do_create_project(
            tx,
            biz.actor("office"),
            name=f"Baustelle {marker}",
            address=f"{marker}straße 1, 50667 Köln",
            customer_name=f"Familie {marker}",
        )
    )
    ctx.write(
        lambda tx: do_create_invitation(
            tx, biz.actor("office"), role="worker", note=f"für {marker}", days=7
        )
    )


def test_marker_nowhere_at_rest(ctx: AppContext, biz: Business, tmp_path: Path) -> None:
    marker = "Zmarker" + secrets.token_hex(6)
    write_markers(ctx, biz, marker)
    assert ctx.search.settle(biz.tenant_id)  # the search index has written its postings too
    needle = marker.encode()
    if ctx.engine.dialect.name == "sqlite":
        files = [p for p in ctx.settings.data_path.rglob("*") if p.is_file()]
        assert any(p.name.endswith("-wal") for p in files), "the WAL must be part of the check"
        assert any("-search" in p.name for p in files), "the search index must be checked too"
        leaks = [
            p.name for p in files if needle in p.read_bytes() or needle.lower() in p.read_bytes()
        ]
        assert leaks == []
    else:
        pg_dump = shutil.which("pg_dump") or next(
            iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))), None
        )
        if pg_dump is None:
            pytest.fail("pg_dump is needed for this test (package postgresql-client)")
        url = make_url(ctx.settings.effective_database_url)
        dump = subprocess.run(
            [
                str(pg_dump),
                "--no-owner",
                "-h",
                url.host or "127.0.0.1",
                "-p",
                str(url.port or 5432),
                "-U",
                url.username or "postgres",
                url.database or "",
            ],
            check=True,
            capture_output=True,
        ).stdout
        assert b"CREATE TABLE public.messages" in dump  # the dump really holds the schema and data
        # bytea columns are dumped as hex: look for that spelling too.
        for spelling in (needle, needle.lower(), needle.hex().encode()):
            assert spelling not in dump
    # ... while the application still reads it back.
    found = ctx.read(lambda rx: get_search_results(rx, ctx.search, biz.actor("owner"), "Rohrbruch"))
    assert marker in found["results"][0]["text"]

"""A second, empty installation to restore into, beside the `settings` of the test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL, _counter
from zunft.config import Settings, load_settings
from zunft.context import AppContext
from zunft.db import schema as s


@pytest.fixture
def target(ctx: AppContext, settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """Empty: a data directory with only the source's key file, and an empty database."""
    data = tmp_path / "restored"
    data.mkdir(mode=0o700)
    kek = settings.data_path / "kek"
    shutil.copy2(kek, data / "kek")
    if make_url(settings.effective_database_url).get_backend_name() == "sqlite":
        yield load_settings({}, data_dir=str(data), database_url="", demo=False)
        return
    name = f"zunft_restore_{os.getpid()}_{next(_counter)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    yield load_settings({}, data_dir=str(data), database_url=url, demo=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# The search index follows the journal in its own time (zunft.search.index) and is rebuilt
# from it: its rows are not part of what a restore must give back row for row.
DERIVED = {s.search_postings.name, s.search_docs.name, s.search_progress.name}


def table_rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every zunft table but the derived ones, in primary-key order."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            out = {}
            for table in s.metadata.sorted_tables:
                if table.name in DERIVED:
                    continue
                order = list(table.primary_key.columns) or list(table.columns)
                rows = conn.execute(table.select().order_by(*order)).all()
                out[table.name] = [dict(r._mapping) for r in rows]
            return out
    finally:
        engine.dispose()


def blob_contents(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }

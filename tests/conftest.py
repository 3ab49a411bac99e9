"""Shared fixtures. Every test that takes `ctx` runs twice: on SQLite and on PostgreSQL.

The schema is migrated once per backend into a template (a file for SQLite, a template
database for PostgreSQL) and cloned for each test, so tests are isolated and fast.
PostgreSQL comes from ZUNFT_TEST_PG_URL (make test sets it). When it cannot be reached the
PostgreSQL half fails under CI=true and is skipped, loudly, elsewhere.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.factories import Business, make_business
from zunft.clock import FakeClock
from zunft.config import Settings, load_settings
from zunft.context import AppContext, open_context
from zunft.db.engine import make_engine
from zunft.db.migrate import upgrade
from zunft.web.app import create_app

PG_URL = os.environ.get(
    "ZUNFT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
_counter = itertools.count()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "zunft.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
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
    name = f"zunft_tmpl_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        data = tmp_path / "data"
        data.mkdir()
        shutil.copy(template, data / "zunft.sqlite3")
        yield f"sqlite:///{data / 'zunft.sqlite3'}"
        return
    template_name: str = request.getfixturevalue("pg_template")
    name = f"zunft_t_{os.getpid()}_{next(_counter)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return load_settings(
        {},
        data_dir=str(tmp_path / "data"),
        database_url=db_url,
        demo=False,
        # Cheap hashing keeps the suite quick; the production cost is a setting.
        argon2_memory_kib=1024,
        argon2_time_cost=1,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ctx(settings: Settings, clock: FakeClock) -> Iterator[AppContext]:
    context = open_context(settings, clock=clock, migrate=False)
    yield context
    context.close()


@pytest.fixture
def client(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx), base_url="http://127.0.0.1:8080") as c:
        yield c


@pytest.fixture
def biz(ctx: AppContext) -> Business:
    return make_business(ctx)

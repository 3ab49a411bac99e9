"""Browser tests of the web app: Debian's chromium driven by Playwright against a real zunft
server (uvicorn in a thread, serving the test's AppContext on SQLite).

Chromium must be at /usr/bin/chromium (`make test` installs it with apt-get). Without it
these tests are skipped, loudly; under CI=true they fail. Screenshots go to
test-artifacts/webapp/ (gitignored) for a person to look at."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, Business
from tests.realtime.live import Live
from zunft.context import AppContext

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "webapp"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
EXPECT_MS = 10_000  # a deadline for the page to reach a state, never a delay
expect.set_options(timeout=EXPECT_MS)


@pytest.fixture(params=["sqlite"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The browser tests run on SQLite only (the API tests cover PostgreSQL)."""
    template: Path = request.getfixturevalue("sqlite_template")
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(template, data / "zunft.sqlite3")
    return f"sqlite:///{data / 'zunft.sqlite3'}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One chromium per test module. Not per session: while Playwright's sync API runs, its
    event loop counts as the thread's running loop, and other tests call asyncio.run()."""
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: apt-get install chromium (make test does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    b = pw.chromium.launch(executable_path=CHROMIUM, args=["--disable-gpu"])
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def live(ctx: AppContext) -> Iterator[Live]:
    server = Live(ctx)
    server.start()
    yield server
    server.stop()


@dataclass
class Person:
    """One user in one browser context, with every request the page made."""

    context: Any
    page: Any
    role: str
    requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)  # uncaught exceptions in the page

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        size = self.page.viewport_size
        path = ARTIFACTS / f"{name}-{size['width']}x{size['height']}.png"
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture
def people(browser: Any, live: Live, biz: Business) -> Iterator[Callable[..., Person]]:
    """people(role, login=True, viewport=PHONE): a new browser context for one user, logged
    in through the API with a cookie session (the login screen has a test of its own)."""
    opened: list[Person] = []

    def open_person(
        role: str,
        *,
        login: bool = True,
        viewport: dict[str, int] = PHONE,
        service_workers: str = "allow",
    ) -> Person:
        # A test that intercepts requests with page.route must block the service worker:
        # once it controls the page, Chromium's requests pass its fetch handler and the
        # page's routes may no longer see them (Playwright's documented limit).
        context = browser.new_context(
            base_url=live.origin,
            viewport=viewport,
            locale="de-DE",
            timezone_id="Europe/Berlin",
            service_workers=service_workers,
        )
        context.set_default_timeout(EXPECT_MS)
        person = Person(context, None, role)
        context.on("request", lambda r: person.requests.append(r.url))

        watched: set[int] = set()

        def watch(page: Any) -> None:
            # Called by the context's "page" event and directly for the first page (the event
            # may come after new_page() returned); each page once.
            if id(page) in watched:
                return
            watched.add(id(page))
            page.on("websocket", lambda ws: person.requests.append(ws.url))
            page.on("pageerror", lambda e: person.page_errors.append(str(e)))

        context.on("page", watch)
        person.page = context.new_page()
        watch(person.page)
        if login:
            r = context.request.post(
                "/api/v1/auth/login",
                data={
                    "tenant": biz.slug,
                    "email": biz.emails[role],
                    "password": PASSWORD,
                    "session_kind": "cookie",
                    "device_name": f"Browser {role}",
                },
            )
            assert r.ok, r.text()
        opened.append(person)
        return person

    yield open_person
    for person in opened:
        foreign = [
            u
            for u in person.requests
            if not (
                u.startswith((live.origin + "/", f"blob:{live.origin}/"))  # blob: made here
                or u.startswith(f"ws://127.0.0.1:{live.port}/")
            )
        ]
        assert foreign == [], f"requests to other hosts: {foreign}"
        assert person.page_errors == [], person.page_errors
        person.context.close()

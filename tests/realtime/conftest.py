from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.realtime.live import Live
from zunft.context import AppContext


@pytest.fixture
def live(ctx: AppContext) -> Iterator[Live]:
    server = Live(ctx)
    server.start()
    yield server
    server.stop()

"""Work that falls due with time: report escalations, customer-question reminders,
erasure when retention ends (zunft.retention.erasure), and once a week the sweep of
orphaned file objects (zunft.blobs.sweep).

`run_due(ctx)` does all of it once, at the context clock's "now"; the server calls it every
ZUNFT_DUE_INTERVAL_SECONDS from a background task, and tests call it directly after moving a
FakeClock. Each part is one write through the single writer, and each is idempotent: running
it twice at the same moment changes nothing the second time.
"""

from __future__ import annotations

import asyncio
import logging

from zunft.archive.daily import write_due_checkpoints
from zunft.blobs.sweep import sweep_when_due
from zunft.context import AppContext
from zunft.customers.service import do_remind_unanswered
from zunft.reports.service import do_escalate_due
from zunft.retention.erasure import run_erasure

log = logging.getLogger(__name__)


def run_due(ctx: AppContext) -> dict[str, int | None]:
    escalated = ctx.write(do_escalate_due)
    reminded = ctx.write(do_remind_unanswered)
    checkpoints = write_due_checkpoints(ctx)  # daily, signed (docs/archive.md)
    # Erasure reports its own counts (zunft.retention.erasure.run_erasure); this answer keeps
    # its shape for the callers that compare it.
    erased = run_erasure(ctx)
    if any(erased.values()):
        log.info("retention: %s", erased)
    swept = sweep_when_due(ctx)  # last: it walks every stored object
    return {
        "escalated": escalated,
        "reminded": reminded,
        "checkpoints": checkpoints,
        "swept": None if swept is None else len(swept.orphans),  # None: not due this round
    }


async def run_due_forever(ctx: AppContext, interval_seconds: float) -> None:
    """The server's background task; a failing round is logged and the next one runs."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            await asyncio.to_thread(run_due, ctx)
        except Exception:
            log.exception("the due-work round failed")

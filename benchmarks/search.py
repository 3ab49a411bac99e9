"""Search latency over a business with 100,000 messages.

Builds a fresh data directory in a temporary folder (SQLite, or a scratch database on the
PostgreSQL server given with --database-url), creates a business with ~20 project chats through
the domain functions, sends the messages through the single writer (many per write, to make
the setup fast), then times `get_search_results` through `ctx.read` as the owner (who sees every
chat) and as a worker (member of a few chats), with one- and two-word queries.

    .venv/bin/python benchmarks/search.py
    .venv/bin/python benchmarks/search.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Prints one JSON line; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from common import (
    Business,
    bench_context,
    bench_settings,
    build_business,
    database_info,
    exit_on_sigterm,
    machine_info,
    message_text,
    percentile,
    search_query,
)
from zunft.accounts.actor import Actor
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.messages.service import do_send_message
from zunft.search.service import get_search_results

TARGET_P99_MS = 50.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def seed(ctx: AppContext, biz: Business, rng: random.Random, total: int, batch: int) -> float:
    """Send `total` messages, `batch` per writer call; returns the seconds it took."""
    chats = biz.chats
    started = time.perf_counter()
    sent = 0
    while sent < total:
        chunk: list[tuple[Actor, str, str]] = []
        for _ in range(min(batch, total - sent)):
            chat = biz.default_chat if rng.random() < 0.05 else rng.choice(chats)
            chunk.append((rng.choice(biz.members[chat]), chat, message_text(rng)))

        def send_all(tx: Any, chunk: list[tuple[Actor, str, str]] = chunk) -> int:
            for actor, chat_id, text in chunk:
                do_send_message(tx, actor, chat_id, text=text)
            return len(chunk)

        sent += ctx.write(send_all)
        if sent % 10_000 < batch:
            rate = sent / (time.perf_counter() - started)
            log(f"  {sent:>7} messages sent ({rate:,.0f}/s)")
    return time.perf_counter() - started


def run_queries(
    ctx: AppContext, who: list[tuple[str, Actor]], rng: random.Random, n: int
) -> list[dict[str, Any]]:
    """n searches, cycling through (who, 1 word), (who, 2 words) for every actor."""
    samples = []
    shapes = [(name, actor, words) for name, actor in who for words in (1, 2)]
    for i in range(n):
        name, actor, words = shapes[i % len(shapes)]
        query = search_query(rng, words)
        search: Callable[[Any], dict[str, Any]] = lambda rx, a=actor, q=query: (  # noqa: E731
            get_search_results(rx, ctx.search, a, q)
        )
        t0 = time.perf_counter()
        ctx.search.settle(actor.tenant_id)  # as the route does: one look at the journal head
        result = ctx.read(search)
        ms = (time.perf_counter() - t0) * 1000
        samples.append(
            {"who": name, "words": words, "ms": ms, "hits": len(result["results"]), "q": query}
        )
    return samples


def summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    ms = sorted(x["ms"] for x in samples)
    return {
        "queries": len(samples),
        "p50_ms": round(percentile(ms, 50), 2),
        "p90_ms": round(percentile(ms, 90), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(ms[-1], 2),
        "mean_ms": round(sum(ms) / len(ms), 2),
        "with_hits": round(sum(1 for x in samples if x["hits"]) / len(samples), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--warmup", type=int, default=50, help="searches run but not counted")
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--workers", type=int, default=12)
    parser.add_argument("--chats-per-worker", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500, help="messages per writer call")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--no-vacuum",
        action="store_true",
        help="PostgreSQL: search right after seeding, without VACUUM ANALYZE",
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="PostgreSQL server URL; a scratch database is created on it and dropped again",
    )
    args = parser.parse_args()
    exit_on_sigterm()
    rng = random.Random(args.seed)

    with bench_settings(args.database_url) as settings, bench_context(settings) as ctx:
        db = database_info(ctx)
        log(f"search benchmark on {db['database']}: seeding {args.messages:,} messages")
        biz = build_business(
            ctx,
            rng,
            projects=args.projects,
            workers=args.workers,
            chats_per_worker=args.chats_per_worker,
        )
        seed_s = seed(ctx, biz, rng, args.messages, args.batch)
        t0 = time.perf_counter()
        if not ctx.search.settle(biz.owner.tenant_id, timeout=3600):
            raise SystemExit("the search index did not catch up")
        index_lag_s = time.perf_counter() - t0  # the indexer's work left when seeding ended
        vacuumed = False
        if db["database"] == "postgresql" and not args.no_vacuum:
            # What autovacuum does to a table that just got 1.5 million rows (statistics for
            # the planner, the visibility map); the test server may run with autovacuum off.
            log("VACUUM ANALYZE")
            with ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                db["autovacuum"] = conn.exec_driver_sql("SHOW autovacuum").scalar()
                conn.exec_driver_sql("VACUUM ANALYZE")
            vacuumed = True
        with ctx.search.engine.connect() as conn:
            index_rows = conn.execute(select(func.count()).select_from(s.search_postings)).scalar()
        worker = biz.workers[0]
        who = [("owner", biz.owner), ("worker", worker)]
        worker_chats = sum(1 for members in biz.members.values() if worker in members)
        log(f"seeded in {seed_s:.1f} s; {args.warmup} warm-up and {args.queries} timed searches")
        run_queries(ctx, who, rng, args.warmup)
        cpu0 = time.process_time()
        samples = run_queries(ctx, who, rng, args.queries)
        cpu_ms = (time.process_time() - cpu0) / args.queries * 1000

    overall = summary(samples)
    groups = {
        f"{name}_{words}w": summary(
            [x for x in samples if x["who"] == name and x["words"] == words]
        )
        for name in ("owner", "worker")
        for words in (1, 2)
    }
    slowest = sorted(samples, key=lambda x: x["ms"], reverse=True)[:5]
    out = {
        "benchmark": "search",
        "messages": args.messages,
        **db,
        **overall,
        "target_p99_ms": TARGET_P99_MS,
        "target_met": overall["p99_ms"] <= TARGET_P99_MS,
        "cpu_ms_per_query": round(cpu_ms, 2),
        "by_shape": {
            k: {x: v[x] for x in ("p50_ms", "p99_ms", "with_hits")} for k, v in groups.items()
        },
        "slowest": [
            {k: x[k] for k in ("who", "q", "hits")} | {"ms": round(x["ms"], 1)} for x in slowest
        ],
        "vacuum_analyze_after_seed": vacuumed,
        "chats": len(biz.chats) + 1,
        "worker_chats": worker_chats,
        "index_rows": index_rows,
        "seed_s": round(seed_s, 1),
        "seed_messages_per_s": round(args.messages / seed_s),
        "index_lag_after_seed_s": round(index_lag_s, 1),
        **machine_info(),
    }
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

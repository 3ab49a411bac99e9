"""Acknowledged durable messages per second with 50 concurrent senders.

Mode "direct" (default): 50 threads, each one person of a fresh business, send messages with
`ctx.write(lambda tx: do_send_message(...))`. Each call returns only after the group commit
that holds it is durable (SQLite: WAL with synchronous=FULL, read back from the database;
PostgreSQL: synchronous_commit as configured, read back too). Throughput therefore comes from
group commit, never from weaker durability.

Mode "http": the same through the real server: `zunft serve` in a subprocess, 50 concurrent
HTTP clients (one connection each) POSTing /api/v1/chats/{id}/messages with client ids. The
client runs on the same machine and takes CPU from the server; there is no target for it.

    .venv/bin/python benchmarks/ingest.py
    .venv/bin/python benchmarks/ingest.py --mode http
    .venv/bin/python benchmarks/ingest.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Prints one JSON line; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import threading
import time
from typing import Any

from sqlalchemy import func, select

from common import (
    PASSWORD,
    Business,
    bench_context,
    bench_settings,
    build_business,
    database_info,
    exit_on_sigterm,
    free_port,
    machine_info,
    message_text,
    percentile,
    start_server,
    stop_server,
    worker_emails,
)
from zunft.accounts.actor import Actor
from zunft.config import Settings
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.messages.service import do_send_message

TARGET_PER_S = 5_000
SLUG = "mueller-haustechnik"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def senders_of(biz: Business) -> list[tuple[Actor, str]]:
    """(person, the chat they post to): every worker is in exactly one project chat."""
    out = []
    for worker in biz.workers:
        chat = next(c for c in biz.chats if worker in biz.members[c])
        out.append((worker, chat))
    return out


def latency_stats(latencies_s: list[float]) -> dict[str, float]:
    ms = sorted(x * 1000 for x in latencies_s)
    return {
        "p50_ack_ms": round(percentile(ms, 50), 2),
        "p90_ack_ms": round(percentile(ms, 90), 2),
        "p99_ack_ms": round(percentile(ms, 99), 2),
        "max_ack_ms": round(ms[-1], 2),
    }


def child_cpu_s(ctx: AppContext) -> float:
    """CPU seconds the search indexer process has used so far (0 when it is a thread)."""
    pid = ctx.search.child_pid
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def count_messages(ctx: AppContext) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(s.messages)).scalar_one())


# --- direct: threads calling ctx.write ---------------------------------------------------------


def direct_round(
    ctx: AppContext, senders: list[tuple[Actor, str]], texts: list[list[str]]
) -> tuple[float, list[float]]:
    """Every sender thread sends its texts one after the other; returns (seconds, latencies)."""
    latencies: list[list[float]] = [[] for _ in senders]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(senders) + 1)

    def run(i: int) -> None:
        actor, chat = senders[i]
        own = latencies[i]
        barrier.wait()
        try:
            for text in texts[i]:
                t0 = time.perf_counter()
                ctx.write(lambda tx, t=text: do_send_message(tx, actor, chat, text=t))
                own.append(time.perf_counter() - t0)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(senders))]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed, [x for own in latencies for x in own]


def run_direct(settings: Settings, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    with bench_context(settings, args.indexer) as ctx:
        db = database_info(ctx)
        biz = build_business(
            ctx, rng, projects=args.projects, workers=args.senders, chats_per_worker=1
        )
        senders = senders_of(biz)
        per_sender = args.messages // args.senders
        warm = max(1, args.warmup // args.senders)
        log(f"ingest (direct) on {db['database']}: {args.senders} senders, warm-up")
        direct_round(ctx, senders, [[message_text(rng) for _ in range(warm)] for _ in senders])
        texts = [[message_text(rng) for _ in range(per_sender)] for _ in senders]
        before_count = count_messages(ctx)
        batches0, writes0 = ctx.writer.batches, ctx.writer.writes
        log(f"sending {per_sender * args.senders:,} messages")
        cpu0, child0 = time.process_time(), child_cpu_s(ctx)
        elapsed, latencies = direct_round(ctx, senders, texts)
        cpu = time.process_time() - cpu0
        ctx.search.settle(senders[0][0].tenant_id, timeout=600)
        child_cpu = child_cpu_s(ctx) - child0
        batches = ctx.writer.batches - batches0
        writes = ctx.writer.writes - writes0
        stored = count_messages(ctx) - before_count
        sent = per_sender * args.senders
        return {
            "messages": sent,
            "stored": stored,
            "seconds": round(elapsed, 2),
            "messages_per_s": round(sent / elapsed),
            "batches": batches,
            "mean_batch": round(writes / batches, 1) if batches else None,
            **latency_stats(latencies),
            **db,
            "group_commit_max": settings.group_commit_max,
            "indexer": args.indexer,
            # CPU of this process (writer and senders) per message: steadier than the rate
            # when other work shares the machine.
            "cpu_ms_per_message": round(cpu / sent * 1000, 3),
            # and of the search indexer process, once it has indexed them all
            "indexer_cpu_ms_per_message": round(child_cpu / sent * 1000, 3),
        }


# --- http: zunft serve in a subprocess, asyncio clients ---------------------------------------


async def http_round(
    base: str, tokens: list[str], chats: list[str], texts: list[list[str]], tag: str
) -> tuple[float, list[float]]:
    import httpx2

    latencies: list[float] = []

    async def sender(i: int, client: httpx2.AsyncClient, start: asyncio.Event) -> None:
        await start.wait()
        url = f"/api/v1/chats/{chats[i]}/messages"
        for n, text in enumerate(texts[i]):
            t0 = time.perf_counter()
            r = await client.post(url, json={"client_id": f"{tag}-{i}-{n:06d}", "text": text})
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 201:
                raise RuntimeError(f"send failed: {r.status_code} {r.text[:200]}")

    clients = [
        httpx2.AsyncClient(
            base_url=base,
            headers={"Authorization": f"Bearer {token}"},
            limits=httpx2.Limits(max_connections=1),
            timeout=60,
        )
        for token in tokens
    ]
    try:
        start = asyncio.Event()
        tasks = [asyncio.create_task(sender(i, c, start)) for i, c in enumerate(clients)]
        await asyncio.sleep(0.1)
        t0 = time.perf_counter()
        start.set()
        await asyncio.gather(*tasks)
        return time.perf_counter() - t0, latencies
    finally:
        for c in clients:
            await c.aclose()


async def http_login(base: str, emails: list[str]) -> list[str]:
    import httpx2

    async with httpx2.AsyncClient(base_url=base, timeout=60) as client:
        deadline = time.monotonic() + 60
        while True:
            try:
                if (await client.get("/api/v1/health")).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not come up")
            await asyncio.sleep(0.2)
        tokens = []
        for email in emails:
            r = await client.post(
                "/api/v1/auth/login",
                json={
                    "tenant": SLUG,
                    "email": email,
                    "password": PASSWORD,
                    "device_name": "Lastgenerator",
                    "session_kind": "bearer",
                },
            )
            r.raise_for_status()
            tokens.append(r.json()["token"])
        return tokens


def run_http(settings: Settings, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    with bench_context(settings) as ctx:
        db = database_info(ctx)
        biz = build_business(
            ctx, rng, projects=args.projects, workers=args.senders, chats_per_worker=1
        )
    senders = senders_of(biz)
    chats = [chat for _actor, chat in senders]
    per_sender = args.messages // args.senders
    warm = max(1, args.warmup // args.senders)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = settings.data_path / "server.log"
    log(f"ingest (http) on {db['database']}: zunft serve on port {port}")
    server = start_server(settings, port, log_path)
    try:
        tokens = asyncio.run(http_login(base, worker_emails(biz, SLUG)))
        log(f"{args.senders} clients logged in; warm-up")
        asyncio.run(
            http_round(
                base,
                tokens,
                chats,
                [[message_text(rng) for _ in range(warm)] for _ in senders],
                "warm",
            )
        )
        texts = [[message_text(rng) for _ in range(per_sender)] for _ in senders]
        log(f"sending {per_sender * args.senders:,} messages")
        cpu0 = time.process_time()
        elapsed, latencies = asyncio.run(http_round(base, tokens, chats, texts, "run"))
        client_cpu = time.process_time() - cpu0
    finally:
        stop_server(server)
    with bench_context(settings) as ctx:
        stored = count_messages(ctx) - warm * args.senders
    sent = per_sender * args.senders
    return {
        "messages": sent,
        "stored": stored,
        "seconds": round(elapsed, 2),
        "messages_per_s": round(sent / elapsed),
        "batches": None,  # the writer runs in the server process
        "mean_batch": None,
        **latency_stats(latencies),
        **db,
        "group_commit_max": settings.group_commit_max,
        "client_cpu_share": round(client_cpu / elapsed / (os.cpu_count() or 1), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("direct", "http"), default="direct")
    parser.add_argument(
        "--indexer",
        choices=("process", "thread"),
        default="process",
        help="direct mode: where the search indexer runs (zunft serve: in a process)",
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=1_000, help="messages sent before timing")
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--database-url",
        default="",
        help="PostgreSQL server URL; a scratch database is created on it and dropped again",
    )
    args = parser.parse_args()
    exit_on_sigterm()
    rng = random.Random(args.seed)
    with bench_settings(args.database_url) as settings:
        run = run_http if args.mode == "http" else run_direct
        result = run(settings, args, rng)
    out = {
        "benchmark": "ingest",
        "mode": args.mode,
        "senders": args.senders,
        **result,
        "target_messages_per_s": TARGET_PER_S if args.mode == "direct" else None,
        "target_met": result["messages_per_s"] >= TARGET_PER_S if args.mode == "direct" else None,
        "acknowledged_equals_stored": result["stored"] == result["messages"],
        **machine_info(),
    }
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

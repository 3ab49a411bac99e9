"""Realtime fan-out through real server processes; prints one JSON line.

W1 (default): one chat with K members (--members, default 20), every member connected by
WebSocket; S of them (--senders) send M messages in total (--messages) over their sockets,
C in flight at a time (--inflight, shared evenly by the senders), after a warm-up of
--warmup messages per sender that is not measured. Reported: accepted
messages/s (acks), delivered messages/s (until every member has every message), end-to-end
latency from send to receipt at each member (p50, p95, p99, max), messages lost or
duplicated, and the server's peak RSS and CPU seconds.

W2 (--workload w2): N idle connected devices (--devices, up to 5,000) of the chat's members;
server memory per idle connection (RSS growth / N), then the latency of a few messages
while they are connected, measured to the last of the N devices.

Both run against `zunft serve` in subprocesses (--processes N: N servers on one database,
with the Redis bus; needs --db postgres for N > 1 to make sense) and a load generator on the
same machine, which takes CPU from the server. Run from the repository root:
    .venv/bin/python benchmarks/fanout.py --db sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect

from common import (
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
)
from zunft.accounts.sessions import do_create_session
from zunft.db import schema as s

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGET_W1_PER_S = 3_000
TARGET_W1_P99_MS = 100
TARGET_W2_KB_PER_CONN = 30


def log(msg: str) -> None:
    print(f"[fanout] {msg}", file=sys.stderr, flush=True)


def proc_stats(pid: int) -> dict[str, float]:
    """RSS now and at peak (MB) and CPU seconds of a process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    kb = {
        line.split(":")[0]: int(line.split()[1])
        for line in status.splitlines()
        if line.startswith(("VmRSS", "VmHWM"))
    }
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return {
        "rss_mb": kb["VmRSS"] / 1024,
        "peak_rss_mb": kb["VmHWM"] / 1024,
        "cpu_s": (int(fields[11]) + int(fields[12])) / ticks,
    }


@dataclass
class Member:
    user_id: str
    tokens: list[str]


@dataclass
class Receiver:
    """One connected device: when each benchmark message arrived."""

    ws: ClientConnection
    got: dict[int, float] = field(default_factory=dict)
    duplicates: int = 0
    acks: dict[str, float] = field(default_factory=dict)
    ack_waiters: dict[str, asyncio.Future[float]] = field(default_factory=dict)

    async def run(self) -> None:
        async for raw in self.ws:
            now = time.perf_counter()
            frame = orjson.loads(raw)
            if frame["type"] == "batch":
                for inner in frame["frames"]:
                    await self.handle(inner, now)
            else:
                await self.handle(frame, now)

    async def handle(self, frame: dict[str, Any], now: float) -> None:
        kind = frame["type"]
        if kind == "event" and frame["kind"] == "message.sent":
            text = frame["data"]["text"]
            if text.startswith("#"):
                n = int(text[1 : text.index(" ")])
                if n in self.got:
                    self.duplicates += 1
                else:
                    self.got[n] = now
        elif kind == "ack":
            waiter = self.ack_waiters.pop(frame["client_id"], None)
            if waiter is not None and not waiter.done():
                waiter.set_result(now)
        elif kind == "error":
            waiter = self.ack_waiters.pop(frame.get("client_id") or "", None)
            if waiter is not None and not waiter.done():
                waiter.set_exception(RuntimeError(f"send refused: {frame}"))
        elif kind == "ping":
            await self.ws.send('{"type":"pong"}')


BATCH = False  # --batch: ask the server for batch frames


async def open_device(url: str, token: str) -> Receiver:
    ws = await connect(
        url + ("?batch=1" if BATCH else ""),
        additional_headers={"Authorization": f"Bearer {token}"},
        max_size=2**22,
        max_queue=None,
        ping_interval=None,
        open_timeout=60,
    )
    while True:  # hello ... ready
        frame = orjson.loads(await ws.recv())
        if frame["type"] == "ready":
            return Receiver(ws)


def setup(settings: Any, members: int, devices_per_member: int) -> tuple[str, list[Member], Any]:
    rng = random.Random(2026)
    with bench_context(settings) as ctx:
        db = database_info(ctx)
        biz = build_business(ctx, rng, projects=1, workers=max(members - 1, 1), chats_per_worker=1)
        chat = biz.default_chat
        user_ids = [
            r.user_id
            for r in ctx.read(
                lambda rx: rx.conn.execute(
                    select(s.chat_members.c.user_id).where(s.chat_members.c.chat_id == chat)
                ).all()
            )
        ][:members]

        def sessions(tx: Any) -> list[Member]:
            out = []
            for uid in user_ids:
                tokens = [
                    do_create_session(
                        tx,
                        tenant_id=biz.tenant_id,
                        user_id=uid,
                        kind="bearer",
                        device_name=f"Gerät {d}",
                        days=1,
                    ).token
                    for d in range(devices_per_member)
                ]
                out.append(Member(uid, tokens))
            return out

        return chat, ctx.write(sessions), db


class Servers:
    def __init__(self, settings: Any, n: int, redis_url: str) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.urls: list[str] = []
        env: dict[str, str] = {}
        if n > 1:
            env = {"ZUNFT_BUS_URL": redis_url, "ZUNFT_BUS_CHANNEL": f"bench-{secrets.token_hex(4)}"}
        for i in range(n):
            port = free_port()
            log_path = settings.data_path / f"server{i}.log"
            self.procs.append(start_server(settings, port, log_path, **env))
            self.urls.append(f"ws://127.0.0.1:{port}/api/v1/stream")
        for i, url in enumerate(self.urls):
            wait_healthy(url.replace("ws://", "http://").replace("/stream", "/health"), i)

    def stats(self) -> dict[str, float]:
        total = {"rss_mb": 0.0, "peak_rss_mb": 0.0, "cpu_s": 0.0}
        for p in self.procs:
            for k, v in proc_stats(p.pid).items():
                total[k] += v
        return total

    def stop(self) -> None:
        for p in self.procs:
            stop_server(p)


def wait_healthy(url: str, i: int) -> None:
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (our own loopback URL)
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server {i} did not come up")


def latency_ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(percentile(ordered, 50) * 1000, 1),
        "p95_ms": round(percentile(ordered, 95) * 1000, 1),
        "p99_ms": round(percentile(ordered, 99) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1) if ordered else float("nan"),
    }


async def w1(urls: list[str], chat: str, members: list[Member], args: Any) -> dict[str, Any]:
    rng = random.Random(7)
    devices = [await open_device(urls[i % len(urls)], m.tokens[0]) for i, m in enumerate(members)]
    readers = [asyncio.create_task(d.run()) for d in devices]
    senders = devices[: args.senders]
    total = args.messages
    texts = [message_text(rng) for _ in range(256)]
    sent_at: dict[int, float] = {}
    acked_at: dict[int, float] = {}
    window = max(1, args.inflight // len(senders))
    tag = secrets.token_hex(3)

    async def sender(k: int, dev: Receiver) -> None:
        mine = range(k, total, len(senders))
        slots = asyncio.Semaphore(window)

        async def one(n: int) -> None:
            client_id = f"{tag}-{n:07d}"
            fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            dev.ack_waiters[client_id] = fut
            frame = {
                "type": "send",
                "chat_id": chat,
                "client_id": client_id,
                "text": f"#{n} {texts[n % len(texts)]}",
            }
            sent_at[n] = time.perf_counter()
            await dev.ws.send(orjson.dumps(frame).decode())
            acked_at[n] = await fut
            slots.release()

        pending = []
        for n in mine:
            await slots.acquire()
            pending.append(asyncio.create_task(one(n)))
        await asyncio.gather(*pending)

    # Warm-up, not measured: every sender's first messages (the first of everything costs
    # extra in a freshly started server: statements compiled, each sender's content key for
    # the year made, caches filled), sent and delivered before the clock starts.
    if args.warmup:
        measured, total = total, args.warmup * len(senders)
        await asyncio.gather(*(sender(k, d) for k, d in enumerate(senders)))
        while any(len(d.got) < total for d in devices):
            await asyncio.sleep(0.01)
        for d in devices:
            d.got.clear()
        sent_at.clear()
        acked_at.clear()
        tag, total = secrets.token_hex(3), measured

    stats0 = args.server_stats()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    await asyncio.gather(*(sender(k, d) for k, d in enumerate(senders)))
    t_acked = time.perf_counter()
    deadline = t_acked + 60
    while time.perf_counter() < deadline and any(len(d.got) < total for d in devices):
        await asyncio.sleep(0.01)
    t_delivered = max((max(d.got.values(), default=t0) for d in devices), default=t0)
    stats1 = args.server_stats()
    client_cpu = time.process_time() - cpu0
    latencies = [at - sent_at[n] for d in devices for n, at in d.got.items() if n in sent_at]
    lost = sum(total - len(d.got) for d in devices)
    for r in readers:
        r.cancel()
    for d in devices:
        await d.ws.close()
    accepted_s = total / (t_acked - t0)
    delivered_s = total / (t_delivered - t0) if lost == 0 else None
    lat = latency_ms(latencies)
    return {
        "messages": total,
        "warmup_per_sender": args.warmup,
        "accepted_per_s": round(accepted_s),
        "delivered_per_s": round(delivered_s) if delivered_s else None,
        "deliveries": len(latencies),
        **lat,
        "ack_p99_ms": latency_ms([acked_at[n] - sent_at[n] for n in acked_at])["p99_ms"],
        "lost": lost,
        "duplicated": sum(d.duplicates for d in devices),
        "server_cpu_s": round(stats1["cpu_s"] - stats0["cpu_s"], 1),
        "server_peak_rss_mb": round(stats1["peak_rss_mb"], 1),
        # The load generator's own CPU share of the measured time: near 1.0 it is the one
        # falling behind, and its late reading shows up as latency.
        "client_cpu_share": round(client_cpu / (t_delivered - t0), 2),
        "target_met": bool(
            lost == 0
            and sum(d.duplicates for d in devices) == 0
            and accepted_s >= TARGET_W1_PER_S
            and (delivered_s or 0) >= TARGET_W1_PER_S
            and lat["p99_ms"] <= TARGET_W1_P99_MS
        ),
    }


async def w2(urls: list[str], chat: str, members: list[Member], args: Any) -> dict[str, Any]:
    tokens = [t for m in members for t in m.tokens][: args.devices]
    # Connections made before measuring (the first of everything costs extra: imports,
    # caches); their memory is not counted per connection.
    warm = [await open_device(urls[0], tokens[0])]
    before = args.server_stats()
    devices: list[Receiver] = []
    batch = 200
    for i in range(0, len(tokens), batch):
        devices.extend(
            await asyncio.gather(
                *(
                    open_device(urls[(i + j) % len(urls)], t)
                    for j, t in enumerate(tokens[i : i + batch])
                )
            )
        )
    readers = [asyncio.create_task(d.run()) for d in [*devices, *warm]]
    await asyncio.sleep(1)  # let the server settle after the connection storm
    after = args.server_stats()
    per_conn_kb = (after["rss_mb"] - before["rss_mb"]) * 1024 / len(devices)
    sender = warm[0]
    latencies: list[float] = []
    for n in range(args.probes):
        client_id = f"w2-{secrets.token_hex(4)}-{n}"
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        sender.ack_waiters[client_id] = fut
        t0 = time.perf_counter()
        await sender.ws.send(
            orjson.dumps(
                {"type": "send", "chat_id": chat, "client_id": client_id, "text": f"#{n} Probe"}
            ).decode()
        )
        await fut
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline and any(n not in d.got for d in devices):
            await asyncio.sleep(0.002)
        arrived = [d.got[n] - t0 for d in devices if n in d.got]
        latencies.append(max(arrived) if arrived else float("nan"))
    for r in readers:
        r.cancel()
    for d in [*devices, *warm]:
        await d.ws.close()
    lat = latency_ms(latencies)
    return {
        "devices": len(devices),
        "server_rss_before_mb": round(before["rss_mb"], 1),
        "server_rss_after_mb": round(after["rss_mb"], 1),
        "kb_per_idle_connection": round(per_conn_kb, 1),
        "probe_messages": args.probes,
        "latency_to_last_device_p50_ms": lat["p50_ms"],
        "latency_to_last_device_max_ms": lat["max_ms"],
        "target_kb_per_connection": TARGET_W2_KB_PER_CONN,
        "target_met": per_conn_kb <= TARGET_W2_KB_PER_CONN,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=("w1", "w2"), default="w1")
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--inflight", type=int, default=200)
    parser.add_argument(
        "--warmup", type=int, default=10, help="W1: messages per sender before measuring"
    )
    parser.add_argument("--devices", type=int, default=5_000, help="W2: idle connections")
    parser.add_argument("--probes", type=int, default=5, help="W2: messages timed")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default=PG_SERVER)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379")
    parser.add_argument(
        "--batch", action="store_true", help="devices ask for batch frames (?batch=1)"
    )
    args = parser.parse_args()
    global BATCH
    BATCH = args.batch
    exit_on_sigterm()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the servers inherit it
    args.senders = min(args.senders, args.members)
    per_member = 1 if args.workload == "w1" else -(-args.devices // args.members)
    with bench_settings(args.pg_url if args.db == "postgres" else None) as settings:
        chat, members, db = setup(settings, args.members, per_member)
        servers = Servers(settings, args.processes, args.redis_url)
        args.server_stats = servers.stats
        try:
            try:
                import uvloop

                runner = uvloop.run
            except ImportError:
                runner = asyncio.run
            run = w1 if args.workload == "w1" else w2
            log(f"{args.workload} on {db['database']} with {args.processes} process(es)")
            result = runner(run(servers.urls, chat, members, args))
        finally:
            servers.stop()
    out = {
        "benchmark": "fanout",
        "workload": args.workload,
        "members": args.members,
        "senders": args.senders if args.workload == "w1" else 1,
        "inflight": args.inflight if args.workload == "w1" else 1,
        "processes": args.processes,
        "batch_frames": args.batch,
        **result,
        **db,
        **machine_info(),
    }
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

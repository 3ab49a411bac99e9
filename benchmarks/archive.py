"""Archive benchmark: the export of one project with many messages and photos, and
`archive verify` over a long journal, each with its peak memory. Prints one JSON line.

Run from the repository root: `.venv/bin/python benchmarks/archive.py` (defaults: 100,000
messages, 1,000 photos, 1,000,000 journal entries, SQLite). `--messages 5000 --photos 50
--entries 50000` for a quick run. Figures go to docs/performance.md.

The data is written straight into the tables (bulk inserts with the real encryption, hash
chain and blob store), because sending a million entries through the writer would measure
the writer, not the archive. Each measured phase runs in a fresh interpreter (spawn), so its
peak resident memory (ru_maxrss) is its own; the baseline is that process's memory before
the phase started.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import insert, select, update

from common import (
    bench_context,
    bench_settings,
    build_business,
    database_info,
    exit_on_sigterm,
    machine_info,
)
from zunft.config import Settings
from zunft.db import schema as s
from zunft.ids import new_id
from zunft.journal.chain import canonical, entry_hash

BATCH = 5000
WORDS = ("Heizkörper", "Estrich", "Fliesen", "Rohbau", "Abnahme", "Gerüst", "Dämmung",
         "Leitung", "Kabel", "Termin", "Kunde", "Material", "Lieferung", "Baustelle")  # fmt: skip


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _rss_parts_mb() -> dict[str, float]:
    """RssAnon (the process's own memory) and RssFile (file pages it maps: SQLite's
    memory-mapped database counts here, and is given back under memory pressure)."""
    parts = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("RssAnon:", "RssFile:")):
            name, value = line.split(":", 1)
            parts[name] = round(int(value.split()[0]) / 1024, 1)
    return parts


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def photo_bytes(kb: int) -> tuple[bytes, bytes, tuple[int, int]]:
    """A JPEG of about `kb` KB (noise compresses like a real photo) and its 320 px thumb."""
    side = 400
    while True:
        img = Image.effect_noise((side * 4 // 3, side), 60).convert("RGB")
        out = io.BytesIO()
        img.save(out, "JPEG", quality=85)
        if out.tell() >= kb * 1024 or side > 4000:
            break
        side = int(side * 1.25)
    thumb = img.copy()
    thumb.thumbnail((320, 320))
    small = io.BytesIO()
    thumb.save(small, "JPEG", quality=80)
    return out.getvalue(), small.getvalue(), thumb.size


def build(
    settings: Settings, messages: int, photos: int, entries: int, photo_kb: int
) -> dict[str, Any]:
    from zunft.blobs.segments import ORIGINAL, SEGMENT_SIZE, write_whole

    rng = random.Random(7)
    with bench_context(settings) as ctx:
        biz = build_business(ctx, rng, projects=1, workers=4, chats_per_worker=1)
        chat = biz.chats[0]
        project_id = ctx.read(
            lambda rx: rx.conn.execute(
                select(s.chats.c.project_id).where(s.chats.c.id == chat)
            ).scalar_one()
        )
        senders = [a.user_id for a in biz.members[chat]]
        cipher = ctx.keys.cipher(biz.tenant_id)
        t0 = time.perf_counter()
        ids: list[str] = []
        start = 1_000_000_000_000
        with ctx.engine.begin() as conn:
            rows = []
            for i in range(messages):
                mid = new_id()
                ids.append(mid)
                text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 25)))
                rows.append(
                    {
                        "id": mid, "tenant_id": biz.tenant_id, "chat_id": chat,
                        "seq": 10_000_000 + i, "sender_id": senders[i % len(senders)],
                        "body_enc": cipher.encrypt(f"messages.body/{mid}", text),
                        "reply_to_id": ids[i - 3] if i > 3 and i % 10 == 0 else None,
                        "mentions": "[]", "mention_all": False,
                        "created_at": start + i * 60_000, "edit_count": 0,
                    }
                )  # fmt: skip
                if len(rows) >= BATCH:
                    conn.execute(insert(s.messages), rows)
                    rows = []
            if rows:
                conn.execute(insert(s.messages), rows)
        assert ctx.blobs is not None
        original, thumb, (tw, th) = photo_bytes(photo_kb)
        import hashlib

        digest = hashlib.sha256(original).digest()
        with ctx.engine.begin() as conn:
            step = max(1, messages // max(1, photos))
            for n in range(photos):
                fid = new_id()
                write_whole(ctx.blobs, cipher, fid, ORIGINAL, original)
                write_whole(ctx.blobs, cipher, fid, "thumb", thumb)
                conn.execute(
                    insert(s.blobs),
                    {
                        "id": fid, "tenant_id": biz.tenant_id, "chat_id": chat,
                        "uploader_id": senders[0], "kind": "photo", "content_type": "image/jpeg",
                        "size": len(original), "stored_bytes": len(original) + len(thumb),
                        "segment_size": SEGMENT_SIZE,
                        "sha256_enc": cipher.encrypt(f"blobs.sha256/{fid}", digest),
                        "name_enc": cipher.encrypt(f"blobs.name/{fid}", f"Baustelle {n}.jpg"),
                        "meta_enc": cipher.encrypt(f"blobs.meta/{fid}", "{}"),
                        "derivatives": json.dumps(
                            {"thumb": {"size": len(thumb), "content_type": "image/jpeg",
                                       "width": tw, "height": th}}
                        ),
                        "taken_at": start, "created_at": start,
                    },
                )  # fmt: skip
                conn.execute(
                    insert(s.message_attachments),
                    {"message_id": ids[min(n * step, messages - 1)], "position": 0,
                     "blob_id": fid, "tenant_id": biz.tenant_id},
                )  # fmt: skip
        made_export = time.perf_counter() - t0

        # A second business with a long journal, for verify.
        t0 = time.perf_counter()
        from zunft.tenants.service import do_create_tenant

        tenant = ctx.write(lambda tx: do_create_tenant(tx, slug="pruefung", name="Prüfung GmbH"))
        jcipher = ctx.keys.cipher(tenant)
        with ctx.engine.begin() as conn:
            head = conn.execute(
                select(s.journal_heads).where(s.journal_heads.c.tenant_id == tenant)
            ).one()
            prev, seq = head.head_hash, head.seq
            journal, payloads = [], []
            for i in range(entries):
                seq += 1
                payload = canonical(
                    {"message_id": f"m{i}", "chat_id": "c", "sender_id": "u",
                     "text": " ".join(WORDS[(i + k) % len(WORDS)] for k in range(8))}
                )  # fmt: skip
                phash = hashlib.sha256(payload).digest()
                ts = start + i
                ehash = entry_hash(
                    tenant_id=tenant, seq=seq, ts=ts, kind="message.sent", actor_id="u",
                    chat_id="c", prev_hash=prev, payload_digest=phash,
                )  # fmt: skip
                journal.append(
                    {"tenant_id": tenant, "seq": seq, "ts": ts, "kind": "message.sent",
                     "actor_id": "u", "chat_id": "c", "prev_hash": prev, "payload_hash": phash,
                     "entry_hash": ehash}
                )  # fmt: skip
                payloads.append(
                    {"tenant_id": tenant, "seq": seq,
                     "payload_enc": jcipher.encrypt(f"journal/{seq}", payload), "erased_at": None}
                )  # fmt: skip
                prev = ehash
                if len(journal) >= BATCH:
                    conn.execute(insert(s.journal), journal)
                    conn.execute(insert(s.journal_payloads), payloads)
                    journal, payloads = [], []
            if journal:
                conn.execute(insert(s.journal), journal)
                conn.execute(insert(s.journal_payloads), payloads)
            conn.execute(
                update(s.journal_heads)
                .where(s.journal_heads.c.tenant_id == tenant)
                .values(seq=seq, head_hash=prev)
            )
        made_journal = time.perf_counter() - t0
        if ctx.engine.dialect.name == "sqlite":
            with ctx.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return {
            "tenant_id": biz.tenant_id,
            "project_id": project_id,
            "verify_slug": "pruefung",
            "photo_bytes": len(original),
            "build_export_s": round(made_export, 1),
            "build_journal_s": round(made_journal, 1),
            "database": database_info(ctx),
        }


def phase_export(values: dict[str, Any], info: dict[str, Any], out: Any) -> None:
    from zunft.archive.export import ExportRequest, run_export
    from zunft.archive.verify_export import verify_export

    settings = Settings(values)
    with bench_context(settings) as ctx:
        base = _rss_mb()
        path = settings.data_path / "export.zip"
        t0, c0 = time.perf_counter(), time.process_time()
        summary = run_export(
            ctx, ExportRequest(info["tenant_id"], "project", info["project_id"]), path
        )
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = _peak_mb()
        t0 = time.perf_counter()
        check = verify_export(path)
        verify_seconds = time.perf_counter() - t0
        out.put(
            {
                "export_s": round(seconds, 2),
                "export_cpu_s": round(cpu, 2),
                "export_messages": summary.messages,
                "export_files": summary.files,
                "export_zip_mb": round(path.stat().st_size / 1024 / 1024, 1),
                "export_baseline_rss_mb": round(base, 1),
                "export_peak_rss_mb": round(peak, 1),
                "export_end_rss_mb": _rss_parts_mb(),
                "verify_export_s": round(verify_seconds, 2),
                "verify_export_ok": check.ok,
            }
        )


def phase_verify(values: dict[str, Any], info: dict[str, Any], out: Any) -> None:
    # What `zunft archive verify` runs: long journals in ranges on every core.
    from zunft.archive.parallel import verify_all_parallel

    settings = Settings(values)
    with bench_context(settings) as ctx:
        base = _rss_mb()
        t0, c0 = time.perf_counter(), time.process_time()
        kids0 = os.times()
        with ctx.engine.connect() as conn:
            [result] = verify_all_parallel(settings, conn, ctx.keys, info["verify_slug"])
        kids1 = os.times()
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - c0
        cpu += (kids1.children_user - kids0.children_user) + (
            kids1.children_system - kids0.children_system
        )
        worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        out.put(
            {
                "verify_s": round(seconds, 2),
                "verify_cpu_s": round(cpu, 2),
                "verify_workers": os.cpu_count(),
                "verify_worker_peak_rss_mb": round(worker_peak, 1),
                "verify_entries": result.count,
                "verify_ok": result.ok,
                "verify_entries_per_s": round(result.count / seconds),
                "verify_baseline_rss_mb": round(base, 1),
                "verify_peak_rss_mb": round(_peak_mb(), 1),
                "verify_end_rss_mb": _rss_parts_mb(),
            }
        )


def _in_child(target: Any, values: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    spawn = multiprocessing.get_context("spawn")
    queue = spawn.Queue()
    child = spawn.Process(target=target, args=(values, info, queue))
    child.start()
    result: dict[str, Any] = queue.get()
    child.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--photos", type=int, default=1_000)
    parser.add_argument("--photo-kb", type=int, default=1_000, help="size of each photo")
    parser.add_argument("--entries", type=int, default=1_000_000, help="journal entries")
    parser.add_argument("--pg", default="", help="a PostgreSQL server URL (default: SQLite)")
    args = parser.parse_args()
    exit_on_sigterm()
    with bench_settings(args.pg or None) as settings:
        info = build(settings, args.messages, args.photos, args.entries, args.photo_kb)
        values = dict(settings.values)
        result: dict[str, Any] = {
            "benchmark": "archive",
            "messages": args.messages,
            "photos": args.photos,
            "journal_entries": args.entries,
            **{
                k: v for k, v in info.items() if k not in ("tenant_id", "project_id", "verify_slug")
            },
        }
        result.update(_in_child(phase_export, values, info))
        result.update(_in_child(phase_verify, values, info))
        result["machine"] = machine_info()
    print(json.dumps(result, ensure_ascii=False))
    sys.stdout.flush()


if __name__ == "__main__":
    main()

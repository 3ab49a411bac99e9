"""The archive's commands: `zunft archive public-key | checkpoint | export | verify-export`
and `verify --checkpoint` (docs/archive.md). cli.py wires them into its parser.

Heavy imports stay inside the commands, as in cli.py: `zunft --help` should not wait for them.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zunft.config import load_settings
from zunft.errors import Invalid

if TYPE_CHECKING:
    from zunft.context import AppContext


def cmd_public_key(args: argparse.Namespace) -> int:
    from zunft.crypto.signing import key_id, load_signing_key, public_bytes, public_key_b64

    key = load_signing_key(load_settings())
    print(f"{public_key_b64(key)}  (key id {key_id(public_bytes(key))}, Ed25519)")
    return 0


def _context(settings: Any) -> AppContext:
    from zunft.cli import _open

    return _open(settings)


def cmd_checkpoint(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from zunft.archive.checkpoint import make_checkpoint, write_checkpoint_file
    from zunft.crypto.signing import load_signing_key
    from zunft.db import schema as s

    settings = load_settings()
    key = load_signing_key(settings)
    ctx = _context(settings)
    try:
        query = select(s.tenants.c.id, s.tenants.c.slug).order_by(s.tenants.c.slug)
        if args.tenant:
            query = query.where(s.tenants.c.slug == args.tenant)
        tenants = ctx.read(lambda rx: rx.conn.execute(query).all())
        if args.tenant and not tenants:
            print(f"error: No business with the short name {args.tenant!r}.", file=sys.stderr)
            return 2
        for t in tenants:
            now = ctx.now_ms()
            data = ctx.read(partial(make_checkpoint, tenant_id=t.id, key=key))
            path = write_checkpoint_file(settings.checkpoint_path, t.slug, data, now)
            print(f"{t.slug}: {path}")
    finally:
        ctx.close()
    return 0


def verify_with_checkpoint(ctx: AppContext, checkpoint_file: Path, pinned: str | None) -> int:
    """`zunft archive verify --checkpoint FILE`: the journal still holds everything the
    checkpoint recorded. The signature is checked against the installation's key (or
    --public-key)."""
    from zunft.archive.checkpoint import (
        CheckpointError,
        check_against_journal,
        cp_time,
        verify_checkpoint,
    )
    from zunft.crypto.kek import KeyError_
    from zunft.crypto.signing import decode_public_key, load_signing_key, public_bytes

    if pinned:
        public = decode_public_key(pinned)
    else:
        try:
            public = public_bytes(load_signing_key(ctx.settings, create=False))
        except KeyError_ as exc:
            print(f"error: {exc}; give the key with --public-key", file=sys.stderr)
            return 2
    try:
        cp = verify_checkpoint(checkpoint_file.read_bytes(), public_key=public)
    except OSError as exc:
        print(f"error: {checkpoint_file}: {exc.strerror}", file=sys.stderr)
        return 2
    except CheckpointError as exc:
        print(f"{checkpoint_file}: FAILED: {exc}")
        return 1
    with ctx.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            result = check_against_journal(conn, ctx.keys, cp)
    if result.ok:
        print(
            f"{cp.slug}: OK, the journal holds the {cp.count} entries of the checkpoint of "
            f"{cp_time(cp)} unchanged ({result.journal_count} entries now)"
        )
        return 0
    print(f"{cp.slug}: FAILED: {result.problem}")
    return 1


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("a day as YYYY-MM-DD") from None


def day_start_ms(value: date) -> int:
    from zunft.archive.tables import LOCAL

    return int(datetime(value.year, value.month, value.day, tzinfo=LOCAL).timestamp() * 1000)


class ProgressBar:
    """A progress bar on stderr: rewritten in place on a terminal, a line every 10 % else."""

    def __init__(self, stream: Any = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.shown = -1
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        percent = 100 if total <= 0 else min(100, done * 100 // total)
        if self.tty:
            now = time.monotonic()
            if percent == self.shown and now - self.last < 0.2:
                return
            self.last = now
            filled = self.width * percent // 100
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r[{bar}] {percent:3d} % ({done}/{total})")
        elif percent // 10 != self.shown // 10 or self.shown < 0:
            self.stream.write(f"export: {percent} % ({done}/{total})\n")
        self.shown = percent
        self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def cmd_export(args: argparse.Namespace) -> int:
    from zunft.archive.export import ExportRequest, run_export

    settings = load_settings()
    scopes = [
        (name, getattr(args, name))
        for name in ("project", "chat", "customer", "person")
        if getattr(args, name)
    ]
    if len(scopes) > 1:
        raise Invalid("Choose one of --project, --chat, --customer, --person.")
    scope, ref = scopes[0] if scopes else ("business", None)
    since = day_start_ms(args.date_from) if args.date_from else None
    until = day_start_ms(args.date_to + timedelta(days=1)) if args.date_to else None
    out = Path(args.output)
    if out.exists() and not args.force:
        raise Invalid(f"{out} exists; choose another name or use --force.")
    ctx = _context(settings)
    try:
        from zunft.cli import _tenant_id

        req = ExportRequest(
            tenant_id=_tenant_id(ctx, args.tenant),
            scope=scope,
            ref_id=ref,
            since=since,
            until=until,
            classes=frozenset(args.doc_class) if args.doc_class else None,
            include_direct=args.include_direct,
        )
        bar = ProgressBar()
        try:
            summary = run_export(ctx, req, out, progress=bar)
        finally:
            bar.finish()
    finally:
        ctx.close()
    print(
        f"{out}: {summary.chats} chats, {summary.messages} messages, {summary.files} files "
        f"({summary.bytes // 1024} KB); journal {summary.journal_count} entries, head "
        f"{summary.journal_head}"
    )
    return 0


def cmd_verify_export(args: argparse.Namespace) -> int:
    from zunft.archive.verify_export import verify_export
    from zunft.crypto.signing import decode_public_key

    pinned = decode_public_key(args.public_key) if args.public_key else None
    path = Path(args.file)
    if not path.is_file():
        print(f"error: {path} is not a file", file=sys.stderr)
        return 2
    check = verify_export(path, public_key=pinned)
    if check.ok:
        print(
            f"{path}: OK, {check.files} files unchanged, signed by key {check.key_id} "
            f"({check.business}; journal {check.journal})"
        )
        return 0
    print(f"{path}: FAILED")
    for problem in check.problems:
        print(f"  {problem}")
    return 1


def add_commands(archive: Any, command: Any) -> None:
    """Add the subcommands to `zunft archive` (`command` is cli._command)."""
    pk = command(archive, "public-key", "print the installation's public signing key (Ed25519)")
    pk.set_defaults(fn=cmd_public_key)
    cp = command(
        archive,
        "checkpoint",
        "write a signed checkpoint of each business's journal to the checkpoints directory",
        epilog="The directory is ZUNFT_CHECKPOINT_DIR (default <data_dir>/checkpoints).",
    )
    cp.add_argument("--tenant", help="only this business (short name)")
    cp.set_defaults(fn=cmd_checkpoint)
    ex = command(
        archive,
        "export",
        "export a business, project, chat, customer or person as a signed ZIP for an auditor",
        epilog="example: zunft archive export mueller --from 2025-01-01 --to 2025-12-31 "
        "-o mueller-2025.zip",
    )
    ex.add_argument("tenant", help="the business's short name")
    ex.add_argument("-o", "--output", required=True, help="the ZIP file to write")
    ex.add_argument("--project", help="only this project (id)")
    ex.add_argument("--chat", help="only this chat (id)")
    ex.add_argument("--customer", help="only this customer's chats (id)")
    ex.add_argument("--person", help="only the chats of this person (id)")
    ex.add_argument("--from", dest="date_from", type=_day, help="first day, YYYY-MM-DD")
    ex.add_argument("--to", dest="date_to", type=_day, help="last day, YYYY-MM-DD")
    ex.add_argument(
        "--class",
        dest="doc_class",
        action="append",
        help="only this document class (repeatable; docs/compliance.md)",
    )
    ex.add_argument(
        "--include-direct",
        action="store_true",
        help="also direct chats between two people (left out by default)",
    )
    ex.add_argument("--force", action="store_true", help="overwrite the output file")
    ex.set_defaults(fn=cmd_export)
    ve = command(
        archive,
        "verify-export",
        "check an export ZIP offline: every file unchanged, nothing added or removed, signed",
    )
    ve.add_argument("file", help="the export ZIP")
    ve.add_argument("--public-key", help="the installation's public key (pins it)")
    ve.set_defaults(fn=cmd_verify_export)

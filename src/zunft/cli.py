"""The `zunft` command: serve, demo, admin and archive tools (docs/operations.md).

Exit codes: 0 done; 1 refused or failed (a broken journal, `demo` on a non-empty database);
2 usage, settings, key, database or input errors (argparse also uses 2); 3 `serve` could not
start listening (uvicorn's code). Errors are one line on stderr starting with "error:", never
a traceback.

The database, crypto and web stacks are imported inside the commands: importing them takes
over a second, and `zunft --help` should not wait for that.
"""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from zunft.accounts.actor import ROLES
from zunft.archive.commands import add_commands as add_archive_commands
from zunft.backup.commands import add_commands as add_backup_commands
from zunft.config import SETTINGS, Settings, SettingsError, load_settings
from zunft.crypto.kek import KeyError_
from zunft.errors import ZunftError

if TYPE_CHECKING:
    from zunft.context import AppContext


class CliError(Exception):
    """A problem the operator can fix; printed as one line, exit code 2."""


def _settings_epilog() -> str:
    lines = ["settings (environment variables):"]
    lines += [f"  {s.env:<28} {s.help} (default: {s.default!r})" for s in SETTINGS]
    return "\n".join(lines)


def _read_password(prompt: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("Repeat: ") != first:
            raise CliError("The passwords differ.")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _sqlite_file(settings: Settings) -> str | None:
    url = settings.effective_database_url
    return url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None


def _has_tenant_keys(settings: Settings) -> bool:
    """Whether the database exists and holds wrapped data keys (it needs its old KEK)."""
    from sqlalchemy import inspect, select

    from zunft.db import schema as s
    from zunft.db.engine import make_engine

    path = _sqlite_file(settings)
    if path is not None and not os.path.exists(path):
        return False
    engine = make_engine(settings.effective_database_url, pool_size=1)
    try:
        if not inspect(engine).has_table("tenant_keys"):
            return False
        with engine.connect() as conn:
            return conn.execute(select(s.tenant_keys.c.key_id).limit(1)).first() is not None
    finally:
        engine.dispose()


def _open(settings: Settings, *, migrate: bool = True, serve: bool = False) -> AppContext:
    """open_context, but never make a new KEK for a database whose data keys need the old one:
    with a fresh key nothing stored could be read, and new data would be locked to the wrong
    key. A lost key file has to be restored from its backup instead."""
    from zunft.context import open_context

    key_missing = not settings.kek and not (settings.data_path / "kek").exists()
    if key_missing and _has_tenant_keys(settings):
        raise CliError(
            f"The key file {settings.data_path / 'kek'} is missing, but the database holds "
            "encrypted data. Restore the key file from its backup (or set ZUNFT_KEK); "
            "without it the data cannot be read."
        )
    # Only the server searches: other commands leave the search index to it (it reads
    # whatever they wrote back from the journal), instead of catching it up themselves.
    return open_context(settings, migrate=migrate, indexer="process" if serve else "off")


class _Stopped(Exception):
    """SIGTERM or SIGINT arrived: stop serving and close down in order."""


def _stop(signum: int, _frame: object) -> None:
    raise _Stopped(signum)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = load_settings()  # first: a bad setting should not wait for the imports below

    import uvicorn

    from zunft.blobs.uploads import Sweeper
    from zunft.demo import create_demo, format_login, has_any_tenant
    from zunft.web.app import create_app, server_options

    if args.host is not None:
        settings = settings.with_overrides(host=args.host)
    if args.port is not None:
        settings = settings.with_overrides(port=args.port)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again with the
    # handlers it found. Ours turn that into an exception, so the writer is drained and the
    # database closed below (instead of the process dying with the signal), and Ctrl-C ends
    # without a traceback.
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        ctx = _open(settings, serve=True)
        try:
            if settings.demo and not has_any_tenant(ctx):
                login = create_demo(ctx)
                print("Created the demo business.\n" + format_login(login), flush=True)
            elif settings.demo and (settings.data_path / "demo-login.txt").exists():
                print(f"Demo logins: see {settings.data_path / 'demo-login.txt'}", flush=True)
            print(f"zunft listens on http://{settings.host}:{settings.port}", flush=True)
            sweeper = Sweeper(ctx).start()  # abandoned uploads (docs/media.md)
            try:
                uvicorn.run(
                    create_app(ctx, background=True),
                    host=settings.host,
                    port=settings.port,
                    log_level="info",
                    **server_options(ctx),
                )
            finally:
                sweeper.stop()
        finally:
            ctx.close()
    except _Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from zunft.demo import create_demo, format_login, has_any_tenant

    ctx = _open(load_settings())
    try:
        if has_any_tenant(ctx) and not args.force:
            print(
                "The database has businesses already; use --force to add the demo anyway.",
                file=sys.stderr,
            )
            return 1
        print(format_login(create_demo(ctx)), end="")
    finally:
        ctx.close()
    return 0


def _tenant_id(ctx: AppContext, slug: str) -> str:
    from zunft.tenants.service import get_tenant_by_slug

    row = ctx.read(lambda rx: get_tenant_by_slug(rx, slug))
    if row is None:
        raise ZunftError(f"No business with the short name {slug!r}.", code="unknown_tenant")
    return str(row.id)


def cmd_create_tenant(args: argparse.Namespace) -> int:
    from zunft.tenants.service import do_create_tenant

    ctx = _open(load_settings())
    try:
        tenant_id = ctx.write(lambda tx: do_create_tenant(tx, slug=args.slug, name=args.name))
        print(f"Created business {args.slug} ({tenant_id}).")
    finally:
        ctx.close()
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    from zunft.accounts.passwords import check_password_policy
    from zunft.accounts.users import do_create_user

    ctx = _open(load_settings())
    try:
        tenant_id = _tenant_id(ctx, args.tenant)
        password = _read_password("Password: ")
        check_password_policy(password, personal=(args.name, args.email.split("@")[0]))
        pw_hash = ctx.hasher.hash(password)
        user_id = ctx.write(
            lambda tx: do_create_user(
                tx,
                tenant_id=tenant_id,
                role=args.role,
                name=args.name,
                email=args.email,
                password_hash=pw_hash,
            )
        )
        print(f"Created {args.role} {args.email} ({user_id}) in {args.tenant}.")
    finally:
        ctx.close()
    return 0


def cmd_reset_password(args: argparse.Namespace) -> int:
    from zunft.accounts.passwords import check_password_policy
    from zunft.accounts.users import do_set_password, get_user_id_by_email

    ctx = _open(load_settings())
    try:
        tenant_id = _tenant_id(ctx, args.tenant)
        user_id = ctx.read(lambda rx: get_user_id_by_email(rx, tenant_id, args.email))
        password = _read_password("New password: ")
        check_password_policy(password, personal=(args.email.split("@")[0],))
        pw_hash = ctx.hasher.hash(password)
        ctx.write(
            lambda tx: do_set_password(
                tx, tenant_id=tenant_id, user_id=user_id, password_hash=pw_hash, actor_id=None
            )
        )
        print(f"New password set for {args.email}; the account is unlocked.")
    finally:
        ctx.close()
    return 0


def cmd_set_media_limits(args: argparse.Namespace) -> int:
    from zunft.blobs.service import do_set_media_limits, get_limits

    settings = load_settings()
    ctx = _open(settings)
    try:
        tenant_id = _tenant_id(ctx, args.tenant)
        ctx.write(
            lambda tx: do_set_media_limits(
                tx, tenant_id=tenant_id, quota_mb=args.quota_mb, file_limits=args.file_limits
            )
        )
        limits = ctx.read(lambda rx: get_limits(rx, tenant_id, settings))
        mb = 1024 * 1024
        files = ",".join(f"{k}={v // mb}" for k, v in limits.files.items())
        print(f"{args.tenant}: quota {limits.quota // mb} MB, largest file (MB) {files}")
    finally:
        ctx.close()
    return 0


def _person(ctx: AppContext, tenant_id: str, person: str) -> str:
    """A user id, or the e-mail address of an account."""
    from zunft.accounts.users import get_user_id_by_email

    if "@" in person:
        return str(ctx.read(lambda rx: get_user_id_by_email(rx, tenant_id, person)))
    return person


def cmd_gdpr_access(args: argparse.Namespace) -> int:
    from zunft.retention.gdpr import cli_actor, write_access_export

    ctx = _open(load_settings())
    try:
        tenant_id = _tenant_id(ctx, args.tenant)
        user_id = _person(ctx, tenant_id, args.person)
        with open(args.out, "xb") as out:
            counts = write_access_export(ctx, cli_actor(tenant_id), user_id, out)
        print(f"Wrote {args.out}: {counts['messages']} messages, {counts['files']} files.")
    except FileExistsError:
        raise CliError(f"{args.out} exists already; name a new file") from None
    finally:
        ctx.close()
    return 0


def cmd_gdpr_erase(args: argparse.Namespace) -> int:
    from zunft.retention.gdpr import cli_actor, erasure_answer_pdf, request_erasure

    ctx = _open(load_settings())
    try:
        tenant_id = _tenant_id(ctx, args.tenant)
        user_id = _person(ctx, tenant_id, args.person)
        result = request_erasure(ctx, cli_actor(tenant_id), user_id)
        print(result["answer"])
        if args.answer:
            with open(args.answer, "wb") as out:
                out.write(erasure_answer_pdf(result["answer"]))
    finally:
        ctx.close()
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from sqlalchemy import inspect

    from zunft.archive.parallel import verify_all_parallel
    from zunft.context import open_context

    settings = load_settings()
    # A check must not create what it checks: no key file, no empty database.
    db_file = _sqlite_file(settings)
    if db_file is not None and not os.path.exists(db_file):
        raise CliError(f"There is no database at {db_file}; nothing to verify.")
    if not settings.kek and not (settings.data_path / "kek").exists():
        raise CliError(
            f"The key file {settings.data_path / 'kek'} is missing; restore it from its backup "
            "or set ZUNFT_KEK. Journal payloads cannot be checked without it."
        )
    ctx = open_context(settings, migrate=False, indexer="off")
    try:
        if not inspect(ctx.engine).has_table("journal"):
            raise CliError("The database has no zunft tables; nothing to verify.")
        if args.checkpoint:
            from zunft.archive.commands import verify_with_checkpoint

            return verify_with_checkpoint(ctx, Path(args.checkpoint), args.public_key)
        with ctx.engine.connect() as conn:
            # Long journals are checked in ranges on every core (archive/parallel.py).
            results = verify_all_parallel(settings, conn, ctx.keys, args.tenant)
    finally:
        ctx.close()
    if args.tenant and not results:
        print(f"error: No business with the short name {args.tenant!r}.", file=sys.stderr)
        return 2
    failed = False
    for r in results:
        if r.ok:
            print(f"{r.slug}: OK, {r.count} entries, head {r.head_hash.hex()}")
        else:
            failed = True
            print(f"{r.slug}: FAILED at entry {r.bad_seq}: {r.problem}")
    return 1 if failed else 0


def cmd_sweep_files(args: argparse.Namespace) -> int:
    from zunft.blobs.sweep import sweep_orphans

    ctx = _open(load_settings(), migrate=False)
    try:
        result = sweep_orphans(ctx, dry_run=args.dry_run)
    finally:
        ctx.close()
    for orphan in result.orphans:
        print(orphan)
    verb = "found (dry run)" if args.dry_run else "deleted"
    print(f"{len(result.orphans)} orphaned files {verb}; {result.checked} checked")
    return 0


def cmd_documents(args: argparse.Namespace) -> int:
    from pathlib import Path

    from zunft.archive.documents import DOCUMENTS, gather_facts

    ctx = _open(load_settings(), migrate=False)
    try:
        tenant_id = _tenant_id(ctx, args.tenant)
        facts = ctx.read(lambda rx: gather_facts(rx, ctx.settings, tenant_id))
    finally:
        ctx.close()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for filename, render in DOCUMENTS.values():
        path = out / filename
        path.write_bytes(render(facts))
        print(path)
    return 0


def _port(value: str) -> int:
    port = int(value)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError("a port is 1 to 65535")
    return port


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    *,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    """A subcommand whose --help starts with the same one-line summary its parent lists."""
    return sub.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zunft",
        description="zunft: self-hosted messenger for craft businesses.",
        epilog=_settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = _command(
        sub,
        "serve",
        "start the server (creates the demo business on an empty database unless ZUNFT_DEMO=false)",
        epilog=_settings_epilog(),
    )
    serve.add_argument("--host", help="listen address (default ZUNFT_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="port (default ZUNFT_PORT or 8080)")
    serve.set_defaults(fn=cmd_serve)

    demo = _command(
        sub,
        "demo",
        "create the demo business Müller Haustechnik GmbH and print its logins",
        epilog="The logins are also written to <data_dir>/demo-login.txt (mode 0600).",
    )
    demo.add_argument("--force", action="store_true", help="even when other businesses exist")
    demo.set_defaults(fn=cmd_demo)

    admin = _command(sub, "admin", "manage businesses and accounts").add_subparsers(
        dest="admin_command", required=True, metavar="ADMIN_COMMAND"
    )
    ct = _command(
        admin,
        "create-tenant",
        "create a business (Betrieb)",
        epilog="example: zunft admin create-tenant mueller 'Müller Haustechnik GmbH'",
    )
    ct.add_argument("slug", help="short name used at login, e.g. mueller")
    ct.add_argument("name", help="full name, e.g. 'Müller Haustechnik GmbH'")
    ct.set_defaults(fn=cmd_create_tenant)
    cu = _command(
        admin,
        "create-user",
        "create a staff account (password from the terminal, or one line on stdin)",
        epilog=(
            'example: echo "$PASSWORD" | '
            "zunft admin create-user mueller buero@example.de 'Sabine Becker' --role office"
        ),
    )
    cu.add_argument("tenant", help="the business's short name")
    cu.add_argument("email", help="the login e-mail address")
    cu.add_argument("name", help="the person's name as colleagues see it")
    cu.add_argument(
        "--role",
        default="owner",
        choices=list(ROLES),
        help="what the account may do (default: owner)",
    )
    cu.set_defaults(fn=cmd_create_user)
    rp = _command(
        admin,
        "reset-password",
        "set a new password and unlock the account (password from the terminal, or stdin)",
        epilog="example: zunft admin reset-password mueller karl@example.de",
    )
    rp.add_argument("tenant", help="the business's short name")
    rp.add_argument("email", help="the account's login e-mail address")
    rp.set_defaults(fn=cmd_reset_password)
    ml = _command(
        admin,
        "set-media-limits",
        "set a business's storage quota and file size limits (without options: the settings')",
        epilog="example: zunft admin set-media-limits mueller --quota-mb 204800",
    )
    ml.add_argument("tenant", help="the business's short name")
    ml.add_argument("--quota-mb", type=int, help="total size of the business's files in MB")
    ml.add_argument(
        "--file-limits",
        help="largest file in MB per kind: photo=50,video=4096,voice=100,document=200,file=200",
    )
    ml.set_defaults(fn=cmd_set_media_limits)
    add_backup_commands(sub, admin, _command)  # backup, restore, admin rotate-key
    sweep = _command(
        admin,
        "sweep-files",
        "delete stored file objects that no file or upload refers to any more (crash leftovers)",
        epilog="Objects younger than a day are never touched. example: zunft admin sweep-files",
    )
    sweep.add_argument("--dry-run", action="store_true", help="only list what would go")
    sweep.set_defaults(fn=cmd_sweep_files)

    archive = _command(sub, "archive", "archive tools (GoBD)").add_subparsers(
        dest="archive_command", required=True, metavar="ARCHIVE_COMMAND"
    )
    verify = _command(
        archive,
        "verify",
        "recompute the journal's hash chain; exit 0 when intact, 1 naming the first bad entry",
    )
    verify.add_argument("--tenant", help="only this business (short name)")
    verify.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="prove the journal still holds everything up to this signed checkpoint",
    )
    verify.add_argument("--public-key", help="with --checkpoint: the key it must be signed with")
    verify.set_defaults(fn=cmd_verify)
    docs = _command(
        archive,
        "documents",
        "write the Verfahrensdokumentation, the Art. 30 record and the TOM as PDF",
        epilog="example: zunft archive documents mueller --out ./unterlagen",
    )
    docs.add_argument("tenant", help="the business's short name")
    docs.add_argument("--out", default=".", help="directory for the PDFs (default: here)")
    docs.set_defaults(fn=cmd_documents)
    add_archive_commands(archive, _command)

    gdpr = _command(sub, "gdpr", "answer a person's GDPR request (DSGVO)").add_subparsers(
        dest="gdpr_command", required=True, metavar="GDPR_COMMAND"
    )
    ga = _command(
        gdpr,
        "access",
        "write everything stored about a person to a ZIP (JSON, PDF summary, their files)",
        epilog="example: zunft gdpr access mueller kunde@example.de --out Auskunft.zip",
    )
    ga.add_argument("tenant", help="the business's short name")
    ga.add_argument("person", help="the person's user id or e-mail address")
    ga.add_argument("--out", required=True, help="the ZIP file to write (must not exist)")
    ga.set_defaults(fn=cmd_gdpr_access)
    ge = _command(
        gdpr,
        "erase",
        "erasure request: erase what no retention duty keeps, schedule the rest, print the answer",
        epilog="example: zunft gdpr erase mueller kunde@example.de --answer Antwort.pdf",
    )
    ge.add_argument("tenant", help="the business's short name")
    ge.add_argument("person", help="the person's user id or e-mail address")
    ge.add_argument("--answer", help="also write the answer as PDF to this file")
    ge.set_defaults(fn=cmd_gdpr_erase)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.fn(args)
    except ZunftError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except (CliError, SettingsError, KeyError_) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        # Imported here: importing them up front would slow down every `--help`.
        from sqlalchemy.exc import OperationalError

        from zunft.crypto.envelope import DecryptionError

        if isinstance(exc, DecryptionError):
            print(f"error: {exc}. Is this the database's own key-encryption key?", file=sys.stderr)
            return 2
        if isinstance(exc, OperationalError):  # unreachable server, wrong password, locked file
            first_line = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else ""
            print(f"error: the database cannot be used: {first_line}", file=sys.stderr)
            return 2
        raise
    return code


if __name__ == "__main__":
    sys.exit(main())

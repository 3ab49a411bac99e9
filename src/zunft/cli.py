"""The `zunft` command: serve, demo, admin and archive tools."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence

from zunft.accounts.passwords import check_password_policy
from zunft.config import SETTINGS, load_settings
from zunft.context import AppContext, open_context
from zunft.errors import ZunftError


def _settings_epilog() -> str:
    lines = ["settings (environment variables):"]
    lines += [f"  ZUNFT_{s.name.upper():<22} {s.help} (default: {s.default!r})" for s in SETTINGS]
    return "\n".join(lines)


def _read_password(prompt: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("Repeat: ") != first:
            raise SystemExit("The passwords differ.")
        return first
    return sys.stdin.readline().rstrip("\n")


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from zunft.demo import create_demo, format_login, has_any_tenant
    from zunft.web.app import create_app

    settings = load_settings()
    if args.host:
        settings = settings.with_overrides(host=args.host)
    if args.port:
        settings = settings.with_overrides(port=args.port)
    ctx = open_context(settings)
    try:
        if settings.demo and not has_any_tenant(ctx):
            login = create_demo(ctx)
            print("Created the demo business.\n" + format_login(login), flush=True)
        elif settings.demo and (settings.data_path / "demo-login.txt").exists():
            print(f"Demo logins: see {settings.data_path / 'demo-login.txt'}", flush=True)
        print(f"zunft listens on http://{settings.host}:{settings.port}", flush=True)
        uvicorn.run(
            create_app(ctx),
            host=settings.host,
            port=settings.port,
            log_level="info",
            proxy_headers=True,
            server_header=False,
        )
    finally:
        ctx.close()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from zunft.demo import create_demo, format_login, has_any_tenant

    ctx = open_context(load_settings())
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

    ctx = open_context(load_settings())
    try:
        tenant_id = ctx.write(lambda tx: do_create_tenant(tx, slug=args.slug, name=args.name))
        print(f"Created business {args.slug} ({tenant_id}).")
    finally:
        ctx.close()
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    from zunft.accounts.users import do_create_user

    ctx = open_context(load_settings())
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
    from zunft.accounts.users import do_set_password, get_user_id_by_email

    ctx = open_context(load_settings())
    try:
        tenant_id = _tenant_id(ctx, args.tenant)
        user_id = ctx.read(lambda rx: get_user_id_by_email(rx, tenant_id, args.email))
        password = _read_password("New password: ")
        check_password_policy(password)
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


def cmd_verify(args: argparse.Namespace) -> int:
    from zunft.archive.verify import verify_all

    ctx = open_context(load_settings(), migrate=False)
    try:
        with ctx.engine.connect() as conn:
            results = verify_all(conn, ctx.keys, args.tenant)
    finally:
        ctx.close()
    if args.tenant and not results:
        print(f"No business with the short name {args.tenant!r}.", file=sys.stderr)
        return 2
    failed = False
    for r in results:
        if r.ok:
            print(f"{r.slug}: OK, {r.count} entries, head {r.head_hash.hex()}")
        else:
            failed = True
            print(f"{r.slug}: FAILED at entry {r.bad_seq}: {r.problem}")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zunft",
        description="zunft: self-hosted messenger for craft businesses.",
        epilog=_settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve",
        help="start the server",
        epilog=_settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", help="listen address (default ZUNFT_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default ZUNFT_PORT or 8080)")
    serve.set_defaults(fn=cmd_serve)

    demo = sub.add_parser("demo", help="create the demo business Müller Haustechnik GmbH")
    demo.add_argument("--force", action="store_true", help="even when other businesses exist")
    demo.set_defaults(fn=cmd_demo)

    admin = sub.add_parser("admin", help="manage businesses and accounts").add_subparsers(
        dest="admin_command", required=True
    )
    ct = admin.add_parser("create-tenant", help="create a business (Betrieb)")
    ct.add_argument("slug", help="short name used at login, e.g. mueller")
    ct.add_argument("name", help="full name, e.g. 'Müller Haustechnik GmbH'")
    ct.set_defaults(fn=cmd_create_tenant)
    cu = admin.add_parser(
        "create-user",
        help="create a staff account (password from the terminal, or one line on stdin)",
    )
    cu.add_argument("tenant", help="the business's short name")
    cu.add_argument("email")
    cu.add_argument("name")
    cu.add_argument(
        "--role", default="owner", choices=["owner", "office", "lead", "worker", "apprentice"]
    )
    cu.set_defaults(fn=cmd_create_user)
    rp = admin.add_parser(
        "reset-password",
        help="set a new password and unlock (password from the terminal, or stdin)",
    )
    rp.add_argument("tenant")
    rp.add_argument("email")
    rp.set_defaults(fn=cmd_reset_password)

    archive = sub.add_parser("archive", help="archive tools").add_subparsers(
        dest="archive_command", required=True
    )
    verify = archive.add_parser(
        "verify",
        help="recompute the journal's hash chain; exit 0 when intact, 1 naming the first bad entry",
    )
    verify.add_argument("--tenant", help="only this business (short name)")
    verify.set_defaults(fn=cmd_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.fn(args)
    except ZunftError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())

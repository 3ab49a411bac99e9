"""The demo business a newcomer sees on first start: "Müller Haustechnik GmbH"."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select

from zunft.accounts.actor import Actor
from zunft.accounts.users import do_create_user
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.db.tx import Tx
from zunft.messages.service import do_send_message
from zunft.projects.service import do_create_project
from zunft.reports.service import do_create_report
from zunft.tenants.service import do_create_tenant

SLUG = "mueller"
NAME = "Müller Haustechnik GmbH"
STAFF = (
    ("owner", "Karl Müller", "karl.mueller@mueller-haustechnik.example"),
    ("office", "Sabine Becker", "buero@mueller-haustechnik.example"),
    ("lead", "Thomas Wagner", "thomas.wagner@mueller-haustechnik.example"),
    ("worker", "Jonas Schmitt", "jonas.schmitt@mueller-haustechnik.example"),
    ("apprentice", "Lena Hoffmann", "lena.hoffmann@mueller-haustechnik.example"),
)


@dataclass(frozen=True)
class DemoLogin:
    tenant: str
    password: str
    emails: tuple[tuple[str, str], ...]  # (role, e-mail)


def has_any_tenant(ctx: AppContext) -> bool:
    return bool(
        ctx.read(
            lambda rx: rx.conn.execute(select(func.count()).select_from(s.tenants)).scalar_one()
        )
    )


def create_demo(ctx: AppContext, password: str | None = None) -> DemoLogin:
    password = password or "Demo-" + secrets.token_urlsafe(9)
    hashes = [ctx.hasher.hash(password) for _ in STAFF]

    def build(tx: Tx) -> None:
        tenant_id = do_create_tenant(tx, slug=SLUG, name=NAME)
        ids = {}
        for (role, name, email), pw_hash in zip(STAFF, hashes, strict=True):
            ids[role] = do_create_user(
                tx, tenant_id=tenant_id, role=role, name=name, email=email, password_hash=pw_hash
            )
        owner = Actor(tenant_id, ids["owner"], "owner")
        office = Actor(tenant_id, ids["office"], "office")
        lead = Actor(tenant_id, ids["lead"], "lead")
        worker = Actor(tenant_id, ids["worker"], "worker")
        apprentice = Actor(tenant_id, ids["apprentice"], "apprentice")
        bad = do_create_project(
            tx,
            office,
            name="Badsanierung Schneider",
            address="Lindenstraße 12, 50667 Köln",
            customer_name="Familie Schneider",
            lead_id=ids["lead"],
            member_ids=[ids["worker"], ids["apprentice"]],
        )
        heizung = do_create_project(
            tx,
            owner,
            name="Heizungstausch Kita Sonnenschein",
            address="Am Stadtwald 3, 50935 Köln",
            customer_name="Stadt Köln, Kita Sonnenschein",
            lead_id=ids["lead"],
            member_ids=[ids["worker"]],
        )
        neubau = do_create_project(
            tx,
            lead,
            name="Neubau EFH Weber – Sanitärinstallation",
            address="Birkenweg 7, 51149 Köln",
            customer_name="Martin Weber",
            member_ids=[ids["apprentice"]],
        )
        conversation = [
            (lead, bad, "Morgen 7:30 Uhr Treffpunkt an der Baustelle. Fliesen sind bestellt."),
            (
                worker,
                bad,
                "Alte Rohre im Bad sind raus. Hinter der Wand *Wasserschaden*, Foto folgt.",
            ),
            (lead, bad, "Danke Jonas. Bitte vor dem Verschließen prüfen lassen, ich komme um 10."),
            (apprentice, bad, "Habe die Kupferrohre 15 mm aus dem Lager mitgebracht."),
            (owner, heizung, "Der neue Brennwertkessel wird Donnerstag geliefert."),
            (worker, heizung, "Heizkörper im Gruppenraum 2 tropft am Ventil, tausche ich heute."),
            (lead, neubau, "Vorwandinstallation im OG fertig. @alle bitte Druckprüfung eintragen."),
        ]
        for actor, project, text in conversation:
            do_send_message(tx, actor, project["chat_id"], text=text)
        # A problem report, so the Meldungen board has something to show: routed to the
        # project's lead, who has to acknowledge it.
        do_create_report(
            tx,
            worker,
            bad["id"],
            category="mangel",
            priority="dringend",
            text="Wasserschaden hinter der Wand im Bad, Putz bis 40 cm Höhe feucht.",
            position={"note": "Bad OG, Wand zum Flur"},
        )
        general = tx.conn.execute(
            select(s.chats.c.id).where(
                s.chats.c.tenant_id == tenant_id, s.chats.c.is_default.is_(True)
            )
        ).scalar_one()
        do_send_message(
            tx,
            office,
            general,
            text="Willkommen bei zunft! Baustellenfotos ab heute bitte hier statt in WhatsApp.",
        )

    ctx.write(build)
    login = DemoLogin(SLUG, password, tuple((role, email) for role, _n, email in STAFF))
    path = ctx.settings.data_path / "demo-login.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # The mode of os.open only applies to a new file; an old one may be readable by others.
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(format_login(login))
    return login


def format_login(login: DemoLogin) -> str:
    lines = [
        f"Demo business: {NAME} (Betrieb: {login.tenant})",
        f"Password for every demo account: {login.password}",
    ]
    lines += [f"  {role:<10} {email}" for role, email in login.emails]
    return "\n".join(lines) + "\n"

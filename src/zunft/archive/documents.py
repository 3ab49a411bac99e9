"""The documents an owner hands to a tax adviser or a data protection officer, generated from
the installation's actual settings and the business's actual data (docs/compliance.md):

- the Verfahrensdokumentation (GoBD process documentation): how messages are captured,
  stored, protected, kept and exported;
- the Verzeichnis von Verarbeitungstätigkeiten (record of processing activities, Art. 30
  GDPR);
- the technischen und organisatorischen Maßnahmen (TOM, Art. 32 GDPR).

`gather_facts` reads everything the documents state (no sentence claims what the settings do
not show); `render_*` turn the facts into a German PDF each. What the text cannot know (the
business's address, its data protection officer) is left as a marked blank to fill in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fpdf import FPDF
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from zunft import __version__
from zunft.accounts import login as login_rules
from zunft.accounts.actor import ADMIN_ROLES, Actor
from zunft.accounts.passwords import MIN_LENGTH
from zunft.config import Settings
from zunft.db import schema as s
from zunft.db.tx import Rx
from zunft.errors import Forbidden, NotFound

BERLIN = ZoneInfo("Europe/Berlin")
BLANK = "[bitte ergänzen]"
ROLE_NAMES = {
    "owner": "Inhaber/in",
    "office": "Büro",
    "lead": "Bauleitung",
    "worker": "Monteur/in",
    "apprentice": "Azubi",
}


@dataclass
class RetentionLine:
    """One document class as the documents state it."""

    name: str  # "Geschäftsbriefe"
    years: int | None  # None: no fixed period (kept until erased by hand or by rule)
    basis: str  # "§ 147 Abs. 3 AO, § 257 Abs. 4 HGB"


@dataclass
class Facts:
    business: str
    slug: str
    generated_at: datetime
    zunft_version: str
    database: str  # "SQLite (Datei im Datenverzeichnis)" / "PostgreSQL auf db.example:5432"
    files: str  # where file contents are stored
    kek_source: str
    https: bool
    public_url: str
    smtp: str | None
    bus: str | None
    hosting: str
    operator: str
    totp_required_for_admins: bool
    session_days: int
    roles: dict[str, int]  # active staff accounts per role
    disabled_staff: int
    full_access: list[tuple[str, str]]  # (name, role) of owner and office: see every chat
    customers_active: int
    customers_withdrawn: int
    projects: int
    chats: int
    messages: int
    stored_files: int
    journal_entries: int
    journal_head: str
    retention: list[RetentionLine] = field(default_factory=list)


def _database(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return "SQLite, eine Datei im Datenverzeichnis des Servers"
    host = parsed.host or "localhost"
    return f"PostgreSQL auf {host}:{parsed.port or 5432}, Datenbank {parsed.database}"


def _files(settings: Settings) -> str:
    url = str(settings.blob_url)
    if url.startswith("s3://"):
        endpoint = str(settings.s3_endpoint) or "dem voreingestellten S3-Dienst"
        return f"S3-kompatibler Objektspeicher ({url.split('/')[2]}) bei {endpoint}"
    where = url.removeprefix("file://") if url else f"{settings.data_path}/blobs"
    return f"Dateisystem des Servers ({where})"


_CLASS_NAMES = {
    "geschaeftsbrief": (
        "Geschäftsbriefe (Kundenchats, Aufträge, Meldungen mit Fotos)",
        "§ 147 Abs. 1 Nr. 2, 3 und Abs. 3 AO, § 257 Abs. 1 und 4 HGB",
    ),
    "buchungsbeleg": (
        "Buchungsbelege (z. B. fotografierte Lieferscheine, Rechnungen)",
        "§ 147 Abs. 1 Nr. 4 und Abs. 3 AO",
    ),
    "intern": ("Interne Kommunikation ohne Belegcharakter", "vom Betrieb festgelegt"),
}


def _default_retention(rx: Rx, tenant_id: str) -> list[RetentionLine]:
    """The business's rules as the erasure job applies them (zunft.retention.rules)."""
    from zunft.retention.rules import CLASSES, get_retention_years

    years = get_retention_years(rx, tenant_id)
    return [
        RetentionLine(name=_CLASS_NAMES[c][0], years=years[c], basis=_CLASS_NAMES[c][1])
        for c in CLASSES
    ]


RetentionSource = Callable[[Rx, str], list[RetentionLine]]


def gather_facts(
    rx: Rx, settings: Settings, tenant_id: str, retention: RetentionSource = _default_retention
) -> Facts:
    conn = rx.conn
    tenant = conn.execute(select(s.tenants).where(s.tenants.c.id == tenant_id)).one()
    cipher = rx.cipher(tenant_id)
    staff = conn.execute(
        select(s.users.c.id, s.users.c.role, s.users.c.name_enc, s.users.c.disabled_at).where(
            s.users.c.tenant_id == tenant_id, s.users.c.kind == "staff"
        )
    ).all()
    roles = dict.fromkeys(ROLE_NAMES, 0)
    full_access = []
    for u in staff:
        if u.disabled_at is not None:
            continue
        roles[u.role] = roles.get(u.role, 0) + 1
        if u.role in ("owner", "office"):
            full_access.append((cipher.decrypt(f"users.name/{u.id}", u.name_enc), u.role))

    def count(table: Any, *where: Any) -> int:
        query = select(func.count()).select_from(table).where(table.c.tenant_id == tenant_id)
        return int(conn.execute(query.where(*where)).scalar_one())

    head = conn.execute(
        select(s.journal_heads.c.seq, s.journal_heads.c.head_hash).where(
            s.journal_heads.c.tenant_id == tenant_id
        )
    ).first()
    smtp_host = str(settings.smtp_host)
    bus_url = str(settings.bus_url)
    return Facts(
        business=tenant.name,
        slug=tenant.slug,
        generated_at=datetime.fromtimestamp(rx.now_ms / 1000, UTC),
        zunft_version=__version__,
        database=_database(settings.effective_database_url),
        files=_files(settings),
        kek_source=(
            "Umgebungsvariable ZUNFT_KEK des Serverprozesses"
            if settings.kek
            else f"Schlüsseldatei {settings.data_path}/kek (nur für den Dienstbenutzer lesbar)"
        ),
        https=settings.secure_cookies,
        public_url=str(settings.public_url),
        smtp=f"{smtp_host}:{settings.smtp_port}" if smtp_host else None,
        bus=make_url(bus_url).host if bus_url else None,
        hosting=str(settings.hosting_location) or BLANK,
        operator=str(settings.operator) or BLANK,
        totp_required_for_admins=bool(tenant.require_totp_admins),
        session_days=int(settings.session_days),
        roles=roles,
        disabled_staff=sum(1 for u in staff if u.disabled_at is not None),
        full_access=sorted(full_access),
        customers_active=count(s.customers, s.customers.c.withdrawn_at.is_(None)),
        customers_withdrawn=count(s.customers, s.customers.c.withdrawn_at.is_not(None)),
        projects=count(s.projects),
        chats=count(s.chats),
        messages=count(s.messages),
        stored_files=count(s.blobs),
        journal_entries=int(head.seq) if head else 0,
        journal_head=head.head_hash.hex() if head else "",
        retention=retention(rx, tenant_id),
    )


# --- rendering ------------------------------------------------------------------------------


def _latin1(text: str) -> str:
    """The built-in PDF fonts know Latin-1 (every German letter); typographic marks are mapped."""
    for a, b in (("„", '"'), ("“", '"'), ("”", '"'), ("–", "-"), ("—", "-"), ("→", "->")):
        text = text.replace(a, b)
    return text.encode("latin-1", "replace").decode("latin-1")


class _Doc(FPDF):
    def __init__(self, title: str, facts: Facts) -> None:
        super().__init__(format="A4")
        self.doc_title = title
        self.facts = facts
        self.set_auto_page_break(auto=True, margin=18)
        self.set_title(_latin1(f"{title} - {facts.business}"))
        self.set_author(_latin1(facts.business))
        self.set_creator(f"zunft {facts.zunft_version}")
        self.add_page()
        self.set_font("Helvetica", "B", 18)
        self.multi_cell(0, 9, _latin1(title), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", "", 11)
        stamp = facts.generated_at.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M")
        self.multi_cell(
            0,
            6,
            _latin1(f"{facts.business} - erstellt von zunft {facts.zunft_version} am {stamp} Uhr"),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        self.ln(4)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 6, _latin1(f"{self.doc_title} - Seite {self.page_no()} von {{nb}}"), align="C")

    def heading(self, text: str) -> None:
        self.ln(2)
        self.set_font("Helvetica", "B", 13)
        self.multi_cell(0, 7, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", "", 10.5)

    def para(self, text: str) -> None:
        self.set_font("Helvetica", "", 10.5)
        self.multi_cell(0, 5.5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        self.ln(1.5)

    def rows(self, pairs: list[tuple[str, str]], first: float = 55) -> None:
        for label, value in pairs:
            self.set_font("Helvetica", "B", 10.5)
            y = self.get_y()
            self.multi_cell(first, 5.5, _latin1(label), new_x="RIGHT", new_y="TOP")
            self.set_font("Helvetica", "", 10.5)
            self.multi_cell(0, 5.5, _latin1(value), new_x="LMARGIN", new_y="NEXT")
            self.set_y(max(self.get_y(), y + 5.5))
        self.ln(1.5)

    def done(self) -> bytes:
        return bytes(self.output())


def _retention_rows(f: Facts) -> list[tuple[str, str]]:
    if not f.retention:
        return [("Aufbewahrung", "Es sind keine Aufbewahrungsregeln eingerichtet.")]
    return [
        (
            r.name,
            (f"mindestens {r.years} Jahre" if r.years is not None else "ohne feste Frist")
            + f" ab Ende des Kalenderjahres ({r.basis})",
        )
        for r in f.retention
    ]


def _staff_line(f: Facts) -> str:
    parts = [f"{n} {ROLE_NAMES.get(r, r)}" for r, n in f.roles.items() if n]
    text = ", ".join(parts) or "keine"
    if f.disabled_staff:
        text += f" (dazu {f.disabled_staff} gesperrte Konten)"
    return text


def render_verfahrensdokumentation(f: Facts) -> bytes:
    d = _Doc("Verfahrensdokumentation (GoBD) - Nachrichten und Dateien in zunft", f)
    d.heading("1. Allgemeine Beschreibung")
    d.para(
        f"{f.business} nutzt zunft, einen selbst betriebenen Messenger, für die Kommunikation "
        "im Betrieb (Baustellen-Chats je Auftrag, Kanäle, Einzelchats) und mit Kundinnen und "
        "Kunden (eigene Kundenchats nach Einwilligung). Nachrichten mit Kunden sind "
        "Handelsbriefe bzw. sonstige Unterlagen im Sinne von § 147 AO und § 257 HGB und werden "
        "in zunft unveränderbar aufbewahrt."
    )
    d.rows(
        [
            ("System", f"zunft {f.zunft_version}"),
            ("Betrieb des Servers", f.operator),
            ("Standort", f.hosting),
            ("Adresse", f.public_url or BLANK),
            (
                "Umfang heute",
                f"{f.projects} Aufträge, {f.chats} Chats, {f.messages} Nachrichten, "
                f"{f.stored_files} Dateien",
            ),
            ("Benutzer", _staff_line(f)),
            (
                "Kunden",
                f"{f.customers_active} mit Einwilligung, {f.customers_withdrawn} widerrufen",
            ),
        ]
    )
    d.heading("2. Erfassung")
    d.para(
        "Nachrichten, Fotos, Videos, Sprachnachrichten und Dateien werden von den Benutzern in "
        "der Web-App oder über die Programmierschnittstelle erfasst. Jede Nachricht trägt den "
        "Zeitpunkt des Eingangs beim Server, den Verfasser und den Chat. Eine Nachricht gilt "
        "erst als gesendet, wenn sie dauerhaft gespeichert ist (Bestätigung nach dem "
        "Festschreiben in der Datenbank). Wiederholte Sendungen desselben Geräts werden an "
        "ihrer Kennung erkannt und nicht doppelt gespeichert."
    )
    d.heading("3. Unveränderbarkeit (Journal)")
    d.para(
        "Jede Änderung (neue, bearbeitete und gelöschte Nachrichten, Mitgliedschaften, Rollen, "
        "Einwilligungen, Meldungen, Exporte) wird in derselben Datenbanktransaktion als Eintrag "
        "in ein fortlaufend nummeriertes Journal geschrieben. Jeder Eintrag enthält den "
        "SHA-256-Hash seines Vorgängers (Hash-Kette). Bearbeitungen und Löschungen überschreiben "
        "nichts: die frühere Fassung bleibt im Journal und wird im Export als solche gezeigt. "
        "Der Befehl 'zunft archive verify' rechnet die Kette nach und nennt jeden veränderten, "
        "entfernten oder vertauschten Eintrag."
    )
    d.rows(
        [
            ("Journal heute", f"{f.journal_entries} Einträge"),
            ("Kopf-Hash", f.journal_head or "-"),
        ]
    )
    d.para(
        "Der Kopf-Hash sollte außerhalb des Servers festgehalten werden (z. B. mit der "
        "monatlichen Buchhaltung): er beweist, welcher Stand zu diesem Zeitpunkt vorlag."
    )
    d.heading("4. Speicherung und Schutz")
    d.rows(
        [
            ("Datenbank", f.database),
            ("Dateien", f.files),
            (
                "Verschlüsselung",
                "AES-256-GCM je Feld und Datei mit einem eigenen Schlüssel je "
                "Betrieb; diese Schlüssel sind mit dem Hauptschlüssel verschlüsselt",
            ),
            ("Hauptschlüssel", f.kek_source),
        ]
    )
    d.heading("5. Aufbewahrung und Löschung")
    d.rows(_retention_rows(f))
    d.para(
        "Fristen werden vom Ende des Kalenderjahres an gezählt. Inhalte werden erst gelöscht, "
        "wenn keine Frist und keine Sperre (Legal Hold) mehr besteht; die Löschung vernichtet "
        "die Schlüssel der Inhalte und wird selbst im Journal vermerkt, sodass die Prüfung der "
        "Kette weiterhin gelingt."
    )
    d.heading("6. Datenzugriff der Finanzverwaltung")
    d.para(
        "Inhaber und Büro erstellen mit 'zunft archive export' oder in der Web-App einen Export "
        "(Betrieb, Auftrag, Chat, Kunde oder Person, Zeitraum): Verlaufsprotokolle als PDF, "
        "Tabellen als CSV mit Beschreibung im GDPdU-Beschreibungsstandard (index.xml), die "
        "Originaldateien und ein signiertes Verzeichnis mit dem SHA-256 jeder Datei. Der "
        "Export kann ohne Server mit 'zunft archive verify-export' geprüft werden "
        "(Datenträgerüberlassung)."
    )
    d.heading("7. Datensicherung")
    d.para(
        "'zunft backup' schreibt im laufenden Betrieb eine verschlüsselte, in sich stimmige "
        "Sicherung von Datenbank und Dateien; 'zunft restore' spielt sie in eine leere "
        "Installation zurück und prüft danach das Journal. Der Hauptschlüssel wird getrennt "
        "von den Sicherungen verwahrt. Sicherungsrhythmus und Aufbewahrungsort: " + BLANK
    )
    d.heading("8. Internes Kontrollsystem")
    d.para(
        "Rechte folgen Rollen: Monteure und Azubis sehen nur Chats, in denen sie Mitglied sind; "
        "Inhaber und Büro sehen alle Chats des Betriebs. Kunden sehen nur ihre eigenen "
        "Kundenchats. Verwaltungshandlungen (Rollenwechsel, Exporte, Sperren, Änderungen der "
        "Aufbewahrung, Schlüsseltausch, Löschungen) stehen im Journal und im Prüfprotokoll des "
        "Inhabers."
    )
    d.rows([(name, ROLE_NAMES.get(role, role)) for name, role in f.full_access] or [("-", "-")])
    d.heading("9. Verantwortlich für diese Dokumentation")
    d.para(f"Name, Funktion, Datum der Prüfung: {BLANK}")
    return d.done()


def render_verzeichnis(f: Facts) -> bytes:
    d = _Doc("Verzeichnis von Verarbeitungstätigkeiten (Art. 30 DSGVO)", f)
    d.rows(
        [
            ("Verantwortlicher", f"{f.business}, Anschrift: {BLANK}"),
            ("Datenschutzbeauftragte/r", BLANK),
            ("Auftragsverarbeiter", _processors(f)),
            ("Drittlandübermittlung", "keine; zunft überträgt keine Daten an Dritte"),
            ("Technische und organisatorische Maßnahmen", "siehe gesondertes Dokument (Art. 32)"),
        ]
    )
    keep = _keep_text(f)
    activities = [
        (
            "1. Interne Kommunikation der Mitarbeiter",
            [
                ("Zweck", "Abstimmung zu Aufträgen und Baustellen, Fotodokumentation"),
                (
                    "Rechtsgrundlage",
                    "Art. 6 Abs. 1 lit. b DSGVO, § 26 BDSG (Beschäftigungsverhältnis)",
                ),
                ("Betroffene", f"Beschäftigte ({_staff_line(f)})"),
                (
                    "Daten",
                    "Name, Rolle, E-Mail, Telefon (freiwillig), Nachrichten, Fotos, "
                    "Videos, Sprachnachrichten, Dateien, Lesebestätigungen, Anmeldegeräte",
                ),
                ("Empfänger", "Mitglieder des jeweiligen Chats; Inhaber und Büro"),
                ("Löschfristen", keep),
            ],
        ),
        (
            "2. Kommunikation mit Kunden",
            [
                ("Zweck", "Absprachen zu Angebot, Auftrag, Terminen und Reklamationen"),
                (
                    "Rechtsgrundlage",
                    "Art. 6 Abs. 1 lit. a DSGVO (Einwilligung, im Journal "
                    "nachgewiesen), lit. b (Vertrag), lit. c (Aufbewahrungspflicht nach AO/HGB)",
                ),
                (
                    "Betroffene",
                    f"Kunden ({f.customers_active} aktiv, "
                    f"{f.customers_withdrawn} mit widerrufener Einwilligung)",
                ),
                (
                    "Daten",
                    "Name, E-Mail (freiwillig), Nachrichten, Fotos, Dateien, "
                    "Einwilligung (Textfassung, Zeitpunkt, Gerät)",
                ),
                ("Empfänger", "Bauleitung und Büro des Betriebs"),
                ("Löschfristen", keep),
            ],
        ),
        (
            "3. Meldungen (Mängel, Material, Sicherheit, Termine)",
            [
                ("Zweck", "Probleme auf der Baustelle melden und bis zur Erledigung verfolgen"),
                ("Rechtsgrundlage", "Art. 6 Abs. 1 lit. b und f DSGVO"),
                ("Betroffene", "Beschäftigte"),
                ("Daten", "Verfasser, Text, Fotos, Standort (freiwillig), Zuständige, Verlauf"),
                ("Empfänger", "Zuständige nach den Regeln des Betriebs, Auftragsmitglieder"),
                ("Löschfristen", keep),
            ],
        ),
        (
            "4. Benutzerkonten, Anmeldung und Arbeitszeiten",
            [
                (
                    "Zweck",
                    "Zugang, Schutz vor Missbrauch, Benachrichtigungen nur in der Arbeitszeit",
                ),
                ("Rechtsgrundlage", "Art. 6 Abs. 1 lit. b, c und f DSGVO, § 26 BDSG"),
                ("Betroffene", "Beschäftigte, Kunden"),
                (
                    "Daten",
                    "Kennwort-Hash (Argon2id), zweiter Faktor, Geräte-Sitzungen (Name, "
                    "zuletzt gesehen), fehlgeschlagene Anmeldungen, Arbeitszeiten",
                ),
                ("Empfänger", "die Person selbst; Inhaber und Büro (Rollen, Sperren)"),
                (
                    "Löschfristen",
                    f"Sitzungen enden nach {f.session_days} Tagen ohne Nutzung; "
                    "Konten mit dem Ende der Beschäftigung bzw. der Kundenbeziehung, soweit keine "
                    "Aufbewahrungspflicht besteht",
                ),
            ],
        ),
    ]
    for title, rows in activities:
        d.heading(title)
        d.rows(rows, first=45)
    return d.done()


def _processors(f: Facts) -> str:
    parts = [f"Betrieb des Servers: {f.operator}, Standort: {f.hosting}"]
    if f.smtp:
        parts.append(f"E-Mail-Versand über {f.smtp}")
    if f.files.startswith("S3"):
        parts.append(f"Dateispeicher: {f.files} (nur verschlüsselte Inhalte)")
    return "; ".join(parts)


def _keep_text(f: Facts) -> str:
    rows = _retention_rows(f)
    return "; ".join(f"{a}: {b}" for a, b in rows)


def render_tom(f: Facts) -> bytes:
    d = _Doc("Technische und organisatorische Maßnahmen (Art. 32 DSGVO)", f)
    d.para(
        "Die folgenden Angaben beschreiben die Einstellungen dieser zunft-Installation zum "
        "Zeitpunkt der Erstellung. Organisatorische Maßnahmen des Betriebs sind zu ergänzen."
    )
    https = (
        f"ja, über {f.public_url}"
        if f.https
        else "NEIN: es ist keine https-Adresse eingestellt (ZUNFT_PUBLIC_URL); "
        "bitte vor dem Einsatz einrichten"
    )
    sections = [
        (
            "Vertraulichkeit: Verschlüsselung",
            [
                (
                    "Gespeicherte Daten",
                    "AES-256-GCM für Namen, E-Mail, Telefon, Nachrichten, "
                    "Journal-Inhalte und Dateien; eigener Schlüssel je Betrieb",
                ),
                ("Hauptschlüssel", f.kek_source),
                ("Übertragung (TLS)", https),
                ("Datensicherungen", "verschlüsselt (zunft backup), Schlüssel getrennt verwahrt"),
            ],
        ),
        (
            "Zugangskontrolle",
            [
                (
                    "Kennwörter",
                    f"mindestens {MIN_LENGTH} Zeichen, häufige Kennwörter "
                    "abgelehnt, gespeichert als Argon2id-Hash",
                ),
                (
                    "Zweiter Faktor",
                    "TOTP; für Inhaber und Büro "
                    + (
                        "vom Betrieb vorgeschrieben"
                        if f.totp_required_for_admins
                        else "angeboten, aber nicht vorgeschrieben"
                    ),
                ),
                (
                    "Fehlversuche",
                    f"nach {login_rules.FREE_FAILURES} Fehlversuchen "
                    f"wachsende Wartezeit (bis {login_rules.MAX_DELAY_S} s), nach "
                    f"{login_rules.LOCK_AFTER} Sperre für {login_rules.LOCK_MINUTES} Minuten; "
                    "im Journal vermerkt",
                ),
                (
                    "Sitzungen",
                    f"je Gerät, vom Benutzer einsehbar und beendbar; Ablauf nach "
                    f"{f.session_days} Tagen ohne Nutzung",
                ),
            ],
        ),
        (
            "Zugriffskontrolle",
            [
                ("Rollen", _staff_line(f)),
                (
                    "Sehen alle Chats",
                    ", ".join(f"{n} ({ROLE_NAMES.get(r, r)})" for n, r in f.full_access) or "-",
                ),
                (
                    "Übrige",
                    "nur Chats, in denen sie Mitglied sind; Kunden nur ihre eigenen "
                    "Kundenchats, nach erteilter Einwilligung",
                ),
            ],
        ),
        (
            "Trennungskontrolle",
            [
                (
                    "Mandanten",
                    "jeder Betrieb mit eigenem Schlüssel; jede Abfrage ist auf den "
                    "Betrieb des Benutzers beschränkt",
                ),
            ],
        ),
        (
            "Eingabe- und Weitergabekontrolle",
            [
                (
                    "Journal",
                    "jede Änderung mit Zeitpunkt und Verfasser, hash-verkettet, "
                    "prüfbar mit 'zunft archive verify'",
                ),
                (
                    "Weitergabe",
                    "keine an Dritte; Exporte nur durch Inhaber und Büro, im Journal vermerkt",
                ),
            ],
        ),
        (
            "Verfügbarkeit und Belastbarkeit",
            [
                ("Speicherung", f"{f.database}; bestätigt erst nach dauerhaftem Festschreiben"),
                ("Dateien", f.files),
                (
                    "Mehrere Serverprozesse",
                    f"über Redis auf {f.bus} (nur Benachrichtigungen, keine Inhalte)"
                    if f.bus
                    else "nein (ein Prozess)",
                ),
                ("Sicherung", "zunft backup / zunft restore; Rhythmus: " + BLANK),
            ],
        ),
        (
            "Löschung",
            [
                *_retention_rows(f),
                (
                    "Verfahren",
                    "Vernichtung der Inhaltsschlüssel und Löschen der Dateien nach "
                    "Fristablauf; Sperre (Legal Hold) verhindert Löschung",
                ),
            ],
        ),
        (
            "Auftragsverarbeitung und Standort",
            [("Dienstleister", _processors(f))],
        ),
    ]
    for title, rows in sections:
        d.heading(title)
        d.rows(rows)
    return d.done()


DOCUMENTS: dict[str, tuple[str, Callable[[Facts], bytes]]] = {
    "verfahrensdokumentation": ("Verfahrensdokumentation.pdf", render_verfahrensdokumentation),
    "verzeichnis": ("Verzeichnis-Verarbeitungstaetigkeiten.pdf", render_verzeichnis),
    "tom": ("TOM.pdf", render_tom),
}


def get_document(
    rx: Rx,
    settings: Settings,
    actor: Actor,
    name: str,
    retention: RetentionSource = _default_retention,
) -> tuple[str, bytes]:
    """One of DOCUMENTS for the actor's business, as (file name, PDF); owner and office only."""
    if actor.role not in ADMIN_ROLES:
        raise Forbidden("Only owner and office can create these documents.", code="admin_only")
    found = DOCUMENTS.get(name)
    if found is None:
        raise NotFound(f"There is no document {name!r}.", code="no_such_document")
    filename, render = found
    return filename, render(gather_facts(rx, settings, actor.tenant_id, retention))

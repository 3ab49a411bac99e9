"""Shared parts of the benchmarks: a throw-away data directory (and PostgreSQL database), a
business built with the domain functions, and German craft-business text from word lists.

Not a benchmark itself; `search.py` and `ingest.py` import it (run them from the repository
root as `.venv/bin/python benchmarks/<name>.py`).
"""

from __future__ import annotations

import math
import os
import platform
import random
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from zunft.accounts.actor import Actor
from zunft.accounts.users import do_create_user
from zunft.config import Settings, load_settings
from zunft.context import AppContext, open_context
from zunft.db import schema as s
from zunft.projects.service import do_create_project
from zunft.search.index import Indexer
from zunft.tenants.service import do_create_tenant

PASSWORD = "Benchmark-Kennwort-2026"  # noqa: S105 (a throw-away business)

# Cheap password hashing: the benchmarks measure messages and search, not Argon2.
CHEAP_ARGON2 = {"argon2_memory_kib": 1024, "argon2_time_cost": 1}


# --- a throw-away place for the data ---------------------------------------------------------


@contextmanager
def scratch_database(server_url: str | None) -> Iterator[str]:
    """Yield "" (SQLite in the data dir) or the URL of a new PostgreSQL database on the server
    of `server_url`, dropped again afterwards."""
    if not server_url:
        yield ""
        return
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"zunft_bench_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def bench_settings(server_url: str | None) -> Iterator[Settings]:
    """Settings for a fresh data directory in a temporary folder (removed afterwards)."""
    with (
        tempfile.TemporaryDirectory(prefix="zunft-bench-") as tmp,
        scratch_database(server_url) as database_url,
    ):
        yield load_settings(
            {},
            data_dir=str(Path(tmp) / "data"),
            database_url=database_url,
            demo=False,
            **CHEAP_ARGON2,
        )


@contextmanager
def bench_context(settings: Settings, indexer: Indexer = "process") -> Iterator[AppContext]:
    """By default the search indexer runs as under `zunft serve`: in a process of its own."""
    ctx = open_context(settings, indexer=indexer)
    try:
        yield ctx
    finally:
        ctx.close()


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so the temporary data and scratch database go away."""

    def stop(_signum: int, _frame: Any) -> None:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, stop)


def database_info(ctx: AppContext) -> dict[str, Any]:
    """What the database is and the durability it runs with, read back from the database."""
    with ctx.engine.connect() as conn:
        if ctx.engine.dialect.name == "sqlite":
            sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
            names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
            return {
                "database": "sqlite",
                "database_version": sqlite3.sqlite_version,
                "journal_mode": conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
                "synchronous": names.get(int(sync or 0), str(sync)),
            }
        return {
            "database": "postgresql",
            "database_version": conn.exec_driver_sql("SHOW server_version").scalar(),
            "synchronous_commit": conn.exec_driver_sql("SHOW synchronous_commit").scalar(),
            "fsync": conn.exec_driver_sql("SHOW fsync").scalar(),
        }


def machine_info() -> dict[str, Any]:
    import os

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "python": platform.python_version(),
        # Other work on the machine skews every figure: note how busy it was at the end.
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


# --- zunft serve in a subprocess --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    settings: Settings, port: int, log_path: Path, **env_extra: str
) -> subprocess.Popen[bytes]:
    """`zunft serve` on loopback for the data of `settings` (plus ZUNFT_* overrides)."""
    env = {
        **os.environ,
        "ZUNFT_DATA_DIR": str(settings.data_path),
        "ZUNFT_DATABASE_URL": settings.database_url,
        "ZUNFT_DEMO": "false",
        "ZUNFT_ARGON2_MEMORY_KIB": str(settings.argon2_memory_kib),
        "ZUNFT_ARGON2_TIME_COST": str(settings.argon2_time_cost),
        **env_extra,
    }
    code = "import sys; from zunft.cli import main; sys.exit(main(sys.argv[1:]))"
    with log_path.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", code, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


# --- a business ------------------------------------------------------------------------------


@dataclass
class Business:
    tenant_id: str
    owner: Actor
    workers: list[Actor] = field(default_factory=list)
    chats: list[str] = field(default_factory=list)  # project chats
    default_chat: str = ""
    members: dict[str, list[Actor]] = field(default_factory=dict)  # chat id -> who may post


def build_business(
    ctx: AppContext,
    rng: random.Random,
    *,
    projects: int,
    workers: int,
    chats_per_worker: int,
    slug: str = "mueller-haustechnik",
) -> Business:
    """One business: an owner, a site lead, `workers` workers, `projects` projects whose chats
    each worker joins `chats_per_worker` of (spread evenly)."""
    pw_hash = ctx.hasher.hash(PASSWORD)

    def build(tx: Any) -> Business:
        tenant_id = do_create_tenant(tx, slug=slug, name="Müller Haustechnik GmbH")

        def user(role: str, i: int) -> Actor:
            uid = do_create_user(
                tx,
                tenant_id=tenant_id,
                role=role,
                name=f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}",
                email=f"{role}{i}@{slug}.example",
                password_hash=pw_hash,
            )
            return Actor(tenant_id, uid, role)

        owner = user("owner", 0)
        lead = user("lead", 0)
        staff = [user("worker", i) for i in range(workers)]
        biz = Business(tenant_id, owner, staff)
        joined: dict[int, list[Actor]] = {i: [] for i in range(projects)}
        for n, worker in enumerate(staff):
            for k in range(chats_per_worker):
                joined[(n * chats_per_worker + k) % projects].append(worker)
        for i in range(projects):
            project = do_create_project(
                tx,
                owner,
                name=f"{rng.choice(JOBS)} {rng.choice(SURNAMES)}, {rng.choice(STREETS)} "
                f"{rng.randint(1, 120)}",
                customer_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}",
                lead_id=lead.user_id,
                member_ids=[w.user_id for w in joined[i]],
            )
            chat_id = project["chat_id"]
            biz.chats.append(chat_id)
            biz.members[chat_id] = [owner, Actor(tenant_id, lead.user_id, "lead"), *joined[i]]
        biz.default_chat = str(
            tx.conn.execute(
                select(s.chats.c.id).where(
                    s.chats.c.tenant_id == tenant_id, s.chats.c.is_default.is_(True)
                )
            ).scalar_one()
        )
        biz.members[biz.default_chat] = [owner, *staff]
        return biz

    result: Business = ctx.write(build)
    return result


def worker_emails(biz: Business, slug: str = "mueller-haustechnik") -> list[str]:
    return [f"worker{i}@{slug}.example" for i in range(len(biz.workers))]


# --- German craft-business text --------------------------------------------------------------

FIRST_NAMES = [
    "Andreas",
    "Anna",
    "Ben",
    "Birgit",
    "Christian",
    "Claudia",
    "Daniel",
    "Dennis",
    "Elif",
    "Emre",
    "Felix",
    "Frank",
    "Hans",
    "Heike",
    "Jan",
    "Jana",
    "Jonas",
    "Julia",
    "Jürgen",
    "Karin",
    "Kevin",
    "Klaus",
    "Lars",
    "Lea",
    "Lukas",
    "Marco",
    "Maria",
    "Markus",
    "Mehmet",
    "Michael",
    "Monika",
    "Niklas",
    "Olga",
    "Patrick",
    "Paul",
    "Petra",
    "Ralf",
    "Sabine",
    "Sandra",
    "Sascha",
    "Sebastian",
    "Stefan",
    "Sven",
    "Thomas",
    "Tim",
    "Tobias",
    "Uwe",
    "Werner",
    "Yusuf",
]
SURNAMES = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Krause",
    "Meier",
    "Lehmann",
    "Köhler",
    "Maier",
    "Herrmann",
    "König",
    "Walter",
    "Huber",
    "Kaiser",
    "Fuchs",
    "Peters",
    "Lang",
    "Scholz",
    "Möller",
    "Weiß",
    "Jung",
    "Hahn",
    "Vogel",
    "Friedrich",
    "Keller",
    "Günther",
    "Frank",
    "Berger",
    "Winkler",
    "Roth",
    "Beck",
    "Lorenz",
    "Baumann",
    "Franke",
    "Albrecht",
    "Ludwig",
    "Yılmaz",
    "Kaya",
    "Nowak",
    "Kowalski",
]
STREETS = [
    "Hauptstraße",
    "Schulstraße",
    "Gartenstraße",
    "Bahnhofstraße",
    "Dorfstraße",
    "Bergstraße",
    "Lindenstraße",
    "Kirchstraße",
    "Waldstraße",
    "Ringstraße",
    "Mühlenweg",
    "Am Anger",
    "Rosenweg",
    "Birkenweg",
    "Goethestraße",
    "Schillerstraße",
    "Lessingweg",
    "Industriestraße",
    "Feldweg",
    "Talstraße",
]
JOBS = [
    "Badsanierung",
    "Heizungstausch",
    "Neubau",
    "Dachsanierung",
    "Kellerabdichtung",
    "Küchenmontage",
    "Fassadendämmung",
    "Umbau",
    "Wartung",
    "Estricharbeiten",
    "Fliesenarbeiten",
    "Trockenbau",
    "Elektroinstallation",
]
MATERIALS = [
    "Rohr",
    "Kupferrohr",
    "Verbundrohr",
    "Heizkörper",
    "Fliesen",
    "Estrich",
    "Silikon",
    "Fugenmörtel",
    "Fliesenkleber",
    "Dichtband",
    "Dübel",
    "Schrauben",
    "Gipskarton",
    "Dämmung",
    "Mineralwolle",
    "Dachrinne",
    "Ziegel",
    "Kabel",
    "Steckdosen",
    "Sicherungen",
    "Putz",
    "Grundierung",
    "Farbe",
    "Tapete",
    "Parkett",
    "Laminat",
    "Sockelleisten",
    "Ventile",
    "Thermostatköpfe",
    "Pressfittings",
    "Eckventile",
    "Abflussrohr",
    "Siphon",
    "Spülkasten",
    "Armatur",
    "Duschwanne",
    "Rinne",
    "Bodenablauf",
    "Trennschiene",
    "Abdichtung",
    "Bitumen",
    "Folie",
    "Montageschaum",
]
PLACES = [
    "Bad",
    "Gäste-WC",
    "Küche",
    "Keller",
    "Heizungsraum",
    "Dachboden",
    "Treppenhaus",
    "Wohnzimmer",
    "Schlafzimmer",
    "Kinderzimmer",
    "Flur",
    "Garage",
    "Terrasse",
    "Balkon",
    "Hauswirtschaftsraum",
    "Erdgeschoss",
    "Obergeschoss",
    "Dachgeschoss",
    "Baustelle",
]
PROBLEMS = [
    "Wasserschaden",
    "Rohrbruch",
    "Undichtigkeit",
    "Feuchtigkeit",
    "Schimmel",
    "Riss",
    "Kurzschluss",
    "Druckabfall",
    "Verstopfung",
    "Materialmangel",
    "Lieferverzug",
    "Terminverschiebung",
    "Hohlstellen",
    "Gefälle",
    "Kalk",
    "Rost",
    "Korrosion",
    "Tropfen",
    "Geräusche",
]
TOOLS = [
    "Bohrhammer",
    "Presszange",
    "Nivelliergerät",
    "Fliesenschneider",
    "Trennschleifer",
    "Kernbohrgerät",
    "Leiter",
    "Gerüst",
    "Bautrockner",
    "Rührwerk",
    "Laser",
    "Kamera",
    "Prüfgerät",
    "Rohrreinigungsspirale",
]
DAYS = [
    "Montag",
    "Dienstag",
    "Mittwoch",
    "Donnerstag",
    "Freitag",
    "Samstag",
    "morgen",
    "übermorgen",
    "heute",
]
UNITS = ["Stück", "Meter", "Quadratmeter", "Säcke", "Kartons", "Rollen", "Eimer", "Liter"]

TEMPLATES = (
    "{name}, bitte {n} {unit} {material} für {place} bis {day} mitbringen.",
    "{problem} im {place} bei {customer}, {material} muss raus.",
    "Termin mit {customer} am {day} um {hour}:{minute} Uhr auf der Baustelle.",
    "Material für {place} ist da: {n} {unit} {material} und {n2} {unit2} {material2}.",
    "Wer hat den {tool}? Brauche ihn {day} im {place}.",
    "{material} im {place} verlegt, Foto folgt. {material2} fehlt noch.",
    "Achtung {problem} im {place}! {name} schaut sich das {day} an.",
    "Estrich im {place} ist noch nicht trocken, Restfeuchte {n} Prozent gemessen.",
    "Heizkörper im {place} tauschen, alter ist undicht. Rohr vom Vorlauf prüfen.",
    "Fliesen für {place} sind falsch geliefert, {name} klärt das mit dem Händler.",
    "Baustelle {street} {n}: Schlüssel liegt beim Nachbarn {customer}.",
    "Lieferung {material} kommt {day} zwischen {hour} und {hour2} Uhr.",
    "Rechnung für {customer} geht raus, Aufmaß {place} {n} Quadratmeter.",
    "{name} ist {day} krank, {name2} übernimmt {place} bei {customer}.",
    "Druckprobe {place} bestanden, {n} bar über {n2} Minuten.",
    "Kunde {customer} möchte im {place} noch {material} nachbestellen.",
    "Wasserschaden bei {customer} im {place}, Bautrockner steht seit {day}.",
    "Bitte {tool} nach Feierabend wieder ins Lager {street} bringen.",
    "Angebot {job} {customer} ist raus, Rückmeldung bis {day}.",
    "Abnahme {job} bei {customer} am {day}, alles sauber machen bitte.",
    "{problem} am {material} im {place}, neue Teile bestellt.",
    "Sind {day} mit {place} fertig, dann {material} und {material2}.",
)


def sentence(rng: random.Random) -> str:
    template = rng.choice(TEMPLATES)
    return template.format(
        name=rng.choice(FIRST_NAMES),
        name2=rng.choice(FIRST_NAMES),
        customer=f"{rng.choice(('Frau', 'Herr', 'Familie'))} {rng.choice(SURNAMES)}",
        material=rng.choice(MATERIALS),
        material2=rng.choice(MATERIALS),
        place=rng.choice(PLACES),
        problem=rng.choice(PROBLEMS),
        tool=rng.choice(TOOLS),
        day=rng.choice(DAYS),
        unit=rng.choice(UNITS),
        unit2=rng.choice(UNITS),
        street=rng.choice(STREETS),
        job=rng.choice(JOBS),
        n=rng.randint(1, 60),
        n2=rng.randint(1, 30),
        hour=rng.randint(6, 17),
        hour2=rng.randint(8, 18),
        minute=rng.choice(("00", "15", "30", "45")),
    )


def message_text(rng: random.Random) -> str:
    """One to three sentences, now and then with a greeting or a sign-off."""
    parts = [sentence(rng) for _ in range(rng.choices((1, 2, 3), weights=(6, 3, 1))[0])]
    if rng.random() < 0.15:
        parts.insert(0, rng.choice(("Moin,", "Hallo zusammen,", "Servus,", "Guten Morgen,")))
    if rng.random() < 0.1:
        parts.append(rng.choice(("Danke!", "Gruß", "Bis später.", "👍")))
    return " ".join(parts)


# Words people search for: materials, places, problems, tools, names of customers and staff.
SEARCH_WORDS = (
    *MATERIALS,
    *PLACES,
    *PROBLEMS,
    *TOOLS,
    *SURNAMES,
    *FIRST_NAMES,
    *JOBS,
    "Termin",
    "Lieferung",
    "Rechnung",
    "Angebot",
    "Abnahme",
    "Druckprobe",
    "Schlüssel",
    "Foto",
    "undicht",
    "krank",
)


def search_query(rng: random.Random, words: int) -> str:
    return " ".join(rng.sample(SEARCH_WORDS, words))

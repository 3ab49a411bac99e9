"""The archive export: contents, scopes, isolation, journaling, streaming, and the offline
verification with each kind of tampering named."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select, update

from tests.archive.helpers import Site, build_site, msg, names, ok, read, rewrite
from tests.factories import Business, general_chat, journal_entries, login, make_business
from zunft.archive import export as export_module
from zunft.archive.export import ExportRequest, run_export
from zunft.archive.verify_export import verify_export
from zunft.context import AppContext
from zunft.crypto.signing import load_signing_key, public_bytes
from zunft.db import schema as s
from zunft.errors import Invalid, NotFound
from zunft.messages.service import do_send_message
from zunft.retention.classify import do_reclassify_message


@pytest.fixture
def site(client: TestClient, biz: Business) -> Site:
    return build_site(client, biz)


def _export(ctx: AppContext, tmp_path: Path, req: ExportRequest, name: str = "e.zip") -> Path:
    path = tmp_path / name
    run_export(ctx, req, path)
    return path


def _table(path: Path, name: str) -> list[dict[str, str]]:
    text = read(path, f"tabellen/{name}.csv").decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


def _pdf_text(path: Path, name: str) -> str:
    reader = PdfReader(io.BytesIO(read(path, name)))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_project_export_holds_transcript_tables_files_and_signed_manifest(
    ctx: AppContext, biz: Business, site: Site, tmp_path: Path
) -> None:
    path = _export(ctx, tmp_path, ExportRequest(biz.tenant_id, "project", site.project_id))
    members = names(path)
    assert members[-1] == "manifest.json"
    for expected in ("LIESMICH.txt", "index.xml", "gdpdu-01-08-2002.dtd", "pruefpunkt.json"):
        assert expected in members
    # The original photo, byte for byte.
    [photo] = [n for n in members if n.startswith(f"dateien/{site.photo_id}")]
    assert read(path, photo) == site.photo_bytes
    assert photo.endswith("Baustelle-Kuche.jpg")
    # Messages: edits, deletions, replies, umlauts; the direct chat is not part of a project.
    messages = _table(path, "nachrichten")
    texts = {m["text"]: m for m in messages}
    assert "Heizkörper ist geliefert, Größe passt" in texts
    assert texts["Schön, vielen Dank!"]["bearbeitungen"] == "1"
    assert texts["Schön, vielen Dank!"]["antwort_auf_id"] == site.message_ids[0]
    assert texts["Falscher Chat, sorry"]["geloescht"] == "ja"
    assert texts["Foto vom Bad"]["anhaenge"] == "1"
    assert not any("Urlaub" in m["text"] for m in messages)
    [revision] = _table(path, "fassungen")
    assert revision["text"] == "Schön, danke!"
    assert revision["fassung"] == "0"
    [attachment] = _table(path, "anhaenge")
    assert attachment["datei_id"] == site.photo_id
    assert attachment["pfad"] == photo
    assert attachment["nachricht_id"] == site.message_ids[3]
    [report] = _table(path, "meldungen")
    assert report["text"] == "Fliese gesprungen"
    [consent] = _table(path, "einwilligungen")
    assert consent["ereignis"] == "erteilt"
    assert consent["kunde_name"] == "Erika Zander"
    chats = {c["unterhaltung_id"]: c for c in _table(path, "unterhaltungen")}
    assert set(chats) == {site.chat_id, site.customer_chat_id}
    people = {(p["unterhaltung_id"], p["person_id"]) for p in _table(path, "teilnehmer")}
    assert (site.chat_id, biz.users["worker"]) in people
    # The transcript: readable, umlauts intact, edits and deletions shown as such.
    pdf = _pdf_text(path, chats[site.chat_id]["protokoll_datei"])
    assert "Heizkörper ist geliefert, Größe passt" in pdf
    assert "bearbeitet am" in pdf
    assert "Fassung 0" in pdf
    assert "Schön, danke!" in pdf
    assert "gelöscht am" in pdf
    assert "Falscher Chat, sorry" in pdf
    assert "Antwort auf die Nachricht von Worker mueller" in pdf
    assert "Foto: Baustelle Küche.jpg" in pdf
    # The manifest lists every other member with its hash and the journal head.
    manifest = json.loads(read(path, "manifest.json"))
    assert {e["path"] for e in manifest["files"]} == set(members) - {"manifest.json"}
    head = ctx.read(
        lambda rx: rx.conn.execute(
            select(s.journal_heads).where(s.journal_heads.c.tenant_id == biz.tenant_id)
        ).one()
    )
    assert manifest["journal"] == {"entries": head.seq - 1, "head": manifest["journal"]["head"]}
    key = load_signing_key(ctx.settings)
    check = verify_export(path, public_key=public_bytes(key))
    assert check.ok, check.problems


def test_index_xml_describes_every_csv_column_in_order(
    ctx: AppContext, biz: Business, site: Site, tmp_path: Path
) -> None:
    path = _export(ctx, tmp_path, ExportRequest(biz.tenant_id, "project", site.project_id))
    root = ElementTree.fromstring(read(path, "index.xml"))  # noqa: S314  (our own output)
    assert root.tag == "DataSet"
    tables = root.findall("./Media/Table")
    assert len(tables) == 7
    for table in tables:
        url = table.findtext("URL")
        assert url is not None
        layout = table.find("VariableLength")
        assert layout is not None
        assert layout.findtext("ColumnDelimiter") == ";"
        described = [
            c.findtext("Name") for c in layout if c.tag in ("VariablePrimaryKey", "VariableColumn")
        ]
        header = read(path, url).decode("utf-8").split("\r\n", 1)[0]
        assert header == ";".join(f'"{n}"' for n in described)


def test_export_is_journaled_with_who_and_the_manifest_hash(
    ctx: AppContext, biz: Business, site: Site, tmp_path: Path
) -> None:
    req = ExportRequest(biz.tenant_id, "project", site.project_id, actor_id=biz.users["office"])
    path = _export(ctx, tmp_path, req)
    [entry] = journal_entries(ctx, biz.tenant_id, "archive.exported")
    assert entry["_actor"] == biz.users["office"]
    assert entry["scope"]["kind"] == "project"
    assert entry["scope"]["id"] == site.project_id
    import hashlib

    assert entry["manifest_sha256"] == hashlib.sha256(read(path, "manifest.json")).hexdigest()
    # The checkpoint it carries is also kept in the checkpoints directory.
    kept = list((ctx.settings.checkpoint_path / "mueller").iterdir())
    assert [p.read_bytes() for p in kept] == [read(path, "pruefpunkt.json")]


def test_business_export_leaves_direct_chats_out_unless_asked(
    ctx: AppContext, biz: Business, site: Site, tmp_path: Path
) -> None:
    plain = _export(ctx, tmp_path, ExportRequest(biz.tenant_id), "a.zip")
    assert not any("Urlaub" in m["text"] for m in _table(plain, "nachrichten"))
    full = _export(ctx, tmp_path, ExportRequest(biz.tenant_id, include_direct=True), "b.zip")
    assert any("Urlaub" in m["text"] for m in _table(full, "nachrichten"))
    with pytest.raises(NotFound):
        _export(ctx, tmp_path, ExportRequest(biz.tenant_id, "chat", site.direct_chat_id), "c.zip")


def test_customer_and_person_scopes_and_the_period(
    ctx: AppContext, client: TestClient, biz: Business, site: Site, tmp_path: Path
) -> None:
    customer = _export(ctx, tmp_path, ExportRequest(biz.tenant_id, "customer", site.customer_id))
    assert {c["unterhaltung_id"] for c in _table(customer, "unterhaltungen")} == {
        site.customer_chat_id
    }
    person = _export(
        ctx, tmp_path, ExportRequest(biz.tenant_id, "person", biz.users["worker"]), "p.zip"
    )
    chats = {c["unterhaltung_id"] for c in _table(person, "unterhaltungen")}
    assert site.chat_id in chats
    assert site.direct_chat_id not in chats
    later = ctx.now_ms() + 1
    empty = _export(
        ctx,
        tmp_path,
        ExportRequest(biz.tenant_id, "project", site.project_id, since=later),
        "x.zip",
    )
    assert _table(empty, "nachrichten") == []
    assert verify_export(empty).ok


def test_an_export_limited_to_classes_holds_only_those(
    ctx: AppContext, biz: Business, site: Site, tmp_path: Path
) -> None:
    """What an auditor asks for: business letters or vouchers, by each message's class (its
    own, else its chat's), with their files; reports only as business letters; no consent
    records (they are for the data protection side, not the tax office)."""
    voucher = site.message_ids[3]  # "Foto vom Bad", with the photo
    ctx.write(lambda tx: do_reclassify_message(tx, biz.actor("office"), voucher, "buchungsbeleg"))
    small_talk = ctx.write(
        lambda tx: do_send_message(
            tx, biz.actor("worker"), general_chat(ctx, biz), text="Grillen am Freitag?"
        )
    )["id"]
    full = _export(ctx, tmp_path, ExportRequest(biz.tenant_id), "all.zip")
    every = {m["nachricht_id"] for m in _table(full, "nachrichten")}
    assert {voucher, small_talk} <= every
    assert _table(full, "einwilligungen")

    vouchers = _export(
        ctx, tmp_path, ExportRequest(biz.tenant_id, classes=frozenset({"buchungsbeleg"})), "v.zip"
    )
    assert [m["nachricht_id"] for m in _table(vouchers, "nachrichten")] == [voucher]
    assert any(n.startswith(f"dateien/{site.photo_id}") for n in names(vouchers))
    assert _table(vouchers, "meldungen") == []
    assert _table(vouchers, "einwilligungen") == []
    assert verify_export(vouchers).ok

    letters = _export(
        ctx, tmp_path, ExportRequest(biz.tenant_id, classes=frozenset({"geschaeftsbrief"})), "g.zip"
    )
    kept = {m["nachricht_id"] for m in _table(letters, "nachrichten")}
    assert kept == every - {voucher, small_talk}
    assert [r["kategorie"] for r in _table(letters, "meldungen")] == ["mangel"]
    assert _table(letters, "einwilligungen") == []
    assert not any(n.startswith("dateien/") for n in names(letters))


def test_an_export_limited_to_classes_holds_only_their_messages_and_chats(
    ctx: AppContext, client: TestClient, biz: Business, site: Site, tmp_path: Path
) -> None:
    owner = login(client, biz, "owner")
    general = general_chat(ctx, biz)
    ok(owner.post(f"/chats/{general}/messages", json=msg("Grillfest am Freitag")), 201)
    # A project message reclassified as a voucher leaves the project's business letters.
    voucher = site.message_ids[0]
    ok(owner.put(f"/messages/{voucher}/class", json={"doc_class": "buchungsbeleg"}))

    labels = {
        "geschaeftsbrief": "Geschäftsbrief",
        "buchungsbeleg": "Buchungsbeleg",
        "intern": "intern",
    }

    def export(classes: set[str], name: str) -> tuple[set[str], set[str]]:
        req = ExportRequest(biz.tenant_id, classes=frozenset(classes))
        path = _export(ctx, tmp_path, req, name)
        assert json.loads(read(path, "manifest.json"))["scope"]["classes"] == sorted(classes)
        readme = read(path, "LIESMICH.txt").decode()
        assert "Dokumentklassen: " + ", ".join(labels[c] for c in sorted(classes)) in readme
        chats = {c["unterhaltung_id"] for c in _table(path, "unterhaltungen")}
        return chats, {m["nachricht_id"] for m in _table(path, "nachrichten")}

    chats, messages = export({"geschaeftsbrief"}, "brief.zip")
    assert chats == {site.chat_id, site.customer_chat_id}  # no "Allgemein", no direct chat
    assert set(site.message_ids) - messages == {voucher}
    chats, messages = export({"buchungsbeleg"}, "beleg.zip")
    assert (chats, messages) == ({site.chat_id}, {voucher})
    chats, messages = export({"intern"}, "intern.zip")
    assert chats == {general}
    assert len(messages) == 1
    everything = _export(ctx, tmp_path, ExportRequest(biz.tenant_id), "all.zip")
    assert {voucher, *site.message_ids} <= {
        m["nachricht_id"] for m in _table(everything, "nachrichten")
    }


def test_bad_requests_are_refused_and_leave_no_file(
    ctx: AppContext, biz: Business, site: Site, tmp_path: Path
) -> None:
    other = make_business(ctx, slug="schulz", name="Schulz Elektro")
    bad = [
        ExportRequest(other.tenant_id, "project", site.project_id),  # B asking for A's project
        ExportRequest(biz.tenant_id, "chat", "01unknownunknownunknownunk"),
        ExportRequest(biz.tenant_id, "project", None),
        ExportRequest(biz.tenant_id, "galaxy", "x"),
        ExportRequest(biz.tenant_id, since=10, until=5),
        ExportRequest(biz.tenant_id, classes=frozenset({"steuergeheimnis"})),
        ExportRequest(biz.tenant_id, classes=frozenset()),
    ]
    for req in bad:
        with pytest.raises((Invalid, NotFound)):
            _export(ctx, tmp_path, req)
    assert list(tmp_path.glob("e.zip*")) == []
    assert journal_entries(ctx, biz.tenant_id, "archive.exported") == []


def test_export_of_business_a_holds_nothing_of_b(
    ctx: AppContext, client: TestClient, biz: Business, site: Site, tmp_path: Path
) -> None:
    other = make_business(ctx, slug="schulz", name="Schulz Elektro")
    build_site(client, other, word="Tresorcode")
    path = _export(ctx, tmp_path, ExportRequest(biz.tenant_id, include_direct=True))
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            assert other.tenant_id.encode() not in data, name
            assert b"Tresorcode" not in data, name
            assert b"Schulz" not in data, name
    b_users = set(other.users.values())
    assert not {p["person_id"] for p in _table(path, "teilnehmer")} & b_users


def test_transcripts_are_split_into_volumes(
    ctx: AppContext,
    biz: Business,
    site: Site,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(export_module, "VOLUME", 2)
    monkeypatch.setattr(export_module, "PAGE", 3)
    path = _export(ctx, tmp_path, ExportRequest(biz.tenant_id, "chat", site.chat_id))
    volumes = sorted(n for n in names(path) if n.startswith("protokolle/"))
    [chat] = _table(path, "unterhaltungen")
    assert chat["protokoll_datei"].split() == volumes
    assert len(volumes) >= 3
    in_chat = ctx.read(
        lambda rx: rx.conn.execute(
            select(s.messages.c.id).where(s.messages.c.chat_id == site.chat_id)
        ).all()
    )
    assert len(_table(path, "nachrichten")) == len(in_chat) >= 5
    assert verify_export(path).ok


# --- tampering, each named by verify-export ------------------------------------------------


@pytest.fixture
def exported(ctx: AppContext, biz: Business, site: Site, tmp_path: Path) -> Path:
    return _export(ctx, tmp_path, ExportRequest(biz.tenant_id, "project", site.project_id))


def _photo(path: Path) -> str:
    return next(n for n in names(path) if n.startswith("dateien/"))


def test_changed_file_is_named(exported: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    target = "tabellen/nachrichten.csv"
    rewrite(exported, bad, lambda n, d: (n, d.replace(b"Heizk", b"Warmk") if n == target else d))
    check = verify_export(bad)
    assert check.problems == [f"changed: {target}"]


def test_added_file_is_named(exported: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    rewrite(exported, bad, lambda n, d: (n, d))
    with zipfile.ZipFile(bad, "a") as zf:
        zf.writestr("dateien/nachgereicht.pdf", b"%PDF-1.4 nachher")
    assert verify_export(bad).problems == ["added: dateien/nachgereicht.pdf"]


def test_removed_file_is_named(exported: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    photo = _photo(exported)
    rewrite(exported, bad, lambda n, d: None if n == photo else (n, d))
    assert verify_export(bad).problems == [f"removed: {photo}"]


def test_renamed_file_is_named(exported: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    photo = _photo(exported)
    rewrite(exported, bad, lambda n, d: ("dateien/anderes.jpg" if n == photo else n, d))
    assert verify_export(bad).problems == [f"renamed: {photo} -> dateien/anderes.jpg"]


def test_manifest_altered_to_match_a_change_breaks_the_signature(
    exported: Path, tmp_path: Path
) -> None:
    """Someone changes a file and writes its new hash into the manifest: the signature fails."""
    import hashlib

    target = "tabellen/meldungen.csv"
    new = read(exported, target).replace(b"gesprungen", b"in Ordnung")
    manifest = json.loads(read(exported, "manifest.json"))
    for entry in manifest["files"]:
        if entry["path"] == target:
            entry["sha256"], entry["size"] = hashlib.sha256(new).hexdigest(), len(new)
    bad = tmp_path / "bad.zip"

    def change(name: str, data: bytes) -> tuple[str, bytes]:
        if name == target:
            return name, new
        if name == "manifest.json":
            return name, json.dumps(manifest).encode()
        return name, data

    rewrite(exported, bad, change)
    assert verify_export(bad).problems == [
        "the signature of manifest.json is wrong (the manifest was altered)"
    ]


def test_a_manifest_signed_by_another_key_is_refused_when_the_key_is_pinned(
    ctx: AppContext, exported: Path, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger = public_bytes(Ed25519PrivateKey.generate())
    problems = verify_export(exported, public_key=stranger).problems
    assert len(problems) == 1
    assert "signed by another key" in problems[0]
    assert verify_export(exported, public_key=public_bytes(load_signing_key(ctx.settings))).ok


def test_a_missing_manifest_and_a_non_zip_are_named(exported: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    rewrite(exported, bad, lambda n, d: None if n == "manifest.json" else (n, d))
    assert "removed: manifest.json" in verify_export(bad).problems[0]
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"no zip at all")
    assert "not a readable ZIP" in verify_export(junk).problems[0]


def test_journal_row_edited_after_export_is_named_by_verify_and_the_export_still_verifies(
    ctx: AppContext, biz: Business, exported: Path, tmp_path: Path
) -> None:
    from zunft.archive.checkpoint import check_against_journal, verify_checkpoint
    from zunft.archive.verify import verify_all

    manifest = json.loads(read(exported, "manifest.json"))
    victim = manifest["journal"]["entries"] - 2
    with ctx.engine.begin() as conn:
        conn.execute(
            update(s.journal)
            .where(s.journal.c.tenant_id == biz.tenant_id, s.journal.c.seq == victim)
            .values(ts=s.journal.c.ts + 1)
        )
    with ctx.engine.connect() as conn:
        [result] = verify_all(conn, ctx.keys, "mueller")
        assert result.bad_seq == victim
        assert "altered" in (result.problem or "")
        cp = verify_checkpoint(read(exported, "pruefpunkt.json"))
        checked = check_against_journal(conn, ctx.keys, cp)
    assert not checked.ok
    assert f"entry {victim}" in (checked.problem or "")
    assert verify_export(exported).ok  # the export is its own proof


def test_a_malformed_manifest_is_named_not_a_crash(exported: Path, tmp_path: Path) -> None:
    manifest = json.loads(read(exported, "manifest.json"))
    del manifest["files"][0]["size"]
    bad = tmp_path / "bad.zip"
    rewrite(
        exported,
        bad,
        lambda n, d: (n, json.dumps(manifest).encode() if n == "manifest.json" else d),
    )
    [problem] = verify_export(bad).problems
    assert problem.startswith("changed: manifest.json (it is malformed")

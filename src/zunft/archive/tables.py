"""The export's CSV tables and their description, index.xml, in the form of the GDPdU
"Beschreibungsstandard" that tax-audit software reads (docs/archive.md, "index.xml").

Each table is declared once (file, name, description, columns with type); the same
declaration drives the CSV writer and index.xml, so the two cannot drift apart. CSV files are
UTF-8, columns separated by ";", text in double quotes, records ended by CR LF; dates
DD.MM.YYYY and times HH:MM:SS in German time (Europe/Berlin), with the exact instant in a
`*_ms` column (milliseconds since 1970, UTC). The primary key columns come first, as the
standard lists VariablePrimaryKey before VariableColumn.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Europe/Berlin")
DTD_NAME = "gdpdu-01-08-2002.dtd"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # AlphaNumeric | Numeric | Date
    description: str


@dataclass(frozen=True)
class TableDef:
    file: str
    name: str
    description: str
    keys: tuple[Column, ...]
    columns: tuple[Column, ...]
    foreign: tuple[tuple[str, str], ...] = field(default=())  # (column, referenced table name)

    @property
    def header(self) -> list[str]:
        return [c.name for c in (*self.keys, *self.columns)]


def _a(name: str, description: str) -> Column:
    return Column(name, "AlphaNumeric", description)


def _n(name: str, description: str) -> Column:
    return Column(name, "Numeric", description)


def _d(name: str, description: str) -> Column:
    return Column(name, "Date", description)


CHATS = TableDef(
    "tabellen/unterhaltungen.csv",
    "Unterhaltungen",
    "Die exportierten Unterhaltungen (Auftrags-Chats, Kanäle, Kunden-Chats, Direktchats).",
    (_a("unterhaltung_id", "Kennung der Unterhaltung"),),
    (
        _a("art", "project: Auftrag, channel: Kanal, customer: Kunden-Chat, direct: Direktchat"),
        _a("titel", "Name der Unterhaltung"),
        _a("auftrag_id", "Kennung des Auftrags (leer, wenn keiner)"),
        _d("angelegt_datum", "Tag, an dem die Unterhaltung angelegt wurde"),
        _a("protokoll_datei", "Das lesbare Protokoll (PDF) in diesem Export"),
    ),
)
MESSAGES = TableDef(
    "tabellen/nachrichten.csv",
    "Nachrichten",
    "Alle Nachrichten im Zeitraum, auch bearbeitete und gelöschte (als solche gekennzeichnet).",
    (_a("nachricht_id", "Kennung der Nachricht"),),
    (
        _a("unterhaltung_id", "Unterhaltung, in der sie geschrieben wurde"),
        _n("journal_nr", "Laufende Nummer des Journaleintrags, mit dem sie gesendet wurde"),
        _d("datum", "Tag des Sendens (deutsche Zeit)"),
        _a("uhrzeit", "Uhrzeit des Sendens, HH:MM:SS (deutsche Zeit)"),
        _n("zeit_ms", "Zeitpunkt des Sendens in Millisekunden seit 1970 (UTC)"),
        _a("absender_id", "Kennung der Person, die sie geschrieben hat"),
        _a("absender_name", "Name dieser Person"),
        _a("antwort_auf_id", "Nachricht, auf die sie antwortet (leer, wenn keine)"),
        _a("text", "Text in der letzten Fassung"),
        _n("bearbeitungen", "Wie oft der Text geändert wurde (frühere Fassungen: fassungen.csv)"),
        _d("bearbeitet_datum", "Tag der letzten Änderung (leer, wenn nie geändert)"),
        _a("geloescht", "ja, wenn die Nachricht gelöscht wurde (der Text bleibt im Archiv)"),
        _d("geloescht_datum", "Tag des Löschens"),
        _a("geloescht_von_id", "Person, die gelöscht hat"),
        _n("anhaenge", "Zahl der angehängten Dateien (anhaenge.csv)"),
        _d(
            "frist_geloescht_datum",
            "Tag, an dem der Text nach Ablauf der Aufbewahrungsfrist gelöscht wurde (leer: "
            "vorhanden)",
        ),
    ),
    (("unterhaltung_id", "Unterhaltungen"), ("antwort_auf_id", "Nachrichten")),
)
REVISIONS = TableDef(
    "tabellen/fassungen.csv",
    "Fassungen",
    "Frühere Fassungen bearbeiteter Nachrichten (Fassung 0 ist der zuerst gesendete Text).",
    (_a("nachricht_id", "Kennung der Nachricht"), _n("fassung", "Nummer der Fassung")),
    (
        _a("text", "Text dieser Fassung"),
        _d("geschrieben_datum", "Tag, an dem diese Fassung geschrieben wurde"),
        _n("geschrieben_ms", "Zeitpunkt in Millisekunden seit 1970 (UTC)"),
        _n("ersetzt_ms", "Zeitpunkt, an dem sie ersetzt wurde, Millisekunden seit 1970 (UTC)"),
    ),
    (("nachricht_id", "Nachrichten"),),
)
PARTICIPANTS = TableDef(
    "tabellen/teilnehmer.csv",
    "Teilnehmer",
    "Wer an welcher Unterhaltung teilnimmt (heutiger Stand).",
    (_a("unterhaltung_id", "Kennung der Unterhaltung"), _a("person_id", "Kennung der Person")),
    (
        _a("name", "Name der Person"),
        _a("art", "staff: Mitarbeiter, customer: Kunde"),
        _a("rolle", "owner, office, lead, worker, apprentice oder customer"),
        _d("beigetreten_datum", "Tag des Beitritts"),
    ),
    (("unterhaltung_id", "Unterhaltungen"),),
)
ATTACHMENTS = TableDef(
    "tabellen/anhaenge.csv",
    "Anhaenge",
    "Dateien (Fotos, Videos, Dokumente) mit Prüfsumme; die Originale liegen unter dateien/.",
    (_a("datei_id", "Kennung der Datei"),),
    (
        _a("nachricht_id", "Nachricht, an der sie hängt (leer, wenn an keiner)"),
        _a("unterhaltung_id", "Unterhaltung, in die sie hochgeladen wurde"),
        _a("art", "photo, video, voice, document oder file"),
        _a("inhaltstyp", "Dateityp (MIME), aus dem Inhalt bestimmt"),
        _n("groesse_bytes", "Größe des Originals in Bytes"),
        _a("dateiname", "Dateiname beim Hochladen"),
        _a("sha256", "SHA-256 des Originals (hexadezimal)"),
        _d("hochgeladen_datum", "Tag des Hochladens"),
        _a("pfad", "Pfad des Originals in diesem Export"),
    ),
    (("nachricht_id", "Nachrichten"), ("unterhaltung_id", "Unterhaltungen")),
)
REPORTS = TableDef(
    "tabellen/meldungen.csv",
    "Meldungen",
    "Meldungen (Mängel, Probleme) zu den exportierten Aufträgen im Zeitraum.",
    (_a("meldung_id", "Kennung der Meldung"),),
    (
        _n("nummer", "Nummer der Meldung im Betrieb"),
        _a("auftrag_id", "Auftrag"),
        _a("kategorie", "Kategorie"),
        _a("prioritaet", "normal oder dringend"),
        _a("text", "Beschreibung"),
        _a("status", "offen, angenommen, in_arbeit oder erledigt"),
        _a("erstellt_von_id", "Person, die gemeldet hat"),
        _d("erstellt_datum", "Tag der Meldung"),
        _a("erstellt_uhrzeit", "Uhrzeit der Meldung"),
        _a("zustaendig_id", "zuständige Person"),
        _a("foto_ids", "Kennungen der noch gespeicherten Fotos, durch Leerzeichen getrennt"),
        _d(
            "frist_geloescht_datum",
            "Tag, an dem Beschreibung und Ort nach Ablauf der Aufbewahrungsfrist gelöscht wurden "
            "(leer: vorhanden)",
        ),
    ),
)
CONSENTS = TableDef(
    "tabellen/einwilligungen.csv",
    "Einwilligungen",
    "Einwilligungen von Kunden und ihr Widerruf, mit dem Nachweis aus dem Journal.",
    (_n("journal_nr", "Laufende Nummer des Journaleintrags"),),
    (
        _a("ereignis", "erteilt oder widerrufen"),
        _a("kunde_id", "Kennung des Kunden"),
        _a("kunde_name", "Name des Kunden"),
        _a("unterhaltung_id", "Kunden-Chat"),
        _n("version", "Fassung des Einwilligungstextes"),
        _a("text_sha256", "SHA-256 des Einwilligungstextes"),
        _d("datum", "Tag"),
        _a("uhrzeit", "Uhrzeit"),
        _a("geraet", "Gerät, auf dem eingewilligt wurde"),
    ),
)
TABLES = (CHATS, MESSAGES, REVISIONS, PARTICIPANTS, ATTACHMENTS, REPORTS, CONSENTS)


def date_of(ms: int | None) -> str:
    return "" if ms is None else datetime.fromtimestamp(ms / 1000, LOCAL).strftime("%d.%m.%Y")


def time_of(ms: int | None) -> str:
    return "" if ms is None else datetime.fromtimestamp(ms / 1000, LOCAL).strftime("%H:%M:%S")


class CsvTable:
    """Rows of one table, written to a (temporary) binary file as they come."""

    def __init__(self, table: TableDef, out: IO[bytes]) -> None:
        self.table = table
        self.out = out
        self.rows = 0
        self._text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        self._csv = csv.writer(
            self._text, delimiter=";", quotechar='"', lineterminator="\r\n", quoting=csv.QUOTE_ALL
        )
        self._csv.writerow(table.header)
        self._width = len(table.header)

    def add(self, row: Sequence[Any]) -> None:
        if len(row) != self._width:
            raise ValueError(f"{self.table.file}: {len(row)} values for {self._width} columns")
        self._csv.writerow(["" if v is None else v for v in row])
        self.rows += 1

    def detach(self) -> IO[bytes]:
        self._text.flush()
        self._text.detach()
        return self.out


def index_xml(
    *, business: str, location: str, comment: str, since: str | None, until: str | None
) -> bytes:
    """index.xml describing TABLES (the files must have been written with CsvTable)."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<!DOCTYPE DataSet SYSTEM "{DTD_NAME}">',
        "<DataSet>",
        "  <Version>1.0</Version>",
        "  <DataSupplier>",
        f"    <Name>{escape(business)}</Name>",
        f"    <Location>{escape(location)}</Location>",
        f"    <Comment>{escape(comment)}</Comment>",
        "  </DataSupplier>",
        "  <Media>",
        "    <Name>zunft-Export</Name>",
    ]
    for t in TABLES:
        out += [
            "    <Table>",
            f"      <URL>{escape(t.file)}</URL>",
            f"      <Name>{escape(t.name)}</Name>",
            f"      <Description>{escape(t.description)}</Description>",
        ]
        if since or until:
            out += [
                "      <Validity>",
                "        <Range>",
                f"          <From>{escape(since or '')}</From>",
                f"          <To>{escape(until or '')}</To>",
                "        </Range>",
                "        <Format>DD.MM.YYYY</Format>",
                "      </Validity>",
            ]
        out += [
            "      <UTF8/>",
            "      <DecimalSymbol>,</DecimalSymbol>",
            "      <DigitGroupingSymbol>.</DigitGroupingSymbol>",
            "      <VariableLength>",
            "        <ColumnDelimiter>;</ColumnDelimiter>",
            "        <RecordDelimiter>&#13;&#10;</RecordDelimiter>",
            '        <TextEncapsulator>"</TextEncapsulator>',
        ]
        for tag, cols in (("VariablePrimaryKey", t.keys), ("VariableColumn", t.columns)):
            for c in cols:
                kind = (
                    "<Date><Format>DD.MM.YYYY</Format></Date>"
                    if c.kind == "Date"
                    else (f"<{c.kind}/>")
                )
                out.append(
                    f"        <{tag}><Name>{escape(c.name)}</Name>"
                    f"<Description>{escape(c.description)}</Description>{kind}</{tag}>"
                )
        for column, references in t.foreign:
            out.append(
                f"        <ForeignKey><Name>{escape(column)}</Name>"
                f"<References>{escape(references)}</References></ForeignKey>"
            )
        out += ["      </VariableLength>", "    </Table>"]
    out += ["  </Media>", "</DataSet>", ""]
    return "\n".join(out).encode("utf-8")


# Our own document type definition of the subset of the Beschreibungsstandard that index.xml
# uses, written from the standard's structure; audit software looks for it beside index.xml.
DTD = """<!-- Document type of index.xml (GDPdU Beschreibungsstandard, the elements zunft uses) -->
<!ELEMENT DataSet (Version, DataSupplier?, Media+)>
<!ELEMENT Version (#PCDATA)>
<!ELEMENT DataSupplier (Name, Location, Comment)>
<!ELEMENT Location (#PCDATA)>
<!ELEMENT Comment (#PCDATA)>
<!ELEMENT Media (Name, Table+)>
<!ELEMENT Name (#PCDATA)>
<!ELEMENT Table (URL, Name?, Description?, Validity?, UTF8?, DecimalSymbol?,
                 DigitGroupingSymbol?, VariableLength)>
<!ELEMENT URL (#PCDATA)>
<!ELEMENT Description (#PCDATA)>
<!ELEMENT Validity (Range, Format?)>
<!ELEMENT Range (From, To?)>
<!ELEMENT From (#PCDATA)>
<!ELEMENT To (#PCDATA)>
<!ELEMENT Format (#PCDATA)>
<!ELEMENT UTF8 EMPTY>
<!ELEMENT DecimalSymbol (#PCDATA)>
<!ELEMENT DigitGroupingSymbol (#PCDATA)>
<!ELEMENT VariableLength (ColumnDelimiter?, RecordDelimiter?, TextEncapsulator?,
                          VariablePrimaryKey+, VariableColumn*, ForeignKey*)>
<!ELEMENT ColumnDelimiter (#PCDATA)>
<!ELEMENT RecordDelimiter (#PCDATA)>
<!ELEMENT TextEncapsulator (#PCDATA)>
<!ELEMENT VariablePrimaryKey (Name, Description?, (Numeric | AlphaNumeric | Date))>
<!ELEMENT VariableColumn (Name, Description?, (Numeric | AlphaNumeric | Date))>
<!ELEMENT Numeric (Accuracy?)>
<!ELEMENT Accuracy (#PCDATA)>
<!ELEMENT AlphaNumeric EMPTY>
<!ELEMENT Date (Format)>
<!ELEMENT ForeignKey (Name+, References)>
<!ELEMENT References (#PCDATA)>
"""

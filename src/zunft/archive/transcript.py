"""The readable transcript of one chat as PDF (fpdf2), part of an export (docs/archive.md).

Each message: time, author, text; a reply names the message it answers; photos appear as
thumbnails, other files by name and size; an edited message says so and lists its earlier
versions; a deleted one is marked "gelöscht" with who deleted it and when (its text stays in
the archive). The PDF's built-in fonts cover Latin-1, which holds every German letter;
other characters become their nearest plain form or "?". A long chat is split into volumes
(`Teil 2`, …) so memory stays bounded: fpdf2 keeps a document's pages until it is written.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from fpdf import FPDF

from zunft.archive.tables import date_of, time_of

_REPLACE = {"–": "-", "—": "-", "„": '"', "“": '"', "”": '"', "‚": "'", "‘": "'", "’": "'",
            "…": "...", "€": "EUR", "\u00a0": " ", "\t": "    "}  # fmt: skip
THUMB_MM = 40.0


def pdf_text(text: str) -> str:
    text = "".join(_REPLACE.get(c, c) for c in text)
    return text.encode("latin-1", "replace").decode("latin-1")


@dataclass
class Attachment:
    kind: str
    name: str
    size: int
    thumb: bytes | None = None  # JPEG of the thumbnail, for photos and video posters
    width: int | None = None
    height: int | None = None


@dataclass
class Entry:
    time_ms: int
    author: str
    text: str
    reply_to: str | None = None  # "Nachricht von X vom …"
    edited_at: int | None = None
    earlier: list[tuple[int, int, str]] = field(default_factory=list)  # (rev, written, text)
    deleted_at: int | None = None
    deleted_by: str | None = None
    attachments: list[Attachment] = field(default_factory=list)


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f} MB".replace(".", ",")
    return f"{max(1, round(n / 1024))} KB"


class _Pdf(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 6, f"{self.footer_text} - Seite {self.page_no()} von {{nb}}", align="C")


class Transcript:
    def __init__(
        self,
        *,
        business: str,
        title: str,
        kind: str,
        period: str,
        created: str,
        head: str,
        volume: int,
    ) -> None:
        self.count = 0
        pdf = _Pdf(orientation="P", unit="mm", format="A4")
        name = f"Gesprächsprotokoll {title}" + (f", Teil {volume}" if volume > 1 else "")
        pdf.footer_text = pdf_text(name)
        pdf.set_title(pdf_text(name))
        pdf.set_author(pdf_text(business))
        pdf.set_creator("zunft")
        pdf.set_auto_page_break(auto=True, margin=16)
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 18)
        pdf.multi_cell(0, 10, pdf_text(name), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 10)
        for label, value in (
            ("Betrieb", business),
            ("Unterhaltung", f"{title} ({kind})"),
            ("Zeitraum", period),
            ("Erstellt", created),
            ("Journal-Stand", head),
        ):
            pdf.multi_cell(0, 5, pdf_text(f"{label}: {value}"), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        self.pdf = pdf

    def add(self, e: Entry) -> None:
        pdf = self.pdf
        self.count += 1
        pdf.set_font("Helvetica", "B", 9)
        head = f"{date_of(e.time_ms)} {time_of(e.time_ms)}  {e.author}"
        if e.deleted_at is not None:
            head += f"  [gelöscht am {date_of(e.deleted_at)} {time_of(e.deleted_at)}"
            head += f" von {e.deleted_by}]" if e.deleted_by else "]"
        elif e.edited_at is not None:
            head += f"  [bearbeitet am {date_of(e.edited_at)} {time_of(e.edited_at)}]"
        pdf.multi_cell(0, 4.5, pdf_text(head), new_x="LMARGIN", new_y="NEXT")
        if e.reply_to:
            pdf.set_font("Helvetica", "I", 8)
            pdf.multi_cell(0, 4, pdf_text(f"Antwort auf {e.reply_to}"), new_x="LMARGIN",
                           new_y="NEXT")  # fmt: skip
        if e.text:
            pdf.set_font("Helvetica", "", 10)
            pdf.multi_cell(0, 5, pdf_text(e.text), new_x="LMARGIN", new_y="NEXT")
        for rev, written, text in e.earlier:
            pdf.set_font("Helvetica", "I", 8)
            label = f"Fassung {rev} vom {date_of(written)} {time_of(written)}: {text}"
            pdf.multi_cell(0, 4, pdf_text(label), new_x="LMARGIN", new_y="NEXT")
        for a in e.attachments:
            self._attachment(a)
        pdf.ln(2.5)

    def _attachment(self, a: Attachment) -> None:
        pdf = self.pdf
        pdf.set_font("Helvetica", "", 8)
        label = {"photo": "Foto", "video": "Video", "voice": "Sprachnachricht"}.get(a.kind, "Datei")
        if a.thumb is not None and a.width and a.height:
            scale = THUMB_MM / max(a.width, a.height)
            w, h = a.width * scale, a.height * scale
            if pdf.get_y() + h > pdf.h - 18:
                pdf.add_page()
            pdf.image(io.BytesIO(a.thumb), w=w, h=h)
        pdf.multi_cell(0, 4, pdf_text(f"{label}: {a.name} ({_size(a.size)})"), new_x="LMARGIN",
                       new_y="NEXT")  # fmt: skip

    def output(self) -> bytes:
        if self.count == 0:
            self.pdf.set_font("Helvetica", "I", 10)
            self.pdf.multi_cell(0, 5, "Keine Nachrichten im Zeitraum.")
        return bytes(self.pdf.output())

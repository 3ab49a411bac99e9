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
from fpdf.fonts import CoreFont

from zunft.archive.tables import date_of, time_of

_REPLACE = {"–": "-", "—": "-", "„": '"', "“": '"', "”": '"', "‚": "'", "‘": "'", "’": "'",
            "…": "...", "€": "EUR", "\u00a0": " ", "\t": "    "}  # fmt: skip
THUMB_MM = 40.0
KINDS = {"project": "Auftrag", "channel": "Kanal", "customer": "Kunden-Chat",
         "direct": "Direktchat"}  # fmt: skip


_TABLE = str.maketrans(_REPLACE)


def pdf_text(text: str) -> str:
    return text.translate(_TABLE).encode("latin-1", "replace").decode("latin-1")


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
    erased_at: int | None = None  # its retention ended: the text is gone (crypto-shredded)
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
        self.pdf = pdf
        for label, value in (
            ("Betrieb", business),
            ("Unterhaltung", f"{title} ({KINDS.get(kind, kind)})"),
            ("Zeitraum", period),
            ("Erstellt", created),
            ("Journal-Stand", head),
        ):
            self._para(f"{label}: {value}", "", 10, 5)
        pdf.ln(4)

    # fpdf2's multi_cell breaks lines in a way that costs milliseconds per message (it
    # re-measures the line for every character); a transcript of 100,000 messages would take
    # many minutes. Lines are broken here with the font's own character widths, and each line
    # is placed with text(), which costs some microseconds.
    def _para(self, text: str, style: str, size: float, line_h: float, indent: float = 0) -> None:
        pdf = self.pdf
        pdf.set_font("Helvetica", style, size)
        font = pdf.current_font
        widths: dict[str, int] = font.cw if isinstance(font, CoreFont) else {}
        scale = size * 0.001 * 25.4 / 72  # font units to mm
        room = (pdf.w - pdf.l_margin - pdf.r_margin - indent) / scale
        for paragraph in pdf_text(text).split("\n"):
            for line in _wrap(paragraph, widths, room):
                self._line(line, line_h, indent, size)

    def _line(self, line: str, line_h: float, indent: float, size: float) -> None:
        pdf = self.pdf
        if pdf.get_y() + line_h > pdf.h - pdf.b_margin:
            pdf.add_page()
        pdf.text(pdf.l_margin + indent, pdf.get_y() + size * 0.3528 * 0.85, line)
        pdf.set_y(pdf.get_y() + line_h)

    def add(self, e: Entry) -> None:
        self.count += 1
        head = f"{date_of(e.time_ms)} {time_of(e.time_ms)}  {e.author}"
        if e.deleted_at is not None:
            head += f"  [gelöscht am {date_of(e.deleted_at)} {time_of(e.deleted_at)}"
            head += f" von {e.deleted_by}]" if e.deleted_by else "]"
        elif e.edited_at is not None:
            head += f"  [bearbeitet am {date_of(e.edited_at)} {time_of(e.edited_at)}]"
        if e.erased_at is not None:
            head += f"  [Text nach Ablauf der Aufbewahrungsfrist gelöscht am {date_of(e.erased_at)}"
            head += "]"
        self._para(head, "B", 9, 4.5)
        if e.reply_to:
            self._para(f"Antwort auf {e.reply_to}", "I", 8, 4, indent=4)
        if e.text:
            self._para(e.text, "", 10, 5, indent=4)
        for rev, written, text in e.earlier:
            self._para(
                f"Fassung {rev} vom {date_of(written)} {time_of(written)}: {text}", "I", 8, 4, 4
            )
        for a in e.attachments:
            self._attachment(a)
        self.pdf.set_y(self.pdf.get_y() + 2.5)

    def _attachment(self, a: Attachment) -> None:
        pdf = self.pdf
        label = {"photo": "Foto", "video": "Video", "voice": "Sprachnachricht"}.get(a.kind, "Datei")
        if a.thumb is not None and a.width and a.height:
            scale = THUMB_MM / max(a.width, a.height)
            w, h = a.width * scale, a.height * scale
            if pdf.get_y() + h > pdf.h - pdf.b_margin:
                pdf.add_page()
            try:
                pdf.image(io.BytesIO(a.thumb), x=pdf.l_margin + 4, y=pdf.get_y(), w=w, h=h)
                pdf.set_y(pdf.get_y() + h + 1)
            except Exception:  # a preview fpdf2 cannot read: the file itself is still exported
                self._para("(Vorschau nicht lesbar)", "I", 8, 4, indent=4)
        self._para(f"{label}: {a.name} ({_size(a.size)})", "", 8, 4, indent=4)

    def output(self) -> bytes:
        if self.count == 0:
            self._para("Keine Nachrichten im Zeitraum.", "I", 10, 5)
        return bytes(self.pdf.output())


def _wrap(text: str, widths: dict[str, int], room: float) -> list[str]:
    """Greedy line breaking at spaces (a word longer than a line is cut)."""
    if not text:
        return [""]
    lines: list[str] = []
    start = 0  # where the current line begins
    width = 0.0
    space = -1  # index of the last space in the current line
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == " ":
            space = i
        width += widths.get(c, 500)
        if width > room and i > start:
            cut = space if space > start else i
            lines.append(text[start:cut])
            start = cut + 1 if cut == space else cut
            i = start
            width = 0.0
            space = -1
            continue
        i += 1
    lines.append(text[start:])
    return lines

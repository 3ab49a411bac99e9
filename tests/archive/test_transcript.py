"""The transcript PDF on its own: line breaking keeps every word, characters outside the
font become plain forms, and an unreadable preview does not stop the export."""

from __future__ import annotations

import io

from fpdf.fonts import CORE_FONTS_CHARWIDTHS
from pypdf import PdfReader

from zunft.archive.transcript import Attachment, Entry, Transcript, _wrap, pdf_text


def _text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def _transcript() -> Transcript:
    return Transcript(
        business="Müller Haustechnik GmbH", title="Bad Weber", kind="project",
        period="01.01.2026 bis 31.01.2026", created="29.11.2026", head="3 Einträge", volume=1,
    )  # fmt: skip


def test_wrapping_keeps_every_character_and_fits_the_width() -> None:
    widths = CORE_FONTS_CHARWIDTHS["helvetica"]
    text = "Estrich " * 40 + "Donaudampfschifffahrtsgesellschaftskapitän" * 5
    lines = _wrap(text, widths, 20_000)
    assert len(lines) > 3
    assert all(sum(widths[c] for c in line) <= 20_000 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert _wrap("", widths, 100) == [""]


def test_characters_outside_the_font_become_plain_forms() -> None:
    assert pdf_text("„Kosten“ – 5 €…") == '"Kosten" - 5 EUR...'
    assert pdf_text("Größe ÄÖÜ äöü ß") == "Größe ÄÖÜ äöü ß"
    assert pdf_text("Daumen 👍") == "Daumen ?"


def test_a_long_chat_spans_pages_and_an_unreadable_preview_is_said() -> None:
    transcript = _transcript()
    for i in range(120):
        transcript.add(Entry(time_ms=1_767_225_600_000 + i, author="Jana Groß", text=f"Zeile {i}"))
    broken = Attachment("photo", "kaputt.jpg", 2048, thumb=b"not a jpeg", width=32, height=24)
    transcript.add(Entry(1_767_225_700_000, "Jana Groß", "Foto", attachments=[broken]))
    data = transcript.output()
    text = _text(data)
    assert len(PdfReader(io.BytesIO(data)).pages) > 1
    assert "Zeile 0" in text
    assert "Zeile 119" in text
    assert "(Vorschau nicht lesbar)" in text
    assert "Foto: kaputt.jpg (2 KB)" in text
    assert "Jana Groß" in text


def test_an_empty_period_says_so() -> None:
    assert "Keine Nachrichten im Zeitraum." in _text(_transcript().output())

"""The photo report ("Fotodokumentation"): a PDF of a project's photos in a period.

Cover: business, project, address, period, number of photos. Then each photo (its large,
upright preview, without EXIF) with capture time, author, caption, tags and, when asked
for, the position. Made with fpdf2; the PDF is built in memory (the previews are at most
1280 px, so a report of a few hundred photos stays in the tens of MB).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fpdf import FPDF
from sqlalchemy import select

from zunft.accounts.actor import Actor
from zunft.blobs.gallery import get_report_items
from zunft.blobs.media import LOCAL
from zunft.db import schema as s
from zunft.db.tx import Rx
from zunft.projects.service import access_project, project_view
from zunft.tenants.service import get_tenant


@dataclass
class ReportData:
    business: str
    project: str
    address: str | None
    period: str
    items: list[dict[str, Any]]
    authors: dict[str, str]
    created: str = ""  # "29.11.2026, 10:15 Uhr"


class _Report(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 6, _latin1(f"{self.footer_text} · Seite {self.page_no()} von {{nb}}"),
                  align="C")  # fmt: skip


def _latin1(text: str) -> str:
    """The PDF's built-in fonts know Latin-1 (all German letters); other characters become
    their closest plain form."""
    replacements = {"–": "-", "—": "-", "„": '"', "“": '"', "”": '"', "‚": "'", "‘": "'",
                    "’": "'", "…": "...", "€": "EUR", "\u00a0": " "}  # fmt: skip
    text = "".join(replacements.get(c, c) for c in text)
    return text.encode("latin-1", "replace").decode("latin-1")


def when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, LOCAL).strftime("%d.%m.%Y, %H:%M Uhr")


def day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, LOCAL).strftime("%d.%m.%Y")


def get_report_data(
    rx: Rx,
    actor: Actor,
    project_id: str,
    *,
    since: int | None,
    until: int | None,
    tags: list[str] | None,
) -> ReportData:
    row, chat_id = access_project(rx, actor, project_id)
    cipher = rx.cipher(actor.tenant_id)
    project = project_view(cipher, row, chat_id)
    items = get_report_items(rx, actor, project_id, since=since, until=until, tags=tags)
    uploader_ids = sorted({i["uploader_id"] for i in items})
    authors = {
        u.id: cipher.decrypt(f"users.name/{u.id}", u.name_enc)
        for u in rx.conn.execute(
            select(s.users.c.id, s.users.c.name_enc).where(
                s.users.c.tenant_id == actor.tenant_id, s.users.c.id.in_(uploader_ids)
            )
        ).all()
    }
    start = day(since) if since is not None else (day(items[0]["taken_at"]) if items else "-")
    end = day(until - 1) if until is not None else (day(items[-1]["taken_at"]) if items else "-")
    return ReportData(
        business=get_tenant(rx, actor.tenant_id).name,
        project=project["name"],
        address=project["address"],
        period=f"{start} bis {end}",
        items=items,
        authors=authors,
        created=when(rx.now_ms),
    )


def render(data: ReportData, previews: list[bytes], *, positions: bool) -> bytes:
    """The PDF; `previews[i]` is the JPEG of `data.items[i]`."""
    pdf = _Report(orientation="P", unit="mm", format="A4")
    pdf.footer_text = f"Fotodokumentation {data.project}" + (
        f", erstellt {data.created}" if data.created else ""
    )
    pdf.set_title(_latin1(f"Fotodokumentation {data.project}"))
    pdf.set_author(_latin1(data.business))
    pdf.set_creator("zunft")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 24)
    pdf.cell(0, 40, "Fotodokumentation", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 13)
    lines = [
        ("Betrieb", data.business),
        ("Auftrag", data.project),
        ("Adresse", data.address or "-"),
        ("Zeitraum", data.period),
        ("Fotos", str(len(data.items))),
        ("Erstellt", data.created or "-"),
    ]
    for label, value in lines:
        pdf.set_font("Helvetica", "B", 13)
        pdf.cell(35, 9, _latin1(f"{label}:"))
        pdf.set_font("Helvetica", "", 13)
        pdf.multi_cell(0, 9, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    for index, (item, jpeg) in enumerate(zip(data.items, previews, strict=True), start=1):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 12)
        pdf.cell(0, 8, _latin1(f"Foto {index} von {len(data.items)}"), new_x="LMARGIN",
                 new_y="NEXT")  # fmt: skip
        width, height = item["previews"]["large"]["width"], item["previews"]["large"]["height"]
        box_w, box_h = 180.0, 190.0
        scale = min(box_w / width, box_h / height)
        pdf.image(io.BytesIO(jpeg), x=15, w=width * scale, h=height * scale)
        pdf.ln(3)
        pdf.set_font("Helvetica", "", 11)
        facts = [
            f"Aufgenommen: {when(item['taken_at'])}",
            f"Von: {data.authors.get(item['uploader_id'], 'unbekannt')}",
        ]
        if item.get("caption"):
            facts.append(f"Beschreibung: {item['caption']}")
        if item.get("tags"):
            facts.append(f"Schlagworte: {', '.join(item['tags'])}")
        if positions and item.get("gps"):
            facts.append(f"Position: {item['gps']['lat']:.5f}, {item['gps']['lon']:.5f}")
        for fact in facts:
            pdf.multi_cell(0, 6, _latin1(fact), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())

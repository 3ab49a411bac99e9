"""The invitation as link, QR code (made here with segno, no third-party service) and e-mail
through the configured SMTP server (ZUNFT_SMTP_*)."""

from __future__ import annotations

import io
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import segno

from zunft.config import Settings
from zunft.errors import Conflict

LINK_PATH = "/kunde"


def invitation_link(origin: str, token: str) -> str:
    """The token travels in the fragment: browsers send neither it to the server nor it in a
    Referer header; the page reads it and exchanges it by POST."""
    return f"{origin.rstrip('/')}{LINK_PATH}#{token}"


def qr_svg(link: str, *, sized: bool = True) -> str:
    """The link as a standalone SVG document (with its namespace; no style, no script). With
    `sized` it carries its width and height, for showing as an image from a blob: URL; without,
    only a viewBox, for a page that parses it as SVG and sizes it with CSS (CSP: no inline
    style either way)."""
    out = io.BytesIO()
    segno.make(link, error="m").save(
        out, kind="svg", scale=4, border=4, xmldecl=False, svgns=True, omitsize=not sized, nl=False
    )
    return out.getvalue().decode("ascii")


def qr_png(link: str) -> bytes:
    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind="png", scale=6, border=4)
    return out.getvalue()


def check_mail_configured(settings: Settings) -> None:
    if not settings.smtp_host or not settings.smtp_from:
        raise Conflict(
            "This installation sends no e-mail (ZUNFT_SMTP_HOST and ZUNFT_SMTP_FROM unset); "
            "show the link or QR code instead.",
            code="email_not_configured",
        )


def invitation_email(
    settings: Settings,
    *,
    to: str,
    name: str,
    business: str,
    project: str,
    link: str,
    expires_at: int,
) -> EmailMessage:
    expires = datetime.fromtimestamp(expires_at / 1000, UTC).astimezone(ZoneInfo("Europe/Berlin"))
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Subject"] = f"{business}: Ihr Kunden-Chat zum Auftrag {project}"
    msg.set_content(
        f"Guten Tag {name},\n\n"
        f"{business} lädt Sie ein, über Ihren Auftrag „{project}“ direkt mit dem Betrieb zu "
        "schreiben – im Browser Ihres Telefons, ohne App.\n\n"
        f"Ihr persönlicher Link (gültig bis {expires:%d.%m.%Y %H:%M} Uhr, nur einmal "
        f"verwendbar):\n{link}\n\n"
        "Bevor Sie etwas sehen oder schreiben, zeigt Ihnen der Link, welche Daten der Betrieb "
        "verarbeitet, und fragt nach Ihrer Einwilligung. Sie können sie jederzeit widerrufen.\n\n"
        "Falls Sie diese E-Mail nicht erwartet haben, ignorieren Sie sie bitte.\n\n"
        f"Mit freundlichen Grüßen\n{business}\n"
    )
    msg.add_attachment(qr_png(link), maintype="image", subtype="png", filename="einladung-qr.png")
    return msg


def send_email(settings: Settings, msg: EmailMessage, *, timeout: float = 20.0) -> None:
    """Deliver one message; raises OSError or smtplib.SMTPException when the server refuses."""
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(msg)

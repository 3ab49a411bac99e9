"""Light formatting, stored as source and rendered only through this escaping renderer.

Syntax: *bold*, _italic_, lines starting with "- " or "* " form a list, http(s) URLs become
links. Everything else is text: the renderer escapes all of it first, so no input can produce
markup of its own. The web app renders the same syntax in JavaScript with the same rules.
"""

from __future__ import annotations

import html
import re

_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)]")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")


def _inline(escaped: str) -> str:
    def link(m: re.Match[str]) -> str:
        url = m.group(0)
        return f'<a href="{url}" rel="noopener noreferrer nofollow" target="_blank">{url}</a>'

    out = _URL.sub(link, escaped)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    return _ITALIC.sub(r"<em>\1</em>", out)


def render_html(source: str) -> str:
    """HTML for a message source; safe to insert into a page."""
    parts: list[str] = []
    items: list[str] = []
    lines: list[str] = []

    def flush_lines() -> None:
        if lines:
            parts.append("<p>" + "<br>".join(lines) + "</p>")
            lines.clear()

    def flush_items() -> None:
        if items:
            parts.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()

    for raw in source.split("\n"):
        escaped = _inline(html.escape(raw, quote=True))
        stripped = raw.lstrip()
        if stripped.startswith(("- ", "* ")):
            flush_lines()
            items.append(_inline(html.escape(stripped[2:], quote=True)))
        elif not raw.strip():
            flush_lines()
            flush_items()
        else:
            flush_items()
            lines.append(escaped)
    flush_lines()
    flush_items()
    return "".join(parts)

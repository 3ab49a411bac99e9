"""Light formatting is rendered only through the escaping renderer: no input makes markup."""

from __future__ import annotations

import pytest

from zunft.messages.format import render_html


def test_bold_italic_lists_links() -> None:
    html = render_html("*Achtung* _heute_\n- Rohre\n- Fittings\nSiehe https://example.de/plan.pdf.")
    assert html == (
        "<p><strong>Achtung</strong> <em>heute</em></p>"
        "<ul><li>Rohre</li><li>Fittings</li></ul>"
        '<p>Siehe <a href="https://example.de/plan.pdf" rel="noopener noreferrer nofollow" '
        'target="_blank">https://example.de/plan.pdf</a>.</p>'
    )


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "*<b>fett</b>*",
        'https://example.de/"onmouseover="alert(1)',
        "javascript:alert(1)",
        "- <iframe src=//evil>",
    ],
)
def test_no_input_produces_markup_of_its_own(source: str) -> None:
    html = render_html(source)
    for tag in ("<script", "<img", "<b>", "<iframe", 'onmouseover="', 'href="javascript'):
        assert tag not in html


def test_only_http_links() -> None:
    assert "<a" not in render_html("ftp://example.de javascript:alert(1) data:text/html,x")


def test_snake_case_and_arithmetic_stay_plain() -> None:
    assert render_html("datei_name_v2 und 2*3*4") == "<p>datei_name_v2 und 2*3*4</p>"

"""The docs and the code agree: every setting and every command is documented, and the docs
name no setting that does not exist (after Datasette's tests/test_docs.py)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from zunft.cli import build_parser
from zunft.config import SETTINGS, Setting

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ROOT / "docs" / "operations.md"
ZUNFT_NAME = re.compile(r"\bZUNFT_[A-Z0-9_]*[A-Z0-9]\b")
# ZUNFT_ names that are not settings of zunft.config, with the reason they may appear in docs.
NOT_SETTINGS = {
    "ZUNFT_TEST_PG_URL": "the test suite's PostgreSQL (tests/conftest.py), not a server setting",
}


def _operations() -> str:
    return OPERATIONS.read_text(encoding="utf-8")


def _docs() -> Iterator[Path]:
    yield ROOT / "README.md"
    yield from sorted((ROOT / "docs").glob("*.md"))


def _default_cell(setting: Setting) -> str:
    value = setting.default
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == "":
        return "(empty)"
    return f"`{value}`"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_setting_is_documented_with_its_default(setting: Setting) -> None:
    rows = [line for line in _operations().splitlines() if line.startswith(f"| `{setting.env}` |")]
    assert rows, f"{setting.env} has no row in the settings table of docs/operations.md"
    assert len(rows) == 1, f"{setting.env} has {len(rows)} rows in docs/operations.md"
    cells = [c.strip() for c in rows[0].strip("|").split(" | ")]
    assert cells[1] == _default_cell(setting), (
        f"docs/operations.md gives {setting.env} the default {cells[1]}, "
        f"the code {_default_cell(setting)}"
    )
    assert len(cells[2]) > 20, f"{setting.env}: say what it does"


@pytest.mark.parametrize("path", list(_docs()), ids=lambda p: p.name)
def test_docs_name_only_real_settings(path: Path) -> None:
    known = {s.env for s in SETTINGS} | set(NOT_SETTINGS)
    named = set(ZUNFT_NAME.findall(path.read_text(encoding="utf-8")))
    assert not named - known, f"{path.name} names settings that do not exist: {named - known}"


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ("zunft",)
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every runnable command (the leaves of the subcommand tree) with its parser."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for sub in subs:
        for name, child in sub.choices.items():
            yield from _commands(child, (*path, name))


COMMANDS = list(_commands(build_parser()))


def test_the_command_tree_is_what_these_tests_expect() -> None:
    assert {" ".join(p) for p, _ in COMMANDS} >= {
        "zunft serve",
        "zunft demo",
        "zunft admin create-tenant",
        "zunft admin create-user",
        "zunft admin reset-password",
        "zunft archive verify",
    }


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    nxt = re.search(r"^#{1,3} ", text[start + len(heading) :], re.MULTILINE)
    return text[start : start + len(heading) + nxt.start()] if nxt else text[start:]


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_is_documented_with_its_options(
    path: tuple[str, ...], parser: argparse.ArgumentParser
) -> None:
    text = _operations()
    heading = f"### `{' '.join(path)}`"
    assert heading in text, f"docs/operations.md lacks a section {heading!r}"
    section = _section(text, heading)
    assert "```" in section, f"{heading}: show an example"
    for action in parser._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert f"`{flag}" in section, f"{heading}: document the option {flag}"

"""German word search over encrypted messages, limited to the chats a user may see."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.factories import Business, general_chat, make_business
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.errors import Invalid
from zunft.messages.service import do_delete_message, do_edit_message, do_send_message
from zunft.projects.service import do_create_project
from zunft.search.service import get_search_results
from zunft.search.tokens import stems


def texts(ctx: AppContext, biz: Business, role: str, q: str) -> list[str]:
    assert ctx.search.settle(biz.tenant_id)
    return [
        m["text"]
        for m in ctx.read(lambda rx: get_search_results(rx, ctx.search, biz.actor(role), q))[
            "results"
        ]
    ]


def test_stems_fold_inflection_umlauts_and_spelling() -> None:
    assert stems("Rohre") == stems("Rohr") == stems("ROHREN")
    assert stems("Heizkörper") == stems("Heizkoerper")
    assert stems("Straße") == stems("Strasse")


def test_search_finds_inflected_words_newest_first(ctx: AppContext, biz: Business) -> None:
    chat = general_chat(ctx, biz)
    for text in (
        "Das Rohr ist undicht.",
        "Neue Rohre bestellt.",
        "Fliesen kommen morgen.",
        "Heizkörper tropft",
    ):
        ctx.write(lambda tx, text=text: do_send_message(tx, biz.actor("worker"), chat, text=text))
    assert texts(ctx, biz, "lead", "Rohre") == ["Neue Rohre bestellt.", "Das Rohr ist undicht."]
    assert texts(ctx, biz, "lead", "heizkoerper") == ["Heizkörper tropft"]
    assert texts(ctx, biz, "lead", "rohr bestellt") == [
        "Neue Rohre bestellt."
    ]  # every word must match
    assert texts(ctx, biz, "lead", "Estrich") == []
    with pytest.raises(Invalid):
        texts(ctx, biz, "lead", "  ?! ")


def test_search_respects_visibility_and_business(ctx: AppContext, biz: Business) -> None:
    p = ctx.write(
        lambda tx: do_create_project(
            tx, biz.actor("office"), name="Geheim", member_ids=[biz.users["worker"]]
        )
    )
    ctx.write(
        lambda tx: do_send_message(
            tx, biz.actor("worker"), p["chat_id"], text="Wasserschaden im Keller"
        )
    )
    other = make_business(ctx, slug="schulz", name="Schulz Elektro")
    ctx.write(
        lambda tx: do_send_message(
            tx, other.actor("worker"), general_chat(ctx, other), text="Wasserschaden bei Schulz"
        )
    )
    assert texts(ctx, biz, "worker", "Wasserschaden") == ["Wasserschaden im Keller"]
    assert texts(ctx, biz, "owner", "Wasserschaden") == ["Wasserschaden im Keller"]
    assert texts(ctx, biz, "apprentice", "Wasserschaden") == []
    assert texts(ctx, other, "owner", "Wasserschaden") == ["Wasserschaden bei Schulz"]


def test_edits_and_deletes_update_the_index(ctx: AppContext, biz: Business) -> None:
    chat = general_chat(ctx, biz)
    msg = ctx.write(
        lambda tx: do_send_message(tx, biz.actor("worker"), chat, text="Estrich trocknet")
    )
    ctx.write(lambda tx: do_edit_message(tx, biz.actor("worker"), msg["id"], text="Putz trocknet"))
    assert texts(ctx, biz, "lead", "Estrich") == []
    assert texts(ctx, biz, "lead", "Putz") == ["Putz trocknet"]
    ctx.write(lambda tx: do_delete_message(tx, biz.actor("worker"), msg["id"]))
    assert texts(ctx, biz, "lead", "trocknet") == []


def test_index_holds_no_plain_words(ctx: AppContext, biz: Business) -> None:
    chat = general_chat(ctx, biz)
    ctx.write(lambda tx: do_send_message(tx, biz.actor("worker"), chat, text="Kupferrohr"))
    assert ctx.search.settle(biz.tenant_id)
    with ctx.search.engine.connect() as conn:
        tokens = list(conn.execute(select(s.search_postings.c.token)).scalars())
    assert tokens
    assert all(b"kupfer" not in bytes(t) for t in tokens)

"""The WebSocket stream against a real server: live delivery, resume, catch-up, visibility,
sends over the socket, heartbeats and bad frames."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.factories import Business, general_chat
from tests.realtime.live import WAIT, Device, Live, refused_status
from zunft.accounts.sessions import do_revoke_session
from zunft.accounts.users import do_change_user
from zunft.chats.service import do_change_membership, do_create_channel
from zunft.config import Settings
from zunft.context import open_context
from zunft.messages.service import do_send_message, get_history
from zunft.web.routes import stream as stream_route


def test_a_message_reaches_every_member_once(live: Live, biz: Business) -> None:
    chat = general_chat(live.ctx, biz)
    worker, lead = biz.actor("worker"), biz.actor("lead")
    with live.device(live.token(worker)) as w, live.device(live.token(lead)) as ld:
        sent = live.send(lead, chat, "Material kommt um 10")
        for dev in (w, ld):
            (frame,) = dev.events(1)
            assert frame["seq"] == sent["seq"]
            assert frame["data"]["text"] == "Material kommt um 10"
            assert frame["data"]["sender_id"] == lead.user_id
        live.settle()
        assert w.quiet() == []  # exactly once
        assert ld.quiet() == []


def test_hello_names_the_device_and_the_head(live: Live, biz: Business) -> None:
    worker = biz.actor("worker")
    token = live.token(worker)
    sent = live.send(worker, general_chat(live.ctx, biz), "Hallo")
    with live.device(token) as dev:
        assert dev.hello["user_id"] == worker.user_id
        assert dev.hello["seq"] == sent["seq"]
        assert dev.hello["resumed"] is False
        sync = dev.next("sync")
        (chat,) = [c for c in sync["chats"] if c["id"] == sent["chat_id"]]
        assert chat["last_message"]["text"] == "Hallo"


def test_resume_replays_exactly_what_was_missed(live: Live, biz: Business) -> None:
    chat = general_chat(live.ctx, biz)
    worker, lead = biz.actor("worker"), biz.actor("lead")
    token = live.token(worker)
    with live.device(token) as dev:
        position = dev.hello["seq"]
    missed = [live.send(lead, chat, f"Nachricht {i}")["seq"] for i in range(5)]
    with live.device(token, since=position) as dev:
        assert dev.hello["resumed"] is True
        got = [f["seq"] for f in dev.events(5)]
        assert got == missed
        dev.next("ready")
        later = live.send(lead, chat, "live")
        assert [f["seq"] for f in dev.events(1)] == [later["seq"]]
        live.settle()
        assert dev.quiet() == []


def test_reconnecting_during_a_burst_loses_and_repeats_nothing(live: Live, biz: Business) -> None:
    import threading

    chat = general_chat(live.ctx, biz)
    worker, lead = biz.actor("worker"), biz.actor("lead")
    token = live.token(worker)
    total = 120
    sent: list[int] = []

    def burst() -> None:
        for i in range(total):
            sent.append(live.send(lead, chat, f"Burst {i}")["seq"])

    with live.device(token) as dev:
        position = dev.position
    sender = threading.Thread(target=burst)
    sender.start()
    seen: list[int] = []
    # Reconnect again and again while the burst runs; each time resume from what was seen.
    while len(seen) < total:
        with live.device(token, since=position) as dev:
            for _ in range(7):
                if len(seen) == total:
                    break
                frame = dev.next("event")
                if frame["kind"] == "message.sent":
                    seen.append(frame["seq"])
            position = dev.position
    sender.join()
    assert seen == sent  # every one, in order, none twice


def test_a_device_offline_for_long_gets_a_compact_catch_up(live: Live, biz: Business) -> None:
    chat = general_chat(live.ctx, biz)
    worker, lead = biz.actor("worker"), biz.actor("lead")
    token = live.token(worker)
    with live.device(token) as dev:
        position = dev.position
    limit = live.ctx.settings.stream_catchup_max
    live.ctx.write(
        lambda tx: [do_send_message(tx, lead, chat, text=f"Tag {i}") for i in range(limit + 5)]
    )
    with live.device(token, since=position) as dev:
        assert dev.hello["resumed"] is False
        sync = dev.next("sync")
        (entry,) = [c for c in sync["chats"] if c["id"] == chat]
        assert entry["unread"] == limit + 5
        assert entry["last_message"]["text"] == f"Tag {limit + 4}"
        assert sync["seq"] == dev.hello["seq"]


@pytest.mark.parametrize("since", ["-1", "abc", "99999999999999999999999"])
def test_an_unusable_resume_position_is_refused_and_resynchronised(
    live: Live, biz: Business, since: str
) -> None:
    token = live.token(biz.actor("worker"))
    url = f"{live.url}?since={since}"
    with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        dev = Device(ws)
        dev.next("hello")
        assert dev.next("error")["code"] == "invalid_resume"
        assert dev.next("sync")["chats"]


def test_a_position_beyond_the_journal_is_refused_and_resynchronised(
    live: Live, biz: Business
) -> None:
    token = live.token(biz.actor("worker"))
    with live.device(token) as dev:
        head = dev.position
    with live.device(token, since=head + 1000) as dev:
        error = dev.next("error")
        assert error["code"] == "invalid_resume"
        assert dev.next("sync")["seq"] == head


def test_a_removed_member_gets_the_removal_and_nothing_after(live: Live, biz: Business) -> None:
    lead, worker = biz.actor("office"), biz.actor("worker")
    chat = live.ctx.write(
        lambda tx: do_create_channel(tx, lead, title="Baustelle", member_ids=[worker.user_id])
    )
    with live.device(live.token(worker)) as dev:
        live.send(lead, chat, "noch dabei")
        assert dev.events(1)[0]["data"]["text"] == "noch dabei"
        live.ctx.write(lambda tx: do_change_membership(tx, lead, chat, worker.user_id, add=False))
        removal = dev.events(1, kind="chat.member_removed")[0]
        assert removal["data"]["user_id"] == worker.user_id
        live.send(lead, chat, "geheim")
        live.settle()
        assert [f for f in dev.quiet() if f["type"] == "event"] == []
        # Added again: delivery opens again.
        live.ctx.write(lambda tx: do_change_membership(tx, lead, chat, worker.user_id, add=True))
        live.send(lead, chat, "wieder dabei")
        assert dev.events(1)[0]["data"]["text"] == "wieder dabei"


def test_owner_sees_a_new_channel_without_being_a_member(live: Live, biz: Business) -> None:
    lead, owner, worker = biz.actor("office"), biz.actor("owner"), biz.actor("worker")
    with live.device(live.token(owner)) as dev:
        chat = live.ctx.write(
            lambda tx: do_create_channel(tx, lead, title="Lager", member_ids=[worker.user_id])
        )
        live.send(worker, chat, "Schrauben alle")
        assert dev.events(1)[0]["data"]["text"] == "Schrauben alle"


def test_revoking_the_session_closes_the_stream(live: Live, biz: Business) -> None:
    worker = biz.actor("worker")
    token = live.token(worker)
    with live.device(token) as dev:
        session_id = dev.hello["session_id"]
        live.ctx.write(
            lambda tx: do_revoke_session(
                tx, type(worker)(worker.tenant_id, worker.user_id, worker.role), session_id
            )
        )
        assert dev.closed_with() == 4001
    assert refused_status(live.url, {"Authorization": f"Bearer {token}"}) == 401


def test_the_handshake_checks_the_origin(live: Live, biz: Business) -> None:
    token = live.token(biz.actor("worker"))
    bearer = {"Authorization": f"Bearer {token}"}
    assert refused_status(live.url, {**bearer, "Origin": "https://evil.example"}) == 403
    # A cookie without Origin (not a browser, or a forged request) is refused as well.
    assert refused_status(live.url, {"Cookie": f"zunft_session={token}"}) == 403
    cookie_from_elsewhere = {"Cookie": f"zunft_session={token}", "Origin": "http://evil.example"}
    assert refused_status(live.url, cookie_from_elsewhere) == 403
    # The server's own origin with the cookie: a browser on zunft's own page.
    with connect(
        live.url, additional_headers={"Cookie": f"zunft_session={token}"}, origin=live.origin
    ) as ws:
        assert Device(ws).next("hello")["user_id"] == biz.users["worker"]


def test_no_or_a_wrong_token_is_refused(live: Live, biz: Business) -> None:
    assert refused_status(live.url) == 403  # no token: a cookie client without Origin
    assert refused_status(live.url, {"Origin": live.origin}) == 401
    assert refused_status(live.url, {"Authorization": "Bearer " + "x" * 43}) == 401


def test_sends_over_the_socket_are_idempotent(live: Live, biz: Business) -> None:
    chat = general_chat(live.ctx, biz)
    worker = biz.actor("worker")
    token = live.token(worker)
    frame = {"type": "send", "chat_id": chat, "client_id": "handy-0001", "text": "Fertig"}
    with live.device(token) as dev:
        dev.send(frame)
        first = dev.next("ack")
        dev.send(frame)  # the phone did not see the ack and retries
        second = dev.next("ack")
    assert first["replayed"] is False
    assert second["replayed"] is True
    assert second["message"]["id"] == first["message"]["id"]
    # The same client id over HTTP finds the same message.
    from fastapi.testclient import TestClient

    from zunft.web.app import create_app

    with TestClient(create_app(live.ctx)) as http:
        r = http.post(
            f"/api/v1/chats/{chat}/messages",
            json={"client_id": "handy-0001", "text": "Fertig"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert r.json()["id"] == first["message"]["id"]
    history = live.ctx.read(lambda rx: get_history(rx, worker, chat))
    assert [m["text"] for m in history["messages"]].count("Fertig") == 1


def test_a_refused_send_gets_an_error_with_its_client_id(live: Live, biz: Business) -> None:
    token = live.token(biz.actor("worker"))
    with live.device(token) as dev:
        dev.send({"type": "send", "chat_id": "nope", "client_id": "handy-0002", "text": "x"})
        error = dev.next("error")
        assert (error["code"], error["client_id"]) == ("not_found", "handy-0002")
        dev.send({"type": "send", "chat_id": "nope", "client_id": "handy-0003"})
        error = dev.next("error")
        assert (error["code"], error["client_id"]) == ("validation_error", "handy-0003")


@pytest.mark.parametrize(
    "raw", ["kein json", "[1, 2]", '{"type": 5}', '{"type": "bogus"}', '{"type": "read"}']
)
def test_malformed_frames_get_an_error_and_the_stream_goes_on(
    live: Live, biz: Business, raw: str
) -> None:
    token = live.token(biz.actor("worker"))
    with live.device(token) as dev:
        dev.ws.send(raw)
        assert dev.next("error")["code"] == "invalid_frame"
        dev.send({"type": "ping"})
        assert dev.next("pong") == {"type": "pong"}


def test_a_frame_over_the_size_limit_closes_the_socket(live: Live, biz: Business) -> None:
    token = live.token(biz.actor("worker"))
    limit = live.ctx.settings.stream_max_frame_bytes
    with live.device(token) as dev:
        dev.send({"type": "send", "text": "x" * (limit + 1)})
        assert dev.closed_with() == 1009


def test_typing_goes_to_the_other_members_only(live: Live, biz: Business) -> None:
    chat = general_chat(live.ctx, biz)
    with (
        live.device(live.token(biz.actor("worker"))) as w,
        live.device(live.token(biz.actor("lead"))) as ld,
    ):
        w.send({"type": "typing", "chat_id": chat})
        frame = ld.next("typing")
        assert frame == {"type": "typing", "chat_id": chat, "user_id": biz.users["worker"]}
        live.settle()
        assert [f for f in w.quiet() if f["type"] == "typing"] == []


def test_presence_online_and_last_seen(live: Live, biz: Business) -> None:
    with live.device(live.token(biz.actor("lead"))) as ld:
        with live.device(live.token(biz.actor("worker"))) as w:
            online = ld.next("presence")
            assert (online["user_id"], online["online"]) == (biz.users["worker"], True)
            assert biz.users["lead"] in w.hello["online"]
        offline = ld.next("presence")
        assert (offline["user_id"], offline["online"]) == (biz.users["worker"], False)
        assert offline["last_seen"] == live.ctx.now_ms()


def test_heartbeat_finds_a_silent_device_within_a_minute(
    live: Live, biz: Business, clock: object
) -> None:
    from zunft.clock import FakeClock

    assert isinstance(clock, FakeClock)
    with (
        live.device(live.token(biz.actor("worker"))) as silent,
        live.device(live.token(biz.actor("lead"))) as alive,
    ):
        clock.advance(seconds=30)
        live.call(live.hub.heartbeat)
        while silent.recv()["type"] != "ping":  # read, but never answered
            pass
        assert alive.next("ping")["type"] == "ping"
        alive.send({"type": "pong"})
        live.settle()
        alive.quiet()  # the round trip proves the pong arrived
        clock.advance(seconds=26)  # 56 s since the silent device was last heard
        live.call(live.hub.heartbeat)
        assert silent.closed_with() == 4009
        live.send(biz.actor("owner"), general_chat(live.ctx, biz), "noch da?")
        assert alive.events(1)[0]["data"]["text"] == "noch da?"


def test_a_new_role_changes_what_the_stream_delivers(live: Live, biz: Business) -> None:
    office, worker, lead = biz.actor("office"), biz.actor("worker"), biz.actor("lead")
    chat = live.ctx.write(
        lambda tx: do_create_channel(tx, office, title="Büro", member_ids=[lead.user_id])
    )
    with live.device(live.token(worker)) as dev:
        live.send(lead, chat, "vor der Beförderung")
        live.ctx.write(lambda tx: do_change_user(tx, office, worker.user_id, role="office"))
        live.send(lead, chat, "nach der Beförderung")
        texts = [f["data"]["text"] for f in dev.events(1)]
        assert texts == ["nach der Beförderung"]


def test_entries_the_hub_learns_of_late_are_not_sent_twice(
    live: Live, biz: Business, settings: Settings
) -> None:
    """Another process commits (its own writer; this hub is not told): a device joining
    now gets the entry in its snapshot, and when this hub learns of it later (its poll, a
    doorbell), the device does not get it a second time."""
    chat = general_chat(live.ctx, biz)
    worker, lead = biz.actor("worker"), biz.actor("lead")
    token = live.token(worker)
    # The owner stays connected, so this hub keeps following the business from before.
    with live.device(live.token(biz.actor("owner"))) as owner:
        with live.device(token) as dev:
            position = dev.position
        other = open_context(settings, migrate=False)
        try:
            late = other.write(lambda tx: do_send_message(tx, lead, chat, text="von nebenan"))
        finally:
            other.close()
        with live.device(token, since=position) as dev:
            assert [f["seq"] for f in dev.events(1)] == [late["seq"]]  # from the journal
            live.run(live.hub.poll())  # now this hub learns of it too
            assert [f["seq"] for f in owner.events(1)] == [late["seq"]]
            after = live.send(lead, chat, "danach")
            assert [f["seq"] for f in dev.events(1)] == [after["seq"]]


def test_a_device_that_asks_for_batches_gets_a_burst_in_few_frames(
    live: Live, biz: Business
) -> None:
    chat = general_chat(live.ctx, biz)
    lead = biz.actor("lead")
    token = live.token(biz.actor("worker"))
    url = f"{live.url}?batch=1"
    with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        dev = Device(ws)
        dev.next("ready")
        burst = live.ctx.write(
            lambda tx: [do_send_message(tx, lead, chat, text=f"Teil {i}") for i in range(200)]
        )
        got = [f["seq"] for f in dev.events(200)]
        assert got == [m["seq"] for m in burst]  # all, in order, each once
        assert 0 < dev.batches < 200  # and in fewer frames than entries
        live.settle()
        assert dev.quiet() == []
        assert dev.position == burst[-1]["seq"]


def test_a_device_with_too_many_writes_in_flight_is_read_no_further(
    live: Live, biz: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At MAX_INFLIGHT unanswered writes the server reads no more of that device's frames
    (TCP holds the phone back) until some are answered; nothing is lost or reordered."""
    monkeypatch.setattr(stream_route, "MAX_INFLIGHT", 3)
    chat = general_chat(live.ctx, biz)
    worker = biz.actor("worker")
    started, gate = threading.Event(), threading.Event()

    def hold(_tx: object) -> None:
        started.set()
        gate.wait(WAIT)

    with live.device(live.token(worker)) as dev:
        blocker = live.ctx.writer.submit(hold)  # the writer is busy, in a batch of its own
        assert started.wait(WAIT)
        try:
            for n in range(5):
                dev.send(
                    {"type": "send", "chat_id": chat, "client_id": f"halt-{n:04d}", "text": f"#{n}"}
                )
            dev.send({"type": "ping"})
            deadline = time.monotonic() + WAIT
            while live.ctx.writer.queued < 3 and time.monotonic() < deadline:
                time.sleep(0.01)  # polling for a state, not timing anything
            assert live.ctx.writer.queued == 3  # three taken; the fourth frame not read
        finally:
            gate.set()
        blocker.result(WAIT)
        frames: list[dict[str, Any]] = []
        while len([f for f in frames if f["type"] == "ack"]) < 5:
            frames.append(dev.next("ack", "pong"))
    kinds = [f["type"] for f in frames]
    # Read only after the first three were answered: without the hold it came at once.
    assert kinds.index("pong") > 2, kinds
    acks = [f["client_id"] for f in frames if f["type"] == "ack"]
    assert acks == [f"halt-{n:04d}" for n in range(5)]
    history = live.ctx.read(lambda rx: get_history(rx, worker, chat))
    assert [m["text"] for m in history["messages"]][-5:] == [f"#{n}" for n in range(5)]

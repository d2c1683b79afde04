"""Presence against the real sandbox Asterisk: a phone's *76, the board's API, a
reconnect, and the journal in the real PostgreSQL.

The bridge, hub, board app and journal run in-process; Asterisk, SIPp and PostgreSQL
are the real ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from ami_bridge.bridge import AMIBridge
from ami_bridge.presence_journal import PresenceJournal
from devtools.sandbox import Sandbox
from devtools.sipp import place_call, run_call, start_phone
from switchboard.board.hub import BoardHub, Message, Subscription
from switchboard.board.pbxs import PBXs
from switchboard.config import PBXConfig
from switchboard.store.users import create_user
from switchboard_ui.app import create_app
from tests.conftest import BOARD_PASSWORD, log_in

pytestmark = pytest.mark.integration
COLLEAGUE = "207"  # an extension no other test uses


async def next_extension(
    subscription: Subscription, ext: str, wanted: dict[str, Any], timeout_s: float = 10
) -> Message:
    """The first "extension" delta for ``ext`` whose fields include ``wanted``."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"extension {ext} never showed {wanted}")
        message = await asyncio.wait_for(subscription.next(), left)
        data: dict[str, Any] = message.get("extension", {})
        if message["type"] == "extension" and data["extension"] == ext:
            if all(data.get(k) == v for k, v in wanted.items()):
                return data


async def wait_connected(bridge: AMIBridge, hub: BoardHub, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not (bridge.connected and any(e["extension"] == COLLEAGUE for e in _exts(hub))):
        if time.monotonic() > deadline:
            raise AssertionError("the bridge did not connect and resync")
        await asyncio.sleep(0.05)


def _exts(hub: BoardHub) -> list[dict[str, Any]]:
    extensions: list[dict[str, Any]] = hub.snapshot()["extensions"]
    return extensions


@pytest.fixture
async def live(
    sandbox: Sandbox, db: asyncpg.Pool
) -> AsyncIterator[tuple[AMIBridge, BoardHub, PresenceJournal]]:
    settings = sandbox.settings
    hub = BoardHub()
    journal = PresenceJournal(db)
    journal.start()
    pbx = PBXConfig(
        name="sandbox",
        port=settings.ami_port,
        username=settings.ami_username,
        secret=settings.ami_secret,
    )
    bridge = AMIBridge(pbx, hub, presence_journal=journal)
    await bridge.start()
    try:
        await wait_connected(bridge, hub)
        yield bridge, hub, journal
    finally:
        # Leave the colleague available for whatever runs next.
        if bridge.connected:
            await bridge.send_action(
                {
                    "Action": "Setvar",
                    "Variable": f"PRESENCE_STATE(CustomPresence:{COLLEAGUE})",
                    "Value": "available,,",
                }
            )
        await bridge.close()
        await journal.close()


async def dial_from_phone(ext: str, number: str) -> None:
    """Phone ``ext`` dials ``number`` (the sandbox knows phones by the From user)."""
    result = await asyncio.to_thread(run_call, ext, None, duration_s=0, dialed=number)
    assert result.ok, result.errors


async def test_dnd_from_the_phone_shows_and_is_journalled(
    live: tuple[AMIBridge, BoardHub, PresenceJournal], db: asyncpg.Pool
) -> None:
    bridge, hub, _ = live
    await bridge.send_action(
        {
            "Action": "Setvar",
            "Variable": f"PRESENCE_STATE(CustomPresence:{COLLEAGUE})",
            "Value": "available,,",
        }
    )
    _, subscription = hub.subscribe()
    await dial_from_phone(COLLEAGUE, "*76")
    shown = await next_extension(subscription, COLLEAGUE, {"shown": "dnd"})
    assert shown["dnd"] is True and shown["device"] == "idle"
    assert shown["name"] == f"Phone {COLLEAGUE}"  # the endpoint's callerid in pjsip.conf

    await dial_from_phone(COLLEAGUE, "*76")  # the same key switches it off
    await next_extension(subscription, COLLEAGUE, {"shown": "available", "dnd": False})
    subscription.close()

    # The timeline in the journal: the phone is in use while it dials *76, then idle on
    # DND, in use again for the second *76, then available.
    timeline: list[tuple[str, str]] = []
    for _ in range(50):
        rows = await db.fetch(
            "SELECT shown, presence FROM presence_log WHERE extension = $1 ORDER BY id",
            COLLEAGUE,
        )
        timeline = [(r["shown"], r["presence"]) for r in rows]
        if timeline[-1:] == [("available", "available")]:
            break
        await asyncio.sleep(0.1)
    assert ("dnd", "dnd") in timeline
    assert timeline[timeline.index(("dnd", "dnd")) :][-1] == ("available", "available")
    assert ("in_use", "dnd") in timeline  # in a call with DND on: in use, DND kept


async def test_a_status_set_on_the_board_survives_a_reconnect(
    live: tuple[AMIBridge, BoardHub, PresenceJournal], db: asyncpg.Pool
) -> None:
    bridge, hub, _ = live
    pbxs = PBXs()
    pbxs.add(bridge)
    await create_user(db, "sanne", BOARD_PASSWORD, role="receptionist", display_name="Sanne")
    async with TestClient(TestServer(create_app(db, hub, pbxs=pbxs))) as client:
        csrf = await log_in(client)
        _, subscription = hub.subscribe()
        body = {"extension": COLLEAGUE, "status": "away", "note": "lunch, back soon"}
        response = await client.post(
            "/api/presence", json={**body, "until": "13:30"}, headers={"X-CSRF-Token": csrf}
        )
        assert response.status == 200, await response.text()
        wanted = {"shown": "away", "note": "lunch, back soon", "until": "13:30"}
        await next_extension(subscription, COLLEAGUE, wanted)
        subscription.close()
        before = _exts(hub)

        # Cut the connection: the bridge reconnects and rebuilds from the PBX's lists.
        bridge._manager.protocol.transport.abort()
        await asyncio.sleep(0.2)
        await wait_connected(bridge, hub)
        await asyncio.sleep(0.5)  # the names (PJSIPShowEndpoint) come last
        assert _exts(hub) == before

        refused = await client.post(
            "/api/presence",
            json={"extension": COLLEAGUE, "status": "away", "note": "x" * 61, "until": "25:00"},
            headers={"X-CSRF-Token": csrf},
        )
        assert refused.status == 422
        assert set((await refused.json())["errors"]) == {"note", "until"}
        unknown = await client.post(
            "/api/presence",
            json={"extension": "999", "status": "dnd"},
            headers={"X-CSRF-Token": csrf},
        )
        assert unknown.status == 404


async def test_a_paused_queue_member_shows_paused_with_the_reason(
    live: tuple[AMIBridge, BoardHub, PresenceJournal],
) -> None:
    bridge, hub, _ = live
    _, subscription = hub.subscribe()
    pause = {"Action": "QueuePause", "Queue": "switchboard", "Interface": "PJSIP/100"}
    try:
        reply = await bridge.send_action({**pause, "Paused": "true", "Reason": "coffee"})
        assert reply["Response"] == "Success", reply
        paused = [
            {"queue": "switchboard", "paused": True, "reason": "coffee", "interface": "PJSIP/100"}
        ]
        await next_extension(subscription, "100", {"queues": paused})
    finally:
        await bridge.send_action({**pause, "Paused": "false"})
    working = [{"queue": "switchboard", "paused": False, "reason": "", "interface": "PJSIP/100"}]
    await next_extension(subscription, "100", {"queues": working})
    subscription.close()


async def test_the_bridge_tells_the_board_how_long_waiting_callers_wait(
    live: tuple[AMIBridge, BoardHub, PresenceJournal],
) -> None:
    # Issue 13, part 1, live: the operator answers one caller (the queue learns a handle
    # time and a wait), then two callers wait while the operator's phone rings unanswered:
    # the bridge publishes an estimate for each, the one further back no shorter.
    _bridge, hub, _ = live
    _, subscription = hub.subscribe()
    with_operator = start_phone("100", answer_after_s=1.0)
    try:
        await asyncio.to_thread(place_call("0612000031", None, duration_s=2).wait, 30)
    finally:
        with_operator.stop()
    ringing_out = start_phone("100", answer_after_s=600.0)
    numbers = ("0612000032", "0612000033")
    callers = [place_call(n, None, duration_s=1, timeout_s=20) for n in numbers]
    try:
        deadline = time.monotonic() + 15
        while True:
            message = await asyncio.wait_for(subscription.next(), deadline - time.monotonic())
            if message["type"] == "waits" and len(message["waits"]) == 2:
                break
        first, second = (w["minutes"] for w in message["waits"])
        assert 1 <= first <= second
    finally:
        for caller in callers:
            caller.stop()
        ringing_out.stop()
        subscription.close()

"""Issue 15 with real SIPp calls through the sandbox Asterisk and the session's switchboard
(`switchboard run`; queue "switchboard", its member the operator, phone 100):

- a caller hangs up in the queue and is on the worklist; one receptionist claims the item
  (a second is refused, naming the first), calls back from the board (her phone rings,
  then the number: the SIPp "caller" on the trunk's far side answers), records the
  outcome, and the item closes;
- ``06…`` and ``+316…`` are one item, and the caller who calls in again and is answered
  resolves it;
- a scripted run of calls (answered after about 10 s and 20 s, hung up after 3 s and
  30 s, one sent on by the fallback chain, one callback that reaches its caller) moves
  today's figures as counted by hand.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import asyncpg
import pytest

from devtools.sandbox import Sandbox
from devtools.sipp import SippProcess, place_call, start_phone
from tests.callback_calls import ACCEPTS, ask, becomes
from tests.conftest import RunningSwitchboard
from tests.integration.test_call_control_sandbox import receptionist
from tests.sandbox_ami import Asterisk, collect, until

pytestmark = pytest.mark.integration


def fresh_national() -> str:
    return f"0613{random.randrange(10**5, 10**6)}"


async def item_of(db: asyncpg.Pool, e164: str) -> Any:
    return await db.fetchrow(
        "SELECT id, state, attempts, resolved_how, resolved_call, outcome, note"
        " FROM worklist_items WHERE e164 = $1 ORDER BY id DESC LIMIT 1",
        e164,
    )


async def ended(call: SippProcess, timeout_s: float) -> None:
    await until(lambda: call.poll() is not None, timeout_s, "the caller's SIPp ended")


@pytest.mark.timeout(240)
async def test_an_abandoned_caller_is_claimed_called_back_from_the_board_and_closed(
    asterisk: Asterisk, db: asyncpg.Pool, switchboard: RunningSwitchboard
) -> None:
    national = fresh_national()
    e164 = "+31" + national[1:]
    # Nobody answers the queue (phone 100 is not running): the caller hangs up after 8 s.
    caller = place_call(national, None, duration_s=8)
    await ended(caller, 40)
    item = await until(lambda: item_of(db, e164), 20, "the abandoned caller on the worklist")
    assert (item["state"], item["attempts"]) == ("open", 1)
    events = collect(asterisk)
    async with (
        receptionist(switchboard, db, f"lotte{random.randrange(10**6)}", "200") as lotte,
        receptionist(switchboard, db, f"milan{random.randrange(10**6)}", "201") as milan,
    ):
        assert (await lotte.post("/api/worklist/claim", {"id": item["id"]}))[0] == 200
        status, said = await milan.post("/api/worklist/claim", {"id": item["id"]})
        assert status == 409 and said["error"].endswith("is calling back.")
        assert said["error"].startswith("Lotte")
        phone = start_phone("200", answer_after_s=0.5)
        # The caller we call back: answers, talks 15 s, hangs up.
        far_side = start_phone("0", answer_after_s=0.5, hang_up_after_s=15)
        try:
            status, calling = await lotte.post("/api/worklist/call", {"id": item["id"]})
            assert (status, calling["extension"]) == (200, "200")
            # The journal sees the conversation (10 s or more) and resolves the item.
            done = await until(
                lambda: db.fetchrow(
                    "SELECT resolved_how, resolved_call FROM worklist_items"
                    " WHERE id = $1 AND state = 'resolved'",
                    item["id"],
                ),
                60,
                "the item resolved by the call-back",
            )
        finally:
            phone.stop()
            far_side.stop()
        assert done["resolved_how"] == "called back"
        assert done["resolved_call"].startswith(f"sb-worklist-{item['id']}-")
        # Asterisk really rang Lotte's phone with the item on the channel, then dialled out.
        assert any(
            e.get("Event") == "Newchannel"
            and e.get("Uniqueid", "").startswith(f"sb-worklist-{item['id']}-")
            and e.get("Channel", "").startswith("PJSIP/200-")
            for e in events
        )
        assert any(
            e.get("Event") == "Newchannel"
            and e.get("Exten") == e164
            and "trunk" in e.get("Channel", "")
            for e in events
        ) or any(e.get("Event") == "DialBegin" and e164 in e.get("DialString", "") for e in events)
        status, _ = await lotte.post(
            "/api/worklist/outcome", {"id": item["id"], "outcome": "helped", "note": "new address"}
        )
        assert status == 200
    closed = await item_of(db, e164)
    assert (closed["state"], closed["outcome"], closed["note"]) == (
        "resolved",
        "helped",
        "new address",
    )


@pytest.mark.timeout(180)
async def test_06_and_plus_316_are_one_item_resolved_when_the_caller_is_answered(
    asterisk: Asterisk, db: asyncpg.Pool
) -> None:
    national = fresh_national()
    e164 = "+31" + national[1:]
    for number in (national, e164):
        caller = place_call(number, None, duration_s=6)
        await ended(caller, 40)
    item = await until(
        lambda: db.fetchrow(
            "SELECT id, attempts FROM worklist_items WHERE e164 = $1 AND attempts = 2", e164
        ),
        20,
        "both calls on one item",
    )
    operator = start_phone("100", answer_after_s=0.5)
    try:
        caller = place_call(national, None, duration_s=4)
        resolved = await until(
            lambda: db.fetchrow(
                "SELECT resolved_how FROM worklist_items WHERE id = $1 AND state = 'resolved'",
                item["id"],
            ),
            30,
            "the item resolved when the caller was answered",
        )
        assert resolved["resolved_how"] == "answered when they called again"
        await ended(caller, 30)
    finally:
        operator.stop()


async def today(switchboard: RunningSwitchboard, db: asyncpg.Pool) -> dict[str, Any]:
    async with receptionist(switchboard, db, f"figures{random.randrange(10**9)}", None) as user:
        async with user.session.get(f"{switchboard.base_url}/api/figures/today") as reply:
            assert reply.status == 200
            figures: dict[str, Any] = await reply.json()
            return figures


@pytest.mark.timeout(420)
async def test_a_scripted_run_of_calls_moves_todays_figures_as_counted_by_hand(
    asterisk: Asterisk, db: asyncpg.Pool, switchboard: RunningSwitchboard, sandbox: Sandbox
) -> None:
    before = await today(switchboard, db)
    # Two callers give up while nobody answers: after 3 s (within 5 s: counted apart) and
    # after 30 s (abandoned).
    quick, patient = (
        place_call(fresh_national(), None, duration_s=3),
        place_call(fresh_national(), None, duration_s=30),
    )
    await ended(quick, 40)
    await ended(patient, 70)
    # Then the operator answers one caller after ringing about 9 s; another caller finds
    # the operator busy for 12 s (the queue tries again every 2 s) and is answered after
    # about 18 s. (A phone rung longer than the queue's 15 s timeout is given up on.)
    operator = start_phone("100", answer_after_s=9, hang_up_after_s=2)
    try:
        caller = place_call(fresh_national(), None, duration_s=30)
        await ended(caller, 60)
    finally:
        operator.stop()
    operator = start_phone("100", answer_after_s=0, busy=True)
    caller = place_call(fresh_national(), None, duration_s=30)
    try:
        await asyncio.sleep(12)
    finally:
        operator.stop()
    operator = start_phone("100", answer_after_s=5, hang_up_after_s=2)
    try:
        await ended(caller, 60)
    finally:
        operator.stop()
    # The fallback chain sends one on: the queue gives up after 4 s (the operator busy,
    # nobody in the back office), voicemail; the caller hangs up there.
    for name, seconds in (
        ("SWITCHBOARD_QUEUE_TIMEOUT", 4),
        ("SWITCHBOARD_OPERATOR_TIMEOUT", 5),
        ("SWITCHBOARD_BACKOFFICE_TIMEOUT", 3),
    ):
        sandbox.cli(f"dialplan set global {name} {seconds}")
    operator = start_phone("100", answer_after_s=0.0, busy=True)
    try:
        caller = place_call(fresh_national(), None, duration_s=16, timeout_s=60)
        await ended(caller, 70)
    finally:
        operator.stop()
        sandbox.cli("dialplan reload")
    # One callback that reaches its caller: the operator rung first, then the caller
    # (the trunk's far side), who presses 1.
    # (The member stays on the line: the caller, once they took the call, hangs up.)
    operator = start_phone("100", answer_after_s=0.3)
    far_side = start_phone("0", answer_after_s=0.5, hang_up_after_s=4, keys=ACCEPTS)
    try:
        callback_id = await ask(db, "switchboard", "+31" + fresh_national()[1:])
        await becomes(db, callback_id, "done", 60)
    finally:
        operator.stop()
        far_side.stop()
    after = await until(
        lambda: _moved(switchboard, db, before), 20, "the figures counting the scripted calls"
    )
    counts = ("answered", "answered_in_time", "abandoned", "short_abandons", "sent_on")
    counts += ("callbacks_requested", "callbacks_reached")
    delta = {k: after[k] - before[k] for k in counts}
    assert delta == {
        "answered": 2,
        "answered_in_time": 1,
        "abandoned": 1,
        "short_abandons": 1,
        "sent_on": 1,
        "callbacks_requested": 1,
        "callbacks_reached": 1,
    }
    assert after["callback_p50_s"] is not None


async def _moved(switchboard: RunningSwitchboard, db: asyncpg.Pool, before: dict[str, Any]) -> Any:
    now = await today(switchboard, db)
    return now if now["arrivals"] - before["arrivals"] >= 5 else None

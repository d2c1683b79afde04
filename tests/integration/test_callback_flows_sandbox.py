"""Issue 14, the callback's ways, with real SIPp calls through the sandbox Asterisk and the
session's switchboard (queue "switchboard", its member the operator, phone 100; the
caller's phone when we call back is a SIPp UAS on the trunk's far side):

- fairness: live callers and callbacks interleaved by join time are served in that order;
- closed: a callback waiting while the line is closed is dialled only once it opens;
- not reached: a caller who never answers is tried on schedule, then "not reached";
- a withheld caller types the number to be called back on;
- a second request from the same number merges into the first, and the caller hears so.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from devtools.sipp import SippProcess, place_call, start_phone
from switchboard.core.schedule import Override
from switchboard.store.hours_overrides import add_override, end_override
from tests.callback_calls import ACCEPTS, ask, becomes, keep_busy
from tests.sandbox_ami import Asterisk, collect, until

pytestmark = pytest.mark.integration


@pytest.fixture
async def line(db: asyncpg.Pool) -> AsyncIterator[None]:
    """Queue "switchboard"'s callbacks line empty before and after the test."""
    clear = (
        "UPDATE callbacks SET state = 'cancelled' WHERE queue = 'switchboard'"
        " AND state IN ('requested', 'waiting')"
    )
    await db.execute(clear)
    yield
    await db.execute(clear)


async def state_of(db: asyncpg.Pool, callback_id: int) -> str:
    return str(await db.fetchval("SELECT state FROM callbacks WHERE id = $1", callback_id))


def dialled(events: list[dict[str, str]], callback_id: int) -> list[str]:
    """The member channels Asterisk created for ``callback_id``, in order."""
    return [
        e["Uniqueid"]
        for e in events
        if e.get("Event") == "Newchannel"
        and e.get("Uniqueid", "").startswith(f"sb-callback-{callback_id}-")
    ]


def joined(events: list[dict[str, str]], number: str) -> bool:
    return any(
        e.get("Event") == "QueueCallerJoin" and e.get("CallerIDNum") == number for e in events
    )


@pytest.mark.timeout(300)
async def test_live_callers_and_callbacks_are_served_in_the_order_they_joined(
    asterisk: Asterisk, db: asyncpg.Pool, line: None
) -> None:
    """Three callers wait in the queue and two callbacks between them, each joined a
    second after the one before; the operator comes free and talks to each in turn:
    caller, callback, caller, callback, caller. (The operator ends every call after 14
    seconds: a callback's caller has accepted by then.)"""
    events = collect(asterisk)
    operator = start_phone("100", answer_after_s=0.3, hang_up_after_s=14)
    provider = start_phone("0", answer_after_s=0.3, hang_up_after_s=1, keys=ACCEPTS)
    callers: list[SippProcess] = []
    try:
        await keep_busy(asterisk, events, "cb-fair-busy")
        order: list[str] = []
        numbers = {}
        for turn in ("live", "callback", "live", "callback", "live"):
            n = len(order)
            if turn == "live":
                number = f"061200049{n}"
                callers.append(place_call(number, None, duration_s=150, timeout_s=200))
                await until(lambda number=number: joined(events, number), 20, "in the queue")
                order.append(number)
            else:
                callback_id = await ask(db, "switchboard", f"+3161200048{n}")
                numbers[str(callback_id)] = f"callback {callback_id}"
                order.append(f"callback {callback_id}")
            await asyncio.sleep(1.1)
        await asterisk.manager.send_action({"Action": "Hangup", "Channel": "cb-fair-busy"})
        for callback_id in numbers:
            await becomes(db, int(callback_id), "done", 150)
        await until(
            lambda: sum(e.get("Event") == "AgentConnect" for e in events) >= 3,
            60,
            "every caller answered",
        )
    finally:
        operator.stop()
        provider.stop()
        for caller in callers:
            caller.stop()
    served = []
    for e in events:
        if e.get("Event") == "AgentConnect" and e.get("Queue") == "switchboard":
            served.append(e.get("CallerIDNum", ""))
        elif e.get("Event") == "Newchannel" and e.get("Uniqueid", "").startswith("sb-callback-"):
            served.append(numbers.get(e["Uniqueid"].split("-")[2], e["Uniqueid"]))
    assert served == order, served


async def test_a_callback_waits_while_the_line_is_closed_and_is_dialled_when_it_opens(
    asterisk: Asterisk, db: asyncpg.Pool, line: None
) -> None:
    events = collect(asterisk)
    operator = start_phone("100", answer_after_s=0.3)
    provider = start_phone("0", answer_after_s=0.3, hang_up_after_s=1, keys=ACCEPTS)
    now = datetime.now(UTC)
    closed = Override(
        open=False, reason="staff meeting", until=now + timedelta(minutes=10), by="anna", at=now
    )
    await add_override(db, "reception", closed)
    try:
        callback_id = await ask(db, "switchboard", "+31612000471")
        # The operator is free, it is the callback's turn: but the line is closed.
        await asyncio.sleep(5)
        assert await state_of(db, callback_id) == "waiting"
        assert dialled(events, callback_id) == []
        await end_override(db, "reception", "anna", datetime.now(UTC))
        await becomes(db, callback_id, "done", 60)
    finally:
        await end_override(db, "reception", "anna", datetime.now(UTC))
        operator.stop()
        provider.stop()
    assert len(dialled(events, callback_id)) == 1


async def test_a_caller_who_never_answers_is_tried_on_schedule_then_not_reached(
    asterisk: Asterisk, db: asyncpg.Pool, line: None
) -> None:
    """The caller's line is busy at every attempt: three attempts (the default), each
    five minutes after the one before, then "not reached". The test cannot wait the
    five minutes: once the next attempt is set, it moves it to now, as time would."""
    events = collect(asterisk)
    operator = start_phone("100", answer_after_s=0.3)
    provider = start_phone("0", answer_after_s=0, busy=True)
    try:
        callback_id = await ask(db, "switchboard", "+31612000472")
        for attempt in (1, 2):
            row = await until(
                lambda attempt=attempt: db.fetchrow(
                    "SELECT not_before, updated_at FROM callbacks"
                    " WHERE id = $1 AND state = 'waiting' AND attempts = $2",
                    callback_id,
                    attempt,
                ),
                60,
                f"attempt {attempt} over",
            )
            wait = row["not_before"] - row["updated_at"]
            assert timedelta(minutes=4, seconds=50) < wait <= timedelta(minutes=5), wait
            await asyncio.sleep(2)
            assert len(dialled(events, callback_id)) == attempt  # not before its time
            await db.execute("UPDATE callbacks SET not_before = now() WHERE id = $1", callback_id)
        await becomes(db, callback_id, "not reached", 60)
    finally:
        operator.stop()
        provider.stop()
    assert len(dialled(events, callback_id)) == 3
    results = await db.fetch(
        "SELECT attempt, member, result FROM callback_attempts WHERE callback_id = $1"
        " ORDER BY attempt",
        callback_id,
    )
    assert [tuple(r) for r in results] == [(n, "100", "dial BUSY") for n in (1, 2, 3)]


async def test_a_withheld_caller_types_the_number_to_be_called_back_on(
    asterisk: Asterisk, db: asyncpg.Pool, line: None
) -> None:
    events = collect(asterisk)
    await db.execute("DELETE FROM callbacks WHERE e164 = '+31612000473'")
    operator = start_phone("100", answer_after_s=0.3)
    try:
        await keep_busy(asterisk, events, "cb-withheld-busy")
        # 1 for a callback; the number once "type your number" has been said, then #;
        # 1 (again, until heard) once it has been read back.
        typed = [(0.3, d) for d in "0612000473"]
        caller = place_call(
            "anonymous",
            None,
            duration_s=60,
            timeout_s=90,
            keys=[(3.0, "1"), (6.0, "0")] + typed[1:] + [(0.3, "#")] + [(1.5, "1")] * 14,
        )
        row = await until(
            lambda: db.fetchrow("SELECT * FROM callbacks WHERE e164 = '+31612000473'"),
            60,
            "the callback stored with the typed number",
        )
        assert (row["state"], row["source"]) == ("waiting", "queue")
        await asyncio.to_thread(caller.wait, 60)
    finally:
        await asterisk.manager.send_action({"Action": "Hangup", "Channel": "cb-withheld-busy"})
        operator.stop()
    heard = [
        e["Message"]
        for e in events
        if e.get("Event") == "TestEvent"
        and e.get("State") == "PLAYBACK"
        and e.get("Channel", "").startswith("PJSIP/trunk")
    ]
    assert "switchboard/callback-enter-number" in heard, heard
    digits = [m.removeprefix("switchboard/n-") for m in heard if m.startswith("switchboard/n-")]
    assert "".join(digits).startswith("0612000473"), heard


async def test_asking_again_merges_into_the_first_request_and_keeps_its_place(
    asterisk: Asterisk, db: asyncpg.Pool, line: None
) -> None:
    events = collect(asterisk)
    await db.execute("DELETE FROM callbacks WHERE e164 = '+31612000474'")
    operator = start_phone("100", answer_after_s=0.3)
    try:
        await keep_busy(asterisk, events, "cb-merge-busy")
        presses = [(3.0, "1")] + [(1.5, "1")] * 16
        first = place_call("0612000474", None, duration_s=5, timeout_s=90, keys=presses)
        row = await until(
            lambda: db.fetchrow("SELECT * FROM callbacks WHERE e164 = '+31612000474'"),
            40,
            "the first request stored",
        )
        await asyncio.to_thread(first.wait, 60)
        again = place_call("0612000474", None, duration_s=5, timeout_s=90, keys=presses)
        await until(
            lambda: db.fetchval("SELECT requests = 2 FROM callbacks WHERE id = $1", row["id"]),
            40,
            "the second request merged",
        )
        await asyncio.to_thread(again.wait, 60)
    finally:
        await asterisk.manager.send_action({"Action": "Hangup", "Channel": "cb-merge-busy"})
        operator.stop()
    rows = await db.fetch("SELECT id, joined_at, state FROM callbacks WHERE e164 = '+31612000474'")
    assert [(r["id"], r["joined_at"], r["state"]) for r in rows] == [
        (row["id"], row["joined_at"], "waiting")
    ]
    already = [
        e
        for e in events
        if e.get("Event") == "TestEvent"
        and e.get("State") == "PLAYBACK"
        and e.get("Message") == "switchboard/callback-already"
    ]
    assert len(already) == 1
    # ... and their place now: the first in line (nobody else waits).
    heard = [
        e["Message"]
        for e in events
        if e.get("Event") == "TestEvent"
        and e.get("State") == "PLAYBACK"
        and e.get("Channel") == already[0].get("Channel")
    ]
    at = heard.index("switchboard/callback-already")
    assert heard[at + 1 : at + 4] == [
        "switchboard/you-are-number",
        "switchboard/n-1",
        "switchboard/in-line",
    ], heard

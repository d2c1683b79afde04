"""Issue 14: a callback that really happens, with real SIPp calls through the sandbox
Asterisk and the session's switchboard. The caller presses 1 in the queue, hears their
number read back, confirms with 1 and hangs up; when the operator comes free, the
operator's phone rings first (who it is for), then the caller is dialled over the trunk
(a SIPp UAS on the provider's side) and must press 1 before they talk."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from devtools.sipp import place_call, start_phone
from tests.callback_calls import ACCEPTS, keep_busy
from tests.sandbox_ami import Asterisk, collect, until

pytestmark = pytest.mark.integration


async def test_press_1_confirm_hang_up_then_the_member_then_the_caller_who_accepts(
    asterisk: Asterisk, db: asyncpg.Pool
) -> None:
    number, e164 = "0612000141", "+31612000141"
    await db.execute("DELETE FROM callbacks WHERE e164 = $1", e164)
    events = collect(asterisk)
    operator = start_phone("100", answer_after_s=0.3)
    # The provider's side of the trunk: the caller's phone when we call back. It
    # answers, presses 1 (again, until the prompt has ended and Asterisk listens),
    # and hangs up a few seconds into the conversation.
    provider = start_phone("0", answer_after_s=0.5, hang_up_after_s=4, keys=ACCEPTS)
    try:
        await keep_busy(asterisk, events, "cb-test-busy")
        # 1 after three seconds in the queue; then 1 every 1.5 s: only the one after
        # the read-back and "press 1 to confirm" is heard.
        caller = place_call(
            number,
            "Terugbeller",
            duration_s=5,
            timeout_s=90,
            keys=[(3.0, "1")] + [(1.5, "1")] * 16,
        )
        row = await until(
            lambda: db.fetchrow("SELECT * FROM callbacks WHERE e164 = $1", e164),
            40,
            "the callback stored",
        )
        assert row["state"] == "waiting" and row["source"] == "queue"
        assert row["queue"] == "switchboard" and row["language"] == "nl"
        await asyncio.to_thread(caller.wait, 60)
        # Issue 15: the caller hung up having asked (UserEvent SwitchboardCallbackAsked):
        # the journal counts the call sent on, not abandoned, and not a missed caller.
        linked = next(
            e["Linkedid"]
            for e in events
            if e.get("Event") == "QueueCallerJoin" and e.get("CallerIDNum") == number
        )
        kind = await until(
            lambda: db.fetchval(
                "SELECT sl_kind FROM calls WHERE linked_id = $1 AND ended_at IS NOT NULL", linked
            ),
            10,
            "the caller's call journalled",
        )
        assert kind == "sent on"
        assert not await db.fetchval(
            "SELECT count(*) FROM worklist_attempts WHERE call_ref = $1", linked
        )
        # Nobody dials while the operator is busy.
        await asyncio.sleep(2)
        assert (
            await db.fetchval("SELECT state FROM callbacks WHERE id = $1", row["id"])
        ) == "waiting"
        await asterisk.manager.send_action({"Action": "Hangup", "Channel": "cb-test-busy"})
        done = await until(
            lambda: db.fetchval(
                "SELECT state FROM callbacks WHERE id = $1 AND state = 'done'", row["id"]
            ),
            60,
            "the callback done",
        )
        assert done == "done"
    finally:
        operator.stop()
        provider.stop()
    said = [
        e["Result"]
        for e in events
        if e.get("UserEvent") == "SwitchboardCallback" and e.get("Id") == str(row["id"])
    ]
    # (A conversation that ends hangs both up: no word after "accepted".)
    assert said == ["member answered", "accepted"], said
    # The member's phone was rung once for it, and the caller dialled once.
    rung = {
        e["Uniqueid"]
        for e in events
        if e.get("Uniqueid", "").startswith(f"sb-callback-{row['id']}-")
    }
    assert len(rung) == 1 and next(iter(rung)).startswith(f"sb-callback-{row['id']}-1-"), rung
    attempts = await db.fetch(
        "SELECT attempt, member, result FROM callback_attempts WHERE callback_id = $1", row["id"]
    )
    assert [tuple(a) for a in attempts] == [(1, "100", "reached")]
    # What the caller heard, in order: their number read back as they write it.
    log = [e for e in events if e.get("Event") == "TestEvent" and e.get("State") == "PLAYBACK"]
    heard = [e["Message"] for e in log if e.get("Channel", "").startswith("PJSIP/trunk")]
    digits = [m.removeprefix("switchboard/n-") for m in heard if m.startswith("switchboard/n-")]
    assert "".join(digits).startswith("0612000141"), heard
    assert "switchboard/callback-accept" in heard, heard

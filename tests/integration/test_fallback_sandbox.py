"""Issue 13, part 3: the fallback chain has no dead end. Real SIPp calls through the
sandbox Asterisk and the shipped dialplan (extensions.conf [switchboard-fallback])."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from devtools.sandbox import Sandbox
from devtools.sipp import place_call, start_phone
from tests.sandbox_ami import Asterisk, collect

pytestmark = pytest.mark.integration


@pytest.fixture
def short_waits(sandbox: Sandbox) -> Iterator[None]:
    """The queue, the operator and the back office give up within seconds, not minutes;
    the dialplan's own globals come back after (clearglobalvars on reload)."""
    for name, seconds in (
        ("SWITCHBOARD_QUEUE_TIMEOUT", 4),
        ("SWITCHBOARD_OPERATOR_TIMEOUT", 5),
        ("SWITCHBOARD_BACKOFFICE_TIMEOUT", 3),
    ):
        sandbox.cli(f"dialplan set global {name} {seconds}")
    yield
    sandbox.cli("dialplan reload")


async def test_a_busy_operator_after_the_queue_timeout_does_not_cut_the_caller_off(
    asterisk: Asterisk, short_waits: None
) -> None:
    # Before issue 13 the dialplan rang the operator after the queue and then hung up:
    # with the operator busy that Dial failed at once and a caller who had waited was
    # cut off. Now: operator (busy), back office (nobody answers), voicemail, where the
    # caller stays until they hang up themselves.
    events = collect(asterisk)
    number = "0612000013"
    operator = start_phone("100", answer_after_s=0.0, busy=True)
    try:
        caller = place_call(number, "Wachtende", duration_s=18, timeout_s=60)
        returncode = await asyncio.to_thread(caller.wait, 70)
    finally:
        operator.stop()
    ours = [e for e in events if e.get("CallerIDNum") == number]
    steps = [e["Step"] for e in ours if e.get("UserEvent") == "SwitchboardFallback"]
    assert steps == ["operator", "backoffice", "voicemail"]
    reasons = {e["Reason"] for e in ours if e.get("UserEvent") == "SwitchboardFallback"}
    assert reasons == {"TIMEOUT"}
    # The operator's phone was really tried, and was busy.
    dials = [e.get("DialStatus") for e in ours if e.get("Event") == "DialEnd"]
    assert "BUSY" in dials
    # The caller hung up themselves (a HangupRequest is the far end's BYE), and sipp
    # saw the whole call through (exit 0: answered, its own BYE answered).
    caller_ids = {e["Uniqueid"] for e in ours if e.get("Uniqueid") == e.get("Linkedid")}
    assert any(e.get("Event") == "HangupRequest" and e["Uniqueid"] in caller_ids for e in ours)
    assert returncode == 0, caller.message_log()[-2000:]


async def presence(asterisk: Asterisk, ext: str, status: str) -> None:
    """As a phone's *76 or the board sets it: the PBX's CustomPresence:<ext>."""
    reply = await asterisk.manager.send_action(
        {
            "Action": "Setvar",
            "Variable": f"PRESENCE_STATE(CustomPresence:{ext})",
            "Value": f"{status},,",
        }
    )
    assert reply.get("Response") == "Success", reply


async def until_member(
    sandbox: Sandbox, wanted: str, timeout_s: float = 10, *, unwanted: str = ""
) -> str:
    """``queue show switchboard`` once the operator's line shows ``wanted`` (and not
    ``unwanted``)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        shown = sandbox.cli("queue show switchboard")
        line = next((x for x in shown.splitlines() if "PJSIP/100" in x), "")
        settled = wanted in line and not (unwanted and unwanted in line)
        if settled or asyncio.get_running_loop().time() > deadline:
            return line
        await asyncio.sleep(0.2)


async def test_the_receptionist_on_dnd_sends_the_caller_to_the_operator_step(
    asterisk: Asterisk, sandbox: Sandbox
) -> None:
    # The queue's only member sets do not disturb: the switchboard pauses them in the
    # queue (presence_pauses), so the queue does not keep a caller for nobody
    # (joinempty paused): the fallback chain starts at once, "nobody" can answer.
    events = collect(asterisk)
    number = "0612000014"
    await presence(asterisk, "100", "dnd")
    try:
        assert "paused:do not disturb" in await until_member(sandbox, "paused")
        operator = start_phone("100", answer_after_s=1.0)
        try:
            caller = place_call(number, "Beller", duration_s=3, timeout_s=30)
            await asyncio.to_thread(caller.wait, 40)
        finally:
            operator.stop()
    finally:
        await presence(asterisk, "100", "available")
    # (The phone is free before the pause is lifted: both come, in either order.)
    assert "paused" not in await until_member(sandbox, "Not in use", unwanted="paused")
    ours = [e for e in events if e.get("CallerIDNum") == number]
    steps = [(e["Step"], e["Reason"]) for e in ours if e.get("UserEvent") == "SwitchboardFallback"]
    # (Asterisk 22 calls a queue whose every member is paused JOINEMPTY.)
    assert steps == [("operator", "JOINEMPTY")]
    assert any(e.get("Event") == "DialEnd" and e.get("DialStatus") == "ANSWER" for e in ours)

"""The live bridge against the real sandbox Asterisk loses its AMI connection mid-call.

What the reconnect_mid_call recording replays, live: a call answered before the drop
keeps who answered it and when; a caller who hung up while the bridge was away is
journalled as ended (not left "in progress" for ever) once the channel list after the
new login no longer has them. Bridge, hub and journal in-process; Asterisk, SIPp and
PostgreSQL are the real ones.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import asyncpg
import pytest

from ami_bridge.bridge import AMIBridge
from ami_bridge.journal import CallJournal
from devtools.sandbox import Sandbox
from devtools.sipp import place_call, start_phone
from switchboard.board.hub import BoardHub
from switchboard.config import PBXConfig
from switchboard.core.calls.model import Call, CallState

pytestmark = pytest.mark.integration


async def until(predicate: Callable[[], object], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def call_from(bridge: AMIBridge, number: str) -> Call | None:
    return next((c for c in bridge.model.calls.values() if c.caller_number == number), None)


def sandbox_pbx(sandbox: Sandbox, name: str) -> PBXConfig:
    """The sandbox as one more PBX of its own name, so its calls are apart in the journal."""
    settings = sandbox.settings
    return PBXConfig(
        name=f"{name}-{random.randrange(10**6)}",
        port=settings.ami_port,
        username=settings.ami_username,
        secret=settings.ami_secret,
    )


async def ami_session(sandbox: Sandbox) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A second AMI login, ours, to act on the PBX while the bridge is cut off."""
    settings = sandbox.settings
    reader, writer = await asyncio.open_connection("127.0.0.1", settings.ami_port)
    writer.write(
        f"Action: Login\r\nUsername: {settings.ami_username}\r\n"
        f"Secret: {settings.ami_secret}\r\nEvents: off\r\n\r\n".encode()
    )
    await asyncio.wait_for(reader.readuntil(b"Authentication accepted"), 10)
    return reader, writer


async def test_a_reconnect_keeps_the_answered_call_and_ends_the_one_that_hung_up(
    sandbox: Sandbox, db: asyncpg.Pool
) -> None:
    talking, waiting = (f"061{random.randrange(10**6, 10**7)}" for _ in range(2))
    hub = BoardHub()
    journal = CallJournal(db, region="NL")
    journal.start()
    pbx = sandbox_pbx(sandbox, "reconnect")
    bridge = AMIBridge(pbx, hub, journal)
    operator = start_phone("100", answer_after_s=1.0)
    callers = []
    _, writer = await ami_session(sandbox)
    try:
        await bridge.start()
        await until(lambda: bridge.connected, "the bridge to log in")
        await asyncio.sleep(1.0)  # its first resync

        # Anna talks past the slowest reconnect seen (its resync once waited 10 s per
        # list); the test hangs her up itself once the rebuilt call is checked.
        callers.append(place_call(talking, "Anna", duration_s=90))
        await until(
            lambda: (c := call_from(bridge, talking)) and c.state is CallState.TALKING,
            "the operator to answer",
        )
        callers.append(place_call(waiting, "Bert", duration_s=30))
        await until(
            lambda: (c := call_from(bridge, waiting)) and c.state is CallState.QUEUED,
            "the second caller to queue (the operator is busy)",
        )
        answered = call_from(bridge, talking)
        queued = call_from(bridge, waiting)
        assert answered and queued
        bert = next(
            c.name for c in bridge.model.channels.values() if c.unique_id == queued.linked_id
        )

        # The AMI connection drops; Bert's call ends before the bridge is back.
        bridge._manager.protocol.transport.abort()
        writer.write(f"Action: Hangup\r\nChannel: {bert}\r\n\r\n".encode())
        await writer.drain()
        await until(lambda: not bridge.connected, "the bridge to notice")
        await until(lambda: bridge.connected, "the bridge to reconnect")

        await until(lambda: call_from(bridge, waiting) is None, "Bert's call to end")
        rebuilt = call_from(bridge, talking)
        assert rebuilt is not None and rebuilt.state is CallState.TALKING
        assert (rebuilt.answered_at, rebuilt.answered_by) == (answered.answered_at, "100")
        assert rebuilt.started_at == answered.started_at

        async def row(number: str) -> asyncpg.Record | None:
            return await db.fetchrow(
                "SELECT ended_at, outcome, answered_by FROM calls WHERE pbx = $1"
                " AND caller_number = $2",
                pbx.name,
                number,
            )

        await journal.flush(10)
        gone = await row(waiting)
        assert gone is not None and gone["ended_at"] is not None
        assert gone["outcome"] == "abandoned"

        await asyncio.to_thread(callers[0].stop)
        await until(lambda: call_from(bridge, talking) is None, "Anna to hang up", 30)
        await journal.flush(10)
        done = await row(talking)
        assert done is not None and (done["outcome"], done["answered_by"]) == ("answered", "100")
    finally:
        writer.close()
        for caller in callers:
            caller.stop()
        operator.stop()
        await bridge.close()
        await journal.close()


async def test_a_service_started_while_a_call_is_parked_shows_it_parked(
    sandbox: Sandbox, db: asyncpg.Pool
) -> None:
    # The channel list shows a parked caller only as a channel in some bridge; the
    # resync's ParkedCalls list says it waits in space 701, parked by the operator.
    number = f"061{random.randrange(10**6, 10**7)}"
    pbx = sandbox_pbx(sandbox, "parked")
    journal = CallJournal(db, region="NL")
    journal.start()
    first, second = AMIBridge(pbx, BoardHub()), AMIBridge(pbx, BoardHub(), journal)
    operator = start_phone("100", answer_after_s=1.0)
    caller = place_call(number, "Anna", duration_s=8)
    try:
        await first.start()
        await until(
            lambda: (c := call_from(first, number)) and c.state is CallState.TALKING,
            "the operator to answer",
        )
        call = call_from(first, number)
        assert call is not None
        channels = {c.number: c.name for c in first.model.channels.values()}
        reply = await first.send_action(
            {"Action": "Park", "Channel": channels[number], "TimeoutChannel": channels["100"]}
        )
        assert reply.get("Response") == "Success", reply
        await until(
            lambda: (c := call_from(first, number)) and c.state is CallState.PARKED, "parked"
        )
        await first.close()  # the service restarts

        await second.start()
        await until(lambda: call_from(second, number) is not None, "the restarted bridge")
        await asyncio.sleep(0.5)  # the ParkedCalls list comes after the channel list
        parked = call_from(second, number)
        assert parked is not None and parked.state is CallState.PARKED
        assert (parked.parked_space, parked.parked_by, parked.talking_with) == ("701", "100", "")
        await until(lambda: call_from(second, number) is None, "Anna to hang up", 20)
        await journal.flush(10)
        outcome = await db.fetchval(
            "SELECT outcome FROM calls WHERE pbx = $1 AND caller_number = $2", pbx.name, number
        )
        assert outcome == "parked"
    finally:
        caller.stop()
        operator.stop()
        await first.close()
        await second.close()
        await journal.close()


async def test_a_call_whose_end_was_lost_leaves_the_board_at_the_next_channel_check(
    sandbox: Sandbox,
) -> None:
    # Whatever makes the model keep a channel Asterisk no longer has (a lost Hangup, a
    # late event), the periodic look at the PBX's channel list takes its call away,
    # and only that one: a real call going on at the same time stays.
    real = f"061{random.randrange(10**6, 10**7)}"
    pbx = sandbox_pbx(sandbox, "check")
    bridge = AMIBridge(pbx, BoardHub(), channel_check_s=0.5)
    caller = place_call(real, "Real", duration_s=20)
    try:
        await bridge.start()
        await until(lambda: call_from(bridge, real) is not None, "the real call on the board")
        # A channel the PBX never had, as if its Hangup had been lost.
        ghost = {
            "Event": "Newchannel",
            "Uniqueid": "1000000000.999",
            "Linkedid": "1000000000.999",
            "Channel": "PJSIP/trunk-0000ffff",
            "CallerIDNum": "0699999999",
            "ChannelStateDesc": "Ring",
        }
        bridge.feed(ghost)
        await until(lambda: call_from(bridge, "0699999999") is not None, "the ghost call")
        await until(lambda: call_from(bridge, "0699999999") is None, "the ghost to go", 10)
        assert call_from(bridge, real) is not None
    finally:
        caller.stop()
        await bridge.close()

"""Issue 13, part 2: the opening hours decide, at the call, on the real sandbox Asterisk
with real SIPp calls. The session's switchboard keeps reception always open
(tests/conftest.py); a manual override closes it; a FastAGI service of the test's own,
its clock on Koningsdag, closes it for the holiday; a service that cannot be reached
leaves the line open."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from devtools.sandbox import Sandbox
from devtools.sipp import place_call
from pbx_agi.fastagi.server import FastAGIServer
from pbx_agi.hours_route import HoursRoute
from switchboard.core.opening import Hours
from switchboard.core.schedule import Override, parse_schedule
from switchboard.store.hours_overrides import add_override, end_override
from tests.integration.test_classic_agi_sandbox import closed_port, fastagi_global
from tests.sandbox_ami import Asterisk, collect, log_since

pytestmark = pytest.mark.integration


async def call(number: str, duration_s: float = 16) -> None:
    """A caller who stays ``duration_s`` after being answered (closed: the announcement
    of when we open again takes several seconds before voicemail)."""
    caller = place_call(number, "Beller", duration_s=duration_s, timeout_s=40)
    await asyncio.to_thread(caller.wait, 50)


def story(events: list[dict[str, str]], number: str) -> tuple[list[str], bool]:
    """The fallback steps the caller went through, and whether they joined the queue."""
    ours = [e for e in events if e.get("CallerIDNum") == number]
    steps = [e["Step"] for e in ours if e.get("UserEvent") == "SwitchboardFallback"]
    return steps, any(e.get("Event") == "QueueCallerJoin" for e in ours)


async def test_a_manual_override_closes_the_line_and_its_end_opens_it(
    asterisk: Asterisk, db: asyncpg.Pool
) -> None:
    events = collect(asterisk)
    now = datetime.now(UTC)
    meeting = Override(
        open=False, reason="staff meeting", until=now + timedelta(minutes=10), by="anna", at=now
    )
    await add_override(db, "reception", meeting)
    try:
        await call("0612000021")
    finally:
        await end_override(db, "reception", "anna", datetime.now(UTC))
    # Closed: no queue; the schedule's closed route, voicemail (the caller hangs up there).
    assert story(events, "0612000021") == (["voicemail"], False)
    await call("0612000022", duration_s=2)
    assert story(events, "0612000022") == ([], True)


async def test_a_holiday_closes_the_line(asterisk: Asterisk, sandbox: Sandbox) -> None:
    events = collect(asterisk)
    log_start = sandbox.settings.messages_log.stat().st_size
    weekdays = {day: "08:30-17:30" for day in ("monday", "tuesday", "wednesday")}
    schedule = parse_schedule("reception", {**weekdays, "holidays": "NL"})
    ten = datetime(2026, 4, 27, 10, 0, tzinfo=schedule.timezone)

    async def no_override(_schedule: str, _now: datetime) -> Override | None:
        return None

    route = HoursRoute(
        [Hours(schedule, queues=("switchboard",))], no_override, budget_s=0.2, clock=lambda: ten
    )
    # Reopens the next day, Tuesday 28 April at 8:30: said to the caller.
    assert (await route.variables("switchboard", ""))["SB_REOPENS"] == str(
        int(datetime(2026, 4, 28, 8, 30, tzinfo=schedule.timezone).timestamp())
    )
    server = FastAGIServer()
    server.add_route("hours", route)
    await server.start("127.0.0.1", 0)
    try:
        with fastagi_global(sandbox, server.port):
            await call("0612000023")
    finally:
        await server.close()
    assert story(events, "0612000023") == (["voicemail"], False)
    # The caller heard when we open again, in our own prompts: Tuesday at 8 30 (the
    # prompts are in the sandbox: devtools/sandbox.py runs switchboard prompts build).
    log = log_since(sandbox.settings.messages_log, log_start)
    channel = next(e["Channel"] for e in events if e.get("CallerIDNum") == "0612000023")
    played = [line for line in log.splitlines() if f"<{channel}> Playing 'switchboard/" in line]
    # ("Playing 'switchboard/closed.slin'": the file, in the format Asterisk reads it in.)
    heard = [line.split("Playing '")[1].split("'")[0].rsplit(".", 1)[0] for line in played]
    assert heard[:5] == [
        "switchboard/closed",
        "switchboard/open-again-on",
        "switchboard/day-1",
        "switchboard/at",
        "switchboard/n-8",
    ], heard
    assert "switchboard/n-30" in heard


async def test_a_service_that_cannot_be_reached_leaves_the_line_open(
    asterisk: Asterisk, sandbox: Sandbox
) -> None:
    events = collect(asterisk)
    with fastagi_global(sandbox, closed_port()):
        await call("0612000024", duration_s=2)
    assert story(events, "0612000024") == ([], True)

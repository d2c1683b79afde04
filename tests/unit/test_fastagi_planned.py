"""Planned routes: the commands a route knows from the environment alone are sent
straight from the socket callbacks. Asterisk must see exactly what a task-run route
would give it: the same lines in the same order, replies never shifted, failures and
timeouts ending the call, and the same metrics and shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest

from pbx_agi.agi_protocol import AGIEnvironment, format_command
from pbx_agi.fastagi.server import AGISession, FastAGIServer

try:
    from .test_fastagi import WAIT, FakeAsterisk, agi_headers, cut_off_after_the_grace, wait_until
except ImportError:  # tests/unit is not a package: pytest put it on sys.path
    from test_fastagi import (  # type: ignore[no-redef]
        WAIT,
        FakeAsterisk,
        agi_headers,
        cut_off_after_the_grace,
        wait_until,
    )


class Planned:
    """Sets one variable per caller id digit group; asks for a task when told to."""

    def __init__(self, commands: Sequence[str] | None, *, fails: bool = False) -> None:
        self.commands = commands
        self.fails = fails
        self.planned_for: list[str | None] = []
        self.ran_as_task = 0

    def plan(self, env: AGIEnvironment) -> Sequence[str] | None:
        self.planned_for.append(env.caller_id)
        if self.fails:
            raise RuntimeError("the directory is broken")
        return self.commands

    async def __call__(self, session: AGISession) -> None:
        self.ran_as_task += 1
        await session.set_variable("FROM_TASK", "1")


SET_A = format_command("SET VARIABLE", "A", "1")
SET_B = format_command("SET VARIABLE", "B", "2")


async def test_the_commands_go_one_after_another_and_the_call_ends_after_the_last(
    server: FastAGIServer,
) -> None:
    route = Planned([SET_A, SET_B])
    server.add_route("r", route)
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers())
    assert await asterisk.read_command() == SET_A
    # Nothing more until Asterisk answers: one command in flight, as res_agi expects.
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await asterisk.reader.readline()
    await asterisk.reply("200 result=1\n")
    assert await asterisk.read_command() == SET_B
    await asterisk.reply("200 result=1\n")
    assert await asterisk.read_to_eof() == b""
    assert route.planned_for == ["+33612345678"]
    assert route.ran_as_task == 0
    await wait_until(lambda: server.metrics.per_route["r"].served == 1, "served counted")
    assert server.metrics.in_flight == 0


@pytest.mark.parametrize(
    "first_reply",
    [
        "HANGUP\n200 result=1\n",
        "100 result=0 Trying...\n200 result=1\n",
        "200 result=1\nHANGUP\n",
    ],
)
async def test_hangup_and_trying_lines_do_not_shift_the_replies(
    server: FastAGIServer, first_reply: str
) -> None:
    server.add_route("r", Planned([SET_A, SET_B]))
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers())
    await asterisk.read_command()
    for piece in (first_reply[:3], first_reply[3:]):  # a reply may come in pieces
        await asterisk.reply(piece)
        await asyncio.sleep(0.02)
    assert await asterisk.read_command() == SET_B
    await asterisk.reply("200 result=1\n")
    assert await asterisk.read_to_eof() == b""
    await wait_until(lambda: server.metrics.sessions_served == 1, "served counted")


@pytest.mark.parametrize(
    "reply",
    [
        "510 Invalid or unknown command\n",
        "520-Invalid command syntax.  Proper usage follows:\n Usage: x\n520 End of proper usage.\n",
        "511 Command Not Permitted on a dead channel or intercept routine\n",
    ],
)
async def test_a_failed_command_ends_the_call_and_is_logged_with_its_channel(
    server: FastAGIServer, reply: str, caplog: pytest.LogCaptureFixture
) -> None:
    server.add_route("r", Planned([SET_A, SET_B]))
    asterisk = await FakeAsterisk.connect(server.port)
    with caplog.at_level(logging.ERROR, logger="pbx_agi.fastagi"):
        await asterisk.send(agi_headers())
        await asterisk.read_command()
        await asterisk.reply(reply)
        assert await asterisk.read_to_eof() == b""  # SET_B never sent
        await wait_until(lambda: server.metrics.sessions_failed == 1, "failure counted")
    assert "PJSIP/trunk-00000001" in caplog.text
    assert reply.split()[0][:3] in caplog.text


async def test_an_unanswered_command_times_out_and_the_connection_is_closed() -> None:
    srv = FastAGIServer({"r": Planned([SET_A, SET_B])}, command_timeout=0.3)
    await srv.start("127.0.0.1", 0)
    try:
        asterisk = await FakeAsterisk.connect(srv.port)
        await asterisk.send(agi_headers())
        await asterisk.read_command()
        assert await asterisk.read_to_eof() == b""  # a late reply can't shift: we hung up
        await wait_until(lambda: srv.metrics.sessions_failed == 1, "timeout counted")
    finally:
        await srv.close(grace=1.0)


async def test_asterisk_going_away_mid_route_counts_as_hung_up(server: FastAGIServer) -> None:
    server.add_route("r", Planned([SET_A, SET_B]))
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers())
    await asterisk.read_command()
    await asterisk.close()
    await wait_until(lambda: server.metrics.sessions_hung_up == 1, "hang-up counted")
    assert server.metrics.in_flight == 0


async def test_a_route_that_cannot_plan_runs_as_a_task(server: FastAGIServer) -> None:
    route = Planned(None)
    server.add_route("r", route)
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers())
    assert await asterisk.read_command() == 'SET VARIABLE "FROM_TASK" "1"'
    await asterisk.reply("200 result=1\n")
    assert await asterisk.read_to_eof() == b""
    assert route.ran_as_task == 1


async def test_a_plan_that_raises_is_logged_and_the_server_keeps_serving(
    server: FastAGIServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.add_route("bad", Planned([SET_A], fails=True))
    server.add_route("good", Planned([SET_A]))
    with caplog.at_level(logging.ERROR, logger="pbx_agi.fastagi"):
        asterisk = await FakeAsterisk.connect(server.port)
        await asterisk.send(agi_headers("bad"))
        assert await asterisk.read_to_eof() == b""
    assert "the directory is broken" in caplog.text
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers("good"))
    assert await asterisk.read_command() == SET_A
    await asterisk.reply("200 result=1\n")
    assert await asterisk.read_to_eof() == b""
    assert (server.metrics.sessions_failed, server.metrics.sessions_served) == (1, 1)


async def test_a_planned_command_that_would_break_the_protocol_is_never_sent(
    server: FastAGIServer,
) -> None:
    server.add_route("r", Planned(["SET VARIABLE A 1\nEXEC System reboot"]))
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers())
    assert await asterisk.read_to_eof() == b""
    assert server.metrics.sessions_failed == 1


async def test_close_lets_a_planned_call_finish_and_cuts_it_off_after_the_grace() -> None:
    srv = FastAGIServer({"r": Planned([SET_A, SET_B])})
    await srv.start("127.0.0.1", 0)
    finishing = await FakeAsterisk.connect(srv.port)
    await finishing.send(agi_headers())
    await finishing.read_command()
    closing = asyncio.create_task(srv.close(grace=0.5))
    await asyncio.sleep(0.1)
    await finishing.reply("200 result=1\n")
    assert await finishing.read_command() == SET_B
    await finishing.reply("200 result=1\n")
    assert await finishing.read_to_eof() == b""
    async with asyncio.timeout(WAIT):
        await closing
    assert srv.metrics.sessions_served == 1

    srv = await cut_off_after_the_grace(Planned([SET_A]))
    assert srv.metrics.per_route["r"].cancelled == 1

"""FastAGIServer over real sockets on 127.0.0.1, with a fake Asterisk client.

The first tests are the panoramisk 1.4 FastAGI handler defects, each written
as what our server does instead.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from pbx_agi.agi_protocol import MAX_HEADER_BYTES, AGIProtocolError, sanitise_value
from pbx_agi.fastagi.server import (
    AGICommandTimeout,
    AGIConnectionClosed,
    AGISession,
    FastAGIServer,
    Route,
)

try:
    from .test_agi_protocol import asterisk_parse_args, run_agi_read_commands
except ImportError:  # tests/unit is not a package: pytest put it on sys.path
    from test_agi_protocol import (  # type: ignore[no-redef]
        asterisk_parse_args,
        run_agi_read_commands,
    )

WAIT = 5.0  # a hang guard, not a performance expectation


def agi_headers(script: str = "r", caller_name: str = "Alice", **extra: str) -> bytes:
    lines = {
        "agi_network": "yes",
        "agi_network_script": script,
        "agi_request": f"agi://127.0.0.1/{script}",
        "agi_channel": "PJSIP/trunk-00000001",
        "agi_language": "en",
        "agi_type": "PJSIP",
        "agi_uniqueid": "1700000000.1",
        "agi_callerid": "+33612345678",
        "agi_calleridname": caller_name,
        "agi_context": "from-trunk",
        "agi_extension": "100",
        "agi_priority": "1",
        **extra,
    }
    return "".join(f"{k}: {v}\n" for k, v in lines.items()).encode() + b"\n"


class FakeAsterisk:
    """Asterisk's side of one FastAGI connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> FakeAsterisk:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: bytes, *, pieces: list[int] | None = None) -> None:
        """Write ``data``, cut at the byte offsets in ``pieces``, with a
        drain and a pause after each piece so they arrive as separate reads."""
        cuts = [0, *(pieces or []), len(data)]
        for start, end in itertools.pairwise(cuts):
            self.writer.write(data[start:end])
            await self.writer.drain()
            if end != len(data):
                await asyncio.sleep(0.05)

    async def read_command(self) -> str:
        async with asyncio.timeout(WAIT):
            line = await self.reader.readline()
        assert line.endswith(b"\n"), f"connection closed instead of a command: {line!r}"
        return line.decode()[:-1]

    async def reply(self, text: str) -> None:
        self.writer.write(text.encode())
        await self.writer.drain()

    async def read_to_eof(self) -> bytes:
        async with asyncio.timeout(WAIT):
            return await self.reader.read()

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


async def wait_until(predicate: Callable[[], bool], what: str) -> None:
    for _ in range(int(WAIT / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"timed out waiting for: {what}")


# ---------------------------------------------------------------------------
# panoramisk defect 1: a client that closes before the blank line
# ---------------------------------------------------------------------------


class ServerThread:
    """Our server on its own event loop in a thread, so that a frozen loop
    shows up as a socket timeout here rather than hanging the test."""

    def __init__(self, routes: Mapping[str, Route]) -> None:
        self.server = FastAGIServer(routes, header_timeout=2.0)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.start("127.0.0.1", 0))
        self.ready.set()
        self.loop.run_forever()

    def __enter__(self) -> ServerThread:
        self.thread.start()
        assert self.ready.wait(WAIT)
        return self

    def __exit__(self, *exc: object) -> None:
        closing = asyncio.run_coroutine_threadsafe(self.server.close(grace=1.0), self.loop)
        closing.result(timeout=WAIT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()

    def loop_responds(self) -> bool:
        probe = asyncio.run_coroutine_threadsafe(asyncio.sleep(0), self.loop)
        probe.result(timeout=2.0)
        return True


def test_a_client_closing_before_the_blank_line_does_not_stall_the_next_call() -> None:
    async def route(session: AGISession) -> None:
        await session.set_variable("SEEN", session.env.caller_id or "")

    with ServerThread({"r": route}) as st:
        for _ in range(3):
            early = socket.create_connection(("127.0.0.1", st.server.port), timeout=2.0)
            early.sendall(b"agi_network: yes\nagi_network_script: r\nagi_chan")
            early.close()
        time.sleep(0.1)
        assert st.loop_responds()

        with socket.create_connection(("127.0.0.1", st.server.port), timeout=2.0) as sock:
            sock.sendall(agi_headers())
            stream = sock.makefile("rb")
            assert stream.readline() == b'SET VARIABLE "SEEN" "+33612345678"\n'
            sock.sendall(b"200 result=1\n")
            assert stream.read() == b""  # served and closed
        assert st.server.metrics.bad_requests == 3
        assert st.server.metrics.sessions_served == 1


# ---------------------------------------------------------------------------
# panoramisk defect 2: text split across TCP reads, and bytes that are not UTF-8
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["José", "Zoë", "Ana 😀 Smith", "😀😀"])
async def test_a_caller_name_split_mid_character_across_reads_arrives_intact(
    server: FastAGIServer, name: str
) -> None:
    seen: list[str | None] = []

    async def route(session: AGISession) -> None:
        seen.append(session.env.caller_id_name)

    server.add_route("r", route)
    data = agi_headers(caller_name=name)
    start = data.index(name.encode())
    # cut inside every multi-byte character of the name
    cuts = [start + i + 1 for i, ch in enumerate(name.encode()) if ch >= 0xC0]
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(data, pieces=cuts)
    assert await asterisk.read_to_eof() == b""
    assert seen == [name]


async def test_a_caller_name_that_is_not_utf8_keeps_the_call_and_the_rest_of_the_value(
    server: FastAGIServer,
) -> None:
    seen: list[tuple[str | None, str | None]] = []

    async def route(session: AGISession) -> None:
        seen.append((session.env.caller_id_name, session.env.extension))

    server.add_route("r", route)
    data = agi_headers().replace(b"Alice", b"Jos\xe9 Smith")  # Latin-1 from an old trunk
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(data)
    assert await asterisk.read_to_eof() == b""
    assert seen == [("Jos\ufffd Smith", "100")]


# ---------------------------------------------------------------------------
# panoramisk defect 3: plain (sync) routes, which asyncio.coroutine wrapped
# ---------------------------------------------------------------------------


def test_a_plain_route_is_refused_when_added(server: FastAGIServer) -> None:
    """A route that blocks would hold up every other call: it must be ``async def``."""

    def blocking(session: AGISession) -> None:
        pass

    with pytest.raises(TypeError, match="async def"):
        server.add_route("slow", blocking)  # type: ignore[arg-type]
    assert server.routes == ()


# ---------------------------------------------------------------------------
# panoramisk defect 4: an unsolicited HANGUP line
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["before the reply", "between commands"])
async def test_hangup_line_does_not_shift_later_replies(server: FastAGIServer, when: str) -> None:
    got: dict[str, Any] = {}

    async def route(session: AGISession) -> None:
        got["set"] = await session.set_variable("A", "1")
        got["x"] = await session.get_variable("X")
        got["y"] = await session.get_variable("Y")
        got["hung_up"] = session.hung_up

    server.add_route("r", route)
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers())
    assert await asterisk.read_command() == 'SET VARIABLE "A" "1"'
    if when == "before the reply":
        await asterisk.reply("HANGUP\n200 result=1\n")
    else:
        await asterisk.reply("200 result=1\nHANGUP\n")
    assert await asterisk.read_command() == 'GET VARIABLE "X"'
    await asterisk.reply("200 result=1 (value of X)\n")
    assert await asterisk.read_command() == 'GET VARIABLE "Y"'
    await asterisk.reply("200 result=0\n")
    assert await asterisk.read_to_eof() == b""
    assert got["set"].code == 200
    assert got["x"] == "value of X"
    assert got["y"] is None
    assert got["hung_up"] is True


# ---------------------------------------------------------------------------
# Injection: whatever the value, SET VARIABLE is one command with one value
# ---------------------------------------------------------------------------

EVIL = [
    'Bob "The Boss"',
    "C:\\path\\",
    "two\nlines",
    "cr\rhere",
    "Bob\nEXEC System rm -rf /",
    'Bob"\nEXEC System "rm -rf /',
    "Bob\r\nHANGUP",
    "nul\0EXEC System x",
    "x" * 3000 + "\nEXEC System rm -rf /",
]


@pytest.mark.parametrize("value", EVIL)
async def test_set_variable_writes_exactly_one_command_asterisk_parses_to_the_value(
    server: FastAGIServer, value: str
) -> None:
    async def route(session: AGISession) -> None:
        await session.set_variable("CALLER_NAME", value)

    server.add_route("r", route)
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers())
    first = await asterisk.reader.readline()
    await asterisk.reply("200 result=1\n")
    written = first + await asterisk.read_to_eof()
    commands = run_agi_read_commands(written)
    assert len(commands) == 1
    argv = asterisk_parse_args(commands[0])
    assert argv[:3] == [b"SET", b"VARIABLE", b"CALLER_NAME"]
    assert len(argv) == 4
    clean = sanitise_value(value)
    assert clean.startswith(argv[3].decode())
    if len(value) < 1000:
        assert argv[3].decode() == clean


async def test_send_command_refuses_a_multi_line_command(server: FastAGIServer) -> None:
    errors: list[BaseException] = []

    async def route(session: AGISession) -> None:
        try:
            await session.send_command("VERBOSE x\nEXEC System y")
        except ValueError as exc:
            errors.append(exc)

    server.add_route("r", route)
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers())
    assert await asterisk.read_to_eof() == b""
    assert len(errors) == 1


# ---------------------------------------------------------------------------
# Replies
# ---------------------------------------------------------------------------


async def test_trying_lines_and_a_multi_line_usage_error_are_read_whole(
    server: FastAGIServer,
) -> None:
    got: dict[str, Any] = {}

    async def route(session: AGISession) -> None:
        got["exec"] = await session.send_command('EXEC "Wait" "1"')
        got["bad"] = await session.send_command("GET VARIABLE")
        got["x"] = await session.get_variable("X")

    server.add_route("r", route)
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers())
    await asterisk.read_command()
    await asterisk.reply("100 result=0 Trying...\n200 result=0\n")
    assert await asterisk.read_command() == "GET VARIABLE"
    await asterisk.reply(
        "520-Invalid command syntax.  Proper usage follows:\n"
        " Usage: GET VARIABLE <variablename>\n"
        "\n"
        "  Returns 0 if variablename is not set.\n"
        "520 End of proper usage.\n"
    )
    assert await asterisk.read_command() == 'GET VARIABLE "X"'
    await asterisk.reply("200 result=1 (after usage)\n")
    assert await asterisk.read_to_eof() == b""
    assert (got["exec"].code, got["exec"].result) == (200, "0")
    assert got["bad"].code == 520
    assert "Usage: GET VARIABLE" in got["bad"].usage
    assert got["x"] == "after usage"


async def test_concurrent_commands_from_one_route_are_serialised(server: FastAGIServer) -> None:
    got: list[str | None] = []

    async def route(session: AGISession) -> None:
        got.extend(await asyncio.gather(session.get_variable("A"), session.get_variable("B")))

    server.add_route("r", route)
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers())
    for _ in range(2):
        command = await asterisk.read_command()
        await asterisk.reply(f"200 result=1 ({command[-2]})\n")
    assert await asterisk.read_to_eof() == b""
    assert got == ["A", "B"]


async def test_asterisk_going_away_raises_connection_closed(server: FastAGIServer) -> None:
    errors: list[BaseException] = []

    async def route(session: AGISession) -> None:
        try:
            await session.get_variable("X")
        except AGIConnectionClosed as exc:
            errors.append(exc)
        try:
            await session.verbose("still there?")
        except AGIConnectionClosed as exc:
            errors.append(exc)

    server.add_route("r", route)
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers())
    await asterisk.read_command()
    await asterisk.close()
    await wait_until(lambda: server.metrics.sessions_served == 1, "route done")
    assert len(errors) == 2


async def test_an_unanswered_command_times_out_and_the_connection_is_closed() -> None:
    errors: list[BaseException] = []

    async def route(session: AGISession) -> None:
        try:
            await session.get_variable("X")
        except AGICommandTimeout as exc:
            errors.append(exc)

    srv = FastAGIServer({"r": route}, command_timeout=0.3)
    await srv.start("127.0.0.1", 0)
    try:
        asterisk = await FakeAsterisk.connect(srv.port)
        await asterisk.send(agi_headers())
        await asterisk.read_command()
        assert await asterisk.read_to_eof() == b""  # we hung up on it: a late reply can't shift
        assert len(errors) == 1
    finally:
        await srv.close(grace=1.0)


# ---------------------------------------------------------------------------
# Bad requests, failing routes, metrics, shutdown
# ---------------------------------------------------------------------------


async def test_unknown_route_is_closed_without_a_word(server: FastAGIServer) -> None:
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers("nope"))
    assert await asterisk.read_to_eof() == b""
    assert server.metrics.unknown_routes == 1


async def test_a_client_that_never_finishes_its_headers_is_dropped() -> None:
    srv = FastAGIServer(header_timeout=0.3)
    await srv.start("127.0.0.1", 0)
    try:
        asterisk = await FakeAsterisk.connect(srv.port)
        await asterisk.send(b"agi_network: yes\n")
        assert await asterisk.read_to_eof() == b""
        assert srv.metrics.bad_requests == 1
    finally:
        await srv.close(grace=1.0)


async def test_an_oversized_environment_is_refused(server: FastAGIServer) -> None:
    ran: list[bool] = []

    async def route(session: AGISession) -> None:
        ran.append(True)

    server.add_route("r", route)
    asterisk = await FakeAsterisk.connect(server.port)
    junk = b"".join(b"agi_junk%d: x\n" % i for i in range(300))
    await asterisk.send(agi_headers().replace(b"agi_network: yes\n", junk))
    assert await asterisk.read_to_eof() == b""
    assert ran == []
    assert server.metrics.bad_requests == 1


async def test_a_failing_route_is_logged_with_its_channel_and_the_server_keeps_serving(
    server: FastAGIServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(session: AGISession) -> None:
        raise RuntimeError("boom")

    async def fine(session: AGISession) -> None:
        await session.verbose("ok")

    server.add_route("broken", broken)
    server.add_route("fine", fine)
    with caplog.at_level(logging.ERROR, logger="pbx_agi.fastagi"):
        asterisk = await FakeAsterisk.connect(server.port)
        await asterisk.send(agi_headers("broken"))
        assert await asterisk.read_to_eof() == b""
    (record,) = [r for r in caplog.records if r.exc_info]
    assert "'broken'" in record.getMessage()
    assert "PJSIP/trunk-00000001" in record.getMessage()

    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers("fine"))
    assert await asterisk.read_command() == 'VERBOSE "ok" "1"'
    await asterisk.reply("200 result=1\n")
    assert await asterisk.read_to_eof() == b""
    m = server.metrics
    assert (m.sessions_failed, m.sessions_served) == (1, 1)
    assert (m.per_route["broken"].failed, m.per_route["fine"].served) == (1, 1)


async def test_add_route_rejects_duplicates_and_normalises_paths(server: FastAGIServer) -> None:
    async def route(session: AGISession) -> None:
        return None

    server.add_route("/recognize", route)
    with pytest.raises(ValueError):
        server.add_route("recognize", route)
    assert server.routes == ("recognize",)
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers("recognize?lang=fr"))
    assert await asterisk.read_to_eof() == b""
    assert server.metrics.per_route["recognize"].served == 1


async def test_close_lets_in_flight_calls_finish_then_refuses_new_ones() -> None:
    got: list[str | None] = []

    async def route(session: AGISession) -> None:
        got.append(await session.get_variable("X"))

    srv = FastAGIServer({"r": route})
    await srv.start("127.0.0.1", 0)
    port = srv.port
    asterisk = await FakeAsterisk.connect(port)
    await asterisk.send(agi_headers())
    await asterisk.read_command()
    closing = asyncio.create_task(srv.close(grace=WAIT))
    await asyncio.sleep(0.1)
    assert not closing.done()
    with pytest.raises(OSError):
        await FakeAsterisk.connect(port)
    await asterisk.reply("200 result=1 (finished)\n")
    async with asyncio.timeout(WAIT):
        await closing
    assert got == ["finished"]
    assert srv.metrics.sessions_served == 1


async def cut_off_after_the_grace(route: Route) -> FastAGIServer:
    """Serve one call to ``route`` whose first command Asterisk never answers, close the
    server with a short grace, and check the call was ended; the server, for its metrics."""
    srv = FastAGIServer({"r": route})
    await srv.start("127.0.0.1", 0)
    asterisk = await FakeAsterisk.connect(srv.port)
    await asterisk.send(agi_headers())
    await asterisk.read_command()
    async with asyncio.timeout(WAIT):
        await srv.close(grace=0.2)
    assert await asterisk.read_to_eof() == b""
    return srv


async def test_close_cancels_calls_still_running_after_the_grace_period() -> None:
    async def route(session: AGISession) -> None:
        await session.send_command("EXEC Wait 3600", reply_timeout=None)

    srv = await cut_off_after_the_grace(route)
    assert srv.metrics.sessions_cancelled == 1
    assert srv.metrics.per_route["r"].cancelled == 1


# ---------------------------------------------------------------------------
# The connection's own buffering (asyncio.Protocol): edges of reading by hand
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cut", ["in the blank line", "after one byte", "after two bytes"])
async def test_an_environment_in_pieces_ends_at_its_blank_line(
    server: FastAGIServer, cut: str
) -> None:
    seen: list[str | None] = []

    async def route(session: AGISession) -> None:
        seen.append(session.env.extension)

    server.add_route("r", route)
    data = agi_headers()
    pieces = {"in the blank line": [len(data) - 1], "after one byte": [1], "after two bytes": [2]}
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(data, pieces=pieces[cut])
    assert await asterisk.read_to_eof() == b""
    assert seen == ["100"]


async def test_a_hangup_sent_with_the_environment_is_kept_for_the_first_reply(
    server: FastAGIServer,
) -> None:
    got: dict[str, Any] = {}

    async def route(session: AGISession) -> None:
        got["x"] = await session.get_variable("X")
        got["hung_up"] = session.hung_up

    server.add_route("r", route)
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers() + b"HANGUP\n")  # one write: one TCP read, likely
    assert await asterisk.read_command() == 'GET VARIABLE "X"'
    await asterisk.reply("200 result=1 (x)\n")
    assert await asterisk.read_to_eof() == b""
    assert got == {"x": "x", "hung_up": True}


async def test_a_flood_of_lines_before_a_reply_is_read_through_to_the_reply(
    server: FastAGIServer,
) -> None:
    """Over twice the buffer limit arrives while the route is busy elsewhere: reading
    is paused, resumed once the route reads, and nothing is lost on the way."""
    got: list[str | None] = []

    async def route(session: AGISession) -> None:
        await asyncio.sleep(0.3)  # the flood piles up meanwhile
        got.append(await session.get_variable("X"))

    server.add_route("r", route)
    asterisk = await FakeAsterisk.connect(server.port)
    flood = b"HANGUP\n" * (3 * MAX_HEADER_BYTES // 7)
    asterisk.writer.write(agi_headers() + flood)
    assert await asterisk.read_command() == 'GET VARIABLE "X"'
    await asterisk.reply("200 result=1 (after the flood)\n")
    assert await asterisk.read_to_eof() == b""
    assert got == ["after the flood"]


async def test_a_reply_line_longer_than_the_limit_ends_the_session(server: FastAGIServer) -> None:
    errors: list[BaseException] = []

    async def route(session: AGISession) -> None:
        try:
            await session.get_variable("X")
        except AGIProtocolError as exc:
            errors.append(exc)

    server.add_route("r", route)
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers())
    await asterisk.read_command()
    asterisk.writer.write(b"200 result=1 (" + b"x" * (MAX_HEADER_BYTES + 10))
    assert await asterisk.read_to_eof() == b""
    assert [type(e) for e in errors] == [AGIProtocolError]
    assert "oversized" in str(errors[0])


async def test_close_drops_a_client_still_sending_its_environment() -> None:
    srv = FastAGIServer(header_timeout=60.0)
    await srv.start("127.0.0.1", 0)
    asterisk = await FakeAsterisk.connect(srv.port)
    await asterisk.send(b"agi_network: yes\n")
    await wait_until(lambda: srv.metrics.connections == 1, "connection accepted")
    async with asyncio.timeout(WAIT):
        await srv.close(grace=0.2)  # not the 60 s header timeout
    assert await asterisk.read_to_eof() == b""
    assert srv.metrics.bad_requests == 1


async def test_close_serves_an_environment_that_completes_within_the_grace() -> None:
    got: list[str | None] = []

    async def route(session: AGISession) -> None:
        got.append(session.env.caller_id)

    srv = FastAGIServer({"r": route})
    await srv.start("127.0.0.1", 0)
    data = agi_headers()
    asterisk = await FakeAsterisk.connect(srv.port)
    await asterisk.send(data[:20])
    await wait_until(lambda: srv.metrics.connections == 1, "connection accepted")
    closing = asyncio.create_task(srv.close(grace=WAIT))
    await asyncio.sleep(0.1)
    assert not closing.done()
    await asterisk.send(data[20:])
    assert await asterisk.read_to_eof() == b""
    async with asyncio.timeout(WAIT):
        await closing
    assert got == ["+33612345678"]


async def test_a_command_cancelled_while_waiting_its_turn_lets_the_next_one_go(
    server: FastAGIServer,
) -> None:
    got: list[str | None] = []

    async def route(session: AGISession) -> None:
        first = asyncio.create_task(session.get_variable("A"))
        second = asyncio.create_task(session.get_variable("B"))
        third = asyncio.create_task(session.get_variable("C"))
        await asyncio.sleep(0.05)  # A in flight, B and C waiting their turn
        second.cancel()
        got.extend([await first, await third])
        assert second.cancelled()

    server.add_route("r", route)
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers())
    assert await asterisk.read_command() == 'GET VARIABLE "A"'
    await asyncio.sleep(0.1)  # B is cancelled meanwhile
    await asterisk.reply("200 result=1 (A)\n")
    assert await asterisk.read_command() == 'GET VARIABLE "C"'
    await asterisk.reply("200 result=1 (C)\n")
    assert await asterisk.read_to_eof() == b""
    assert got == ["A", "C"]
    assert server.metrics.sessions_served == 1

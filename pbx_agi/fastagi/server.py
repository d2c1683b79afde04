"""The server, its connections and sessions: one module, as they share the per-call hot
path (a connection hands its bytes to the session's reply reader without a task; see
bench/fastagi_roundtrip.py)."""

from __future__ import annotations

import asyncio
import collections
import enum
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pbx_agi.agi_protocol import (
    MAX_COMMAND_BYTES,
    MAX_HEADER_BYTES,
    AGICommandError,
    AGICommandTooLong,
    AGIEnvironment,
    AGIError,
    AGIProtocolError,
    AGIResult,
    EnvironmentReader,
    RememberedResults,
    ReplyReader,
    ResultParser,
    format_command,
    get_variable_command,
    parse_result_line,
    set_variable_command,
)
from pbx_agi.fastagi.metrics import FastAGIMetrics
from pbx_agi.fastagi.peers import LOOPBACK_PEERS, IPNetwork, PeerFilter, RefusalLog

__all__ = [
    "AGICommandTimeout",
    "AGIConnectionClosed",
    "AGISession",
    "FastAGIServer",
    "PlannedRoute",
    "Route",
]

log = logging.getLogger(__name__)

#: A route: ``async def route(session)``.
Route = Callable[["AGISession"], Awaitable[None]]


# How long closing a connection may wait for its write buffer to drain.
_CLOSE_TIMEOUT = 1.0
# How often the header and reply deadlines are checked: a deadline ends a connection
# up to this much after it passed. One sweep for every connection instead of a timer
# per connection and per command (each a heap entry), which every call paid for.
DEADLINE_TICK = 0.05


def _command_line(command: str) -> bytes:
    """``command`` as the one line Asterisk reads, or ValueError / AGICommandTooLong."""
    if "\n" in command or "\r" in command or "\0" in command:
        raise ValueError(f"an AGI command must be one line without NUL: {command!r}")
    data = (command + "\n").encode("utf-8")
    if len(data) > MAX_COMMAND_BYTES:
        raise AGICommandTooLong(
            f"command is {len(data)} bytes; Asterisk reads at most {MAX_COMMAND_BYTES}"
        )
    return data


class _Default(enum.Enum):
    TIMEOUT = 0


class AGIConnectionClosed(AGIError):
    """Asterisk closed the connection (usually: the call ended), or it is unusable."""


class AGICommandTimeout(AGIConnectionClosed):
    """No reply within the timeout. The connection is closed: a late reply would
    otherwise be taken as the answer to the next command."""


# ---------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Allowed peers
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Connection and session
# ---------------------------------------------------------------------------

# A connection's phases: reading the environment block, serving a route (in a task, or
# a planned route's commands straight from the socket callbacks), closed.
_HEADER, _SESSION, _SCRIPT, _DONE = 0, 1, 2, 3
_NEVER = float("inf")


class _Connection(asyncio.Protocol):
    """One FastAGI connection at asyncio's protocol level.

    Every call pays for this while the line rings, and StreamReader/StreamWriter plus a
    task waiting for the environment cost measurably more per call. The environment
    block is gathered in data_received (bounded in size and by header_timeout, as a
    StreamReader limit would bound it); only a complete block for a known route starts a
    task. Later bytes wait in a buffer for the session's reply reader, which awaits a
    future only when no whole line has arrived yet. Flow control both ways is kept: a
    peer that floods us is paused, and writes wait while the peer does not read.
    """

    __slots__ = (
        "_buffer",
        "_closing",
        "_drain_waiter",
        "_loop",
        "_read_paused",
        "_script",
        "_server",
        "_state",
        "_timer",
        "_waiter",
        "deadline",
        "eof",
        "expired",
        "lost",
        "lost_error",
        "task",
        "transport",
        "write_paused",
    )

    def __init__(self, server: FastAGIServer, loop: asyncio.AbstractEventLoop) -> None:
        self._server = server
        self._loop = loop
        self._buffer = bytearray()
        self._state = _HEADER
        self._closing = False
        # The close deadline, once the connection is closing with unsent bytes.
        self._timer: asyncio.TimerHandle | None = None
        # The loop time by which the environment or the reply in flight must be in.
        self.deadline = _NEVER
        self.task: asyncio.Task[None] | None = None
        self._script: _Script | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._read_paused = False
        self.write_paused = False  # the transport's buffer is full: wait before writing more
        self.transport: asyncio.Transport | None = None
        self.eof = False  # the peer sent EOF, or the connection is gone
        self.lost = False  # the connection is gone
        self.lost_error: BaseException | None = None
        self.expired = False  # a deadline ended the connection

    # -- asyncio.Protocol ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        server = self._server
        server.metrics.connections += 1
        peer = transport.get_extra_info("peername")
        host = peer[0] if isinstance(peer, tuple) and peer and isinstance(peer[0], str) else None
        if not server._peers.allows(host):
            # Before anything is read: a stranger gets no route, no parsing, and teaches
            # the server's EnvironmentReader no layout. abort(): nothing to send it.
            self._state = _DONE
            self._closing = True
            transport.abort()
            server._peer_refused(host or "an unknown address")
            return
        if server._closing:
            self.close()
            return
        server._reading.add(self)
        self.deadline = self._loop.time() + server.header_timeout
        server._watch(self)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        state = self._state
        if state == _SESSION:
            buffer += data
            waiter = self._waiter
            if waiter is not None:
                self._waiter = None
                if not waiter.done():
                    waiter.set_result(None)
            if len(buffer) > 2 * MAX_HEADER_BYTES and not self._read_paused:
                self._read_paused = True  # a flood: wait until the session reads
                self._require_transport().pause_reading()
            return
        if state == _SCRIPT:
            buffer += data
            assert self._script is not None
            self._script.on_data()
            return
        if state != _HEADER:
            return  # dropped already; the transport is closing
        # res_agi ends every environment line with "\n" and the block with an empty
        # line, so the block ends at the first "\n\n" (a client ending lines with CRLF
        # would never match and be dropped at header_timeout; Asterisk never does).
        if (
            not buffer
            and data.endswith(b"\n\n")
            and data.find(b"\n\n") == len(data) - 2 <= MAX_HEADER_BYTES
        ):
            self._environment_done(data)  # the usual: the whole block in one read
            return
        start = max(len(buffer) - 1, 0)
        buffer += data
        end = buffer.find(b"\n\n", start)
        if end < 0:
            if len(buffer) > MAX_HEADER_BYTES + 1:
                self._refuse(f"AGI environment block exceeds {MAX_HEADER_BYTES} bytes")
            return
        if end > MAX_HEADER_BYTES:
            self._refuse(f"AGI environment block exceeds {MAX_HEADER_BYTES} bytes")
            return
        block = bytes(buffer[: end + 2])
        del buffer[: end + 2]  # what follows is for the session
        self._environment_done(block)

    def _environment_done(self, block: bytes) -> None:
        try:
            env = self._server._environment.read(block)
        except AGIProtocolError as exc:
            self._refuse(str(exc))
            return
        self._leave_header(_SESSION)
        self._server._accept(self, env)

    def eof_received(self) -> bool:
        if self._state == _HEADER:
            self._refuse(
                f"connection closed after {len(self._buffer)} bytes of environment, "
                "before the blank line"
            )
            return False
        self.eof = True
        self._wake()
        if self._state == _SCRIPT:
            assert self._script is not None
            self._script.on_eof()
        return True  # half-closed: a reply read fails; closing is ours

    def connection_lost(self, exc: Exception | None) -> None:
        if self._state == _HEADER:
            self._leave_header(_DONE)
            server = self._server
            server.metrics.bad_requests += 1
            if self.expired:
                log.warning(
                    "FastAGI client %s sent no complete environment within %.1f s",
                    self._peer(),
                    server.header_timeout,
                )
            else:
                log.warning("dropping FastAGI client %s: %s", self._peer(), exc or "gone")
        elif self._state == _SCRIPT:
            assert self._script is not None
            self._script.on_lost(exc)
        self._state = _DONE
        self._server._live.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.lost = self.eof = True
        self.lost_error = exc
        self._wake()
        drain = self._drain_waiter
        if drain is not None and not drain.done():
            drain.set_result(None)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        drain = self._drain_waiter
        if drain is not None and not drain.done():
            drain.set_result(None)

    # -- for the server and the session ----------------------------------------

    def _require_transport(self) -> asyncio.Transport:
        assert self.transport is not None
        return self.transport

    def _peer(self) -> object:
        return self._require_transport().get_extra_info("peername")

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _leave_header(self, state: int) -> None:
        self._state = state
        self._server._reading.discard(self)
        self.deadline = _NEVER

    def run_script(self, script: _Script) -> None:
        self._state = _SCRIPT
        self._script = script
        script.start()

    def _refuse(self, reason: str) -> None:
        self._leave_header(_DONE)
        self._server.metrics.bad_requests += 1
        log.warning("dropping FastAGI client %s: %s", self._peer(), reason)
        self.close()

    def expire(self) -> None:
        """A deadline passed: abort(), not close(), which would wait for a peer that
        reads nothing. The read waiting on the connection ends with it."""
        self.deadline = _NEVER
        self.expired = True
        self._require_transport().abort()

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._state = _DONE
        transport = self._require_transport()
        transport.close()
        if not self.lost and transport.get_write_buffer_size():
            # The peer has not read all we sent: give it a moment, not forever.
            self._timer = self._loop.call_later(_CLOSE_TIMEOUT, transport.abort)

    @property
    def closing(self) -> bool:
        return self._closing

    async def wait_for_data(self) -> None:
        waiter = self._waiter = self._loop.create_future()
        await waiter

    async def drain(self) -> None:
        while self.write_paused and not self.lost:
            waiter = self._drain_waiter = self._loop.create_future()
            await waiter

    def take_line(self) -> bytes | None:
        """The next whole line (without its "\\n"), or None when none has arrived."""
        buffer = self._buffer
        end = buffer.find(b"\n")
        if end < 0:
            return None
        line = bytes(buffer[:end])
        del buffer[: end + 1]
        if self._read_paused and len(buffer) <= MAX_HEADER_BYTES:
            self._read_paused = False
            self._require_transport().resume_reading()
        return line

    def buffered(self) -> int:
        return len(self._buffer)


class AGISession:
    """One AGI conversation with Asterisk: what a route receives.

    Commands are serialised (one in flight at a time) and each reply is read
    to its end: ``100 Trying`` lines are skipped, a ``520-`` usage block is
    read up to ``520 End of proper usage.``, and a ``HANGUP`` line, which
    Asterisk sends on its own when the channel hangs up, sets :attr:`hung_up`
    and is otherwise ignored, so replies never shift by one.
    """

    __slots__ = (
        "_busy",
        "_closed",
        "_conn",
        "_loop",
        "_replies",
        "_turns",
        "command_timeout",
        "env",
        "route",
    )

    def __init__(
        self,
        env: AGIEnvironment,
        connection: _Connection,
        *,
        route: str = "",
        command_timeout: float | None = 10.0,
        parse_result: ResultParser = parse_result_line,
    ) -> None:
        self.env = env
        self.route = route
        self._replies = ReplyReader(env.channel or "", route, parse_result)
        self.command_timeout = command_timeout
        self._conn = connection
        # One command in flight at a time: _busy while one is, and the commands
        # waiting for their turn (a deque only once a route sends concurrently).
        self._busy = False
        self._turns: collections.deque[asyncio.Future[None]] | None = None
        self._closed = False
        self._loop = asyncio.get_running_loop()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def hung_up(self) -> bool:
        """Asterisk said HANGUP: the channel is gone (later commands fail)."""
        return self._replies.hung_up

    def _close(self) -> None:
        self._closed = True
        self._conn.close()

    async def send_command(
        self, command: str, *, reply_timeout: float | _Default | None = _Default.TIMEOUT
    ) -> AGIResult:
        """Send one command line and return Asterisk's reply to it.

        ``command`` is a complete line such as ``format_command(...)`` builds;
        it must not contain CR, LF or NUL. ``reply_timeout`` (seconds, None
        for no limit) defaults to the server's ``command_timeout``; commands that
        legitimately take long (``EXEC Dial``, ``STREAM FILE``) should pass
        their own.
        """
        limit = self.command_timeout if isinstance(reply_timeout, _Default) else reply_timeout
        data = _command_line(command)
        if self._busy:
            await self._wait_turn()
        else:
            self._busy = True
        try:
            conn = self._conn
            if self._closed or conn.closing:
                raise AGIConnectionClosed(f"connection already closed; not sending {command!r}")
            if conn.lost:
                self._close()
                raise AGIConnectionClosed(f"Asterisk went away while sending {command!r}")
            conn._require_transport().write(data)
            if conn.write_paused:
                await conn.drain()
            if limit is not None:
                conn.deadline = self._loop.time() + limit
            try:
                result = await self._read_reply(command)
                if conn.expired:
                    raise AGIConnectionClosed("the reply came after the timeout")
                return result
            except AGIError:
                self._close()
                if limit is not None and conn.expired:
                    raise AGICommandTimeout(
                        f"no reply to {command!r} within {limit} s; connection closed"
                    ) from None
                raise
            except asyncio.CancelledError:
                # A half-read reply would poison the next command.
                self._close()
                raise
            finally:
                conn.deadline = _NEVER
        finally:
            self._pass_turn()

    async def _wait_turn(self) -> None:
        """Wait until the command in flight hands over (asyncio.Lock's job, without its
        cost for the usual route that never sends two at once)."""
        if self._turns is None:
            self._turns = collections.deque()
        turn = self._loop.create_future()
        self._turns.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._pass_turn()  # handed the turn as we were cancelled: pass it on
            raise

    def _pass_turn(self) -> None:
        turns = self._turns
        while turns:
            turn = turns.popleft()
            if not turn.done():
                turn.set_result(None)  # the next command goes; still busy
                return
        self._busy = False

    async def _readline(self, command: str) -> str:
        conn = self._conn
        while (raw := conn.take_line()) is None:
            if conn.buffered() > MAX_HEADER_BYTES:
                raise AGIProtocolError(f"oversized reply line to {command!r}")
            if conn.lost_error is not None:
                raise AGIConnectionClosed(
                    f"Asterisk went away awaiting reply to {command!r}"
                ) from conn.lost_error
            if conn.eof:
                raise AGIConnectionClosed(
                    f"Asterisk closed the connection awaiting reply to {command!r}"
                )
            await conn.wait_for_data()
        if len(raw) > MAX_HEADER_BYTES:
            raise AGIProtocolError(f"oversized reply line to {command!r}")
        return raw.decode("utf-8", errors="replace").rstrip("\r")

    async def _read_reply(self, command: str) -> AGIResult:
        replies = self._replies
        while (result := replies.feed(await self._readline(command), command)) is None:
            pass
        return result

    async def _checked(self, command: str) -> AGIResult:
        result = await self.send_command(command)
        if result.code != 200:
            raise AGICommandError(command, result)
        return result

    async def set_variable(self, name: str, value: str) -> AGIResult:
        """Set a channel variable. ``name`` must be one of ours (strictly
        validated); ``value`` may be anything: it is sanitised and quoted, and
        cut if it would not fit one command line."""
        return await self._checked(set_variable_command(name, value))

    async def get_variable(self, name: str) -> str | None:
        """A channel variable's value, or None when it is not set. Asterisk
        truncates values to 1023 bytes here."""
        result = await self._checked(get_variable_command(name))
        return result.data if result.result == "1" else None

    async def verbose(self, message: str, level: int = 1) -> AGIResult:
        """Log ``message`` on the Asterisk console at verbosity ``level``."""
        return await self._checked(format_command("VERBOSE", message, str(int(level))))


class _Script:
    """A planned route's commands, sent one after another from the socket callbacks.

    A route that knows its whole conversation from the environment (see
    :class:`PlannedRoute`) needs no task, coroutine or future per call: each reply is
    read as it arrives in ``data_received`` and answered with the next command. Every
    reply must be a 200; anything else ends the call, as :meth:`AGISession.set_variable`
    would. Deadlines, metrics and logs are the task path's.
    """

    __slots__ = ("_conn", "_entry", "_lines", "_next", "_replies", "_server", "_started", "env")

    def __init__(
        self,
        server: FastAGIServer,
        connection: _Connection,
        entry: _RouteEntry,
        env: AGIEnvironment,
        commands: Sequence[str],
    ) -> None:
        self._server = server
        self._conn = connection
        self._entry = entry
        self.env = env
        self._lines = [(command, _command_line(command)) for command in commands]
        self._next = 0
        self._replies = ReplyReader(env.channel or "", entry.name, server._results)
        self._started = time.perf_counter()

    def start(self) -> None:
        self._server._scripts.add(self)
        self._server.metrics.in_flight += 1
        if self._lines:
            self._send()
        else:
            self._end(_SERVED)

    def _send(self) -> None:
        conn = self._conn
        conn._require_transport().write(self._lines[self._next][1])
        conn.deadline = self._server._now() + self._server.command_timeout

    def on_data(self) -> None:
        conn = self._conn
        while (raw := conn.take_line()) is not None:
            command = self._lines[self._next][0]
            if len(raw) > MAX_HEADER_BYTES:
                self._end(_FAILED, f"oversized reply line to {command!r}")
                return
            line = raw.decode("utf-8", errors="replace").rstrip("\r")
            try:
                result = self._replies.feed(line, command)
            except AGIProtocolError as exc:
                self._end(_FAILED, str(exc))
                return
            if result is None:
                continue
            if result.code != 200:
                self._end(_FAILED, str(AGICommandError(command, result)))
                return
            self._next += 1
            if self._next == len(self._lines):
                self._end(_SERVED)
                return
            self._send()
        if conn.buffered() > MAX_HEADER_BYTES:
            self._end(_FAILED, f"oversized reply line to {self._lines[self._next][0]!r}")

    def on_eof(self) -> None:
        command = self._lines[self._next][0]
        self._end(_HUNG_UP, f"Asterisk closed the connection awaiting reply to {command!r}")

    def on_lost(self, exc: BaseException | None) -> None:
        command = self._lines[self._next][0]
        if self._conn.expired:
            limit = self._server.command_timeout
            self._end(_FAILED, f"no reply to {command!r} within {limit} s; connection closed")
        else:
            self._end(_HUNG_UP, f"Asterisk went away awaiting reply to {command!r} ({exc})")

    def cancel(self) -> None:
        self._end(_CANCELLED, "server closing")

    def _end(self, outcome: int, reason: str = "") -> None:
        server, env, name = self._server, self.env, self._entry.name
        if self not in server._scripts:
            return  # ended already
        server._scripts.discard(self)
        self._conn.deadline = _NEVER
        self._conn.close()  # at once: the caller waits for our end of the call
        server._count(name, outcome, time.perf_counter() - self._started)
        if outcome == _FAILED:
            log.error(
                "route %r failed on channel %s (uniqueid %s): %s",
                name,
                env.channel,
                env.unique_id,
                reason,
            )
        elif outcome == _HUNG_UP:
            log.info("route %r on channel %s ended: %s", name, env.channel, reason)
        elif outcome == _CANCELLED:
            log.warning("route %r cancelled on channel %s", name, env.channel)


# ---------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------


class PlannedRoute(Protocol):
    """A route that can tell its whole conversation from the environment alone.

    ``plan(env)`` returns the command lines to send, each of which must be answered
    with a 200, and the server sends them without a task per call. It returns None when
    it cannot say yet (an answer that needs I/O), and then the route is run as usual,
    as ``route(session)``. ``plan`` runs on the event loop: it must not block.
    """

    def plan(self, env: AGIEnvironment) -> Sequence[str] | None: ...

    def __call__(self, session: AGISession) -> Awaitable[None]: ...


@dataclass(frozen=True)
class _RouteEntry:
    name: str
    handler: Route
    plan: Callable[[AGIEnvironment], Sequence[str] | None] | None = None


# How a session ended, for the metrics and the log.
_SERVED, _FAILED, _HUNG_UP, _CANCELLED = range(4)


def _is_async_callable(handler: object) -> bool:
    # A function, or an object whose class defines ``async def __call__``.
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        type(handler).__call__
    )


def _normalise_path(path: str) -> str:
    return path.partition("?")[0].strip("/")


class FastAGIServer:
    """An asyncio FastAGI server.

    ``routes`` maps a path (``agi://host/<path>`` in the dialplan, leading
    ``/`` and query string ignored) to a route. ``header_timeout`` bounds the
    time to receive the whole environment block; ``command_timeout`` is the
    default per-command reply timeout of each :class:`AGISession`. Both are
    enforced within :data:`DEADLINE_TICK` seconds of passing.

    ``allowed_peers`` are the networks a client may connect from (default
    :data:`LOOPBACK_PEERS`; ValueError when empty). A connection from anywhere else
    is aborted as soon as it is made, counted in ``metrics.refused_peers`` and
    logged, at most once per :data:`REFUSAL_LOG_INTERVAL` seconds.
    """

    def __init__(
        self,
        routes: Mapping[str, Route] | None = None,
        *,
        header_timeout: float = 5.0,
        command_timeout: float = 10.0,
        allowed_peers: Iterable[IPNetwork] | None = None,
    ) -> None:
        self.header_timeout = header_timeout
        self.command_timeout = command_timeout
        self.metrics = FastAGIMetrics()
        self._peers = PeerFilter(LOOPBACK_PEERS if allowed_peers is None else allowed_peers)
        self._refusals = RefusalLog()
        self._refusal_flush: asyncio.TimerHandle | None = None
        # The layouts of the environment blocks our Asterisk sends, learnt from them, and
        # the replies it repeats on every call, parsed once.
        self._environment = EnvironmentReader()
        self._results = RememberedResults()
        self._routes: dict[str, _RouteEntry] = {}
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._scripts: set[_Script] = set()
        # Connections still sending their environment (no task yet), and all open ones.
        self._reading: set[_Connection] = set()
        self._live: set[_Connection] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        for path, handler in (routes or {}).items():
            self.add_route(path, handler)

    def add_route(self, path: str, handler: Route) -> None:
        if not callable(handler):
            raise TypeError(f"route handler for {path!r} is not callable: {handler!r}")
        name = _normalise_path(path)
        if not name:
            raise ValueError(f"empty route path: {path!r}")
        if name in self._routes:
            raise ValueError(f"route {name!r} already exists")
        if not _is_async_callable(handler):
            raise TypeError(f"route {path!r} must be 'async def': a plain one would block calls")
        plan = getattr(handler, "plan", None)
        if plan is not None and not callable(plan):
            raise TypeError(f"route {path!r} has a plan that is not callable: {plan!r}")
        self._routes[name] = _RouteEntry(name, handler, plan)

    @property
    def routes(self) -> tuple[str, ...]:
        return tuple(self._routes)

    @property
    def allowed_peers(self) -> tuple[IPNetwork, ...]:
        """The networks clients may connect from (IPv4-mapped ones as IPv4)."""
        return self._peers.networks

    async def start(self, host: str = "127.0.0.1", port: int = 4573) -> None:
        if self._server is not None:
            raise RuntimeError("server already started")
        self._closing = False
        loop = self._loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self, loop), host, port)
        log.info("FastAGI server listening on %s:%s", host, self.port)

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("server not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self, grace: float = 5.0) -> None:
        """Stop accepting, give in-flight sessions ``grace`` seconds, then cancel them
        (and drop connections still sending their environment)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._closing = True
        server.close()
        loop = asyncio.get_running_loop()
        end = loop.time() + max(grace, 0.0)
        while (remaining := end - loop.time()) > 0:
            pending = {t for t in self._tasks if not t.done()}
            if pending:
                await asyncio.wait(pending, timeout=remaining)
            elif self._reading or self._scripts:
                # An environment still arriving (it becomes a session or is dropped), or
                # a planned route awaiting a reply.
                await asyncio.sleep(min(0.01, remaining))
            else:
                break
        still = {t for t in self._tasks if not t.done()}
        for task in still:
            task.cancel()
        for connection in list(self._reading):
            connection._refuse("server closing before the environment was complete")
        for script in list(self._scripts):
            script.cancel()
        if still:
            log.warning(
                "cancelling %d AGI session(s) still running after %.1f s", len(still), grace
            )
            await asyncio.wait(still)
        self._tasks.clear()
        for connection in list(self._live):
            connection.close()  # a session whose task was cancelled before it ran
        if self._sweeper is not None and not self._live:
            self._sweeper.cancel()
            self._sweeper = None
        if self._refusal_flush is not None:
            self._refusal_flush.cancel()
            self._flush_refusals(final=True)  # the last refusals are told, not lost
        await server.wait_closed()

    async def __aenter__(self) -> FastAGIServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- deadlines -------------------------------------------------------------

    def _watch(self, connection: _Connection) -> None:
        self._live.add(connection)
        if self._sweeper is None:
            assert self._loop is not None
            self._sweeper = self._loop.call_later(DEADLINE_TICK, self._sweep)

    def _now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    # -- refused peers -------------------------------------------------------

    def _peer_refused(self, peer: str) -> None:
        self.metrics.refused_peers += 1
        line = self._refusals.refused(peer, self._now())
        if line is not None:
            log.warning("%s", line)
        else:
            self._flush_refusals_later()

    def _flush_refusals_later(self) -> None:
        """Tell the refusals not told yet when the quiet interval ends, even if no
        other peer is refused by then."""
        due = self._refusals.due
        if self._refusal_flush is None and due is not None:
            assert self._loop is not None
            self._refusal_flush = self._loop.call_at(due, self._flush_refusals)

    def _flush_refusals(self, *, final: bool = False) -> None:
        self._refusal_flush = None
        line = self._refusals.flush(self._now(), final=final)
        if line is not None:
            log.warning("%s", line)
        elif not final:
            self._flush_refusals_later()  # the timer ran a hair early

    def _count(self, route: str, outcome: int, seconds: float) -> None:
        stats, metrics = self.metrics.route(route), self.metrics
        metrics.in_flight -= 1
        stats.seconds += seconds
        if outcome == _SERVED:
            stats.served += 1
            metrics.sessions_served += 1
        elif outcome == _FAILED:
            stats.failed += 1
            metrics.sessions_failed += 1
        elif outcome == _HUNG_UP:
            stats.hung_up += 1
            metrics.sessions_hung_up += 1
        else:
            stats.cancelled += 1
            metrics.sessions_cancelled += 1

    def _sweep(self) -> None:
        """End every connection past its deadline; tick again while any is open."""
        assert self._loop is not None
        now = self._loop.time()
        for connection in [c for c in self._live if c.deadline <= now]:
            connection.expire()
        self._sweeper = self._loop.call_later(DEADLINE_TICK, self._sweep) if self._live else None

    # -- one connection ------------------------------------------------------

    def _accept(self, connection: _Connection, env: AGIEnvironment) -> None:
        """A complete environment arrived: run its route in a task of its own."""
        if env.malformed_lines:
            log.warning(
                "FastAGI request from %s (channel %s) had %d malformed line(s): %r",
                connection._peer(),
                env.channel,
                len(env.malformed_lines),
                env.malformed_lines[:5],
            )
        entry = self._routes.get(env.network_script)
        if entry is None:
            self.metrics.unknown_routes += 1
            log.error(
                "no FastAGI route %r (channel %s, from %s); closing",
                env.network_script,
                env.channel,
                connection._peer(),
            )
            connection.close()
            return
        if entry.plan is not None:
            try:
                commands = entry.plan(env)
                script = (
                    None if commands is None else _Script(self, connection, entry, env, commands)
                )
            except Exception:
                self.metrics.in_flight += 1
                self._count(entry.name, _FAILED, 0.0)
                log.exception(
                    "route %r failed on channel %s (uniqueid %s)",
                    entry.name,
                    env.channel,
                    env.unique_id,
                )
                connection.close()
                return
            if script is not None:
                connection.run_script(script)
                return
        session = AGISession(
            env,
            connection,
            route=entry.name,
            command_timeout=self.command_timeout,
            parse_result=self._results,
        )
        assert self._loop is not None
        task = connection.task = self._loop.create_task(self._run_route(entry, session))
        self._tasks.add(task)

    async def _run_route(self, entry: _RouteEntry, session: AGISession) -> None:
        env = session.env
        self.metrics.in_flight += 1
        started = time.perf_counter()
        outcome = _FAILED
        try:
            await entry.handler(session)
        except asyncio.CancelledError:
            outcome = _CANCELLED
            log.warning("route %r cancelled on channel %s", entry.name, env.channel)
            raise
        except AGICommandTimeout:
            log.exception("route %r timed out on channel %s", entry.name, env.channel)
        except AGIConnectionClosed as exc:
            outcome = _HUNG_UP
            log.info("route %r on channel %s ended: %s", entry.name, env.channel, exc)
        except Exception:
            log.exception(
                "route %r failed on channel %s (uniqueid %s)",
                entry.name,
                env.channel,
                env.unique_id,
            )
        else:
            outcome = _SERVED
        finally:
            self._count(entry.name, outcome, time.perf_counter() - started)
            session._close()  # at once: the caller waits for our end of the call
            self._tasks.discard(session._conn.task)

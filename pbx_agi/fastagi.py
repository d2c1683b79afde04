"""Our FastAGI server: Asterisk connects, sends its environment, runs a route.

Why not ``panoramisk.fast_agi.Application`` (panoramisk 1.4): its handler
spins forever without yielding when a client closes before the blank line
(``read()`` keeps returning ``b""``), which freezes the whole event loop; it
decodes strictly, so one Latin-1 byte in a caller name kills the request; it
wraps sync routes with ``asyncio.coroutine``, gone in Python 3.11; and it
returns an unsolicited ``HANGUP`` line as the reply to the command in flight,
so every later reply belongs to the command before it. We keep panoramisk's
result-line parser (see :func:`pbx_agi.agi_protocol.parse_result_line`).

Sync routes run in a worker thread (``asyncio.to_thread``) so that blocking
work in them (a database lookup, say) never stalls other calls; from there
they talk to Asterisk through :meth:`AGISession.send_command_sync` and
:meth:`AGISession.set_variable_sync`.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .agi_protocol import (
    MAX_COMMAND_BYTES,
    MAX_HEADER_BYTES,
    AGICommandError,
    AGICommandTooLong,
    AGIEnvironment,
    AGIError,
    AGIHeaderIncomplete,
    AGIHeaderTooLarge,
    AGIProtocolError,
    AGIResult,
    format_command,
    get_variable_command,
    parse_environment,
    parse_result_line,
    set_variable_command,
)

__all__ = [
    "AGICommandTimeout",
    "AGIConnectionClosed",
    "AGISession",
    "FastAGIMetrics",
    "FastAGIServer",
    "Route",
    "RouteMetrics",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: A route: ``async def route(session)`` or a plain ``def route(session)``.
Route = Callable[["AGISession"], Awaitable[None] | None]

# Lines that are neither a status line nor HANGUP (e.g. the tail of an
# environment block cut short by a newline inside a caller name) are skipped
# with a warning, up to this many per reply.
_MAX_STRAY_LINES = 200
_USAGE_END = "520 End of proper usage."
# How long closing a connection may wait for its write buffer to drain.
_CLOSE_TIMEOUT = 1.0


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


@dataclass
class RouteMetrics:
    served: int = 0  # route returned normally
    failed: int = 0  # route raised (a command timeout counts here)
    hung_up: int = 0  # Asterisk went away while the route was talking to it
    cancelled: int = 0  # cut off by FastAGIServer.close()
    seconds: float = 0.0  # total time spent in the route


@dataclass
class FastAGIMetrics:
    connections: int = 0
    sessions_served: int = 0
    sessions_failed: int = 0
    sessions_hung_up: int = 0
    sessions_cancelled: int = 0
    bad_requests: int = 0  # EOF / timeout / oversize before the environment was complete
    unknown_routes: int = 0
    in_flight: int = 0
    per_route: dict[str, RouteMetrics] = field(default_factory=dict)

    def route(self, name: str) -> RouteMetrics:
        stats = self.per_route.get(name)
        if stats is None:
            stats = self.per_route[name] = RouteMetrics()
        return stats


# ---------------------------------------------------------------------------
# Session
# ---------------------------------------------------------------------------


class _Deadline:
    """Ends a connection that takes too long, which ends the read waiting on it.

    A plain timer: every call pays for one per AGI command while the line rings, and
    asyncio.timeout() costs several times as much. abort(), not close(): close() would
    wait for a peer that reads nothing."""

    __slots__ = ("_handle", "_writer", "expired")

    def __init__(self, delay: float, writer: asyncio.StreamWriter) -> None:
        self.expired = False
        self._writer = writer
        self._handle = asyncio.get_running_loop().call_later(delay, self._expire)

    def _expire(self) -> None:
        self.expired = True
        self._writer.transport.abort()

    def cancel(self) -> None:
        self._handle.cancel()


class AGISession:
    """One AGI conversation with Asterisk: what a route receives.

    Commands are serialised (one in flight at a time) and each reply is read
    to its end: ``100 Trying`` lines are skipped, a ``520-`` usage block is
    read up to ``520 End of proper usage.``, and a ``HANGUP`` line, which
    Asterisk sends on its own when the channel hangs up, sets :attr:`hung_up`
    and is otherwise ignored, so replies never shift by one.
    """

    def __init__(
        self,
        env: AGIEnvironment,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        route: str = "",
        command_timeout: float | None = 10.0,
    ) -> None:
        self.env = env
        self.route = route
        self.hung_up = False
        self.command_timeout = command_timeout
        self._reader = reader
        self._writer = writer
        self._lock = asyncio.Lock()
        self._closed = False
        self._loop = asyncio.get_running_loop()

    @property
    def closed(self) -> bool:
        return self._closed

    def _close(self) -> None:
        self._closed = True
        self._writer.close()

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
        if "\n" in command or "\r" in command or "\0" in command:
            raise ValueError(f"an AGI command must be one line without NUL: {command!r}")
        data = (command + "\n").encode("utf-8")
        if len(data) > MAX_COMMAND_BYTES:
            raise AGICommandTooLong(
                f"command is {len(data)} bytes; Asterisk reads at most {MAX_COMMAND_BYTES}"
            )
        async with self._lock:
            if self._closed:
                raise AGIConnectionClosed(f"connection already closed; not sending {command!r}")
            try:
                self._writer.write(data)
                await self._writer.drain()
            except (ConnectionError, OSError) as exc:
                self._close()
                raise AGIConnectionClosed(f"Asterisk went away while sending {command!r}") from exc
            deadline = None if limit is None else _Deadline(limit, self._writer)
            try:
                result = await self._read_reply(command)
                if deadline is not None and deadline.expired:
                    raise AGIConnectionClosed("the reply came after the timeout")
                return result
            except AGIError:
                self._close()
                if deadline is not None and deadline.expired:
                    raise AGICommandTimeout(
                        f"no reply to {command!r} within {limit} s; connection closed"
                    ) from None
                raise
            except asyncio.CancelledError:
                # A half-read reply would poison the next command.
                self._close()
                raise
            finally:
                if deadline is not None:
                    deadline.cancel()

    async def _readline(self, command: str) -> str:
        try:
            raw = await self._reader.readline()
        except ValueError as exc:  # line longer than the stream limit
            raise AGIProtocolError(f"oversized reply line to {command!r}") from exc
        except (ConnectionError, OSError) as exc:
            raise AGIConnectionClosed(f"Asterisk went away awaiting reply to {command!r}") from exc
        if not raw.endswith(b"\n"):
            raise AGIConnectionClosed(
                f"Asterisk closed the connection awaiting reply to {command!r}"
            )
        return raw.decode("utf-8", errors="replace").rstrip("\r\n")

    async def _read_reply(self, command: str) -> AGIResult:
        stray = 0
        while True:
            line = await self._readline(command)
            if line == "HANGUP":
                if not self.hung_up:
                    log.info("channel %s hung up during route %r", self.env.channel, self.route)
                self.hung_up = True
                continue
            if line.startswith("100 ") or line == "100":
                continue  # "100 result=0 Trying..."
            if line.startswith("520-"):
                usage: list[str] = []
                while True:
                    more = await self._readline(command)
                    if more.startswith("520 ") or more.endswith(_USAGE_END):
                        if more.endswith(_USAGE_END) and not more.startswith("520 "):
                            usage.append(more[: -len(_USAGE_END)])
                        break
                    usage.append(more)
                return parse_result_line(line).with_usage("\n".join(usage))
            try:
                return parse_result_line(line)
            except AGIProtocolError:
                stray += 1
                log.warning(
                    "ignoring non-AGI line %r awaiting reply to %r on channel %s",
                    line[:200],
                    command,
                    self.env.channel,
                )
                if stray >= _MAX_STRAY_LINES:
                    raise

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

    # -- for sync routes, which run in a worker thread ---------------------

    def _run_from_thread(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            coro.close()
            raise RuntimeError("the *_sync methods are for sync routes (worker threads) only")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def send_command_sync(self, command: str) -> AGIResult:
        return self._run_from_thread(self.send_command(command))

    def set_variable_sync(self, name: str, value: str) -> AGIResult:
        return self._run_from_thread(self.set_variable(name, value))

    def get_variable_sync(self, name: str) -> str | None:
        return self._run_from_thread(self.get_variable(name))


# ---------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _RouteEntry:
    name: str
    handler: Route
    is_async: bool


def _is_async_callable(handler: object) -> bool:
    # A function, or an object whose class defines ``async def __call__``.
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        type(handler).__call__
    )


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    if not writer.transport.get_write_buffer_size():
        return  # nothing left to send: the socket closes at once
    try:
        async with asyncio.timeout(_CLOSE_TIMEOUT):
            await writer.wait_closed()
    except (TimeoutError, ConnectionError, OSError):
        writer.transport.abort()  # peer not reading: do not wait on its buffer
    except asyncio.CancelledError:
        writer.transport.abort()
        raise


def _normalise_path(path: str) -> str:
    return path.partition("?")[0].strip("/")


class FastAGIServer:
    """An asyncio FastAGI server.

    ``routes`` maps a path (``agi://host/<path>`` in the dialplan, leading
    ``/`` and query string ignored) to a route. ``header_timeout`` bounds the
    time to receive the whole environment block; ``command_timeout`` is the
    default per-command reply timeout of each :class:`AGISession`.
    """

    def __init__(
        self,
        routes: Mapping[str, Route] | None = None,
        *,
        header_timeout: float = 5.0,
        command_timeout: float = 10.0,
    ) -> None:
        self.header_timeout = header_timeout
        self.command_timeout = command_timeout
        self.metrics = FastAGIMetrics()
        self._routes: dict[str, _RouteEntry] = {}
        self._server: asyncio.Server | None = None
        self._closing = False
        self._tasks: set[asyncio.Task[Any]] = set()
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
        self._routes[name] = _RouteEntry(name, handler, _is_async_callable(handler))

    @property
    def routes(self) -> tuple[str, ...]:
        return tuple(self._routes)

    async def start(self, host: str = "127.0.0.1", port: int = 4573) -> None:
        if self._server is not None:
            raise RuntimeError("server already started")
        self._closing = False
        self._server = await asyncio.start_server(self._handle, host, port, limit=MAX_HEADER_BYTES)
        log.info("FastAGI server listening on %s:%s", host, self.port)

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("server not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self, grace: float = 5.0) -> None:
        """Stop accepting, give in-flight sessions ``grace`` seconds, then cancel them."""
        server, self._server = self._server, None
        if server is None:
            return
        self._closing = True
        server.close()
        pending = {t for t in self._tasks if not t.done()}
        if pending:
            _, still = await asyncio.wait(pending, timeout=max(grace, 0.0))
            for task in still:
                task.cancel()
            if still:
                log.warning(
                    "cancelling %d AGI session(s) still running after %.1f s", len(still), grace
                )
                await asyncio.wait(still)
        await server.wait_closed()

    async def __aenter__(self) -> FastAGIServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- one connection ------------------------------------------------------

    async def _read_environment(self, reader: asyncio.StreamReader) -> AGIEnvironment:
        # res_agi ends every environment line with "\n" and the block with an
        # empty line, so one readuntil() takes the whole block (bounded by the
        # stream limit) and whole lines are decoded together afterwards. (A
        # client ending lines with CRLF would never match, and be dropped at
        # header_timeout; Asterisk never does.)
        try:
            block = await reader.readuntil(b"\n\n")
        except asyncio.IncompleteReadError as exc:
            raise AGIHeaderIncomplete(
                f"connection closed after {len(exc.partial)} bytes of environment, "
                "before the blank line"
            ) from None
        except asyncio.LimitOverrunError:
            raise AGIHeaderTooLarge(
                f"AGI environment block exceeds {MAX_HEADER_BYTES} bytes"
            ) from None
        return parse_environment(block)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.metrics.connections += 1
        peer = writer.get_extra_info("peername")
        try:
            if self._closing:
                return
            deadline = _Deadline(self.header_timeout, writer)
            try:
                env = await self._read_environment(reader)
            except (AGIProtocolError, ConnectionError, OSError) as exc:
                self.metrics.bad_requests += 1
                if deadline.expired:
                    log.warning(
                        "FastAGI client %s sent no complete environment within %.1f s",
                        peer,
                        self.header_timeout,
                    )
                else:
                    log.warning("dropping FastAGI client %s: %s", peer, exc)
                return
            finally:
                deadline.cancel()
            if env.malformed_lines:
                log.warning(
                    "FastAGI request from %s (channel %s) had %d malformed line(s): %r",
                    peer,
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
                    peer,
                )
                return
            await self._run_route(entry, env, reader, writer)
        finally:
            if task is not None:
                self._tasks.discard(task)
            await _close_writer(writer)

    async def _run_route(
        self,
        entry: _RouteEntry,
        env: AGIEnvironment,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        session = AGISession(
            env, reader, writer, route=entry.name, command_timeout=self.command_timeout
        )
        stats = self.metrics.route(entry.name)
        self.metrics.in_flight += 1
        started = time.perf_counter()
        try:
            if entry.is_async:
                outcome = entry.handler(session)
                if outcome is not None:
                    await outcome
            else:
                outcome = await asyncio.to_thread(entry.handler, session)
                if inspect.isawaitable(outcome):
                    if inspect.iscoroutine(outcome):
                        outcome.close()  # never awaited: no "never awaited" warning
                    raise TypeError(
                        f"route {entry.name!r} returned an awaitable; declare it 'async def'"
                    )
        except asyncio.CancelledError:
            stats.cancelled += 1
            self.metrics.sessions_cancelled += 1
            log.warning("route %r cancelled on channel %s", entry.name, env.channel)
            raise
        except AGICommandTimeout:
            stats.failed += 1
            self.metrics.sessions_failed += 1
            log.exception("route %r timed out on channel %s", entry.name, env.channel)
        except AGIConnectionClosed as exc:
            stats.hung_up += 1
            self.metrics.sessions_hung_up += 1
            log.info("route %r on channel %s ended: %s", entry.name, env.channel, exc)
        except Exception:
            stats.failed += 1
            self.metrics.sessions_failed += 1
            log.exception(
                "route %r failed on channel %s (uniqueid %s)",
                entry.name,
                env.channel,
                env.unique_id,
            )
        else:
            stats.served += 1
            self.metrics.sessions_served += 1
        finally:
            self.metrics.in_flight -= 1
            stats.seconds += time.perf_counter() - started

"""Every open board socket belongs to a session, and ends with it.

A board's websocket streams callers' names and numbers for as long as it is open, so it
must close when its session does: at once on logout (in this process), and within
:data:`switchboard.store.users.SESSION_CHECK_S` when the session expires or is ended
elsewhere (a password change from the command line deletes the user's sessions, the
other service instance logged it out). It closes with :data:`SESSION_ENDED`, which
``board.js`` turns into the login page. The same check purges expired session rows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import asyncpg
from aiohttp import web

from switchboard.store import users

log = logging.getLogger(__name__)

#: The websocket close code for "your session has ended: log in again" (4000-4999 are
#: the application's own; 4401 echoes HTTP 401).
SESSION_ENDED = 4401
#: Expired rows are deleted this often.
PURGE_EVERY_S = 60.0


class SessionSockets:
    """The open board sockets of each session (by its token digest), and the check that
    closes them when their session ends."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sockets: dict[str, set[web.WebSocketResponse]] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, session: users.BoardSession, socket: web.WebSocketResponse) -> None:
        self._sockets.setdefault(session.token_digest, set()).add(socket)

    def discard(self, session: users.BoardSession, socket: web.WebSocketResponse) -> None:
        sockets = self._sockets.get(session.token_digest)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._sockets[session.token_digest]

    def __len__(self) -> int:
        return sum(len(sockets) for sockets in self._sockets.values())

    async def end(self, digest: str, reason: str = "session ended") -> None:
        """Close every socket of the session ``digest`` names."""
        for socket in list(self._sockets.pop(digest, ())):
            await close_ended(socket, reason)

    async def check(self, pool: asyncpg.Pool) -> None:
        """Close the sockets of every session that no longer exists or has expired."""
        if not self._sockets:
            return
        alive = await users.live_sessions(pool, list(self._sockets))
        for digest in [d for d in self._sockets if d not in alive]:
            await self.end(digest, "session expired or ended elsewhere")

    async def close_all(self, code: int, message: bytes) -> None:
        for sockets in list(self._sockets.values()):
            for socket in list(sockets):
                await socket.close(code=code, message=message)

    def start(self, pool: asyncpg.Pool) -> None:
        """Check every :data:`switchboard.store.users.SESSION_CHECK_S` until :meth:`stop`."""
        self._task = asyncio.get_running_loop().create_task(self._run(pool, users.SESSION_CHECK_S))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self, pool: asyncpg.Pool, every: float) -> None:
        purged_at = -PURGE_EVERY_S
        while True:
            await asyncio.sleep(every)
            try:
                await self.check(pool)
                if self._clock() - purged_at >= PURGE_EVERY_S:
                    purged_at = self._clock()
                    if count := await users.purge_expired_sessions(pool):
                        log.info("purged %d expired board session(s)", count)
            except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                # The database is away: try again on the next turn; boards stay open.
                log.warning("could not check the board sessions: %s", exc)


async def close_ended(socket: web.WebSocketResponse, reason: str) -> None:
    """Close ``socket`` with :data:`SESSION_ENDED`: board.js then opens the login page."""
    await socket.close(code=SESSION_ENDED, message=reason.encode()[:100])

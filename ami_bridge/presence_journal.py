"""The presence timeline written to PostgreSQL (table presence_log) in the background.

Only what the board shows is journalled, and only when it changed: a reconnect that
rebuilds every extension from the PBX's lists writes nothing new.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import asyncpg

from ami_bridge.presence import Extension, ExtensionRemoved, PresenceChange

log = logging.getLogger(__name__)

WRITE_TIMEOUT_S = 5.0

_INSERT = """
INSERT INTO presence_log (pbx, extension, at, shown, device, presence, note, until,
                          talking_with)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""

Row = tuple[str, str, datetime, str, str, str, str, str, str]


def journal_row(change: PresenceChange, now: float) -> Row:
    e: Extension = change.extension
    shown = "removed" if isinstance(change, ExtensionRemoved) else e.shown
    at = datetime.fromtimestamp(now, UTC)
    return (e.pbx, e.extension, at, shown, e.device, e.presence, e.note, e.until, e.talking_with)


class PresenceJournal:
    def __init__(self, pool: asyncpg.Pool, *, max_backlog: int = 100_000) -> None:
        self._pool = pool
        self._backlog: asyncio.Queue[Row] = asyncio.Queue(maxsize=max_backlog)
        self._last: dict[tuple[str, str], tuple[str, ...]] = {}
        self._writer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_forever(), name="presence-journal")

    def record(self, changes: list[PresenceChange], now: float) -> None:
        for change in changes:
            row = journal_row(change, now)
            key, state = (row[0], row[1]), row[3:]
            if self._last.get(key) == state:
                continue
            self._last[key] = state
            try:
                self._backlog.put_nowait(row)
            except asyncio.QueueFull:
                log.error("presence journal backlog full; %s not journalled", row[:2])

    async def close(self, grace_s: float = 5.0) -> None:
        try:
            await asyncio.wait_for(self._backlog.join(), grace_s)
        except TimeoutError:
            log.error("presence journal: %d rows not written", self._backlog.qsize())
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)

    async def _write_forever(self) -> None:
        while True:
            row = await self._backlog.get()
            while True:
                try:
                    # A write that hangs after a database restart must not stall us.
                    async with asyncio.timeout(WRITE_TIMEOUT_S):
                        await self._pool.execute(_INSERT, *row)
                    self._backlog.task_done()
                    break
                except Exception as exc:
                    # Whatever a database restart throws, keep the row and retry.
                    log.warning("presence journal write failed (%r); retrying in 1 s", exc)
                    await asyncio.sleep(1)

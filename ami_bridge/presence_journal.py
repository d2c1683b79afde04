"""The presence timeline written to PostgreSQL (table presence_log) in the background.

Only what the board shows is journalled, and only when it changed: a reconnect that
rebuilds every extension from the PBX's lists writes nothing new.
"""

from __future__ import annotations

import asyncpg

from switchboard.core.calls.presence import PresenceChange
from switchboard.store.background_writer import BackgroundWriter
from switchboard.store.presence_log import Row, journal_row, write_row


class PresenceJournal:
    def __init__(self, pool: asyncpg.Pool, *, max_backlog: int = 100_000) -> None:
        self._pool = pool
        self._last: dict[tuple[str, str], tuple[str, ...]] = {}
        self._writer = BackgroundWriter[Row](
            "presence journal", self._write, max_backlog=max_backlog
        )

    def start(self) -> None:
        self._writer.start()

    def record(self, changes: list[PresenceChange], now: float) -> None:
        for change in changes:
            row = journal_row(change, now)
            key, state = (row[0], row[1]), row[3:]
            if self._last.get(key) == state:
                continue
            self._last[key] = state
            self._writer.put(row, f"extension {row[1]} of {row[0]}")

    async def close(self, grace_s: float = 5.0) -> None:
        await self._writer.close(grace_s)

    async def _write(self, row: Row) -> None:
        await write_row(self._pool, row)

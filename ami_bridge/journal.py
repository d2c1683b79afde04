"""Calls written to PostgreSQL in the background, so a slow database never stalls the board.

Every change of a call is an upsert of its row, so the row always holds the call's
latest story (transfers, parking, outcome; migration 0006). An answered call from an
internal phone to an outside number is that number's contact moment too, and marks
their earlier unanswered calls "called back".
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import asyncpg

from switchboard.core.calls.model import Call, Change
from switchboard.store.background_writer import BackgroundWriter
from switchboard.store.calls import write_call

log = logging.getLogger(__name__)


class CallJournal:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        region: str,
        max_backlog: int = 100_000,
        on_ended: Callable[[Call], None] | None = None,
    ) -> None:
        """``on_ended`` is told of every ended call once its row is written: what the
        figures and the worklist read has changed (the boards ask again then, not at
        the call's end, which comes before the write)."""
        self._pool = pool
        self._region = region
        self._on_ended = on_ended
        self._writer = BackgroundWriter[Call]("call journal", self._write, max_backlog=max_backlog)

    def start(self) -> None:
        self._writer.start()

    def record(self, changes: list[Change]) -> None:
        for change in changes:
            self._writer.put(change.call, f"call {change.call.call_id}")

    async def flush(self, grace_s: float) -> None:
        """Wait until everything recorded so far is written (used at shutdown)."""
        await self._writer.flush(grace_s)

    async def close(self, grace_s: float = 5.0) -> None:
        await self._writer.close(grace_s)

    async def _write(self, call: Call) -> None:
        await write_call(self._pool, call, self._region)
        if call.ended_at is not None and self._on_ended is not None:
            self._on_ended(call)
        if call.ended_at is not None:
            # One line per call in the service log: what the history now holds for it.
            log.info(
                "journalled call %s from %s: %s",
                call.call_id,
                call.caller_number or "withheld",
                call.outcome,
            )

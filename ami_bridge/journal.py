"""Calls written to PostgreSQL in the background, so a slow database never stalls the board."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import asyncpg

from ami_bridge.model import Call, Change
from switchboard.numbers import normalise

log = logging.getLogger(__name__)

WRITE_TIMEOUT_S = 5.0

_UPSERT = """
INSERT INTO calls (pbx, linked_id, caller_number, caller_e164, caller_name,
                   started_at, answered_at, answered_by, ended_at, contact_id, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, ''), $9,
        (SELECT id FROM contacts WHERE id = NULLIF($10, '')::bigint), now())
ON CONFLICT (pbx, linked_id) DO UPDATE SET
    caller_number = EXCLUDED.caller_number,
    caller_e164 = EXCLUDED.caller_e164,
    caller_name = EXCLUDED.caller_name,
    answered_at = COALESCE(calls.answered_at, EXCLUDED.answered_at),
    answered_by = COALESCE(calls.answered_by, EXCLUDED.answered_by),
    ended_at = COALESCE(EXCLUDED.ended_at, calls.ended_at),
    contact_id = COALESCE(EXCLUDED.contact_id, calls.contact_id),
    updated_at = now()
"""


def _time(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


class CallJournal:
    def __init__(self, pool: asyncpg.Pool, *, region: str, max_backlog: int = 100_000) -> None:
        self._pool = pool
        self._region = region
        self._backlog: asyncio.Queue[Call] = asyncio.Queue(maxsize=max_backlog)
        self._writer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_forever(), name="call-journal")

    def record(self, changes: list[Change]) -> None:
        for change in changes:
            call = change.call
            try:
                self._backlog.put_nowait(call)
            except asyncio.QueueFull:
                log.error("call journal backlog full; call %s not journalled", call.call_id)

    async def flush(self, grace_s: float) -> None:
        """Wait until everything recorded so far is written (used at shutdown)."""
        try:
            await asyncio.wait_for(self._backlog.join(), grace_s)
        except TimeoutError:
            log.error("call journal: %d calls not written at shutdown", self._backlog.qsize())

    async def close(self, grace_s: float = 5.0) -> None:
        await self.flush(grace_s)
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)

    async def _write_forever(self) -> None:
        while True:
            call = await self._backlog.get()
            while True:
                try:
                    # A write that hangs (a half-dead connection after a database
                    # restart) must not stall the journal for good.
                    async with asyncio.timeout(WRITE_TIMEOUT_S):
                        await self._pool.execute(
                            _UPSERT,
                            call.pbx,
                            call.linked_id,
                            call.caller_number,
                            normalise(call.caller_number, self._region).e164,
                            call.caller_name,
                            _time(call.started_at),
                            _time(call.answered_at),
                            call.answered_by,
                            _time(call.ended_at),
                            call.contact_id,
                        )
                    self._backlog.task_done()
                    break
                except (
                    OSError,
                    TimeoutError,
                    asyncpg.PostgresError,
                    asyncpg.InterfaceError,
                ) as exc:
                    log.warning("journal write failed (%r); retrying in 1 s", exc)
                    await asyncio.sleep(1)
                except Exception:
                    # Whatever a database restart throws, the journal must not die
                    # silently: every call after it would be lost.
                    log.exception("journal write failed unexpectedly; retrying in 1 s")
                    await asyncio.sleep(1)

"""Calls written to PostgreSQL in the background, so a slow database never stalls the board.

Every change of a call is an upsert of its row, so the row always holds the call's
latest story (transfers, parking, outcome; migration 0006). An answered call from an
internal phone to an outside number is that number's contact moment too, and marks
their earlier unanswered calls "called back".
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import asyncpg

from switchboard.core.calls.model import Call, Change
from switchboard.core.numbers import NumberKind, normalise
from switchboard.store.background_writer import BackgroundWriter

log = logging.getLogger(__name__)

_UPSERT = """
INSERT INTO calls (pbx, linked_id, caller_number, caller_e164, caller_name,
                   started_at, answered_at, answered_by, ended_at, contact_id,
                   direction, dialled, via_queue, transfers, parked_space, parked_by,
                   picked_up_by, unanswered_reason, outcome, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, ''), $9,
        (SELECT id FROM contacts WHERE id = NULLIF($10, '')::bigint),
        $11, NULLIF($12, ''), NULLIF($13, ''), $14::jsonb, NULLIF($15, ''), NULLIF($16, ''),
        NULLIF($17, ''), NULLIF($18, ''), NULLIF($19, ''), now())
ON CONFLICT (pbx, linked_id) DO UPDATE SET
    caller_number = EXCLUDED.caller_number,
    caller_e164 = EXCLUDED.caller_e164,
    caller_name = EXCLUDED.caller_name,
    answered_at = COALESCE(calls.answered_at, EXCLUDED.answered_at),
    answered_by = COALESCE(calls.answered_by, EXCLUDED.answered_by),
    ended_at = COALESCE(EXCLUDED.ended_at, calls.ended_at),
    contact_id = COALESCE(EXCLUDED.contact_id, calls.contact_id),
    direction = EXCLUDED.direction,
    dialled = COALESCE(EXCLUDED.dialled, calls.dialled),
    via_queue = COALESCE(EXCLUDED.via_queue, calls.via_queue),
    transfers = EXCLUDED.transfers,
    parked_space = EXCLUDED.parked_space,
    parked_by = EXCLUDED.parked_by,
    picked_up_by = EXCLUDED.picked_up_by,
    unanswered_reason = EXCLUDED.unanswered_reason,
    outcome = COALESCE(EXCLUDED.outcome, calls.outcome),
    updated_at = now()
"""

# An answered outbound call to a number calls back that number's earlier calls that
# nobody answered (and nobody called back yet).
_CALLED_BACK = """
UPDATE calls SET called_back_at = $3, called_back_by = $4, called_back_call = $5,
                 updated_at = now()
WHERE caller_e164 = $1 AND started_at < $2 AND direction = 'inbound'
  AND answered_at IS NULL AND ended_at IS NOT NULL AND called_back_at IS NULL
"""


@dataclass(frozen=True)
class Parties:
    """Who the call was with, as the history stores it."""

    direction: str  # inbound, outbound, internal
    outside_e164: str | None  # the outside party, whose history this call is part of
    handled_by: str  # the extension that spoke with them


def parties(call: Call, region: str) -> Parties:
    caller = normalise(call.caller_number, region)
    if caller.kind is not NumberKind.INTERNAL:
        return Parties("inbound", caller.e164, call.answered_by)
    dialled = normalise(call.dialled, region)
    if dialled.kind is NumberKind.PUBLIC:
        # Only a call they answered is a contact moment: an unanswered attempt must not
        # count as "an earlier call nobody answered" for recognition.
        answered = call.answered_at is not None
        return Parties("outbound", dialled.e164 if answered else None, call.caller_number)
    return Parties("internal", None, call.answered_by)


def _time(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


class CallJournal:
    def __init__(self, pool: asyncpg.Pool, *, region: str, max_backlog: int = 100_000) -> None:
        self._pool = pool
        self._region = region
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
        who = parties(call, self._region)
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(
                _UPSERT,
                call.pbx,
                call.linked_id,
                call.caller_number,
                who.outside_e164,
                call.caller_name,
                _time(call.started_at),
                _time(call.answered_at),
                who.handled_by,
                _time(call.ended_at),
                call.contact_id,
                who.direction,
                call.dialled,
                call.via_queue,
                json.dumps([asdict(t) for t in call.transfers]),
                call.parked_space,
                call.parked_by,
                call.picked_up_by,
                call.unanswered_reason,
                call.outcome,
            )
            if who.direction == "outbound" and who.outside_e164 and call.answered_at:
                await connection.execute(
                    _CALLED_BACK,
                    who.outside_e164,
                    _time(call.started_at),
                    _time(call.answered_at),
                    call.caller_number,
                    call.linked_id,
                )
        if call.ended_at is not None:
            # One line per call in the service log: what the history now holds for it.
            log.info(
                "journalled call %s from %s: %s",
                call.call_id,
                call.caller_number or "withheld",
                call.outcome,
            )

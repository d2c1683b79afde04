"""Calls in PostgreSQL: this module owns the SQL of ``calls``.

The AMI bridge's journal writes every change of a call (:func:`write_call`: an upsert, so
the row always holds the call's latest story, with how it counts for the service level;
in the same transaction the missed-call worklist gains the call or is resolved by it),
the board reads a number's history (:func:`history`), saves notes (:func:`save_note`)
and counts the service level (:func:`service_level_rows`); the FastAGI caller directory
(:data:`RECENT_CALLS_SQL`) and the classic AGI script (:data:`CALL_HISTORY_SQL`, run
with psycopg) read the recent calls recognition needs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from switchboard.core.calls.model import Call
from switchboard.core.numbers import NumberKind, normalise
from switchboard.core.service_level import Tally, Thresholds, classify
from switchboard.core.worklist import missed_attempt, resolution
from switchboard.store import worklist

if TYPE_CHECKING:
    # Only for annotations: the classic AGI script imports this module once per call
    # and talks to PostgreSQL with psycopg, not asyncpg.
    import asyncpg


async def save_note(pool: asyncpg.Pool, call_id: str, note: str) -> bool:
    """Attach a receptionist's note to a journalled call; False if there is no such call."""
    pbx, _, linked_id = call_id.partition(":")
    result: str = await pool.execute(
        "UPDATE calls SET note = $3, updated_at = now() WHERE pbx = $1 AND linked_id = $2",
        pbx,
        linked_id,
        note,
    )
    return result.endswith(" 1")


_UPSERT = """
INSERT INTO calls (pbx, linked_id, caller_number, caller_e164, caller_name,
                   started_at, answered_at, answered_by, ended_at, contact_id,
                   direction, dialled, via_queue, transfers, parked_space, parked_by,
                   picked_up_by, unanswered_reason, outcome, queued_at, fallback_reason,
                   fallback, predicted_wait_s, sl_kind, sl_wait_s, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, ''), $9,
        (SELECT id FROM contacts WHERE id = NULLIF($10, '')::bigint),
        $11, NULLIF($12, ''), NULLIF($13, ''), $14::jsonb, NULLIF($15, ''), NULLIF($16, ''),
        NULLIF($17, ''), NULLIF($18, ''), NULLIF($19, ''), $20, NULLIF($21, ''), $22::jsonb,
        $23, $24, $25, now())
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
    queued_at = COALESCE(calls.queued_at, EXCLUDED.queued_at),
    fallback_reason = COALESCE(EXCLUDED.fallback_reason, calls.fallback_reason),
    fallback = EXCLUDED.fallback,
    predicted_wait_s = COALESCE(EXCLUDED.predicted_wait_s, calls.predicted_wait_s),
    sl_kind = COALESCE(EXCLUDED.sl_kind, calls.sl_kind),
    sl_wait_s = COALESCE(EXCLUDED.sl_wait_s, calls.sl_wait_s),
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


#: Every journalled call with an outside number since ``$1``, for the caller directory.
RECENT_CALLS_SQL = """
SELECT linked_id, caller_e164, started_at, answered_at, answered_by, direction
FROM calls WHERE caller_e164 IS NOT NULL AND started_at >= $1
"""


# Earlier calls from one number (``$1``) since ``$2``; one row per call even if two
# PBXes journalled the same linked id, as in the caller directory.
CALL_HISTORY_SQL = """
SELECT DISTINCT ON (linked_id) linked_id, started_at, answered_at, answered_by, direction
FROM calls
WHERE caller_e164 = $1 AND started_at >= $2
ORDER BY linked_id, updated_at DESC
"""


async def write_call(pool: asyncpg.Pool, call: Call, region: str) -> None:
    """Store the call's latest state and how it counts for the service level, in one
    transaction with what it means for the worklist: an unanswered call adds to its
    number's item, an answered one (or one that talked with the number) resolves them;
    an answered call out to a number marks that number's earlier unanswered calls called
    back."""
    who = parties(call, region)
    counted = classify(call)
    async with pool.acquire() as connection, connection.transaction():
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
            _time(call.queued_at),
            call.fallback_reason,
            json.dumps([asdict(s) for s in call.fallback]),
            call.predicted_wait_s,
            counted.kind.value if counted else None,
            counted.wait_s if counted else None,
        )
        if who.direction == "outbound" and who.outside_e164 and call.answered_at is not None:
            await connection.execute(
                _CALLED_BACK,
                who.outside_e164,
                _time(call.started_at),
                _time(call.answered_at),
                call.caller_number,
                call.linked_id,
            )
        attempt = missed_attempt(call, who.direction, who.outside_e164)
        if attempt is not None:
            await worklist.add_attempt(connection, call.pbx, call.linked_id, attempt)
        resolved = resolution(call, who.direction, who.outside_e164)
        if resolved is not None and call.answered_at is not None:
            await worklist.resolve(
                connection, resolved, datetime.fromtimestamp(call.answered_at, UTC)
            )


async def history(pool: asyncpg.Pool, e164: str, limit: int) -> list[asyncpg.Record]:
    """The number's last ``limit`` calls, newest first, as the caller card tells them."""
    rows: list[asyncpg.Record] = await pool.fetch(
        """
        SELECT pbx, linked_id, started_at, answered_at, answered_by, ended_at, note,
               direction, via_queue, transfers, parked_space, parked_by, picked_up_by,
               unanswered_reason, outcome, called_back_at, called_back_by, queued_at,
               fallback_reason, fallback
        FROM calls WHERE caller_e164 = $1 ORDER BY started_at DESC LIMIT $2
        """,
        e164,
        limit,
    )
    return rows


#: The waits of answered calls, as the report's distribution shows them: bucket i holds
#: the waits from WAIT_EDGES_S[i] up to the next edge; the last, every longer one.
WAIT_EDGES_S = (0, 5, 10, 15, 20, 30, 60, 120, 300)


@dataclass(frozen=True)
class CountedInterval:
    start: datetime
    tally: Tally
    announced: int  # answered calls that had been told a wait ...
    overrun: int  # ... and waited longer than told
    waits: tuple[int, ...]  # answered calls per WAIT_EDGES_S bucket of their wait


async def service_level_rows(
    pool: asyncpg.Pool,
    starts: Sequence[datetime],
    ends: Sequence[datetime],
    thresholds: Thresholds,
    queue: str = "",
) -> list[CountedInterval]:
    """The service level's counts of each interval [starts[i], ends[i]), as
    switchboard.core.service_level.tally counts the stored classification, with the
    waits' distribution. Each interval is its own range scan of the index
    calls_service_level (index-only once vacuumed), its calls grouped by how they count:
    a year by day is 365 short scans and one small hash each, not a sort of a million
    rows nor a dozen filters per row (bench/report.py)."""
    rows = await pool.fetch(
        """
        SELECT b.i, g.*
        FROM unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY AS b(start, until, i)
        CROSS JOIN LATERAL (
            SELECT
                CASE WHEN sl_kind = 'answered' AND sl_wait_s <= $3 THEN 'in time'
                     WHEN sl_kind = 'answered' THEN 'late'
                     WHEN sl_kind = 'abandoned' AND sl_wait_s < $4 THEN 'short'
                     ELSE sl_kind END AS counted,
                CASE WHEN sl_kind = 'answered' THEN width_bucket(sl_wait_s, $6::float8[])
                     ELSE 0 END AS bucket,
                sl_kind = 'answered' AND predicted_wait_s IS NOT NULL AS announced,
                coalesce(sl_kind = 'answered' AND sl_wait_s > predicted_wait_s, false)
                    AS overrun,
                count(*) AS calls
            FROM calls
            WHERE sl_kind IS NOT NULL AND queued_at >= b.start AND queued_at < b.until
              AND ($5 = '' OR lower(via_queue) = lower($5))
            GROUP BY 1, 2, 3, 4
        ) g
        """,
        list(starts),
        list(ends),
        thresholds.answer_within_s,
        thresholds.short_abandon_s,
        queue,
        [float(edge) for edge in WAIT_EDGES_S],
    )
    kinds: list[dict[str, int]] = [{} for _ in starts]
    announced = [0] * len(starts)
    overrun = [0] * len(starts)
    waits = [[0] * len(WAIT_EDGES_S) for _ in starts]
    for row in rows:
        at, calls = row["i"] - 1, row["calls"]
        kinds[at][row["counted"]] = kinds[at].get(row["counted"], 0) + calls
        announced[at] += calls if row["announced"] else 0
        overrun[at] += calls if row["overrun"] else 0
        if row["bucket"]:
            waits[at][min(row["bucket"], len(WAIT_EDGES_S)) - 1] += calls
    return [
        CountedInterval(
            start,
            Tally(
                answered=k.get("in time", 0) + k.get("late", 0),
                answered_in_time=k.get("in time", 0),
                abandoned=k.get("abandoned", 0),
                short_abandons=k.get("short", 0),
                sent_on=k.get("sent on", 0),
            ),
            announced[at],
            overrun[at],
            tuple(waits[at]),
        )
        for at, (start, k) in enumerate(zip(starts, kinds, strict=True))
    ]


async def today_from(
    pool: asyncpg.Pool, e164: str, since: datetime, besides: str = ""
) -> tuple[int, int]:
    """How often the number called in since ``since``, besides the call ``besides`` (a
    linked id: the one waiting now, journalled or not yet), and how many of those calls
    nobody answered, for the waiting caller's row."""
    row = await pool.fetchrow(
        """
        SELECT count(*) AS calls,
               count(*) FILTER (WHERE answered_at IS NULL AND ended_at IS NOT NULL) AS missed
        FROM calls
        WHERE caller_e164 = $1 AND direction = 'inbound' AND started_at >= $2
          AND linked_id <> $3 AND linked_id NOT LIKE 'sb-callback-%'
        """,
        e164,
        since,
        besides,
    )
    assert row is not None  # an aggregate always has its one row
    return int(row["calls"]), int(row["missed"])

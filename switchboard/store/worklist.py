"""The missed-call worklist in PostgreSQL: this module owns the SQL of ``worklist_items``,
``worklist_attempts`` and ``worklist_actions`` (migration 0015).

The journal adds attempts (:func:`add_attempt`) and resolves items (:func:`resolve`) in
the transaction that writes the call, so an item and its call never disagree; the
callbacks hand over a callback that did not reach its caller (:func:`add_attempt` with a
``callback:<id>`` reference, in their own transaction). A receptionist's claim is a lease
in the row (:func:`claim`): one statement decides it, so two service instances on one
database agree on who holds an item.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from switchboard.core.worklist import (
    Attempt,
    AttemptKind,
    Outcome,
    Resolution,
    resolved_by_own_call,
)

if TYPE_CHECKING:
    # Only for annotations: store.calls, which the classic AGI script imports once per
    # call, imports this module; asyncpg's import would cost every such call.
    import asyncpg

#: PostgreSQL's unique_violation (asyncpg.UniqueViolationError's sqlstate).
_UNIQUE_VIOLATION = "23505"

#: A claim lasts this long from its last renewal (the board renews it while its holder
#: has the item open).
LEASE = timedelta(minutes=10)


class _AlreadyCounted(Exception):
    """The call's attempt is on the list already: undo the item's count."""


_UPSERT_ITEM = """
INSERT INTO worklist_items (e164, queue_group, opened_at, last_attempt_at, attempts)
VALUES ($1, $2, $3, $3, 1)
ON CONFLICT (coalesce(e164, ''), lower(queue_group)) WHERE state = 'open'
DO UPDATE SET attempts = worklist_items.attempts + 1,
    opened_at = least(worklist_items.opened_at, EXCLUDED.opened_at),
    last_attempt_at = greatest(worklist_items.last_attempt_at, EXCLUDED.last_attempt_at),
    updated_at = now()
RETURNING id
"""


async def add_attempt(
    connection: asyncpg.Connection, pbx: str, call_ref: str, attempt: Attempt
) -> int | None:
    """Add the call ``call_ref`` to the open item of its number and group (opening one);
    the item's id, or None when this call was counted already (journalled again)."""
    at = datetime.fromtimestamp(attempt.at, UTC)
    try:
        async with connection.transaction():  # a savepoint: undone if counted already
            item_id: int = await connection.fetchval(_UPSERT_ITEM, attempt.e164, attempt.group, at)
            added = await connection.fetchval(
                "INSERT INTO worklist_attempts (item_id, pbx, call_ref, kind, at, waited_s,"
                " place, step, callback_attempts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                " ON CONFLICT (pbx, call_ref) DO NOTHING RETURNING 1",
                item_id,
                pbx,
                call_ref,
                attempt.kind.value,
                at,
                attempt.waited_s,
                attempt.place,
                attempt.step,
                attempt.callback_attempts,
            )
            if added is None:
                raise _AlreadyCounted
    except _AlreadyCounted:
        return None
    return item_id


async def resolve(
    db: asyncpg.Pool | asyncpg.Connection,
    resolution: Resolution,
    at: datetime,
    *,
    group: str | None = None,
) -> list[int]:
    """Resolve the open items of the number (in every group, or only ``group``) whose
    calls came before ``at``; a resolution that names an item (the board's call-back)
    resolves it and every other open item of its number. The ids resolved."""
    rows = await db.fetch(
        """
        UPDATE worklist_items SET state = 'resolved', resolved_at = $2, resolved_how = $3,
            resolved_by = $4, resolved_call = $5, updated_at = now()
        WHERE state = 'open' AND last_attempt_at <= $2
          AND (id = $7
               OR (e164 = coalesce($1, (SELECT e164 FROM worklist_items WHERE id = $7))
                   AND ($6::text IS NULL OR lower(queue_group) = lower($6))))
        RETURNING id
        """,
        resolution.e164,
        at,
        resolution.how[:200],
        resolution.by,
        resolution.call,
        group,
        resolution.item,
    )
    return [row["id"] for row in rows]


@dataclass(frozen=True)
class ClaimResult:
    """``held``: the item is the caller's now (``new``: it was not before); otherwise
    ``holder`` holds it ("" when it is no longer open)."""

    held: bool
    holder: str = ""
    new: bool = False


async def claim(
    pool: asyncpg.Pool, item_id: int, username: str, lease: timedelta = LEASE
) -> ClaimResult:
    """Claim an open item, or renew one's own claim; refused while another's lease runs.
    The row's lock decides between two instances asking at once, and PostgreSQL's clock
    the lease (two hosts' clocks may differ)."""
    async with pool.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(
            "SELECT state, claimed_by, claim_until < now() AS lapsed FROM worklist_items"
            " WHERE id = $1 FOR UPDATE",
            item_id,
        )
        if row is None or row["state"] != "open":
            return ClaimResult(False)
        holder = row["claimed_by"]
        if holder not in (None, username) and not row["lapsed"]:
            return ClaimResult(False, holder)
        await connection.execute(
            "UPDATE worklist_items SET claimed_by = $2, claim_until = now() + $3,"
            " updated_at = now() WHERE id = $1",
            item_id,
            username,
            lease,
        )
        if holder != username:
            await _log(connection, item_id, username, "claimed")
        return ClaimResult(True, new=holder != username)


async def release(pool: asyncpg.Pool, item_id: int, username: str) -> bool:
    """Give one's claim back; False when it was not one's own."""
    async with pool.acquire() as connection, connection.transaction():
        done = await connection.fetchval(
            "UPDATE worklist_items SET claimed_by = NULL, claim_until = NULL, updated_at = now()"
            " WHERE id = $1 AND state = 'open' AND claimed_by = $2 RETURNING 1",
            item_id,
            username,
        )
        if done:
            await _log(connection, item_id, username, "released")
        return bool(done)


async def called(pool: asyncpg.Pool, item_id: int, username: str, call_ref: str) -> None:
    """The holder called the number back from the board (the call ``call_ref``)."""
    await _log(pool, item_id, username, "called", call_ref=call_ref)


async def record_outcome(
    pool: asyncpg.Pool, item_id: int, username: str, outcome: Outcome, note: str, now: datetime
) -> bool:
    """The holder's outcome and note. A closing one resolves the item; "no answer" and
    "voicemail" keep it open and give the claim back. On an item the holder's own call
    from the board resolved meanwhile (10 s: a voicemail greeting is as long), once: a
    closing outcome says how it went, "no answer" or "voicemail" opens it again. False
    when the item is not theirs to record on."""
    async with pool.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(
            "SELECT state, claimed_by, outcome, resolved_call FROM worklist_items"
            " WHERE id = $1 FOR UPDATE",
            item_id,
        )
        if row is None or row["claimed_by"] != username:
            return False
        if row["state"] == "resolved":
            own_call = resolved_by_own_call(item_id, row["resolved_call"])
            if row["outcome"] is not None or not own_call:
                return False
            if outcome.closes:
                await connection.execute(
                    "UPDATE worklist_items SET outcome = $2, note = $3, updated_at = now()"
                    " WHERE id = $1",
                    item_id,
                    outcome.value,
                    note,
                )
            elif not await _reopen(connection, item_id, outcome, note):
                return False
        elif outcome.closes:
            await connection.execute(
                "UPDATE worklist_items SET state = 'resolved', resolved_at = $4,"
                " resolved_how = $2, resolved_by = $5, outcome = $2, note = $3,"
                " updated_at = now() WHERE id = $1",
                item_id,
                outcome.value,
                note,
                now,
                username,
            )
        else:
            await connection.execute(
                "UPDATE worklist_items SET outcome = $2, note = $3, claimed_by = NULL,"
                " claim_until = NULL, updated_at = now() WHERE id = $1",
                item_id,
                outcome.value,
                note,
            )
        await _log(connection, item_id, username, "outcome", outcome=outcome.value, note=note)
        return True


async def _reopen(
    connection: asyncpg.Connection, item_id: int, outcome: Outcome, note: str
) -> bool:
    """Open a resolved item again, unclaimed; False when the number has a newer open item
    (a call since: the list goes on there)."""
    try:
        async with connection.transaction():  # a savepoint: the unique index may refuse
            await connection.execute(
                "UPDATE worklist_items SET state = 'open', resolved_at = NULL,"
                " resolved_how = '', resolved_by = '', resolved_call = '', outcome = $2,"
                " note = $3, claimed_by = NULL, claim_until = NULL, updated_at = now()"
                " WHERE id = $1",
                item_id,
                outcome.value,
                note,
            )
    except Exception as exc:
        if getattr(exc, "sqlstate", None) != _UNIQUE_VIOLATION:
            raise
        return False
    return True


async def _log(
    db: asyncpg.Pool | asyncpg.Connection,
    item_id: int,
    username: str,
    action: str,
    *,
    outcome: str = "",
    note: str = "",
    call_ref: str = "",
) -> None:
    await db.execute(
        "INSERT INTO worklist_actions (item_id, by_user, action, outcome, note, call_ref)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        item_id,
        username,
        action,
        outcome,
        note,
        call_ref,
    )


@dataclass(frozen=True)
class ItemAttempt:
    kind: AttemptKind
    at: datetime
    waited_s: float
    place: int
    step: str
    callback_attempts: int


@dataclass(frozen=True)
class Item:
    id: int
    e164: str | None
    queue_group: str
    state: str
    opened_at: datetime
    last_attempt_at: datetime
    attempts: int
    claimed_by: str | None
    lapsed: bool  # its claim ran out (by PostgreSQL's clock)
    outcome: str | None
    note: str
    resolved_at: datetime | None
    resolved_how: str
    resolved_by: str
    resolved_call: str  # the call that resolved it ("" while open, or by an outcome)
    history: tuple[ItemAttempt, ...]


_ITEM_COLUMNS = """id, e164, queue_group, state, opened_at, last_attempt_at, attempts,
    claimed_by, coalesce(claim_until < now(), false) AS lapsed, outcome, note, resolved_at,
    resolved_how, resolved_by, resolved_call"""


async def board_list(pool: asyncpg.Pool, resolved_since: datetime) -> list[Item]:
    """Every open item, and those resolved since ``resolved_since``, each with its
    attempts (oldest first)."""
    rows = await pool.fetch(
        f"""
        SELECT {_ITEM_COLUMNS},
            coalesce((SELECT jsonb_agg(jsonb_build_array(a.kind, extract(epoch FROM a.at),
                                       a.waited_s, a.place, a.step, a.callback_attempts)
                                       ORDER BY a.at)
                      FROM worklist_attempts a WHERE a.item_id = w.id), '[]') AS history
        FROM worklist_items w
        WHERE state = 'open' OR resolved_at >= $1
        ORDER BY state, opened_at
        """,
        resolved_since,
    )
    return [_item(row) for row in rows]


async def get(pool: asyncpg.Pool, item_id: int) -> Item | None:
    row = await pool.fetchrow(
        f"SELECT {_ITEM_COLUMNS}, '[]'::jsonb AS history FROM worklist_items w WHERE id = $1",
        item_id,
    )
    return _item(row) if row is not None else None


def _item(row: asyncpg.Record) -> Item:
    history = row["history"]
    entries: Sequence[list[object]] = json.loads(history) if isinstance(history, str) else history
    return Item(
        id=row["id"],
        e164=row["e164"],
        queue_group=row["queue_group"],
        state=row["state"],
        opened_at=row["opened_at"],
        last_attempt_at=row["last_attempt_at"],
        attempts=row["attempts"],
        claimed_by=row["claimed_by"],
        lapsed=row["lapsed"],
        outcome=row["outcome"],
        note=row["note"],
        resolved_at=row["resolved_at"],
        resolved_how=row["resolved_how"],
        resolved_by=row["resolved_by"],
        resolved_call=row["resolved_call"],
        history=tuple(
            ItemAttempt(
                AttemptKind(str(kind)),
                datetime.fromtimestamp(float(str(at)), UTC),
                float(str(waited)),
                int(str(place)),
                str(step),
                int(str(tries)),
            )
            for kind, at, waited, place, step, tries in entries
        ),
    )


async def open_summary(pool: asyncpg.Pool) -> tuple[int, datetime | None]:
    """Missed callers not yet reached (open items with a number) and the oldest's first
    call."""
    row = await pool.fetchrow(
        "SELECT count(*) AS open, min(opened_at) AS oldest FROM worklist_items"
        " WHERE state = 'open' AND e164 IS NOT NULL"
    )
    assert row is not None  # an aggregate always has its one row
    return int(row["open"]), row["oldest"]

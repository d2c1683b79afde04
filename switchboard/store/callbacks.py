"""Callbacks in PostgreSQL: this module owns the SQL of ``callbacks`` (every request, its
state and its place) and ``callback_attempts`` (every attempt and its result).

PostgreSQL is the coordination between service instances (a site may run the service on
two hosts against one database and one Asterisk): an instance takes the callbacks whose
turn it is with ``SELECT ... FOR UPDATE SKIP LOCKED`` and holds each under a lease
(:func:`claim`); only the lease's owner can finish the attempt (:func:`finish_attempt`,
a fencing check in the same statement), and a lease that runs out (an instance killed
mid-dial) is handed back by :func:`expire_leases` after the owner of the PBX's truth
(the bridge, from its live channels) says the attempt is not going on. The transitions
are switchboard.core.callbacks's, checked here in each statement's WHERE clause, so two
instances racing for one row both run the statement and only one changes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from switchboard.core.callbacks import (
    ACTIVE,
    TRANSITIONS,
    CallbackError,
    CallbackState,
    RetryPolicy,
    after_unreached,
    check_request,
)
from switchboard.core.worklist import Attempt, AttemptKind, Resolution
from switchboard.store import worklist

_COLUMNS = """id, pbx, queue, e164, name, subject, language, source, state, joined_at,
    not_before, attempts, lease_owner, lease_until, linked_id, requested_by, requests,
    reason, requested_at, updated_at, member"""
# The same columns, of "callbacks c" in a join.
_C_COLUMNS = ", ".join("c." + c.strip() for c in _COLUMNS.split(","))
_ACTIVE_SQL = ", ".join(f"'{s.value}'" for s in sorted(ACTIVE))


@dataclass(frozen=True)
class StoredCallback:
    id: int
    pbx: str
    queue: str
    e164: str
    name: str
    subject: str
    language: str
    source: str
    state: CallbackState
    joined_at: datetime
    not_before: datetime
    attempts: int
    lease_owner: str | None
    lease_until: datetime | None
    linked_id: str | None
    requested_by: str
    requests: int
    reason: str
    requested_at: datetime
    updated_at: datetime
    member: str  # the member rung for the latest attempt ("" before the first)

    @classmethod
    def from_row(cls, row: asyncpg.Record | Mapping[str, Any]) -> StoredCallback:
        values = dict(row)
        values["state"] = CallbackState(values["state"])
        return cls(**values)


# A second request for a number already in line merges into the first: its place
# (joined_at) and state stay; the request is counted, a name or subject fills in.
_REQUEST = f"""
INSERT INTO callbacks (pbx, queue, e164, name, subject, language, source, state, joined_at,
                       not_before, linked_id, requested_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (pbx, lower(queue), e164) WHERE state IN ({_ACTIVE_SQL}) DO UPDATE SET
    requests = callbacks.requests + 1,
    name = COALESCE(NULLIF(callbacks.name, ''), EXCLUDED.name),
    subject = COALESCE(NULLIF(callbacks.subject, ''), EXCLUDED.subject),
    updated_at = now()
RETURNING {_COLUMNS}, (xmax <> 0) AS merged
"""


async def request(
    db: asyncpg.Pool | asyncpg.Connection,
    *,
    pbx: str,
    queue: str,
    e164: str,
    source: str,
    joined_at: datetime,
    not_before: datetime,
    name: str = "",
    subject: str = "",
    language: str = "nl",
    linked_id: str | None = None,
    requested_by: str = "",
    confirmed: bool = True,
) -> tuple[StoredCallback, bool]:
    """Put the number in line (``confirmed``: waiting at once; else requested, while the
    caller confirms); with an active callback for the number and queue already, merge
    into it. Returns the callback and whether it merged. CallbackError for a refused
    request."""
    check_request(queue, e164, source, name, subject)
    state = CallbackState.WAITING if confirmed else CallbackState.REQUESTED
    row = await db.fetchrow(
        _REQUEST,
        pbx,
        queue,
        e164,
        name,
        subject,
        language if language in ("nl", "en") else "nl",
        source,
        state.value,
        joined_at,
        not_before,
        linked_id,
        requested_by,
    )
    assert row is not None  # INSERT ... ON CONFLICT DO UPDATE always returns the row
    merged = bool(row["merged"])
    return StoredCallback.from_row(_without(row, "merged")), merged


def _without(row: asyncpg.Record, key: str) -> dict[str, object]:
    return {k: v for k, v in dict(row).items() if k != key}


# One waiting callback whose turn it is, for one member. The member is taken while the
# callback is dialling or connected (index callbacks_member_busy): a second instance
# taking the same member at the same moment fails here, and tries its next member.
_CLAIM = f"""
WITH due AS (
    SELECT id FROM callbacks
    WHERE pbx = $1 AND queue = $2 AND state = 'waiting' AND not_before <= $5
    ORDER BY joined_at, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
), taken AS (
    UPDATE callbacks c SET state = 'dialling', attempts = c.attempts + 1, member = $4,
        lease_owner = $3, lease_until = $5 + $6 * interval '1 second', updated_at = now()
    FROM due WHERE c.id = due.id AND c.state = 'waiting'
    RETURNING c.*
), started AS (
    INSERT INTO callback_attempts (callback_id, attempt, started_at, owner, member)
    SELECT id, attempts, $5, $3, $4 FROM taken
)
SELECT {_COLUMNS} FROM taken
"""


async def claim(
    db: asyncpg.Pool | asyncpg.Connection,
    *,
    pbx: str,
    queue: str,
    owner: str,
    members: Sequence[str],
    now: datetime,
    lease: timedelta,
) -> list[StoredCallback]:
    """Take the waiting callbacks whose turn it is (by their place; not before their
    ``not_before``), one for each of ``members`` (free ones, in the order they are
    offered), for ``owner`` to dial: each is ``dialling`` under a lease until ``now +
    lease``, its member taken and its attempt counted and started. Rows another instance
    holds are skipped, never waited for; no row is ever taken twice, and no member is
    given two callbacks at once, by this instance or another (a member another instance
    has just taken is passed over)."""
    taken: list[StoredCallback] = []
    for member in members:
        try:
            row = await db.fetchrow(_CLAIM, pbx, queue, owner, member, now, lease.total_seconds())
        except asyncpg.UniqueViolationError:
            continue  # another instance rings this member for a callback right now
        if row is None:
            break  # nobody else in line
        taken.append(StoredCallback.from_row(row))
    return taken


async def claim_one(
    db: asyncpg.Pool | asyncpg.Connection,
    callback_id: int,
    *,
    owner: str,
    member: str,
    now: datetime,
    lease: timedelta,
) -> StoredCallback | None:
    """Take one waiting callback out of line for ``member`` to dial it now (a
    receptionist's "call back now"), whatever its place; None when it is not waiting
    (dialled, done, cancelled) or ``member`` is on another callback."""
    try:
        row = await db.fetchrow(
            f"""
            WITH taken AS (
                UPDATE callbacks SET state = 'dialling', attempts = attempts + 1,
                    member = $5, lease_owner = $2,
                    lease_until = $3::timestamptz + $4 * interval '1 second',
                    not_before = LEAST(not_before, $3::timestamptz), updated_at = now()
                WHERE id = $1 AND state = 'waiting'
                RETURNING *
            ), started AS (
                INSERT INTO callback_attempts (callback_id, attempt, started_at, owner, member)
                SELECT id, attempts, $3, $2, $5 FROM taken
            )
            SELECT {_COLUMNS} FROM taken
            """,
            callback_id,
            owner,
            now,
            lease.total_seconds(),
            member,
        )
    except asyncpg.UniqueViolationError:
        return None
    return StoredCallback.from_row(row) if row is not None else None


async def reschedule(
    db: asyncpg.Pool | asyncpg.Connection, callback_id: int, not_before: datetime
) -> bool:
    """Not before ``not_before`` (its place kept); False when it is not in line."""
    status = await db.execute(
        "UPDATE callbacks SET not_before = $2, updated_at = now()"
        " WHERE id = $1 AND state IN ('requested', 'waiting')",
        callback_id,
        not_before,
    )
    return _changed_one(status)


async def get(db: asyncpg.Pool | asyncpg.Connection, callback_id: int) -> StoredCallback | None:
    found = await _select(db, "id = $1", callback_id)
    return found[0] if found else None


async def renew(
    db: asyncpg.Pool | asyncpg.Connection, callback_id: int, owner: str, until: datetime
) -> bool:
    """Extend ``owner``'s lease (a long conversation); False when it is not theirs."""
    status = await db.execute(
        "UPDATE callbacks SET lease_until = $3, updated_at = now()"
        " WHERE id = $1 AND lease_owner = $2 AND state IN ('dialling', 'connected')",
        callback_id,
        owner,
        until,
    )
    return _changed_one(status)


async def connected(db: asyncpg.Pool | asyncpg.Connection, callback_id: int, attempt: int) -> bool:
    """The caller accepted attempt ``attempt`` (pressed 1): ``connected``, whoever holds
    the lease. Said by the dialplan itself (FastAGI) as well as by the dialler that
    hears its event, so that an AMI connection cut at that moment loses nothing; False
    when it is not that attempt dialling (said already, or over)."""
    status = await db.execute(
        "UPDATE callbacks SET state = 'connected', reached_at = now(), updated_at = now()"
        " WHERE id = $1 AND attempts = $2 AND state = 'dialling'",
        callback_id,
        attempt,
    )
    return _changed_one(status)


async def finish_attempt(
    pool: asyncpg.Pool,
    callback_id: int,
    owner: str,
    *,
    reached: bool,
    result: str,
    now: datetime,
    policy: RetryPolicy,
) -> CallbackState | None:
    """End ``owner``'s attempt: reached, the callback is done; not, it goes back in
    line for the next attempt (its place kept) or, with no attempts left, "not
    reached". The caller accepted is reached whatever ``reached`` says (the dialplan told
    PostgreSQL while the dialler may have missed it). Returns the new state, None when
    the lease is not ``owner``'s (nothing changes: fencing)."""
    async with pool.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(
            "SELECT state, attempts, pbx, queue, e164, joined_at, member FROM callbacks"
            " WHERE id = $1 AND lease_owner = $2"
            " AND state IN ('dialling', 'connected') FOR UPDATE",
            callback_id,
            owner,
        )
        if row is None:
            return None
        if reached or row["state"] == CallbackState.CONNECTED.value:
            state, not_before = CallbackState.DONE, None
            result = "reached"
        else:
            outcome = after_unreached(row["attempts"], policy, now)
            state, not_before = outcome.state, outcome.not_before
        if state not in TRANSITIONS[CallbackState(row["state"])]:
            raise CallbackError(f"a {row['state']} callback cannot become {state.value}")
        await connection.execute(
            "UPDATE callbacks SET state = $2, not_before = COALESCE($3, not_before),"
            " lease_owner = NULL, lease_until = NULL, updated_at = now(),"
            " reached_at = CASE WHEN $2 = 'done' THEN COALESCE(reached_at, $4) ELSE reached_at END"
            " WHERE id = $1",
            callback_id,
            state.value,
            not_before,
            now,
        )
        await connection.execute(
            "UPDATE callback_attempts SET result = $3, ended_at = $4"
            " WHERE callback_id = $1 AND attempt = $2",
            callback_id,
            row["attempts"],
            result,
            now,
        )
        await _hand_to_worklist(connection, callback_id, row, state, now)
        return state


async def _hand_to_worklist(
    connection: asyncpg.Connection,
    callback_id: int,
    row: asyncpg.Record | Mapping[str, Any],
    state: CallbackState,
    now: datetime,
) -> None:
    """A callback that reached its caller resolves their worklist items; one that did
    not, with no attempts left, lands on the worklist with its attempts."""
    ref = f"callback:{callback_id}"
    if state is CallbackState.DONE:
        reached = Resolution(row["e164"], "a callback reached them", row["member"], ref)
        await worklist.resolve(connection, reached, now)
    elif state is CallbackState.NOT_REACHED:
        failed = Attempt(
            e164=row["e164"],
            group=row["queue"],
            kind=AttemptKind.CALLBACK_NOT_REACHED,
            at=now.timestamp(),
            waited_s=max(0.0, (now - row["joined_at"]).total_seconds()),
            place=0,
            step="",
            callback_attempts=row["attempts"],
        )
        await worklist.add_attempt(connection, row["pbx"], ref, failed)


async def expired_leases(
    db: asyncpg.Pool | asyncpg.Connection, pbx: str, now: datetime
) -> list[StoredCallback]:
    """Callbacks whose dialler's lease ran out (an instance killed, a PBX gone): the
    bridge holds each against the PBX's live channels before :func:`release`."""
    return await _select(
        db,
        "pbx = $1 AND state IN ('dialling', 'connected') AND lease_until < $2 ORDER BY id",
        pbx,
        now,
    )


async def release(
    db: asyncpg.Pool | asyncpg.Connection,
    callback_id: int,
    lease_until: datetime | None,
    now: datetime,
) -> bool:
    """Hand an expired lease's callback that was still dialling back to the line, as an
    attempt that did not reach the caller (its place kept; the attempt still counts).
    Only if the lease is still the expired one seen (``lease_until``): an instance that
    renewed it keeps it. (A connected one is :func:`settle_connected`.)"""
    return await _end_expired_lease(
        db,
        callback_id,
        lease_until,
        now,
        ended="dialling",
        becomes="waiting",
        result="lease expired",
    )


async def member_missed(
    db: asyncpg.Pool | asyncpg.Connection, callback_id: int, owner: str
) -> bool:
    """The member's phone did not answer ``owner``'s attempt: the callback goes back in
    line, its place kept, and the attempt does not count (the caller was never rung)."""
    status = await db.execute(
        """
        WITH back AS (
            UPDATE callbacks SET state = 'waiting', attempts = attempts - 1,
                lease_owner = NULL, lease_until = NULL, updated_at = now()
            WHERE id = $1 AND lease_owner = $2 AND state = 'dialling'
            RETURNING id, attempts + 1 AS attempt
        )
        DELETE FROM callback_attempts a USING back
        WHERE a.callback_id = back.id AND a.attempt = back.attempt
        """,
        callback_id,
        owner,
    )
    return _changed_one(status)


async def adopt(
    db: asyncpg.Pool | asyncpg.Connection,
    callback_id: int,
    lease_until: datetime | None,
    owner: str,
    until: datetime,
) -> bool:
    """Take over an expired lease whose call is still going on (its dialler is gone):
    only if it is still the expired lease seen."""
    status = await db.execute(
        "UPDATE callbacks SET lease_owner = $3, lease_until = $4, updated_at = now()"
        " WHERE id = $1 AND lease_until = $2 AND state IN ('dialling', 'connected')",
        callback_id,
        lease_until,
        owner,
        until,
    )
    return _changed_one(status)


async def settle_connected(
    db: asyncpg.Pool | asyncpg.Connection,
    callback_id: int,
    lease_until: datetime | None,
    now: datetime,
) -> bool:
    """A callback whose caller had accepted (connected) and whose call is gone, its
    dialler with it: the conversation took place, so it is done, never dialled again.
    Only if the lease is still the expired one seen."""
    if not await _end_expired_lease(
        db, callback_id, lease_until, now, ended="connected", becomes="done", result="reached"
    ):
        return False
    row = await db.fetchrow("SELECT e164, member FROM callbacks WHERE id = $1", callback_id)
    if row is not None:
        reached = Resolution(
            row["e164"], "a callback reached them", row["member"], f"callback:{callback_id}"
        )
        await worklist.resolve(db, reached, now)
    return True


async def _end_expired_lease(
    db: asyncpg.Pool | asyncpg.Connection,
    callback_id: int,
    lease_until: datetime | None,
    now: datetime,
    *,
    ended: str,
    becomes: str,
    result: str,
) -> bool:
    """A callback whose lease ran out (still ``lease_until``, still ``ended``) becomes
    ``becomes``, its latest attempt ending with ``result``; whether it did. Back in
    line, it may be dialled from ``now``."""
    status = await db.execute(
        """
        WITH ended AS (
            UPDATE callbacks SET state = $5, lease_owner = NULL, lease_until = NULL,
                not_before = CASE WHEN $5 = 'waiting' THEN $3 ELSE not_before END,
                reached_at = CASE WHEN $5 = 'done' THEN COALESCE(reached_at, $3)
                                  ELSE reached_at END,
                updated_at = now()
            WHERE id = $1 AND lease_until = $2 AND state = $4
            RETURNING id, attempts
        )
        UPDATE callback_attempts a SET result = $6, ended_at = $3
        FROM ended WHERE a.callback_id = ended.id AND a.attempt = ended.attempts
        """,
        callback_id,
        lease_until,
        now,
        ended,
        becomes,
        result,
    )
    return _changed_one(status)


async def answered_meanwhile(db: asyncpg.Pool | asyncpg.Connection, pbx: str, e164: str) -> int:
    """The caller called in again and was answered: their waiting callbacks are done.
    Returns how many."""
    status = await db.execute(
        "UPDATE callbacks SET state = 'done', reason = 'answered when they called again',"
        " updated_at = now() WHERE pbx = $1 AND e164 = $2 AND state IN ('requested', 'waiting')",
        pbx,
        e164,
    )
    return int(str(status).rsplit(" ", 1)[1])


async def cancel(
    db: asyncpg.Pool | asyncpg.Connection, callback_id: int, by: str, reason: str
) -> bool:
    """A receptionist cancels a callback still in line, with a reason; False when it is
    no longer in line."""
    if len(reason) > 200:
        raise CallbackError("reason too long")
    status = await db.execute(
        "UPDATE callbacks SET state = 'cancelled', reason = $3, requested_by ="
        " COALESCE(NULLIF(requested_by, ''), $2), updated_at = now()"
        " WHERE id = $1 AND state IN ('requested', 'waiting')",
        callback_id,
        by,
        reason,
    )
    return _changed_one(status)


async def in_line(
    db: asyncpg.Pool | asyncpg.Connection,
    pbx: str,
    queue: str,
    *,
    limit: int | None = None,
    due_by: datetime | None = None,
) -> list[StoredCallback]:
    """The queue's waiting callbacks, by their place: the first ``limit`` of them (all:
    None), only those that may be dialled by ``due_by`` when given. The dialer reads no
    further than its free members can reach (bench/callback_dispatch.py)."""
    due = "" if due_by is None else " AND not_before <= $4"
    args: list[object] = [pbx, queue, limit]
    if due_by is not None:
        args.append(due_by)
    return await _select(
        db,
        f"pbx = $1 AND queue = $2 AND state = 'waiting'{due} ORDER BY joined_at, id LIMIT $3",
        *args,
    )


async def waiting_ahead(
    db: asyncpg.Pool | asyncpg.Connection, pbx: str, queue: str, moments: list[datetime]
) -> list[int]:
    """For each of ``moments``, how many of the queue's callbacks wait in line having
    joined before it: the virtual callers ahead of a live caller who joined then. One
    query, each count read from the line's index."""
    if not moments:
        return []
    rows = await db.fetch(
        """
        SELECT (SELECT count(*) FROM callbacks
                WHERE pbx = $1 AND queue = $2 AND state = 'waiting' AND joined_at < m.at)
               AS ahead
        FROM unnest($3::timestamptz[]) WITH ORDINALITY AS m(at, n) ORDER BY m.n
        """,
        pbx,
        queue,
        moments,
    )
    return [int(r["ahead"]) for r in rows]


async def history(
    db: asyncpg.Pool | asyncpg.Connection, e164: str, limit: int
) -> list[tuple[StoredCallback, list[tuple[int, str, str]]]]:
    """The number's last ``limit`` callbacks, newest first, each with its attempts
    (attempt, member, result) in order, as the caller card tells them."""
    rows = await db.fetch(
        f"""
        SELECT {_C_COLUMNS},
               COALESCE(array_agg(ARRAY[a.attempt::text, a.member, COALESCE(a.result, '')]
                                  ORDER BY a.attempt) FILTER (WHERE a.attempt IS NOT NULL),
                        '{{}}') AS made
        FROM callbacks c LEFT JOIN callback_attempts a ON a.callback_id = c.id
        WHERE c.e164 = $1
        GROUP BY c.id ORDER BY c.requested_at DESC LIMIT $2
        """,
        e164,
        limit,
    )
    found = []
    for row in rows:
        values = dict(row)
        made = values.pop("made") or []
        attempts = [(int(a[0]), a[1], a[2]) for a in made]
        found.append((StoredCallback.from_row(values), attempts))
    return found


async def _select(
    db: asyncpg.Pool | asyncpg.Connection, where: str, *args: object
) -> list[StoredCallback]:
    """The callbacks ``where`` (a WHERE clause of this module's, with its ORDER BY)."""
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM callbacks WHERE {where}", *args)
    return [StoredCallback.from_row(r) for r in rows]


@dataclass(frozen=True)
class ListedCallback:
    """A callback as the board lists it: the callback (with the member of its latest
    attempt) and that attempt's result ("" while it runs or before the first)."""

    callback: StoredCallback
    result: str


async def board_list(
    db: asyncpg.Pool | asyncpg.Connection,
    since: datetime,
    *,
    active_limit: int = 500,
    finished_limit: int = 50,
) -> list[ListedCallback]:
    """Every active callback (by queue and place), then the latest ones finished since
    ``since`` (newest first): what the board's panel shows."""
    query = f"""
        SELECT {_C_COLUMNS}, COALESCE(a.result, '') AS result
        FROM callbacks c
        LEFT JOIN callback_attempts a ON a.callback_id = c.id AND a.attempt = c.attempts
        WHERE {{where}} ORDER BY {{order}} LIMIT $1
    """
    active = await db.fetch(
        query.format(where=f"c.state IN ({_ACTIVE_SQL})", order="c.queue, c.joined_at, c.id"),
        active_limit,
    )
    finished = await db.fetch(
        query.format(
            where=f"c.state NOT IN ({_ACTIVE_SQL}) AND c.updated_at >= $2",
            order="c.updated_at DESC, c.id DESC",
        ),
        finished_limit,
        since,
    )
    listed = []
    for row in [*active, *finished]:
        values = dict(row)
        result = values.pop("result")
        listed.append(ListedCallback(StoredCallback.from_row(values), result))
    return listed


async def requests_within(
    db: asyncpg.Pool | asyncpg.Connection, e164: str, source: str, within: timedelta
) -> int:
    """How often ``e164`` asked from ``source`` in the last ``within`` (by the database's
    clock; merged requests count)."""
    count = await db.fetchval(
        "SELECT COALESCE(sum(requests), 0) FROM callbacks"
        " WHERE e164 = $1 AND source = $2 AND requested_at >= now() - $3::interval",
        e164,
        source,
        within,
    )
    return int(count)


def _changed_one(status: object) -> bool:
    """Whether a command's status ("UPDATE 1") says it changed exactly one row."""
    return str(status).endswith(" 1")


@dataclass(frozen=True)
class CallbackSpeed:
    start: datetime
    requested: int
    reached: int
    p50_s: float | None  # from the request to reaching the caller
    p90_s: float | None


async def speed_rows(
    pool: asyncpg.Pool, starts: Sequence[datetime], ends: Sequence[datetime], queue: str = ""
) -> list[CallbackSpeed]:
    """Of the callbacks requested in each interval [starts[i], ends[i]): how many, how
    many reached their caller, and the median and 90th percentile time from the request
    to reaching them (``percentile_cont``: switchboard.core.service_level.percentile).
    The intervals are cut as the calls' (switchboard.store.calls.service_level_rows)."""
    rows = await pool.fetch(
        """
        SELECT b.start, s.*
        FROM unnest($1::timestamptz[], $2::timestamptz[]) AS b(start, until)
        CROSS JOIN LATERAL (
            SELECT count(*) AS requested, count(reached_at) AS reached,
                percentile_cont(0.5) WITHIN GROUP (
                    ORDER BY extract(epoch FROM reached_at - requested_at)) AS p50,
                percentile_cont(0.9) WITHIN GROUP (
                    ORDER BY extract(epoch FROM reached_at - requested_at)) AS p90
            FROM callbacks
            WHERE requested_at >= b.start AND requested_at < b.until
              AND ($3 = '' OR lower(queue) = lower($3))
        ) s
        ORDER BY b.start
        """,
        list(starts),
        list(ends),
        queue,
    )
    return [
        CallbackSpeed(
            row["start"],
            row["requested"],
            row["reached"],
            None if row["p50"] is None else float(row["p50"]),
            None if row["p90"] is None else float(row["p90"]),
        )
        for row in rows
    ]

"""Queue members in PostgreSQL: this module owns the SQL of ``queue_members`` (who is a
member of which queue, paused or not, as the switchboard restores them) and
``queue_member_log`` (every change, who made it and when).

Every function takes a pool or a connection (``db``): ``ami_bridge.queue_membership``
passes the connection of a transaction that it holds while the PBX carries the change
out, so a change the PBX refuses is never stored. Each change and its log entry are
written by one statement: both or neither. Queue names and interfaces are matched
without regard to case, as Asterisk matches them; a row keeps the spelling it was
joined with. Every input is checked (:mod:`switchboard.core.queue_membership`):
:class:`~switchboard.core.queue_membership.QueueMemberError` for one refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

from switchboard.core.queue_membership import (
    QueueMember,
    QueueMemberError,
    check_actor,
    check_interface,
    check_pbx,
    check_queue,
    check_reason,
    new_member,
)

#: A pool, or one of its connections (in a transaction of the caller's).
Executor: TypeAlias = asyncpg.Pool | asyncpg.Connection
MAX_CHANGES = 1000

_COLUMNS = """pbx, queue, interface, member_name, state_interface, penalty, paused,
    pause_reason, updated_by, updated_at"""
_MEMBER = "pbx = $1 AND lower(queue) = lower($2) AND lower(interface) = lower($3)"
_LOG = """logged AS (
    INSERT INTO queue_member_log (pbx, queue, interface, change, reason, changed_by,
                                  confirmed)
    SELECT pbx, queue, interface, {change}, {reason}::text, {by}::text, {confirmed}::boolean
    FROM changed
)"""

_FIND = f"SELECT {_COLUMNS} FROM queue_members WHERE {_MEMBER}"
_MEMBERS = f"SELECT {_COLUMNS} FROM queue_members WHERE pbx = $1 ORDER BY queue, interface"
# A member already there keeps its pause: joining again is not unpausing.
_JOIN = f"""
WITH changed AS (
    INSERT INTO queue_members ({_COLUMNS})
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
    ON CONFLICT (pbx, lower(queue), lower(interface)) DO UPDATE SET
        member_name = EXCLUDED.member_name,
        state_interface = EXCLUDED.state_interface,
        penalty = EXCLUDED.penalty,
        updated_by = EXCLUDED.updated_by,
        updated_at = EXCLUDED.updated_at
    RETURNING {_COLUMNS}
), {_LOG.format(change="'join'", reason="''", by="$9", confirmed="$10")}
SELECT {_COLUMNS} FROM changed
"""
_LEAVE = f"""
WITH changed AS (
    DELETE FROM queue_members WHERE {_MEMBER} RETURNING {_COLUMNS}
), {_LOG.format(change="'leave'", reason="''", by="$4", confirmed="$5")}
SELECT {_COLUMNS} FROM changed
"""
_PAUSE = f"""
WITH changed AS (
    UPDATE queue_members
    SET paused = $4, pause_reason = $5, updated_by = $6, updated_at = now()
    WHERE {_MEMBER}
    RETURNING {_COLUMNS}
), {
    _LOG.format(
        change="CASE WHEN $4::boolean THEN 'pause' ELSE 'unpause' END",
        reason="$5",
        by="$6",
        confirmed="$7",
    )
}
SELECT {_COLUMNS} FROM changed
"""
_CHANGES = """
SELECT pbx, queue, interface, change, reason, changed_by, changed_at, confirmed
FROM queue_member_log WHERE pbx = $1 ORDER BY changed_at DESC, id DESC LIMIT $2
"""


@dataclass(frozen=True)
class MemberChange:
    """One entry of the change log: ``change`` is join, leave, pause or unpause;
    ``reason`` the pause reason; ``confirmed`` False when the PBX was unavailable."""

    pbx: str
    queue: str
    interface: str
    change: str
    reason: str
    changed_by: str
    changed_at: datetime
    confirmed: bool


def _member(row: Any) -> QueueMember:
    return QueueMember(
        pbx=row["pbx"],
        queue=row["queue"],
        interface=row["interface"],
        member_name=row["member_name"],
        state_interface=row["state_interface"],
        penalty=row["penalty"],
        paused=row["paused"],
        pause_reason=row["pause_reason"],
        updated_by=row["updated_by"],
        updated_at=row["updated_at"],
    )


def _key(pbx: object, queue: object, interface: object) -> tuple[str, str, str]:
    return check_pbx(pbx), check_queue(queue), check_interface(interface)


async def find(
    db: Executor, pbx: str, queue: str, interface: str, *, lock: bool = False
) -> QueueMember | None:
    """Member ``interface`` of ``queue`` on ``pbx``; None when it is not one. ``lock``
    (with a connection in a transaction) holds the row until the transaction ends."""
    sql = _FIND + (" FOR UPDATE" if lock else "")
    row = await db.fetchrow(sql, *_key(pbx, queue, interface))
    return None if row is None else _member(row)


async def members(db: Executor, pbx: str) -> list[QueueMember]:
    """Every member kept for ``pbx``, by queue then interface."""
    return [_member(row) for row in await db.fetch(_MEMBERS, check_pbx(pbx))]


async def join(db: Executor, member: QueueMember, *, by: str, confirmed: bool) -> QueueMember:
    """Keep ``member`` (paused as it says) and log the join by ``by``; a member already
    there takes the new name, state interface and penalty but keeps its pause.
    ``confirmed``: whether the PBX carried it out. The stored member is returned."""
    checked = new_member(
        member.pbx,
        member.queue,
        member.interface,
        member_name=member.member_name,
        state_interface=member.state_interface,
        penalty=member.penalty,
    )
    reason = check_reason(member.pause_reason) if member.paused else ""
    row = await db.fetchrow(
        _JOIN,
        checked.pbx,
        checked.queue,
        checked.interface,
        checked.member_name,
        checked.state_interface,
        checked.penalty,
        member.paused,
        reason,
        check_actor(by),
        confirmed,
    )
    return _member(row)


async def leave(
    db: Executor, pbx: str, queue: str, interface: str, *, by: str, confirmed: bool
) -> QueueMember | None:
    """Forget member ``interface`` of ``queue`` and log that ``by`` made it leave; the
    member it was, None (and nothing logged) when it was none."""
    row = await db.fetchrow(_LEAVE, *_key(pbx, queue, interface), check_actor(by), confirmed)
    return None if row is None else _member(row)


async def pause(
    db: Executor,
    pbx: str,
    queue: str,
    interface: str,
    reason: str,
    *,
    by: str,
    confirmed: bool,
) -> QueueMember | None:
    """Keep member ``interface`` of ``queue`` paused with ``reason`` (may be ""), logged
    with ``by``; the member now, None (nothing logged) when it is none."""
    return await _set_paused(db, (pbx, queue, interface), True, check_reason(reason), by, confirmed)


async def unpause(
    db: Executor, pbx: str, queue: str, interface: str, *, by: str, confirmed: bool
) -> QueueMember | None:
    """Keep member ``interface`` of ``queue`` unpaused (its reason cleared), logged with
    ``by``; the member now, None (nothing logged) when it is none."""
    return await _set_paused(db, (pbx, queue, interface), False, "", by, confirmed)


async def _set_paused(
    db: Executor,
    key: tuple[str, str, str],
    paused: bool,
    reason: str,
    by: str,
    confirmed: bool,
) -> QueueMember | None:
    row = await db.fetchrow(_PAUSE, *_key(*key), paused, reason, check_actor(by), confirmed)
    return None if row is None else _member(row)


async def changes(db: Executor, pbx: str, *, limit: int = 100) -> list[MemberChange]:
    """The last ``limit`` (1 to :data:`MAX_CHANGES`) changes on ``pbx``, newest first."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_CHANGES:
        raise QueueMemberError("limit", f"a whole number from 1 to {MAX_CHANGES}")
    rows = await db.fetch(_CHANGES, check_pbx(pbx), limit)
    return [MemberChange(**dict(row)) for row in rows]

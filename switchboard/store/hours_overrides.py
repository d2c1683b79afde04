"""The ``hours_overrides`` table: "closed for the staff meeting until 14:00".

One row per override, never deleted: ending one early stamps who and when. The
current override of a schedule is its newest row in force at the moment asked about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from switchboard.core.schedule import Override


@dataclass(frozen=True)
class LoggedOverride:
    """An override as the log shows it."""

    id: int
    schedule: str
    override: Override
    ended_early_at: datetime | None
    ended_early_by: str


def _logged(row: asyncpg.Record) -> LoggedOverride:
    override = Override(
        open=row["open"],
        reason=row["reason"],
        until=row["ends_at"],
        by=row["made_by"],
        at=row["starts_at"],
    )
    return LoggedOverride(
        row["id"], row["schedule"], override, row["ended_early_at"], row["ended_early_by"] or ""
    )


async def add_override(pool: asyncpg.Pool, schedule: str, override: Override) -> LoggedOverride:
    """Keep ``override`` for ``schedule``; it rules from ``override.at`` (any earlier
    one still in force is ended there, by the same person)."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(
            "UPDATE hours_overrides SET ended_early_at = $2, ended_early_by = $3"
            " WHERE schedule = $1 AND ends_at > $2 AND starts_at <= $2"
            " AND ended_early_at IS NULL",
            schedule,
            override.at,
            override.by,
        )
        row = await connection.fetchrow(
            "INSERT INTO hours_overrides (schedule, open, reason, starts_at, ends_at, made_by)"
            " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
            schedule,
            override.open,
            override.reason,
            override.at,
            override.until,
            override.by,
        )
    assert row is not None
    return _logged(row)


async def end_override(pool: asyncpg.Pool, schedule: str, by: str, now: datetime) -> bool:
    """End ``schedule``'s override in force at ``now``; False when there was none."""
    result: str = await pool.execute(
        "UPDATE hours_overrides SET ended_early_at = $2, ended_early_by = $3"
        " WHERE schedule = $1 AND starts_at <= $2 AND ends_at > $2 AND ended_early_at IS NULL",
        schedule,
        now,
        by,
    )
    return not result.endswith(" 0")


async def current_override(pool: asyncpg.Pool, schedule: str, now: datetime) -> Override | None:
    """The override ruling ``schedule`` at ``now``, if any."""
    row = await pool.fetchrow(
        "SELECT * FROM hours_overrides WHERE schedule = $1 AND starts_at <= $2"
        " AND ends_at > $2 AND ended_early_at IS NULL ORDER BY starts_at DESC LIMIT 1",
        schedule,
        now,
    )
    return _logged(row).override if row is not None else None


async def override_log(pool: asyncpg.Pool, schedule: str, limit: int = 50) -> list[LoggedOverride]:
    """``schedule``'s overrides, newest first."""
    rows = await pool.fetch(
        "SELECT * FROM hours_overrides WHERE schedule = $1 ORDER BY starts_at DESC LIMIT $2",
        schedule,
        limit,
    )
    return [_logged(row) for row in rows]

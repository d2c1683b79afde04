"""The presence timeline in PostgreSQL: this module owns the SQL of ``presence_log``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from switchboard.core.calls.presence import Extension, ExtensionRemoved, PresenceChange

if TYPE_CHECKING:
    import asyncpg


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


async def write_row(pool: asyncpg.Pool, row: Row) -> None:
    await pool.execute(_INSERT, *row)

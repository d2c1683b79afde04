"""Contacts and their numbers in PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from switchboard.numbers import NumberKind, normalise

if TYPE_CHECKING:
    # Only for annotations: the classic AGI script (pbx_agi/classic_agi.py) imports
    # this module once per call and talks to PostgreSQL with psycopg, not asyncpg.
    import asyncpg


class ContactError(ValueError):
    """A contact could not be stored as given."""


@dataclass(frozen=True)
class ContactMatch:
    contact_id: int
    name: str
    company: str | None
    vip: bool
    language: str
    verified_at: datetime | None


#: The contacts who have one number (``$1``, E.164), best verified first.
#:
#: The one text of this lookup: :func:`find_by_number` runs it with asyncpg, and the
#: classic AGI script (``pbx_agi/classic_agi.py``) with psycopg's ``RawCursor``, which
#: takes the same ``$1`` placeholders. Change it here and both change.
FIND_BY_NUMBER_SQL = """
SELECT c.id, c.name, c.company, c.vip, c.language, n.verified_at
FROM contact_numbers n JOIN contacts c ON c.id = n.contact_id
WHERE n.e164 = $1
ORDER BY n.verified_at DESC NULLS LAST, c.id
"""


def contact_match(row: Mapping[str, Any]) -> ContactMatch:
    """One row of :data:`FIND_BY_NUMBER_SQL` (asyncpg Record or psycopg dict row)."""
    return ContactMatch(
        row["id"], row["name"], row["company"], row["vip"], row["language"], row["verified_at"]
    )


async def find_by_number(pool: asyncpg.Pool, e164: str) -> list[ContactMatch]:
    rows = await pool.fetch(FIND_BY_NUMBER_SQL, e164)
    return [contact_match(r) for r in rows]


async def add_contact(
    pool: asyncpg.Pool,
    name: str,
    numbers: Sequence[str],
    *,
    company: str | None = None,
    vip: bool = False,
    language: str = "nl",
    region: str = "NL",
) -> int:
    """Store a contact with its numbers (normalised to E.164); return its id."""
    e164s = []
    for raw in numbers:
        number = normalise(raw, region)
        if number.kind is not NumberKind.PUBLIC or number.e164 is None:
            raise ContactError(f"{raw!r} is not a usable phone number ({number.kind.value})")
        e164s.append(number.e164)
    if not name.strip():
        raise ContactError("a contact needs a name")
    async with pool.acquire() as conn, conn.transaction():
        contact_id: int = await conn.fetchval(
            "INSERT INTO contacts (name, company, vip, language)"
            " VALUES ($1, $2, $3, $4) RETURNING id",
            name.strip(),
            company,
            vip,
            language,
        )
        await conn.executemany(
            "INSERT INTO contact_numbers (contact_id, e164) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            [(contact_id, e164) for e164 in e164s],
        )
    return contact_id

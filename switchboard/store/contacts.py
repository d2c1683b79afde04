"""Contacts and their numbers in PostgreSQL: this module owns the SQL of ``contacts`` and
``contact_numbers``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from switchboard.core.contacts import ContactError, ContactFields, ContactMatch, NewContact
from switchboard.core.numbers import NumberKind, normalise

if TYPE_CHECKING:
    # Only for annotations: the classic AGI script (pbx_agi/classic_agi.py) imports
    # this module once per call and talks to PostgreSQL with psycopg, not asyncpg.
    import asyncpg


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


async def insert_contact(conn: asyncpg.Connection, contact: NewContact) -> int:
    """Insert one contact (in the caller's transaction); return its id."""
    contact_id: int = await conn.fetchval(
        "INSERT INTO contacts"
        " (name, company, vip, language, email, address, notes, source, external_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        contact.name,
        contact.company,
        contact.vip,
        contact.language,
        contact.email,
        contact.address,
        contact.notes,
        contact.source,
        contact.external_id,
    )
    return contact_id


async def add_numbers(
    conn: asyncpg.Connection, contact_id: int, numbers: Sequence[tuple[str, str | None]]
) -> None:
    """Give a contact these (E.164, label) numbers. A number it already has keeps its
    ``verified_at``, and its label unless a new one is given."""
    await conn.executemany(
        "INSERT INTO contact_numbers (contact_id, e164, label) VALUES ($1, $2, $3)"
        " ON CONFLICT (contact_id, e164)"
        " DO UPDATE SET label = coalesce(EXCLUDED.label, contact_numbers.label)",
        [(contact_id, e164, label) for e164, label in numbers],
    )


async def store_new_contact(
    conn: asyncpg.Connection,
    contact: ContactFields,
    *,
    source: str | None = None,
    external_id: str | None = None,
) -> int:
    """Insert ``contact`` with its numbers (in the caller's transaction); return its id."""
    contact_id = await insert_contact(
        conn,
        NewContact(
            contact.name,
            company=contact.company,
            vip=contact.vip,
            language=contact.language,
            email=contact.email,
            address=contact.address,
            notes=contact.notes,
            source=source,
            external_id=external_id,
        ),
    )
    await add_numbers(conn, contact_id, [(n.e164, n.label) for n in contact.numbers])
    return contact_id


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
        contact_id = await insert_contact(
            conn, NewContact(name.strip(), company=company, vip=vip, language=language)
        )
        await add_numbers(conn, contact_id, [(e164, None) for e164 in e164s])
    return contact_id

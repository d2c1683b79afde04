"""Contacts and their numbers in PostgreSQL: this module owns the SQL of ``contacts`` and
``contact_numbers``.

Added one by one (:func:`add_contact`, the board's :func:`create_contact` and
:func:`update_contact`), imported from files (:func:`import_contacts`), looked up by
number (:func:`find_by_number`, also run by the classic AGI script through
:data:`FIND_BY_NUMBER_SQL`) and searched (:func:`search_contacts`). Every change moves
``contacts.updated_at``: the in-memory caller directory of the FastAGI process picks up
changed contacts by it within a couple of seconds.

Importing. Imported contacts into PostgreSQL: one transaction per file; a re-import updates.

How a contact in the file finds the contact it updates (only among contacts imported
earlier under the same ``source``; contacts added by hand are never touched):

1. by its id in the file (a CSV ID column, a vCard UID): ``external_id``;
2. else by e-mail address, case-insensitively, if no other row of the file has that
   address (a shared info@ mailbox identifies nobody);
3. else by exact name and company (name alone when the file has no company column).

Steps 2 and 3 never take a contact that step 1 or 2 gave to another row, and a row with
an id only takes a contact that has none yet. Rows that match nothing are created.
Contacts missing from the file are kept: an import never deletes.

A matched contact gets the file's name and the fields the file carries (a file without
a VIP column leaves VIP flags alone; a value the import refused, like 'misschien' for
VIP or a broken e-mail address, leaves that field alone too); its numbers become the
file's numbers, keeping ``verified_at`` of those that stay. When one of the row's
numbers was refused, the file is not trusted to list them all, so numbers already
stored are kept as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from switchboard.contact_files.common import ImportedContact, ImportResult, RowProblem
from switchboard.contact_files.matching import PreviousImport, match_contacts
from switchboard.core.contact_form import MAX_QUERY_CHARS, ContactDraft, number_patterns
from switchboard.core.contacts import (
    ContactError,
    ContactFields,
    ContactMatch,
    ContactSummary,
    NewContact,
    StoredContact,
    StoredNumber,
)
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


async def count_contacts(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM contacts")
    return count


async def find_by_number(pool: asyncpg.Pool, e164: str) -> list[ContactMatch]:
    rows = await pool.fetch(FIND_BY_NUMBER_SQL, e164)
    return [contact_match(r) for r in rows]


async def names_by_number(pool: asyncpg.Pool, numbers: Iterable[str]) -> dict[str, str]:
    """A contact's name for each of ``numbers`` (E.164) that one has (of several, the
    first by name), for lists that show who a number is."""
    rows = await pool.fetch(
        "SELECT DISTINCT ON (n.e164) n.e164, c.name FROM contact_numbers n"
        " JOIN contacts c ON c.id = n.contact_id WHERE n.e164 = ANY($1::text[])"
        " ORDER BY n.e164, c.name",
        sorted(set(numbers)),
    )
    return {r["e164"]: r["name"] for r in rows}


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


async def get_contact(pool: asyncpg.Pool, contact_id: int) -> StoredContact | None:
    row = await pool.fetchrow(
        "SELECT id, name, company, email, address, notes, vip, language, source, updated_at"
        " FROM contacts WHERE id = $1",
        contact_id,
    )
    if row is None:
        return None
    numbers = await pool.fetch(
        "SELECT e164, label, verified_at FROM contact_numbers WHERE contact_id = $1 ORDER BY e164",
        contact_id,
    )
    return StoredContact(
        **dict(row),
        numbers=tuple(StoredNumber(n["e164"], n["label"], n["verified_at"]) for n in numbers),
    )


async def create_contact(pool: asyncpg.Pool, draft: ContactDraft) -> int:
    """Store a new contact (added by hand: no import source); return its id."""
    async with pool.acquire() as conn, conn.transaction():
        return await store_new_contact(conn, draft)


async def update_contact(pool: asyncpg.Pool, contact_id: int, draft: ContactDraft) -> bool:
    """Replace the contact's fields and numbers; False if there is no such contact.

    Numbers that stay keep their ``verified_at``; a label left blank is cleared.
    """
    async with pool.acquire() as conn, conn.transaction():
        status: str = await conn.execute(
            "UPDATE contacts SET name = $2, company = $3, vip = $4, language = $5,"
            " email = $6, address = $7, notes = $8, updated_at = clock_timestamp()"
            " WHERE id = $1",
            contact_id,
            draft.name,
            draft.company,
            draft.vip,
            draft.language,
            draft.email,
            draft.address,
            draft.notes,
        )
        if status != "UPDATE 1":
            return False
        wanted = [n.e164 for n in draft.numbers]
        await conn.execute(
            "DELETE FROM contact_numbers WHERE contact_id = $1 AND e164 <> ALL($2::text[])",
            contact_id,
            wanted,
        )
        await add_numbers(conn, contact_id, [(n.e164, n.label) for n in draft.numbers])
        # add_numbers keeps an old label when given none; on this form a blank label
        # means the receptionist cleared it.
        await conn.execute(
            "UPDATE contact_numbers SET label = NULL"
            " WHERE contact_id = $1 AND e164 = ANY($2::text[]) AND label IS NOT NULL",
            contact_id,
            [n.e164 for n in draft.numbers if n.label is None],
        )
    return True


async def verify_number(pool: asyncpg.Pool, contact_id: int, e164: str) -> bool:
    """The receptionist checked the caller's address: this number is theirs as of now.

    False if the contact does not have this number.
    """
    async with pool.acquire() as conn, conn.transaction():
        status: str = await conn.execute(
            "UPDATE contact_numbers SET verified_at = now() WHERE contact_id = $1 AND e164 = $2",
            contact_id,
            e164,
        )
        if status != "UPDATE 1":
            return False
        await conn.execute(
            "UPDATE contacts SET updated_at = clock_timestamp() WHERE id = $1", contact_id
        )
    return True


# Substring search without an index: one strpos over one lowered string per contact
# keeps 300,000 contacts near 100 ms (three ILIKEs took half a second), and takes "%"
# and "_" literally. The newest contacts come from the contacts_by_update index.
_HITS = """
SELECT c.id, c.name, c.company, c.vip,
       ARRAY(SELECT e164 FROM contact_numbers n WHERE n.contact_id = c.id ORDER BY e164)
           AS numbers
FROM contacts c
"""


_TEXT_MATCH = "strpos(lower(concat_ws(' ', c.name, c.company, c.email)), lower($1)) > 0"


_NUMBER_MATCH = "c.id IN (SELECT contact_id FROM contact_numbers WHERE e164 LIKE ANY($3::text[]))"


_BEST_FIRST = "ORDER BY starts_with(lower(c.name), lower($1)) DESC, lower(c.name), c.id LIMIT $2"


_SEARCH_SQL = f"{_HITS} WHERE {_TEXT_MATCH} {_BEST_FIRST}"


_SEARCH_WITH_NUMBERS_SQL = f"{_HITS} WHERE {_TEXT_MATCH} OR {_NUMBER_MATCH} {_BEST_FIRST}"


_RECENT_SQL = f"{_HITS} ORDER BY c.updated_at DESC LIMIT $1"


async def search_contacts(
    pool: asyncpg.Pool, query: str, limit: int = 20, *, region: str = "NL"
) -> list[ContactSummary]:
    """Contacts whose name, company, e-mail or number contains ``query``; names that
    start with it first. An empty query lists the contacts changed most recently."""
    text = query.strip()[:MAX_QUERY_CHARS]
    patterns = number_patterns(text, region) if text else []
    if not text:
        rows = await pool.fetch(_RECENT_SQL, limit)
    elif patterns:
        rows = await pool.fetch(_SEARCH_WITH_NUMBERS_SQL, text, limit, patterns)
    else:
        rows = await pool.fetch(_SEARCH_SQL, text, limit)
    return [
        ContactSummary(r["id"], r["name"], r["company"], r["vip"], tuple(r["numbers"]))
        for r in rows
    ]


MAX_SOURCE_CHARS = 100  # migration 0002


# Columns a file may carry, as named in ImportResult.provided and in the table.
_OPTIONAL_COLUMNS = ("company", "email", "notes", "vip", "language", "address", "external_id")


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int
    unchanged: int
    problems: list[RowProblem] = field(default_factory=list)


async def import_contacts(
    pool: asyncpg.Pool, result: ImportResult, *, source: str, dry_run: bool = False
) -> ImportSummary:
    """Store ``result`` under ``source`` in one transaction (rolled back for a dry run)."""
    source = source.strip()
    if not 1 <= len(source) <= MAX_SOURCE_CHARS:
        raise ContactError(f"a source name has 1 to {MAX_SOURCE_CHARS} characters")
    provided = set(result.provided) & set(_OPTIONAL_COLUMNS)
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            # Two imports of one source at once would both create the same contacts.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))",
                "switchboard contact import",
                source,
            )
            stored = await _stored_contacts(conn, source)
            matches = match_contacts(
                list(stored.values()), result.contacts, company_in_file="company" in provided
            )
            created = updated = unchanged = 0
            touched: list[int] = []
            for contact, match in zip(result.contacts, matches, strict=True):
                if match is None:
                    touched.append(await _insert(conn, contact, source))
                    created += 1
                elif _same(stored[match], contact, provided - contact.refused):
                    unchanged += 1
                else:
                    await _update(conn, match, contact, provided - contact.refused)
                    touched.append(match)
                    updated += 1
            # The caller directory reloads contacts whose updated_at moved since its last
            # look; stamping at the end keeps a long import from hiding behind now(),
            # which is the transaction's start.
            await conn.execute(
                "UPDATE contacts SET updated_at = clock_timestamp() WHERE id = ANY($1)", touched
            )
        except BaseException:
            await transaction.rollback()
            raise
        if dry_run:
            await transaction.rollback()
        else:
            await transaction.commit()
    return ImportSummary(created, updated, unchanged, list(result.problems))


async def _stored_contacts(conn: Any, source: str) -> dict[int, PreviousImport]:
    rows = await conn.fetch(
        "SELECT id, name, company, email, notes, vip, language, address, external_id"
        " FROM contacts WHERE source = $1",
        source,
    )
    numbers: dict[int, dict[str, str | None]] = {r["id"]: {} for r in rows}
    for n in await conn.fetch(
        "SELECT contact_id, e164, label FROM contact_numbers WHERE contact_id = ANY($1)",
        list(numbers),
    ):
        numbers[n["contact_id"]][n["e164"]] = n["label"]
    return {r["id"]: PreviousImport(**dict(r), numbers=numbers[r["id"]]) for r in rows}


def _same(stored: PreviousImport, contact: ImportedContact, provided: set[str]) -> bool:
    if stored.name != contact.name:
        return False
    if any(getattr(stored, column) != getattr(contact, column) for column in provided):
        return False
    wanted = {n.e164: n.label for n in contact.numbers}
    if contact.all_numbers_read and set(wanted) != set(stored.numbers):
        return False
    return all(
        e164 in stored.numbers and (label is None or stored.numbers[e164] == label)
        for e164, label in wanted.items()
    )


async def _insert(conn: Any, contact: ImportedContact, source: str) -> int:
    return await store_new_contact(conn, contact, source=source, external_id=contact.external_id)


async def _update(conn: Any, contact_id: int, contact: ImportedContact, provided: set[str]) -> None:
    columns = ["name", *(c for c in _OPTIONAL_COLUMNS if c in provided)]
    assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(columns, start=2))
    await conn.execute(
        f"UPDATE contacts SET {assignments} WHERE id = $1",
        contact_id,
        *(getattr(contact, column) for column in columns),
    )
    if contact.all_numbers_read:
        await conn.execute(
            "DELETE FROM contact_numbers WHERE contact_id = $1 AND e164 <> ALL($2::text[])",
            contact_id,
            [n.e164 for n in contact.numbers],
        )
    await add_numbers(conn, contact_id, [(n.e164, n.label) for n in contact.numbers])


#: For the caller directory: one row per contact, its numbers (distinct: the key is
#: (contact_id, e164)) in arrays; ``{where}`` narrows it (changed since, or all).
CONTACT_ROWS_SQL = """
SELECT c.id, c.name, c.company, c.vip, c.language,
       array_agg(n.e164 ORDER BY n.e164) FILTER (WHERE n.e164 IS NOT NULL) AS numbers,
       array_agg(n.verified_at ORDER BY n.e164) FILTER (WHERE n.e164 IS NOT NULL) AS verified
FROM contacts c LEFT JOIN contact_numbers n ON n.contact_id = c.id
{where}
GROUP BY c.id
"""


#: For the caller directory: contacts deleted since ``$1`` (noted by a trigger).
DELETION_ROWS_SQL = """
SELECT contact_id FROM contact_deletions WHERE deleted_at > $1
"""

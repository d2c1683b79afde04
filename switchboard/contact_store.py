"""Imported contacts into PostgreSQL: one transaction per file; a re-import updates.

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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from switchboard.contact_files import ImportedContact, ImportResult, RowProblem
from switchboard.core.contacts import ContactError
from switchboard.store.contacts import add_numbers, store_new_contact

DEFAULT_SOURCE = "import"
MAX_SOURCE_CHARS = 100  # migration 0002

# Columns a file may carry, as named in ImportResult.provided and in the table.
_OPTIONAL_COLUMNS = ("company", "email", "notes", "vip", "language", "address", "external_id")


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int
    unchanged: int
    problems: list[RowProblem] = field(default_factory=list)


@dataclass(frozen=True)
class StoredContact:
    """A contact as an earlier import of the same source left it."""

    id: int
    name: str
    company: str | None = None
    email: str | None = None
    notes: str | None = None
    vip: bool = False
    language: str = "nl"
    address: str | None = None
    external_id: str | None = None
    numbers: dict[str, str | None] = field(default_factory=dict)  # e164 -> label


def match_contacts(
    stored: Sequence[StoredContact],
    incoming: Sequence[ImportedContact],
    *,
    company_in_file: bool = True,
) -> list[int | None]:
    """For each incoming contact, the id of the stored contact it updates (or None).

    Pure: the rule of the module docstring, with every stored contact taken at most
    once and the lowest id winning a tie.
    """
    matches: list[int | None] = [None] * len(incoming)
    taken: set[int] = set()
    ordered = sorted(stored, key=lambda c: c.id)

    by_id = {c.external_id: c.id for c in ordered if c.external_id is not None}
    for i, contact in enumerate(incoming):
        if contact.external_id is not None and (found := by_id.get(contact.external_id)):
            matches[i] = found
            taken.add(found)

    def claim(i: int, candidates: list[StoredContact]) -> None:
        for candidate in candidates:
            if candidate.id in taken:
                continue
            if incoming[i].external_id is not None and candidate.external_id is not None:
                continue  # another id in the same list: another contact
            matches[i] = candidate.id
            taken.add(candidate.id)
            return

    emails: dict[str, list[StoredContact]] = {}
    for c in ordered:
        if c.email:
            emails.setdefault(c.email.casefold(), []).append(c)
    rows_per_email: dict[str, int] = {}
    for contact in incoming:
        if contact.email:
            key = contact.email.casefold()
            rows_per_email[key] = rows_per_email.get(key, 0) + 1
    for i, contact in enumerate(incoming):
        if matches[i] is None and contact.email:
            key = contact.email.casefold()
            if rows_per_email[key] == 1:
                claim(i, emails.get(key, []))

    def person(name: str, company: str | None) -> tuple[str, str | None]:
        return (name, company if company_in_file else None)

    people: dict[tuple[str, str | None], list[StoredContact]] = {}
    for c in ordered:
        people.setdefault(person(c.name, c.company), []).append(c)
    for i, contact in enumerate(incoming):
        if matches[i] is None:
            claim(i, people.get(person(contact.name, contact.company), []))
    return matches


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


async def _stored_contacts(conn: Any, source: str) -> dict[int, StoredContact]:
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
    return {r["id"]: StoredContact(**dict(r), numbers=numbers[r["id"]]) for r in rows}


def _same(stored: StoredContact, contact: ImportedContact, provided: set[str]) -> bool:
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

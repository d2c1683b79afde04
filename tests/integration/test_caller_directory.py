"""The in-memory caller directory against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from pbx_agi import caller_directory
from pbx_agi.caller_directory import CallerDirectory
from switchboard.store.contacts import add_contact

pytestmark = pytest.mark.integration


async def journal_call(
    db: asyncpg.Pool, e164: str, *, minutes_ago: float, answered_by: str | None
) -> str:
    linked_id = uuid.uuid4().hex
    started = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    await db.execute(
        "INSERT INTO calls (pbx, linked_id, caller_number, caller_e164, started_at,"
        " answered_at, answered_by, ended_at) VALUES ('t', $1, $2, $2, $3, $4, $5, $3)",
        linked_id,
        e164,
        started,
        started if answered_by else None,
        answered_by,
    )
    return linked_id


async def test_contacts_and_calls_reach_memory_and_updates_follow(db: asyncpg.Pool) -> None:
    directory = CallerDirectory(db)
    await directory.reload()
    assert directory.ready
    assert directory.facts("+31645450001").matches == ()

    contact_id = await add_contact(db, "Lotte Bakker", ["0645450001"], company="Bakker BV")
    await journal_call(db, "+31645450001", minutes_ago=30, answered_by="201")
    await directory.refresh()
    facts = directory.facts("+31645450001")
    assert [m.name for m in facts.matches] == ["Lotte Bakker"]
    assert [c.answered_by for c in facts.history] == ["201"]

    # A changed number: the old one stops matching, the new one matches.
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM contact_numbers WHERE contact_id = $1", contact_id)
        await conn.execute(
            "INSERT INTO contact_numbers (contact_id, e164) VALUES ($1, '+31645450002')", contact_id
        )
        await conn.execute("UPDATE contacts SET updated_at = now() WHERE id = $1", contact_id)
    await directory.refresh()
    assert directory.facts("+31645450001").matches == ()
    assert [m.contact_id for m in directory.facts("+31645450002").matches] == [contact_id]


async def test_a_deleted_contact_is_forgotten_by_the_next_refresh(db: asyncpg.Pool) -> None:
    # Deleted by hand, as an admin erasing somebody would: no application code involved.
    contact_id = await add_contact(db, "Tijdelijk", ["0645450003"])
    kept = await add_contact(db, "Blijft", ["0645450005"])
    directory = CallerDirectory(db)
    await directory.reload()
    assert directory.facts("+31645450003").matches
    await db.execute("DELETE FROM contacts WHERE id = $1", contact_id)
    await directory.refresh()
    assert directory.facts("+31645450003").matches == ()
    assert [m.contact_id for m in directory.facts("+31645450005").matches] == [kept]
    # A full reload afterwards does not bring the contact back either.
    await directory.reload()
    assert directory.facts("+31645450003").matches == ()


async def test_contacts_are_taken_a_slice_at_a_time_with_calls_served_in_between(
    db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Taken at once, 100,000 contacts held the event loop, and every call waiting on
    it, for most of a second, on every reload."""
    numbers = [f"06454502{i:02d}" for i in range(7)]
    for i, number in enumerate(numbers):
        await add_contact(db, f"Slice {i}", [number])
    monkeypatch.setattr(caller_directory, "SLICE_ROWS", 2)
    turns = 0

    async def a_call_being_served() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    taken: list[tuple[int, int]] = []  # rows in the slice, turns the other task had by then
    take = caller_directory.DirectorySnapshot.put_contacts

    def recording(snapshot: caller_directory.DirectorySnapshot, rows: list[Any]) -> None:
        taken.append((len(rows), turns))
        take(snapshot, rows)

    monkeypatch.setattr(caller_directory.DirectorySnapshot, "put_contacts", recording)
    other = asyncio.create_task(a_call_being_served())
    directory = CallerDirectory(db)
    await directory.reload()
    other.cancel()
    assert len(taken) >= 4 and all(rows <= 2 for rows, _ in taken)
    turns_seen = [t for _, t in taken]
    assert all(a < b for a, b in itertools.pairwise(turns_seen)), turns_seen
    for i, number in enumerate(numbers):
        e164 = "+31" + number[1:]
        assert [m.name for m in directory.facts(e164).matches] == [f"Slice {i}"]


async def test_calls_older_than_the_history_window_are_not_kept(db: asyncpg.Pool) -> None:
    await journal_call(db, "+31645450004", minutes_ago=60 * 24 * 40, answered_by="202")
    recent = await journal_call(db, "+31645450004", minutes_ago=5, answered_by=None)
    directory = CallerDirectory(db, history_window=timedelta(days=30))
    await directory.reload()
    assert [c.linked_id for c in directory.facts("+31645450004").history] == [recent]


async def test_an_import_is_not_read_again_by_every_refresh(
    db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Contacts changed close together (an import) were read again by every refresh for
    good, as long as nothing newer changed: at 100,000 contacts, every two seconds."""
    monkeypatch.setattr(caller_directory, "OVERLAP", timedelta(milliseconds=300))
    for i in range(5):
        await add_contact(db, f"Import {i}", [f"06454503{i:02d}"])
    directory = CallerDirectory(db)
    await directory.reload()
    await asyncio.sleep(0.4)
    await directory.refresh()  # the last read began more than the overlap after the import

    taken: list[int] = []
    take = caller_directory.DirectorySnapshot.put_contacts

    def counting(snapshot: caller_directory.DirectorySnapshot, rows: list[Any]) -> None:
        taken.append(len(rows))
        take(snapshot, rows)

    monkeypatch.setattr(caller_directory.DirectorySnapshot, "put_contacts", counting)
    await directory.refresh()
    await directory.refresh()
    assert taken == []
    # Still following: a contact added now is read by the next refresh, and only it.
    await add_contact(db, "Later", ["0645450399"])
    await directory.refresh()
    assert taken == [1]
    assert [m.name for m in directory.facts("+31645450399").matches] == ["Later"]
    assert [m.name for m in directory.facts("+31645450300").matches] == ["Import 0"]


async def test_a_change_committed_after_a_refresh_that_began_later_is_still_read(
    db: asyncpg.Pool,
) -> None:
    """A change is stamped with its transaction's start but visible only once committed:
    a refresh in between cannot see it, the next one must."""
    directory = CallerDirectory(db)
    await directory.reload()
    async with db.acquire() as conn:
        slow = conn.transaction()
        await slow.start()
        try:
            contact_id = await conn.fetchval(
                "INSERT INTO contacts (name) VALUES ('Traag') RETURNING id"
            )
            await conn.execute(
                "INSERT INTO contact_numbers (contact_id, e164) VALUES ($1, '+31645450398')",
                contact_id,
            )
            await asyncio.sleep(0.05)
            await directory.refresh()  # began after the insert's stamp, before its commit
            assert directory.facts("+31645450398").matches == ()
        finally:
            await slow.commit()
    await directory.refresh()
    assert [m.name for m in directory.facts("+31645450398").matches] == ["Traag"]

"""Who has which number, and who called recently: held in memory, refreshed in the background.

Recognition must answer within a fraction of a millisecond and never wait for the
database, so the FastAGI route reads this snapshot. Changes arrive incrementally every
``refresh_s``: rows whose ``updated_at`` moved, and contacts deleted (a trigger notes
them in ``contact_deletions``). A full reload every ``full_reload_s`` is only a safety
net. Rows are read and taken in slices, handing the event loop back between them: taken
at once, 100,000 contacts held it, and every call waiting on it, for most of a second.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from sys import intern
from typing import Any, Protocol

import asyncpg

from switchboard.core.contacts import ContactMatch
from switchboard.core.recognition import CallerFacts, PastCall
from switchboard.store.calls import RECENT_CALLS_SQL
from switchboard.store.contacts import CONTACT_ROWS_SQL, DELETION_ROWS_SQL

log = logging.getLogger(__name__)

# A change is stamped with its transaction's start (now()) but seen only once committed,
# so a refresh also reads what changed this long before the previous read began. The
# bound is that read's own start, not the newest change seen: after an import, which
# stamps every contact alike, that newest change stays put, and each refresh read the
# whole import again, every two seconds, for good.
OVERLAP = timedelta(seconds=10)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REFRESH_TIMEOUT_S = 60.0
# Rows taken per turn of the event loop: about 1 ms of work for contacts.
SLICE_ROWS = 100
# Entries of a replaced snapshot freed per turn of the event loop.
DISPOSE_SLICE = 5000


def _match_order(m: ContactMatch) -> tuple[bool, float, int]:
    # Recently verified first: the most trustworthy owner of a shared number leads.
    return (m.verified_at is None, -(m.verified_at or EPOCH).timestamp(), m.contact_id)


@dataclass
class DirectorySnapshot:
    """The pure in-memory part: rows in, facts out. No I/O.

    Held lean, for 300,000 numbers: a number maps to a tuple of its owners, already in
    the order recognition wants; the numbers of one contact with the same verification
    share one ContactMatch, and repeated texts (companies, languages) one string.
    """

    history_window: timedelta
    by_number: dict[str, tuple[ContactMatch, ...]] = field(default_factory=dict)
    numbers_of: dict[int, tuple[str, ...]] = field(default_factory=dict)
    calls_by_number: dict[str, dict[str, PastCall]] = field(
        default_factory=lambda: defaultdict(dict)
    )

    def facts(self, e164: str, now: datetime) -> CallerFacts:
        matches = self.by_number.get(e164, ())
        calls = self.calls_by_number.get(e164)
        if not calls:
            return CallerFacts(matches)
        cutoff = now - self.history_window
        history = sorted(
            (c for c in calls.values() if c.started_at >= cutoff),
            key=lambda c: c.started_at,
            reverse=True,
        )
        return CallerFacts(matches, tuple(history))

    def put_contacts(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Replace each listed contact's numbers with the row's (one row per contact,
        its numbers and their verification times in two arrays, or NULL for none)."""
        for row in rows:
            if self._holds(row):
                continue  # read again: keep the objects the collector was told to skip
            contact_id = row["id"]
            self.drop_contact(contact_id)
            if not row["numbers"]:
                continue
            shared: dict[datetime | None, ContactMatch] = {}
            numbers = []
            for e164, verified_at in zip(row["numbers"], row["verified"], strict=True):
                match = shared.get(verified_at)
                if match is None:
                    match = shared[verified_at] = ContactMatch(
                        contact_id,
                        row["name"],
                        intern(row["company"]) if row["company"] else row["company"],
                        row["vip"],
                        intern(row["language"]),
                        verified_at,
                    )
                owners = self.by_number.get(e164)
                self.by_number[e164] = (
                    (match,)
                    if owners is None
                    else tuple(sorted((*owners, match), key=_match_order))
                )
                numbers.append(e164)
            self.numbers_of[contact_id] = tuple(numbers)

    def _holds(self, row: Mapping[str, Any]) -> bool:
        """Whether the contact of ``row`` is held exactly as the row has it."""
        contact_id, numbers = row["id"], row["numbers"] or []
        if self.numbers_of.get(contact_id, ()) != tuple(numbers):
            return False
        wanted = (row["name"], row["company"], row["vip"], row["language"])
        for e164, verified_at in zip(numbers, row["verified"] or [], strict=True):
            owners = self.by_number.get(e164, ())
            held = next((m for m in owners if m.contact_id == contact_id), None)
            if held is None or (held.name, held.company, held.vip, held.language) != wanted:
                return False
            if held.verified_at != verified_at:
                return False
        return True

    def drop_contact(self, contact_id: int) -> None:
        for e164 in self.numbers_of.pop(contact_id, ()):
            owners = tuple(m for m in self.by_number.get(e164, ()) if m.contact_id != contact_id)
            if owners:
                self.by_number[e164] = owners
            else:
                self.by_number.pop(e164, None)

    def drop_deleted(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.drop_contact(row["contact_id"])

    def put_calls(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            if not row["caller_e164"]:
                continue
            self.calls_by_number[row["caller_e164"]][row["linked_id"]] = PastCall.from_row(row)

    def prune_calls(self, now: datetime) -> None:
        cutoff = now - self.history_window
        for e164 in list(self.calls_by_number):
            calls = self.calls_by_number[e164]
            for linked_id in [k for k, c in calls.items() if c.started_at < cutoff]:
                del calls[linked_id]
            if not calls:
                del self.calls_by_number[e164]

    async def dispose(self) -> None:
        """Empty this (replaced) snapshot a slice at a time: freed at once, 300,000
        numbers hold the event loop for tens of milliseconds."""
        for table in (self.by_number, self.numbers_of, self.calls_by_number):
            while table:
                for _ in range(min(len(table), DISPOSE_SLICE)):
                    table.popitem()
                await asyncio.sleep(0)

    @property
    def number_count(self) -> int:
        return len(self.by_number)


# The start of the reading transaction, by the clock that stamps the rows.
_READ_AT = "SELECT now()"

Take = Callable[[list[asyncpg.Record]], None]


async def _take_in_slices(conn: asyncpg.Connection, take: Take, query: str, *args: Any) -> None:
    """Hand the rows of ``query`` to ``take`` a slice at a time. Each slice is a round
    trip to PostgreSQL, so calls get the event loop between slices. Needs a transaction
    (a cursor)."""
    cursor = await conn.cursor(query, *args)
    while rows := await cursor.fetch(SLICE_ROWS):
        take(rows)


class Collector(Protocol):
    """What the directory asks of the garbage collector around a full reload."""

    def building(self) -> AbstractContextManager[None]:
        """Around building a new snapshot."""

    def settled(self) -> None:
        """The new snapshot is in place and will live long."""


class LeaveCollectorAlone:
    """The default: a library does not change the process's garbage collection."""

    @contextmanager
    def building(self) -> Iterator[None]:
        yield

    def settled(self) -> None:
        pass


class TuneCollectorForDirectory:
    """For the process whose main job the directory is (the composition root decides:
    ``switchboard.service``). Measured in bench/directory_reload.py:

    * while a snapshot is built, no full collection: its new objects would make the
      collector walk the whole heap again and again (at 100,000 contacts five full
      collections of 10-40 ms each, every one a stall for the calls of that moment).
      Young collections go on, so the calls' own garbage is still collected;
    * once it is in place, ``gc.freeze()``: hundreds of thousands of long-lived objects
      would make every full collection walk them all, a pause of many milliseconds in the
      middle of some call. They hold no reference cycles, so the collector may skip them.
    """

    @contextmanager
    def building(self) -> Iterator[None]:
        young, middle, old = gc.get_threshold()
        gc.set_threshold(young, middle, 1 << 30)
        try:
            yield
        finally:
            gc.set_threshold(young, middle, old)

    def settled(self) -> None:
        gc.freeze()


class CallerDirectory:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        history_window: timedelta = timedelta(days=30),
        refresh_s: float = 2.0,
        full_reload_s: float = 3600.0,
        collector: Collector | None = None,
    ) -> None:
        self._pool = pool
        self._collector: Collector = collector or LeaveCollectorAlone()
        self._refresh_s = refresh_s
        self._full_reload_s = full_reload_s
        self.snapshot = DirectorySnapshot(history_window)
        self.ready = False
        self._loaded = asyncio.Event()
        self._read_since = EPOCH  # what changed after this is read by the next refresh
        self._task: asyncio.Task[None] | None = None

    def facts(self, e164: str) -> CallerFacts:
        return self.snapshot.facts(e164, datetime.now(UTC))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._keep_fresh(), name="caller-directory")

    async def wait_ready(self) -> None:
        """Until the first load is in."""
        await self._loaded.wait()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def reload(self) -> None:
        """Read everything anew into a fresh snapshot, then swap it in."""
        now = datetime.now(UTC)
        fresh = DirectorySnapshot(self.snapshot.history_window)
        with self._collector.building():
            async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
                read_at = await conn.fetchval(_READ_AT)
                await _take_in_slices(conn, fresh.put_contacts, CONTACT_ROWS_SQL.format(where=""))
                await _take_in_slices(
                    conn, fresh.put_calls, RECENT_CALLS_SQL, now - fresh.history_window
                )
            stale, self.snapshot = self.snapshot, fresh
            self._collector.settled()
        self._read_since = read_at - OVERLAP
        self.ready = True
        self._loaded.set()
        await stale.dispose()
        log.info(
            "caller directory loaded: %d numbers, %d numbers with recent calls",
            fresh.number_count,
            len(fresh.calls_by_number),
        )

    async def refresh(self) -> None:
        """Apply what changed since the last look."""
        now = datetime.now(UTC)
        snapshot = self.snapshot
        since = self._read_since
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            read_at = await conn.fetchval(_READ_AT)
            await _take_in_slices(
                conn,
                snapshot.put_contacts,
                CONTACT_ROWS_SQL.format(where="WHERE c.updated_at > $1"),
                since,
            )
            await _take_in_slices(
                conn,
                snapshot.put_calls,
                RECENT_CALLS_SQL + " AND updated_at > $2",
                now - snapshot.history_window,
                since,
            )
            await _take_in_slices(conn, snapshot.drop_deleted, DELETION_ROWS_SQL, since)
        snapshot.prune_calls(now)
        self._read_since = read_at - OVERLAP

    async def _keep_fresh(self) -> None:
        loop = asyncio.get_running_loop()
        next_reload = 0.0
        while True:
            try:
                # A query that hangs (a half-dead connection after a database restart)
                # must not freeze the directory for good.
                async with asyncio.timeout(REFRESH_TIMEOUT_S):
                    if loop.time() >= next_reload:
                        await self.reload()
                        next_reload = loop.time() + self._full_reload_s
                    else:
                        await self.refresh()
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # Keep answering from the last snapshot; a stale answer beats none.
                log.warning("caller directory refresh failed (%s); keeping the last snapshot", exc)
            except Exception:
                log.exception("caller directory refresh failed unexpectedly; keeping the last one")
            await asyncio.sleep(self._refresh_s)

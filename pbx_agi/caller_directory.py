"""Who has which number, and who called recently: held in memory, refreshed in the background.

Recognition must answer within a fraction of a millisecond and never wait for the
database, so the FastAGI route reads this snapshot. Changes arrive incrementally every
``refresh_s`` (rows whose ``updated_at`` moved); a full reload every ``full_reload_s``
also drops deleted contacts.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from sys import intern
from typing import Any

import asyncpg

from pbx_agi.recognition import PastCall
from switchboard.contacts import ContactMatch

log = logging.getLogger(__name__)

# Rows committed slightly out of order (now() is the transaction's start) are caught
# by re-reading this much before the newest change already seen.
OVERLAP = timedelta(seconds=10)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REFRESH_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class CallerFacts:
    matches: tuple[ContactMatch, ...] = ()
    history: tuple[PastCall, ...] = ()  # newest first


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

    def drop_contact(self, contact_id: int) -> None:
        for e164 in self.numbers_of.pop(contact_id, ()):
            owners = tuple(m for m in self.by_number.get(e164, ()) if m.contact_id != contact_id)
            if owners:
                self.by_number[e164] = owners
            else:
                self.by_number.pop(e164, None)

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

    @property
    def number_count(self) -> int:
        return len(self.by_number)


# One row per contact; its numbers (distinct: the key is (contact_id, e164)) in arrays.
_CONTACT_ROWS = """
SELECT c.id, c.name, c.company, c.vip, c.language, c.updated_at,
       array_agg(n.e164 ORDER BY n.e164) FILTER (WHERE n.e164 IS NOT NULL) AS numbers,
       array_agg(n.verified_at ORDER BY n.e164) FILTER (WHERE n.e164 IS NOT NULL) AS verified
FROM contacts c LEFT JOIN contact_numbers n ON n.contact_id = c.id
{where}
GROUP BY c.id
"""
_CALL_ROWS = """
SELECT linked_id, caller_e164, started_at, answered_at, answered_by, direction, updated_at
FROM calls WHERE caller_e164 IS NOT NULL AND started_at >= $1
"""


class CallerDirectory:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        history_window: timedelta = timedelta(days=30),
        refresh_s: float = 2.0,
        full_reload_s: float = 60.0,
    ) -> None:
        self._pool = pool
        self._refresh_s = refresh_s
        self._full_reload_s = full_reload_s
        self.snapshot = DirectorySnapshot(history_window)
        self.ready = False
        self._contacts_seen = EPOCH
        self._calls_seen = EPOCH
        self._task: asyncio.Task[None] | None = None

    def facts(self, e164: str) -> CallerFacts:
        return self.snapshot.facts(e164, datetime.now(UTC))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._keep_fresh(), name="caller-directory")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def reload(self) -> None:
        """Read everything anew (also forgets deleted contacts)."""
        now = datetime.now(UTC)
        fresh = DirectorySnapshot(self.snapshot.history_window)
        async with self._pool.acquire() as conn:
            contacts = await conn.fetch(_CONTACT_ROWS.format(where=""))
            calls = await conn.fetch(_CALL_ROWS, now - fresh.history_window)
        fresh.put_contacts(contacts)
        fresh.put_calls(calls)
        self.snapshot = fresh
        # Hundreds of thousands of long-lived objects make every full garbage collection
        # walk them all: a pause of many milliseconds in the middle of some call. They
        # hold no reference cycles, so the collector may skip them for good.
        gc.freeze()
        self._contacts_seen = max((r["updated_at"] for r in contacts), default=EPOCH)
        self._calls_seen = max((r["updated_at"] for r in calls), default=EPOCH)
        self.ready = True
        log.info(
            "caller directory loaded: %d numbers, %d recent calls", fresh.number_count, len(calls)
        )

    async def refresh(self) -> None:
        """Apply what changed since the last look."""
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn:
            contacts = await conn.fetch(
                _CONTACT_ROWS.format(where="WHERE c.updated_at > $1"),
                self._contacts_seen - OVERLAP,
            )
            calls = await conn.fetch(
                _CALL_ROWS + " AND updated_at > $2",
                now - self.snapshot.history_window,
                self._calls_seen - OVERLAP,
            )
        self.snapshot.put_contacts(contacts)
        self.snapshot.put_calls(calls)
        self.snapshot.prune_calls(now)
        self._contacts_seen = max([self._contacts_seen, *(r["updated_at"] for r in contacts)])
        self._calls_seen = max([self._calls_seen, *(r["updated_at"] for r in calls)])

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

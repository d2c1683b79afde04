"""FastAGI route ``recognize``: who is calling? Sets SB_* variables and CALLERID(name).

The lookup has a strict time budget: if PostgreSQL is slow or down, the call goes on
unrecognised within the budget; a caller must never wait for our database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import asyncpg

from pbx_agi.agi_protocol import AGIEnvironment, MSetWriter
from pbx_agi.caller_directory import CallerDirectory
from pbx_agi.fastagi.server import AGISession
from pbx_agi.recognition_commands import recognition_commands
from switchboard.core.numbers import (
    MAX_RAW_LENGTH,
    CallerNumber,
    NumberKind,
    known_number,
    normalise,
)
from switchboard.core.recognition import (
    CallerFacts,
    Recognition,
    display_text,
    recognise_with_facts,
)
from switchboard.store.contacts import find_by_number

log = logging.getLogger(__name__)

Lookup = Callable[[str], Awaitable[CallerFacts]]
# An answer at hand without waiting (the loaded directory), or None to ask ``Lookup``.
InstantLookup = Callable[[str], CallerFacts | None]
DEFAULT_REPEAT_WINDOW = timedelta(hours=24)

# How many answers each cache of a route keeps (bench/recognition.py: phonenumbers takes
# most of a recognition's CPU, and building the MSet line much of the rest).
NUMBERS_REMEMBERED = 65536
COMMANDS_REMEMBERED = 4096
DISPLAY_TEXTS_REMEMBERED = 4096
# Only texts of a sane length are remembered: a hostile caller name can be kilobytes.
DISPLAY_TEXT_REMEMBERED_CHARS = 200


_NO_FACTS = CallerFacts()


class RecogniseRoute:
    def __init__(
        self,
        lookup: Lookup,
        *,
        region: str,
        budget_s: float,
        repeat_window: timedelta = DEFAULT_REPEAT_WINDOW,
        instant: InstantLookup | None = None,
        is_known: Callable[[str], bool] | None = None,
    ) -> None:
        self._lookup = lookup
        self._instant = instant
        self._is_known = is_known
        self._region = region
        self._budget_s = budget_s
        self._repeat_window = repeat_window
        # Callers call again: the route remembers, per raw caller id, the normalised
        # number (CallerNumber is immutable, so sharing it is safe), and per recognition
        # (immutable too) its command lines. Each route its own caches.
        self._normalised = lru_cache(maxsize=NUMBERS_REMEMBERED)(normalise)
        self._mset = MSetWriter()
        self._display_texts = lru_cache(maxsize=DISPLAY_TEXTS_REMEMBERED)(display_text)
        self._commands = lru_cache(maxsize=COMMANDS_REMEMBERED)(self._fresh_commands)

    @classmethod
    def from_directory(
        cls,
        directory: CallerDirectory,
        pool: asyncpg.Pool,
        *,
        region: str,
        budget_s: float,
        repeat_window: timedelta = DEFAULT_REPEAT_WINDOW,
    ) -> RecogniseRoute:
        """Answer from memory; until the directory has loaded, ask PostgreSQL (no history)."""

        async def lookup(e164: str) -> CallerFacts:
            if directory.ready:
                return directory.facts(e164)
            return CallerFacts(matches=tuple(await find_by_number(pool, e164)))

        def instant(e164: str) -> CallerFacts | None:
            # No task and no timer for an answer already in memory.
            return directory.facts(e164) if directory.ready else None

        def is_known(e164: str) -> bool:
            return directory.ready and e164 in directory.snapshot.by_number

        return cls(
            lookup,
            region=region,
            budget_s=budget_s,
            repeat_window=repeat_window,
            instant=instant,
            is_known=is_known,
        )

    def plan(self, env: AGIEnvironment) -> tuple[str, ...] | None:
        """The whole answer while the directory is at hand, sent without a task per call
        (see :class:`pbx_agi.fastagi.PlannedRoute`); None when it needs the database."""
        started = time.monotonic()
        number = self._number(env.caller_id)
        facts = self._facts_at_hand(number)
        if facts is None:
            return None
        recognition = self._decide(
            number, facts, env.caller_id_name, this_call=env.unique_id or "", started=started
        )
        return self._commands(recognition)

    async def __call__(self, session: AGISession) -> None:
        recognition = await self.recognise(
            session.env.caller_id, session.env.caller_id_name, this_call=session.env.unique_id or ""
        )
        for command in self._commands(recognition):
            await session.send_command(command)

    async def recognise(
        self, caller_id: str | None, caller_name: str | None, *, this_call: str = ""
    ) -> Recognition:
        started = time.monotonic()
        number = self._number(caller_id)
        facts = self._facts_at_hand(number)
        if facts is None:  # (only a matchable number with its E.164 form gets here)
            facts = await self._look_up(number.e164 or "")
        return self._decide(number, facts, caller_name, this_call=this_call, started=started)

    def _facts_at_hand(self, number: CallerNumber) -> CallerFacts | None:
        """What is known of the caller without waiting; None when it must be looked up."""
        if not (number.matchable and number.e164):
            return _NO_FACTS  # withheld, internal, garbage: nothing to look up
        return self._instant(number.e164) if self._instant is not None else None

    def _number(self, caller_id: str | None) -> CallerNumber:
        known = known_number(caller_id, self._region, self._is_known) if self._is_known else None
        if known:
            return CallerNumber(NumberKind.PUBLIC, known)
        # A caller id longer than any number is refused at once: not worth a cache
        # entry, and a hostile one could be long.
        if caller_id is not None and len(caller_id) > MAX_RAW_LENGTH:
            return normalise(caller_id, self._region)
        return self._normalised(caller_id, self._region)

    def _decide(
        self,
        number: CallerNumber,
        facts: CallerFacts,
        caller_name: str | None,
        *,
        this_call: str,
        started: float,
    ) -> Recognition:
        recognition = recognise_with_facts(
            number,
            facts,
            caller_name=caller_name,
            this_call=this_call,
            now=datetime.now(UTC),
            repeat_window=self._repeat_window,
            display=self._display,
        )
        if log.isEnabledFor(logging.INFO):
            log.info(
                "recognised %s as %s (%s) in %.1f ms",
                number.e164 or number.kind.value,
                recognition.display_name or "-",
                recognition.confidence.value,
                (time.monotonic() - started) * 1000,
            )
        return recognition

    def _fresh_commands(self, recognition: Recognition) -> tuple[str, ...]:
        return tuple(recognition_commands(recognition, self._mset.lines, self._display))

    def _display(self, text: str | None) -> str:
        """:func:`display_text`, remembered for texts of a sane length."""
        if text is not None and len(text) > DISPLAY_TEXT_REMEMBERED_CHARS:
            return display_text(text)
        return self._display_texts(text)

    async def _look_up(self, e164: str) -> CallerFacts:
        try:
            return await asyncio.wait_for(self._lookup(e164), self._budget_s)
        except TimeoutError:
            log.warning(
                "recognition of %s took over %.0f ms; call goes on unrecognised",
                e164,
                self._budget_s * 1000,
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("recognition lookup failed (%s); call goes on unrecognised", exc)
        return _NO_FACTS

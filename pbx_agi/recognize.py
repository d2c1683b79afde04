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

import asyncpg

from pbx_agi.caller_directory import CallerDirectory, CallerFacts
from pbx_agi.fastagi import AGISession
from pbx_agi.recognition import Recognition, recognise, summarise_history
from pbx_agi.recognition_commands import recognition_commands
from switchboard.contacts import find_by_number
from switchboard.numbers import normalise

log = logging.getLogger(__name__)

Lookup = Callable[[str], Awaitable[CallerFacts]]
DEFAULT_REPEAT_WINDOW = timedelta(hours=24)


class RecognizeRoute:
    def __init__(
        self,
        lookup: Lookup,
        *,
        region: str,
        budget_s: float,
        repeat_window: timedelta = DEFAULT_REPEAT_WINDOW,
    ) -> None:
        self._lookup = lookup
        self._region = region
        self._budget_s = budget_s
        self._repeat_window = repeat_window

    @classmethod
    def from_directory(
        cls,
        directory: CallerDirectory,
        pool: asyncpg.Pool,
        *,
        region: str,
        budget_s: float,
        repeat_window: timedelta = DEFAULT_REPEAT_WINDOW,
    ) -> RecognizeRoute:
        """Answer from memory; until the directory has loaded, ask PostgreSQL (no history)."""

        async def lookup(e164: str) -> CallerFacts:
            if directory.ready:
                return directory.facts(e164)
            return CallerFacts(matches=tuple(await find_by_number(pool, e164)))

        return cls(lookup, region=region, budget_s=budget_s, repeat_window=repeat_window)

    async def __call__(self, session: AGISession) -> None:
        recognition = await self.recognise(
            session.env.caller_id, session.env.caller_id_name, this_call=session.env.unique_id or ""
        )
        for command in recognition_commands(recognition):
            await session.send_command(command)

    async def recognise(
        self, caller_id: str | None, caller_name: str | None, *, this_call: str = ""
    ) -> Recognition:
        started = time.monotonic()
        number = normalise(caller_id, self._region)
        facts = CallerFacts()
        if number.matchable and number.e164:
            try:
                facts = await asyncio.wait_for(self._lookup(number.e164), self._budget_s)
            except TimeoutError:
                log.warning(
                    "recognition of %s took over %.0f ms; call goes on unrecognised",
                    number.e164,
                    self._budget_s * 1000,
                )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("recognition lookup failed (%s); call goes on unrecognised", exc)
        now = datetime.now(UTC)
        history = summarise_history(
            facts.history, this_call=this_call, now=now, repeat_window=self._repeat_window
        )
        recognition = recognise(
            number, facts.matches, caller_name=caller_name, now=now, history=history
        )
        log.info(
            "recognised %s as %s (%s) in %.1f ms",
            number.e164 or number.kind.value,
            recognition.display_name or "-",
            recognition.confidence.value,
            (time.monotonic() - started) * 1000,
        )
        return recognition

"""FastAGI route ``recognize``: who is calling? Sets SB_* variables and CALLERID(name).

The lookup has a strict time budget: if PostgreSQL is slow or down, the call goes on
unrecognised within the budget; a caller must never wait for our database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from pbx_agi.agi_protocol import format_command
from pbx_agi.fastagi import AGISession
from pbx_agi.recognition import Recognition, recognise
from switchboard.contacts import ContactMatch, find_by_number
from switchboard.numbers import normalise

log = logging.getLogger(__name__)

Lookup = Callable[[str], Awaitable[list[ContactMatch]]]


class RecognizeRoute:
    def __init__(self, lookup: Lookup, *, region: str, budget_s: float) -> None:
        self._lookup = lookup
        self._region = region
        self._budget_s = budget_s

    @classmethod
    def from_pool(cls, pool: asyncpg.Pool, *, region: str, budget_s: float) -> RecognizeRoute:
        async def lookup(e164: str) -> list[ContactMatch]:
            return await find_by_number(pool, e164)

        return cls(lookup, region=region, budget_s=budget_s)

    async def __call__(self, session: AGISession) -> None:
        recognition = await self.recognise(session.env.caller_id, session.env.caller_id_name)
        # CALLERID(name) first: it is what phones and the board show.
        if recognition.display_name:
            await session.set_variable("CALLERID(name)", recognition.display_name)
        for name, value in recognition.channel_variables().items():
            await session.set_variable(name, value)
        # Tells the board (via AMI) how sure the recognition is.
        await session.send_command(
            format_command(
                "EXEC",
                "UserEvent",
                f"SwitchboardRecognition,Confidence: {recognition.confidence.value}",
            )
        )

    async def recognise(self, caller_id: str | None, caller_name: str | None) -> Recognition:
        started = time.monotonic()
        number = normalise(caller_id, self._region)
        matches: list[ContactMatch] = []
        if number.matchable and number.e164:
            try:
                matches = await asyncio.wait_for(self._lookup(number.e164), self._budget_s)
            except TimeoutError:
                log.warning(
                    "recognition of %s took over %.0f ms; call goes on unrecognised",
                    number.e164,
                    self._budget_s * 1000,
                )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("recognition lookup failed (%s); call goes on unrecognised", exc)
        recognition = recognise(number, matches, caller_name=caller_name, now=datetime.now(UTC))
        log.info(
            "recognised %s as %s (%s) in %.1f ms",
            number.e164 or number.kind.value,
            recognition.display_name or "-",
            recognition.confidence.value,
            (time.monotonic() - started) * 1000,
        )
        return recognition

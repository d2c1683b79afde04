"""The service's FastAGI answers for ``switchboard dialplan trace``: the same routes the
service runs (recognition over the caller directory, the opening hours with their
overrides), asked for a call at a chosen moment, with nothing written anywhere.

The ``callback`` route is not asked: it would store a request. The trace says so and
the dialplan goes on as when the service does not answer it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import asyncpg

from pbx_agi.caller_directory import CallerDirectory
from pbx_agi.hours_route import HoursRoute
from pbx_agi.recognise_route import RecogniseRoute
from pbx_agi.recognition_commands import recognition_variables
from switchboard.core import agi_routes
from switchboard.core.opening import Hours
from switchboard.core.recognition import CallerFacts
from switchboard.core.schedule import Override
from switchboard.store.hours_overrides import current_override

#: How long the trace waits for the database per answer.
BUDGET_S = 5.0


class TraceAnswers:
    """Answers ``route`` with ``arguments`` for a call at ``at`` (None: not served)."""

    def __init__(
        self, pool: asyncpg.Pool, hours: Iterable[Hours], *, region: str, at: datetime
    ) -> None:
        self._pool = pool
        self._at = at
        self._directory = CallerDirectory(pool)

        async def overrides(schedule: str, now: datetime) -> Override | None:
            return await current_override(pool, schedule, now)

        self._hours = HoursRoute(tuple(hours), overrides, budget_s=BUDGET_S, clock=lambda: at)
        directory = self._directory

        # The directory's snapshot as it is when asked: load() puts a new one in place.
        async def lookup(e164: str) -> CallerFacts:
            return directory.snapshot.facts(e164, at)

        self._recognise = RecogniseRoute(
            lookup,
            region=region,
            budget_s=BUDGET_S,
            instant=lambda e164: directory.snapshot.facts(e164, at),
        )

    async def load(self) -> None:
        """Read the caller directory (contacts and recent calls) once."""
        await self._directory.reload()

    async def answer(
        self, route: str, arguments: list[str], variables: Mapping[str, str]
    ) -> dict[str, str] | None:
        if route == agi_routes.HOURS:
            queue, did = (*arguments, "", "")[:2]
            return await self._hours.variables(queue, did)
        if route == agi_routes.RECOGNIZE:
            recognition = await self._recognise.recognise(
                variables.get("CALLERID(num)") or None, variables.get("CALLERID(name)") or None
            )
            return recognition_variables(recognition)
        return None

"""FastAGI route ``hours``: is the line open for this call? Sets SB_OPEN and, when
closed, where the caller goes (switchboard.core.opening.dialplan_variables).

    AGI(agi://HOST:PORT/hours,QUEUE,DID)

The decision is the service's, with its clock (tests set it). It never closes the line
for a failure of its own: a manual override that cannot be read in time counts as none
(the weekly hours and holidays still rule); and a service that cannot be reached at all
is the dialplan's safety net: no SB_OPEN, the call goes on as if open.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

import asyncpg

from pbx_agi.agi_protocol import MSetWriter
from pbx_agi.fastagi.server import AGISession
from switchboard.core.opening import Hours, dialplan_variables, hours_for
from switchboard.core.schedule import OpenState, Override
from switchboard.store.hours_overrides import current_override

log = logging.getLogger(__name__)

#: The override of a schedule at an instant, as stored (store.hours_overrides).
OverrideLookup = Callable[[str, datetime], Awaitable[Override | None]]
# The queue and DID arguments come from the dialplan; a longer one is not ours.
MAX_ARGUMENT = 64


class HoursRoute:
    def __init__(
        self,
        book: Iterable[Hours],
        overrides: OverrideLookup,
        *,
        budget_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        # Iterated at every call: a HoursBook's schedules follow their calendars.
        self._book = book
        self._overrides = overrides
        self._budget_s = budget_s
        self._clock = clock
        self._mset = MSetWriter()

    @classmethod
    def from_pool(cls, book: Iterable[Hours], pool: asyncpg.Pool, *, budget_s: float) -> HoursRoute:
        async def overrides(schedule: str, now: datetime) -> Override | None:
            return await current_override(pool, schedule, now)

        return cls(book, overrides, budget_s=budget_s)

    async def __call__(self, session: AGISession) -> None:
        arguments = [a[:MAX_ARGUMENT] for a in session.env.arguments[:2]]
        queue, did = (*arguments, "", "")[:2]
        for command in self._mset.lines(await self.variables(queue, did)):
            await session.send_command(command)

    async def variables(self, queue: str, did: str) -> dict[str, str]:
        """What the dialplan is told about a call to ``did`` for ``queue``, now."""
        hours, state = await self.state(queue, did)
        if hours is not None and state is not None and not state.open:
            log.info("%s is closed (%s): callers go to %s", hours.name, state.reason, state.route)
        return dialplan_variables(hours, state)

    async def is_open(self, queue: str) -> bool:
        """Whether ``queue``'s line is open now (no schedule: always)."""
        _hours, state = await self.state(queue)
        return state is None or state.open

    async def state(self, queue: str, did: str = "") -> tuple[Hours | None, OpenState | None]:
        """The schedule that rules ``queue`` (or ``did``) and its state now; (None, None)
        when none does (always open)."""
        hours = hours_for(tuple(self._book), queue, did)
        if hours is None:
            return None, None
        now = self._clock()
        override = await self._override(hours.name, now)
        return hours, hours.schedule.state_at(now, override)

    async def _override(self, schedule: str, now: datetime) -> Override | None:
        try:
            return await asyncio.wait_for(self._overrides(schedule, now), self._budget_s)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            log.warning("override of %s not read in time (%r): none counts", schedule, exc)
            return None

"""FastAGI route ``callback``: a waiting caller asks to be called back (issue 14).

    AGI(agi://HOST:PORT/callback,check,QUEUE,NUMBER)
        SB_CALLBACK_STATUS  ok / invalid / refused
        SB_CALLBACK_SAY     the digits to read back ("0612345678", "+442079460123")
    AGI(agi://HOST:PORT/callback,request,QUEUE,NUMBER,SINCE)
        SB_CALLBACK_STATUS  ok / invalid / refused / failed (not stored: the caller
                            goes back to the queue)
        SB_CALLBACK_MERGED  yes when the number was in line already (its place kept)
        SB_CALLBACK_PLACE   merged: its place in line now (callers and callbacks ahead,
                            + 1), when it is at most 59 (what the prompts can say)
        SB_CALLBACK_MINUTES about how long until the call back, when known
        SB_CALLBACK_FROM_DAY, _HOUR, _MINUTE  closed: from when (the next opening)
    AGI(agi://HOST:PORT/callback,accepted,ID,ATTEMPT)
        SB_CALLBACK_STATUS  ok / invalid (not that attempt dialling) / failed
        The caller we called back pressed 1: the callback is connected in PostgreSQL
        from the dialplan itself, so that a dialler whose AMI connection is cut at that
        moment (or who is killed) cannot lose it and dial the caller again.

NUMBER is the caller ID or what the caller typed, SINCE the epoch second the caller first
joined the queue (SB_QUEUE_SINCE): the callback's place. All of it comes from the
caller's side and is checked (switchboard.core.callbacks.check_number); a request is
stored in line (switchboard.store.callbacks.request), merging into an open one.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg

from pbx_agi.agi_protocol import MSetWriter
from pbx_agi.fastagi.server import AGISession
from pbx_agi.hours_route import HoursRoute
from switchboard.core.callbacks import NumberPolicy, check_number, first_dial
from switchboard.store import callbacks

log = logging.getLogger(__name__)

MAX_ARGUMENT = 64
_ID = re.compile(r"[1-9][0-9]{0,17}")
_ATTEMPT = re.compile(r"[1-9][0-9]?")
#: The minutes until a callback, for a queue and the moment its caller joined (epoch
#: seconds): the bridge's estimate; None when it has none.
Minutes = Callable[[str, float], int | None]
#: The live callers waiting in a queue who joined before a moment (epoch seconds).
CallersAhead = Callable[[str, float], int]
#: The places the prompts can say (switchboard/n-0 .. n-59).
MAX_PLACE = 59


class CallbackRoute:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        pbx: str,
        policy: NumberPolicy,
        hours: HoursRoute | None = None,
        minutes: Minutes | None = None,
        callers_ahead: CallersAhead | None = None,
        budget_s: float = 2.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pool = pool
        self._pbx = pbx
        self._policy = policy
        self._hours = hours
        self._minutes = minutes
        self._callers_ahead = callers_ahead
        self._budget_s = budget_s
        self._clock = clock
        self._mset = MSetWriter()

    async def __call__(self, session: AGISession) -> None:
        arguments = [a[:MAX_ARGUMENT] for a in session.env.arguments[:4]]
        mode, queue, number, since = (*arguments, "", "", "", "")[:4]
        if mode == "request":
            language = await session.get_variable("CHANNEL(language)") or ""
            variables = await self.request(queue, number, since, language)
        elif mode == "accepted":
            # (callback,accepted,ID,ATTEMPT: the second and third arguments.)
            variables = await self.accepted(queue, number)
        else:
            variables = self.check(number)
        for command in self._mset.lines(variables):
            await session.send_command(command)

    def check(self, number: str) -> dict[str, str]:
        checked = check_number(number, self._policy)
        return {"SB_CALLBACK_STATUS": checked.status, "SB_CALLBACK_SAY": checked.say}

    async def accepted(self, callback_id: str, attempt: str) -> dict[str, str]:
        """The caller of callback ``callback_id`` accepted attempt ``attempt``."""
        if not (_ID.fullmatch(callback_id) and _ATTEMPT.fullmatch(attempt)):
            return {"SB_CALLBACK_STATUS": "invalid"}
        try:
            changed = await asyncio.wait_for(
                callbacks.connected(self._pool, int(callback_id), int(attempt)), self._budget_s
            )
        except Exception as exc:  # the database slow or gone: the dialler's event remains
            log.warning("callback %s accepted, not stored (%r)", callback_id, exc)
            return {"SB_CALLBACK_STATUS": "failed"}
        return {"SB_CALLBACK_STATUS": "ok" if changed else "invalid"}

    async def _place(self, queue: str, joined_at: datetime) -> int | None:
        """A callback's place in line: the callbacks waiting ahead of it (PostgreSQL)
        and the live callers ahead (the bridge), + 1; None when it cannot be read."""
        try:
            (ahead,) = await asyncio.wait_for(
                callbacks.waiting_ahead(self._pool, self._pbx, queue, [joined_at]),
                self._budget_s,
            )
        except Exception as exc:  # the database slow or gone: the place is not said
            log.warning("callback place in %s not read (%r)", queue, exc)
            return None
        live = self._callers_ahead(queue, joined_at.timestamp()) if self._callers_ahead else 0
        return ahead + live + 1

    async def request(self, queue: str, number: str, since: str, language: str) -> dict[str, str]:
        """Store the request; what the caller is told."""
        checked = check_number(number, self._policy)
        told = {"SB_CALLBACK_STATUS": checked.status, "SB_CALLBACK_MERGED": ""}
        if checked.status != "ok":
            return told
        now = self._clock()
        joined = _epoch(since, now)
        minutes = self._minutes(queue, joined.timestamp()) if self._minutes is not None else None
        hours, state = (None, None) if self._hours is None else await self._hours.state(queue)
        # Never dialled while closed, nor expected to be dialled at closing time: from the
        # next opening (after that closing).
        first = first_dial(now, minutes, state, hours.schedule if hours is not None else None)
        not_before = first or now
        reopens = first.astimezone(hours.schedule.timezone) if first and hours else None
        try:
            stored, merged = await asyncio.wait_for(
                callbacks.request(
                    self._pool,
                    pbx=self._pbx,
                    queue=queue,
                    e164=checked.e164,
                    source="queue",
                    joined_at=joined,
                    not_before=not_before,
                    language=language,
                ),
                self._budget_s,
            )
        except Exception as exc:  # the database slow or gone, a queue name refused
            log.warning("callback for %s not stored (%r): back to the queue", queue, exc)
            return {"SB_CALLBACK_STATUS": "failed", "SB_CALLBACK_MERGED": ""}
        told["SB_CALLBACK_MERGED"] = "yes" if merged else ""
        if merged:
            place = await self._place(queue, stored.joined_at)
            if place is not None and place <= MAX_PLACE:
                told["SB_CALLBACK_PLACE"] = str(place)
        if reopens is not None:
            told |= {
                "SB_CALLBACK_FROM_DAY": str(reopens.weekday()),
                "SB_CALLBACK_FROM_HOUR": str(reopens.hour),
                "SB_CALLBACK_FROM_MINUTE": str(reopens.minute),
            }
        else:
            if merged and self._minutes is not None:  # its own, earlier, place
                minutes = self._minutes(queue, stored.joined_at.timestamp())
            if minutes is not None:
                told["SB_CALLBACK_MINUTES"] = str(minutes)
        log.info(
            "callback %d for %s in %s (%s)",
            stored.id,
            queue,
            checked.e164[:-4] + "....",
            "merged" if merged else "new",
        )
        return told


def _epoch(text: str, now: datetime) -> datetime:
    """The caller's join time from the dialplan (${EPOCH}); ``now`` when absent,
    unreadable or in the future."""
    if text.isdigit() and len(text) <= 12:
        joined = datetime.fromtimestamp(int(text), UTC)
        if joined <= now:
            return joined
    return now

"""Which opening hours a call is under, and what the dialplan is told about them.

A schedule (switchboard.core.schedule) applies to the queues and DIDs its
``[hours.NAME]`` table lists; a DID's schedule wins over its queue's (a number of its
own: the support line closes earlier than reception). No schedule: always open. Pure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from switchboard.core.schedule import OpenState, Schedule


@dataclass(frozen=True)
class Hours:
    """One ``[hours.NAME]``: its schedule and what it applies to."""

    schedule: Schedule
    queues: tuple[str, ...] = ()
    dids: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.schedule.name


def hours_for(book: Sequence[Hours], queue: str, did: str) -> Hours | None:
    """The hours a call to ``did`` waiting in ``queue`` is under: the DID's first."""
    digits = did.lstrip("+")
    for hours in book:
        if digits and any(d.lstrip("+") == digits for d in hours.dids):
            return hours
    return next((h for h in book if queue in h.queues), None)


def dialplan_variables(hours: Hours | None, state: OpenState | None) -> dict[str, str]:
    """What the dialplan is told (extensions.conf, before recognition): SB_OPEN "yes"
    or "no"; when closed, SB_CLOSED_ROUTE (voicemail, callback, urgent), SB_REOPENS
    (the epoch second the line opens again; "" when it never does) with its weekday
    (0 = Monday), hour and minute in the schedule's zone, and SB_HOURS (the schedule's
    name, for the log and the board)."""
    if hours is None or state is None or state.open:
        return {"SB_OPEN": "yes", "SB_HOURS": hours.name if hours else ""}
    reopens = state.next_open
    local = reopens.astimezone(hours.schedule.timezone) if reopens is not None else None
    return {
        "SB_OPEN": "no",
        "SB_HOURS": hours.name,
        "SB_CLOSED_ROUTE": state.route,
        "SB_REOPENS": str(int(reopens.timestamp())) if reopens is not None else "",
        # The same moment as the caller hears it (prompts day-N, n-H, n-M), in the
        # schedule's own time zone; empty when it never reopens.
        "SB_REOPENS_DAY": str(local.weekday()) if local else "",
        "SB_REOPENS_HOUR": str(local.hour) if local else "",
        "SB_REOPENS_MINUTE": str(local.minute) if local else "",
    }


def check_claims(book: Sequence[Hours]) -> list[str]:
    """A queue or DID two schedules claim: a configuration error naming both."""
    problems: list[str] = []
    claimed: dict[tuple[str, str], str] = {}
    for hours in book:
        for kind, names in (("queue", hours.queues), ("did", hours.dids)):
            for name in names:
                key = (kind, name.lstrip("+") if kind == "did" else name)
                other = claimed.setdefault(key, hours.name)
                if other != hours.name:
                    problems.append(
                        f"hours.{hours.name}: {kind} {name!r} is already under hours.{other}"
                    )
    return problems


def hours_table(hours: Hours, start: datetime, days: int = 14) -> list[str]:
    """The openings and closings of ``hours`` from ``start`` for ``days`` days, one
    line each in the schedule's own time zone, with the clock changes among them:

        Mon 2026-12-07 08:30 CET   open    weekly hours
        Mon 2026-12-07 17:30 CET   closed  weekly hours, callers to voicemail
        Sun 2027-03-28 03:00 CEST  clocks go forward an hour
    """
    zone = hours.schedule.timezone
    lines: list[tuple[datetime, str]] = []
    for change in hours.schedule.changes(start, days=days):
        at = change.at.astimezone(zone)
        what = "open  " if change.open else "closed"
        where = "" if change.open else f", callers to {change.route}"
        lines.append((at, f"{_when(at)}  {what}  {change.reason}{where}"))
    instant = start.astimezone(UTC)
    end = instant + timedelta(days=days)
    offset = instant.astimezone(zone).utcoffset()
    while instant < end:  # hour by hour: a clock change is always on an hour in practice
        step = instant + timedelta(hours=1)
        now_offset = step.astimezone(zone).utcoffset()
        if now_offset != offset and offset is not None and now_offset is not None:
            way = "forward" if now_offset > offset else "back"
            at = step.astimezone(zone)
            lines.append((at, f"{_when(at)}  clocks go {way} an hour"))
            offset = now_offset
        instant = step
    return [text for _, text in sorted(lines, key=lambda line: line[0].astimezone(UTC))]


def _when(at: datetime) -> str:
    return f"{at:%a %Y-%m-%d %H:%M} {at.tzname() or ''}".ljust(26)


class ScheduleSource(Protocol):
    """A schedule that changes while the service runs (switchboard.calendar_feed's
    CalendarFeed: the weekly hours with the calendar's latest closures)."""

    @property
    def schedule(self) -> Schedule: ...


class HoursBook:
    """Every ``[hours.NAME]`` as it is now: the configured ones, each with its live
    schedule where a calendar feeds it. Iterated afresh for every call and request."""

    def __init__(
        self, hours: Sequence[Hours], live: Mapping[str, ScheduleSource] | None = None
    ) -> None:
        self._hours = tuple(hours)
        self._live = dict(live or {})

    def __iter__(self) -> Iterator[Hours]:
        for hours in self._hours:
            source = self._live.get(hours.name)
            yield hours if source is None else replace(hours, schedule=source.schedule)

    def __len__(self) -> int:
        return len(self._hours)

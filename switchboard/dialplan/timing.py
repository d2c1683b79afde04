"""Asterisk's time specs (``GotoIfTime``, ``IFTIME``, ``include => ctx,<spec>``), read as
main/pbx_timing.c ``ast_build_timing`` reads them and matched as ``ast_check_timing2``.

``times,weekdays,days,months[,timezone]`` (``|`` separates too; the zone only when there
are five comma-separated fields). An element Asterisk cannot read is skipped with a
warning: here it is a problem, and the rest still counts. A time range includes its end
minute: ``08:00-17:00`` matches until 17:00:59. Names are compared whole and without
regard to case (``mon``, not ``monday``); numbers count from 1 (weekday 1 is Sunday).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MINUTES_A_DAY = 24 * 60
END_MINUTE_NOTE = "Asterisk includes the end minute: 08:00-17:00 matches until 17:00:59"
# sscanf("%2d:%2d"): blanks, a sign and at most two digits, a colon, the same again;
# whatever follows is not read.
_TIME = re.compile(r"^\s*([+-]?\d{1,2}):\s*([+-]?\d{1,2})")
_NUMBER = re.compile(r"^\s*([+-]?\d{1,2})")


@dataclass(frozen=True)
class Timing:
    minutes: frozenset[int]
    #: 0 is Sunday, as struct tm's tm_wday
    weekdays: frozenset[int]
    #: 0 is the 1st
    days: frozenset[int]
    #: 0 is January
    months: frozenset[int]
    timezone: str | None
    #: the elements Asterisk skips, in its words
    problems: tuple[str, ...]

    def matches(self, at: datetime) -> bool:
        """Whether ``at`` (in the spec's zone when it names one) is inside."""
        if self.timezone:
            try:
                at = at.astimezone(ZoneInfo(self.timezone))
            except (ZoneInfoNotFoundError, ValueError):
                pass  # Asterisk falls back to the system's zone; ``at``'s own here
        return (
            at.month - 1 in self.months
            and at.day - 1 in self.days
            and (at.weekday() + 1) % 7 in self.weekdays
            and at.hour * 60 + at.minute in self.minutes
        )


def build_timing(spec: str) -> Timing:
    """The timing ``spec`` describes, with what Asterisk would skip of it."""
    problems: list[str] = []
    fields = re.split(r"[|,]", spec)
    comma_fields = spec.count(",") + 1
    timezone = spec.rsplit(",", 1)[1] if comma_fields == 5 else None
    minutes = _time_range(fields[0], problems)
    weekdays = (
        _range(fields[1], 7, WEEKDAY_NAMES, "day of week", problems) if len(fields) > 1 else None
    )
    days = _range(fields[2], 31, None, "day", problems) if len(fields) > 2 else None
    months = _range(fields[3], 12, MONTH_NAMES, "month", problems) if len(fields) > 3 else None
    return Timing(
        minutes=minutes,
        weekdays=weekdays if weekdays is not None else frozenset(range(7)),
        days=days if days is not None else frozenset(range(31)),
        months=months if months is not None else frozenset(range(12)),
        timezone=timezone,
        problems=tuple(problems),
    )


def _time_range(times: str, problems: list[str]) -> frozenset[int]:
    if not times or times == "*":
        return frozenset(range(MINUTES_A_DAY))
    minutes: set[int] = set()
    for part in times.split("&"):
        start_text, dash, end_text = part.partition("-")
        if not dash:
            start = _minute(start_text)
            if start is None:
                problems.append(f"{part} isn't a valid time")
            else:
                minutes.add(start)
            continue
        # Asterisk skips what is not a digit after the dash ("mostly to skip spaces").
        end_text = re.sub(r"^\D*", "", end_text)
        if not end_text:
            problems.append(f"invalid time range starting with '{start_text}-'")
            continue
        start, end = _minute(start_text), _minute(end_text)
        if start is None:
            problems.append(f"'{start_text}' isn't a valid start time")
            continue
        if end is None:
            problems.append(f"'{end_text}' isn't a valid end time")
            continue
        minute = start
        while minute != end:
            minutes.add(minute)
            minute = (minute + 1) % MINUTES_A_DAY
        minutes.add(end)
    return frozenset(minutes)


def _minute(text: str) -> int | None:
    match = _TIME.match(text)
    if not match:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        return None
    return hours * 60 + minutes


def _range(
    text: str, size: int, names: tuple[str, ...] | None, what: str, problems: list[str]
) -> frozenset[int]:
    if not text or text == "*":
        return frozenset(range(size))
    chosen: set[int] = set()
    for part in text.split("&"):
        start_text, dash, end_text = part.partition("-")
        start = _lookup(start_text, names, size)
        if start is None:
            problems.append(f"invalid {what} '{start_text}'")
            continue
        end = start
        if dash:
            found = _lookup(end_text, names, size)
            if found is None:
                problems.append(f"invalid end {what} '{end_text}'")
                continue
            end = found
        # Ranges are cyclic: fri-mon is Friday to Monday.
        chosen.add(end)
        while start != end:
            chosen.add(start)
            start = (start + 1) % size
    return frozenset(chosen)


def _lookup(text: str, names: tuple[str, ...] | None, size: int) -> int | None:
    """lookup_name: a name (when the text does not start with a digit), else a number
    from 1 to ``size`` (its offset)."""
    if names and text[:1] > "9":
        lowered = text.lower()
        if lowered in names:
            return names.index(lowered)
    match = _NUMBER.match(text)
    if match and 1 <= int(match.group(1)) <= size:
        return int(match.group(1)) - 1
    return None

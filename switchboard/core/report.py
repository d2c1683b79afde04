"""The report's intervals (issue 15): per 15 minutes, hour, day or week in the site's
time zone, days of 23 and 25 hours included. Pure.

15 minutes and an hour are lengths of real time counted from the report's start (its
first local midnight): the autumn night's 25-hour day has 25 hours, two of them starting
at 02:00 local (CEST, then CET), and the spring one 23. A day and a week are the local
calendar's (a week starts on Monday), however long they are. :func:`interval_starts`
lists every interval, the empty ones too; the report's SQL counts each between its
start and the next (switchboard.store.calls.service_level_rows), so no table cuts time
its own way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo


class Interval(Enum):
    QUARTER = "15min"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"

    @property
    def length(self) -> timedelta | None:
        """A fixed length of real time, or None for the calendar's day and week."""
        return {"15min": timedelta(minutes=15), "hour": timedelta(hours=1)}.get(self.value)


#: The most intervals one report lists (a year of days, a month of quarter hours).
MAX_INTERVALS = 3000
#: The years a report may cover: the journal's times are real moments, not year 1.
YEARS = range(1970, 2201)


class ReportError(ValueError):
    """A report that cannot be made as asked; the message says why, for the user."""


@dataclass(frozen=True)
class Period:
    """From the local midnight of ``first`` to the local midnight of ``until`` (not
    included), in ``zone``."""

    first: date
    until: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return local_midnight(self.first, self.zone)

    @property
    def end(self) -> datetime:
        return local_midnight(self.until, self.zone)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def period(first: date, until: date, zone: ZoneInfo, interval: Interval) -> Period:
    """A checked period: ``until`` after ``first``, and not too many intervals."""
    if first.year not in YEARS or until.year not in YEARS:
        raise ReportError("dates from 1970 to 2200")  # (YEARS; a fixed text: translated)
    if until <= first:
        raise ReportError("the end date must come after the start date")
    asked = Period(first, until, zone)
    if sum(1 for _ in interval_starts(asked, interval, limit=MAX_INTERVALS + 1)) > MAX_INTERVALS:
        raise ReportError("more than 3000 intervals: choose a longer interval")  # MAX_INTERVALS
    return asked


def interval_starts(
    asked: Period, interval: Interval, limit: int = MAX_INTERVALS + 1
) -> Iterator[datetime]:
    """The start of every interval of the period, as aware datetimes in its zone."""
    start, end = asked.start, asked.end
    length = interval.length
    count = 0
    if length is not None:
        at = start
        while at < end and count < limit:
            yield at.astimezone(asked.zone)  # (adds real time: across a DST change too)
            at = (at.astimezone(ZoneInfo("UTC")) + length).astimezone(asked.zone)
            count += 1
        return
    day = asked.first
    if interval is Interval.WEEK:
        day -= timedelta(days=day.weekday())
    step = timedelta(days=7 if interval is Interval.WEEK else 1)
    while local_midnight(day, asked.zone) < end and count < limit:
        yield local_midnight(day, asked.zone)
        day += step
        count += 1

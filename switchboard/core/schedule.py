"""Opening hours and holidays: whether a queue (or DID) is open at an instant, why, where a
caller goes when it is not, and when that changes.

A schedule is read from one ``[hours.NAME]`` table (:func:`parse_schedule`) and evaluated
for an instant the caller passes in (:meth:`Schedule.state_at`, :meth:`Schedule.changes`):
nothing here reads a clock, a file or the network.

What decides, highest first:

1. a manual :class:`Override` ("closed for the staff meeting until 14:00", "open now"),
   from its ``at`` up to its ``until``;
2. closures: dates listed under ``closed``, events of an iCalendar source, and the public
   holidays of a country (the ``holidays`` package, for any year). A holiday closes its
   whole local calendar day, 00:00 to 24:00, also the part of an overnight range that runs
   into it. Overlapping closures that send callers to different routes are an error at
   start, naming both; with the same route they are fine, and the state names the most
   specific one (listed, then calendar, then holiday);
3. the weekly hours.

Time rules, the same for weekly ranges and listed closures:

* Every range is half-open, ``[start, end)``: open at 08:30 in "08:30-17:30", closed at
  17:30. An end at or before the start runs into the next day ("22:00-06:00"); "24:00"
  is the end of the day; a start equal to the end is an error. Ranges of one day that
  touch or overlap are one opening.
* A wall time stands for the first instant the clock shows it. In the DST gap (Europe/
  Amsterdam 2026-03-29, 02:00 jumps to 03:00) a time that does not exist is the jump
  itself: "02:30-05:00" opens at 03:00, and "02:00-04:00" is open for one real hour
  ("02:00-03:00" that day is empty, so not open at all). In the fold (2026-10-25,
  02:00-03:00 happens twice) the first reading counts (``fold=0``): a range ending at 02:30
  ends at the first 02:30.
* Instants going in must be timezone-aware (any zone); instants coming out are in the
  schedule's zone. Do arithmetic on them in UTC: Python adds a timedelta to an aware
  datetime on its wall clock, so 03:00 CEST minus a microsecond on 2026-03-29 is a time
  that does not exist, not the instant before.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import Enum
from itertools import pairwise

import holidays as holidays_package
import icalendar
import recurring_ical_events

from switchboard.core.text import one_line

SECTION = "hours"
DEFAULT_TIMEZONE = "Europe/Amsterdam"
DEFAULT_CLOSED_ROUTE = "voicemail"
DEFAULT_REFRESH_MINUTES = 15
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_REASON = 80
MAX_CHANGE_DAYS = 3660
# How far past the last dated rule (a listed or calendar closure, the override) state_at
# looks for the next change. Beyond it only the weekly hours and yearly holidays remain,
# and a year holds every pattern those make, so nothing found by then means never.
SEARCH_BEYOND = timedelta(days=371)
# Years whose holiday names ``open_on`` may name (names change: Koninginnedag until 2013).
HOLIDAY_NAME_YEARS = range(1990, 2101)

_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)
_MINUTES_PER_DAY = 24 * 60
# A route reaches the dialplan as a context or variable value: keep it a plain word.
_ROUTE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_RANGE = re.compile(r"(\S+?)\s*[-\u2013]\s*(\S+)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SOURCE_SCHEMES = ("http://", "https://", "webcal://", "file://")
# Names zoneinfo accepts that describe this machine or nothing, not a place.
_NOT_A_PLACE = frozenset({"localtime", "posixrules", "Factory"})
_SCHEDULE_KEYS = frozenset({"timezone", "closed_route", "holidays", "closed", "ical", *WEEKDAYS})
_CLOSED_KEYS = frozenset({"date", "through", "from", "until", "reason", "route"})
_HOLIDAY_KEYS = frozenset({"country", "subdivision", "language", "route", "open_on"})
_ICAL_KEYS = frozenset({"source", "route", "refresh_minutes"})
_WEEKLY_REASON = "weekly hours"


class ScheduleError(ValueError):
    """A schedule that cannot be used. ``problems`` holds every problem found, one line
    each, naming its key: ``[hours.reception] monday: '8:30-25:00' is not a time range``;
    the message is those lines."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class CalendarError(ScheduleError):
    """An iCalendar text that cannot be read or expanded."""

    def __init__(self, problem: str) -> None:
        super().__init__([problem])


class ClosureKind(Enum):
    """Where a closure comes from; also its rank when closures of one route overlap."""

    LISTED = "closed"
    CALENDAR = "calendar"
    HOLIDAY = "holiday"


_RANK = {ClosureKind.LISTED: 0, ClosureKind.CALENDAR: 1, ClosureKind.HOLIDAY: 2}


@dataclass(frozen=True)
class TimeRange:
    """Open from ``start`` to ``end``, in minutes after local midnight, half-open. An
    ``end`` at or before ``start`` is on the next day; ``end == 1440`` is 24:00."""

    start: int
    end: int

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


@dataclass(frozen=True)
class Closure:
    """Closed over ``[start, end)`` (aware instants). ``route`` None means the schedule's
    ``closed_route``; ``rule`` names where it was configured, for error messages."""

    start: datetime
    end: datetime
    reason: str
    route: str | None
    rule: str
    kind: ClosureKind

    def __post_init__(self) -> None:
        # Kept in UTC: aware datetimes sharing a zone compare by wall time, fold ignored.
        object.__setattr__(self, "start", _utc(self.start, "Closure.start"))
        object.__setattr__(self, "end", _utc(self.end, "Closure.end"))
        if self.end <= self.start:
            raise ValueError(f"{self.rule}: a closure must end after it starts")


@dataclass(frozen=True)
class HolidayRule:
    """The public holidays of ``country`` (and ``subdivision``) from the ``holidays``
    package, named in ``language``, except those named in ``open_on`` (casefolded)."""

    country: str
    subdivision: str | None
    language: str
    route: str | None = None
    open_on: frozenset[str] = frozenset()

    @property
    def label(self) -> str:
        return self.country if self.subdivision is None else f"{self.country}-{self.subdivision}"

    def days(self, year: int) -> list[tuple[date, tuple[str, ...]]]:
        """The closed days of ``year``, each with its holiday names, in date order."""
        found = []
        for day, names in _holidays_of(self.country, self.subdivision, self.language, year):
            kept = tuple(name for name in names if name.casefold() not in self.open_on)
            if kept:
                found.append((day, kept))
        return found


@dataclass(frozen=True)
class CalendarSource:
    """An iCalendar file or URL whose events are closures (read by calendar_feed)."""

    source: str
    route: str | None = None
    refresh: timedelta = timedelta(minutes=DEFAULT_REFRESH_MINUTES)


@dataclass(frozen=True)
class Override:
    """A manual decision: open (or closed) from ``at`` until ``until``, made by ``by``.
    It beats every other rule while it lasts and is ignored outside ``[at, until)``. A
    closed override sends callers to ``route``, or to the schedule's ``closed_route``."""

    open: bool
    reason: str
    until: datetime
    by: str
    at: datetime
    route: str | None = None

    def __post_init__(self) -> None:
        if _utc(self.until, "Override.until") <= _utc(self.at, "Override.at"):
            raise ValueError(
                f"Override.until: {self.until.isoformat()} is not after Override.at "
                f"{self.at.isoformat()}"
            )
        if self.route is not None and not _ROUTE.fullmatch(self.route):
            raise ValueError(f"Override.route: {self.route!r} is not a route name")

    @property
    def description(self) -> str:
        """The state's reason while the override lasts: ``override by anna: staff meeting``."""
        return f"override by {self.by}: {self.reason}" if self.reason else f"override by {self.by}"


@dataclass(frozen=True)
class OpenState:
    """Whether the line is open at an instant and why. ``route`` is where a caller goes
    ("" while open). ``until`` is when ``open`` next flips (None: it never does);
    ``next_open`` is the same instant while closed and None while open."""

    open: bool
    reason: str
    route: str
    until: datetime | None
    next_open: datetime | None


@dataclass(frozen=True)
class Change:
    """The line opens (``open``) or closes at ``at``; ``reason`` and ``route`` are those of
    the state it enters."""

    at: datetime
    open: bool
    reason: str
    route: str


@dataclass(frozen=True)
class _Segment:
    start: datetime
    end: datetime
    open: bool
    reason: str
    route: str


@dataclass(frozen=True)
class Schedule:
    """Opening hours of one queue or DID; build it with :func:`parse_schedule`.

    ``weekly`` holds the ranges of each weekday, Monday first. ``closures`` are the listed
    ones, ``calendar_closures`` those of the iCalendar source (swapped on every refresh
    with :meth:`with_calendar_closures`).
    """

    name: str
    timezone: zoneinfo.ZoneInfo
    weekly: tuple[tuple[TimeRange, ...], ...]
    closed_route: str = DEFAULT_CLOSED_ROUTE
    closures: tuple[Closure, ...] = ()
    holidays: HolidayRule | None = None
    calendar: CalendarSource | None = None
    calendar_closures: tuple[Closure, ...] = ()

    def __post_init__(self) -> None:
        if len(self.weekly) != len(WEEKDAYS):
            raise ValueError(f"Schedule.weekly: expected 7 weekdays, got {len(self.weekly)}")

    def state_at(self, instant: datetime, override: Override | None = None) -> OpenState:
        """The state at ``instant`` (aware), with ``override`` the current manual override
        if any. ``until``/``next_open`` are in the schedule's zone."""
        now = _utc(instant, "instant")
        limit = max(now, self._last_dated_end(override)) + SEARCH_BEYOND
        # Most states end within a day or two: look that far first, then further.
        span = timedelta(days=2)
        while True:
            end = min(now + span, limit)
            segments = self._segments(now, end, override)
            current = segments[0]
            flip = next((s for s in segments if s.open != current.open), None)
            if flip is not None or end >= limit:
                break
            span *= 8
        until = None if flip is None else flip.start.astimezone(self.timezone)
        return OpenState(
            open=current.open,
            reason=current.reason,
            route=current.route,
            until=until,
            next_open=None if current.open else until,
        )

    def changes(
        self, start: datetime, days: int = 14, override: Override | None = None
    ) -> list[Change]:
        """Every opening and closing in ``[start, start + days * 24 h)``, in order, one
        at ``start`` included when the state flips exactly then. Between two changes the
        state is that of the earlier one (before the first: ``state_at(start)``)."""
        begin = _utc(start, "start")
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_CHANGE_DAYS:
            raise ValueError(
                f"days: expected a whole number from 1 to {MAX_CHANGE_DAYS}, got {days!r}"
            )
        # From one tick before the start, so that a flip exactly at the start shows.
        segments = self._segments(begin - _TICK, begin + timedelta(days=days), override)
        return [
            Change(after.start.astimezone(self.timezone), after.open, after.reason, after.route)
            for before, after in pairwise(segments)
            if before.open != after.open
        ]

    def with_calendar_closures(self, closures: Iterable[Closure]) -> Schedule:
        """This schedule with ``closures`` as its calendar closures (the old ones dropped).
        Raises ScheduleError naming both rules when one overlaps another closure with a
        different route."""
        schedule = replace(self, calendar_closures=tuple(sorted(closures, key=_by_start)))
        conflicts = _conflicts(schedule)
        if conflicts:
            raise ScheduleError(conflicts)
        return schedule

    def _last_dated_end(self, override: Override | None) -> datetime:
        ends = [c.end.astimezone(UTC) for c in (*self.closures, *self.calendar_closures)]
        if override is not None:
            ends.append(override.until.astimezone(UTC))
        return max(ends, default=datetime.min.replace(tzinfo=UTC))

    def _segments(
        self, start: datetime, end: datetime, override: Override | None
    ) -> list[_Segment]:
        """The states over ``[start, end)`` (UTC), contiguous, neighbours differing."""
        opens = self._weekly_open(start, end)
        closures = sorted(self._closures_between(start, end), key=_by_start)
        cuts = {start, end}
        for open_start, open_end in opens:
            cuts.update((open_start, open_end))
        for closure in closures:
            cuts.update((closure.start.astimezone(UTC), closure.end.astimezone(UTC)))
        override_span = None
        if override is not None:
            override_span = (override.at.astimezone(UTC), override.until.astimezone(UTC))
            cuts.update(override_span)
        points = sorted(p for p in cuts if start <= p <= end)

        segments: list[_Segment] = []
        next_open = 0
        next_closure = 0
        active: list[Closure] = []
        for a, b in pairwise(points):
            while next_open < len(opens) and opens[next_open][1] <= a:
                next_open += 1
            weekly_open = next_open < len(opens) and opens[next_open][0] <= a
            while next_closure < len(closures) and closures[next_closure].start <= a:
                active.append(closures[next_closure])
                next_closure += 1
            active = [c for c in active if c.end > a]

            if override is not None and override_span and override_span[0] <= a < override_span[1]:
                state = (
                    override.open,
                    override.description,
                    "" if override.open else override.route or self.closed_route,
                )
            elif active:
                ruling = min(active, key=_precedence)
                state = (False, ruling.reason, ruling.route or self.closed_route)
            else:
                state = (weekly_open, _WEEKLY_REASON, "" if weekly_open else self.closed_route)

            last = segments[-1] if segments else None
            if last is not None and (last.open, last.reason, last.route) == state:
                segments[-1] = replace(last, end=b)
            else:
                segments.append(_Segment(a, b, *state))
        return segments

    def _weekly_open(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The weekly openings overlapping ``[start, end)``, clipped to it and merged."""
        # The day before counts: its overnight range may run into the window.
        day = start.astimezone(self.timezone).date() - _DAY
        last_day = end.astimezone(self.timezone).date()
        spans: list[tuple[datetime, datetime]] = []
        while day <= last_day:
            for hours in self.weekly[day.weekday()]:
                opens = _instant(self.timezone, day, hours.start)
                closes = _instant(self.timezone, day + _DAY if hours.overnight else day, hours.end)
                if opens < closes and closes > start and opens < end:
                    spans.append((max(opens, start), min(closes, end)))
            day += _DAY
        spans.sort()
        merged: list[tuple[datetime, datetime]] = []
        for opens, closes in spans:
            if merged and opens <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
            else:
                merged.append((opens, closes))
        return merged

    def _closures_between(self, start: datetime, end: datetime) -> list[Closure]:
        dated = [
            c for c in (*self.closures, *self.calendar_closures) if c.start < end and c.end > start
        ]
        first_year = (start.astimezone(self.timezone) - _DAY).year
        last_year = end.astimezone(self.timezone).year
        holidays = [
            c
            for c in self._holiday_closures(range(first_year, last_year + 1))
            if c.start < end and c.end > start
        ]
        return dated + holidays

    def _holiday_closures(self, years: Iterable[int]) -> list[Closure]:
        rule = self.holidays
        if rule is None:
            return []
        found = []
        for year in years:
            for day, names in rule.days(year):
                listed = ", ".join(names)
                found.append(
                    Closure(
                        start=_instant(self.timezone, day, 0),
                        end=_instant(self.timezone, day + _DAY, 0),
                        reason=f"holiday: {listed}",
                        route=rule.route,
                        rule=f"holidays {rule.label}: {listed} on {day.isoformat()}",
                        kind=ClosureKind.HOLIDAY,
                    )
                )
        return found


# --- the caller's and the receptionist's words --------------------------------------------


@dataclass(frozen=True)
class Reopening:
    """When a closed line opens again, in parts a prompt can speak in any language ("we
    are open again on Monday at 8:30"). ``weekday`` 0 is Monday; ``days_ahead`` counts
    local calendar days from now (0 today, 1 tomorrow); ``timestamp`` (Unix seconds) suits
    Asterisk's SayUnixTime with the schedule's zone."""

    at: datetime
    weekday: int
    hour: int
    minute: int
    days_ahead: int
    timestamp: int


def reopening(state: OpenState, now: datetime) -> Reopening | None:
    """When the closed ``state`` ends, seen from ``now``; None while open or when it never
    opens again."""
    if state.open or state.next_open is None:
        return None
    at = state.next_open
    return Reopening(
        at=at,
        weekday=at.weekday(),
        hour=at.hour,
        minute=at.minute,
        days_ahead=_days_ahead(at, now),
        timestamp=math.floor(at.timestamp()),
    )


_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "open": "open",
        "open until": "open until {when}",
        "closed": "closed",
        "closed, opens": "closed, opens {when}",
        "tomorrow": "tomorrow {time}",
    },
    "nl": {
        "open": "open",
        "open until": "open tot {when}",
        "closed": "gesloten",
        "closed, opens": "gesloten, open {when}",
        "tomorrow": "morgen {time}",
    },
}
_WEEKDAY_NAMES = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
}
_MONTH_NAMES = {
    "en": (
        "January", "February", "March", "April", "May", "June", "July", "August",
        "September", "October", "November", "December",
    ),
    "nl": (
        "januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
        "september", "oktober", "november", "december",
    ),
}  # fmt: skip


def describe(state: OpenState, now: datetime, language: str = "en") -> str:
    """The state in a few words for the board, in English ("en") or Dutch ("nl"):
    "open until 17:30", "closed, opens Monday 8:30", "gesloten, open morgen 8:30". The
    time of the change is given in the schedule's zone: only the time today, "tomorrow"
    and the time, the weekday within the week, beyond it the date too."""
    code = language.replace("_", "-").split("-")[0].lower()
    if code not in _WORDS:
        raise ValueError(f"language {language!r}: no texts in it (known: {', '.join(_WORDS)})")
    words = _WORDS[code]
    if state.open:
        if state.until is None:
            return words["open"]
        return words["open until"].format(when=_when(state.until, now, code))
    if state.next_open is None:
        return words["closed"]
    return words["closed, opens"].format(when=_when(state.next_open, now, code))


def _when(at: datetime, now: datetime, code: str) -> str:
    clock = f"{at.hour}:{at.minute:02d}"
    ahead = _days_ahead(at, now)
    if ahead <= 0:
        return clock
    if ahead == 1:
        return _WORDS[code]["tomorrow"].format(time=clock)
    weekday = _WEEKDAY_NAMES[code][at.weekday()]
    if ahead < 7:
        return f"{weekday} {clock}"
    day = f"{weekday} {at.day} {_MONTH_NAMES[code][at.month - 1]}"
    if at.year != now.astimezone(at.tzinfo).year:
        day += f" {at.year}"
    return f"{day} {clock}"


def _days_ahead(at: datetime, now: datetime) -> int:
    return (at.date() - _utc(now, "now").astimezone(at.tzinfo).date()).days


# --- iCalendar --------------------------------------------------------------------------------


def closures_from_ical(
    text: str,
    start: datetime,
    end: datetime,
    tz: tzinfo,
    *,
    route: str | None = None,
    source: str = "calendar",
) -> list[Closure]:
    """Every event of the iCalendar ``text`` that overlaps ``[start, end)`` as a closure:
    recurrences expanded (RRULE, RDATE), EXDATE left out, RECURRENCE-ID moving or changing
    one occurrence, TZID and UTC times as given. An all-day event closes its days in
    ``tz`` from 00:00; a floating time (no zone) is read in ``tz``; a cancelled event or
    one without duration closes nothing. Free/busy (TRANSP) is ignored: calendar apps
    mark all-day events free. Raises CalendarError naming ``source`` when the text cannot
    be read."""
    window_start, window_end = _utc(start, "start"), _utc(end, "end")
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise CalendarError(f"{source}: not an iCalendar file ({exc})") from None
    if not isinstance(calendar, icalendar.Calendar):
        raise CalendarError(f"{source}: not an iCalendar file (no VCALENDAR)")
    try:
        events = recurring_ical_events.of(calendar).between(window_start, window_end)
    except Exception as exc:  # the library raises many kinds; all mean a broken calendar
        raise CalendarError(f"{source}: cannot expand its events ({exc})") from None
    closures = []
    for event in events:
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        try:
            begins, ends = event.start, event.end
        except Exception as exc:  # no start, or an unreadable one
            raise CalendarError(f"{source}: an event without a usable start ({exc})") from None
        opens = _calendar_instant(begins, tz)
        closes = _calendar_instant(ends, tz)
        if closes <= opens:
            continue
        summary = one_line(str(event.get("SUMMARY", "")), MAX_REASON) or "closed"
        closures.append(
            Closure(
                start=opens,
                end=closes,
                reason=f"calendar: {summary}",
                route=route,
                rule=f"{source} event {summary!r} at "
                f"{opens.astimezone(tz).strftime('%Y-%m-%d %H:%M')}",
                kind=ClosureKind.CALENDAR,
            )
        )
    return sorted(closures, key=_by_start)


def _calendar_instant(value: object, tz: tzinfo) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return _from_wall(tz, value)
        return value.astimezone(UTC)
    if isinstance(value, date):
        return _instant(tz, value, 0)
    raise CalendarError(f"calendar: {value!r} is not a date or date-time")


# --- reading the configuration ------------------------------------------------------------


def parse_schedule(name: str, table: Mapping[str, object]) -> Schedule:
    """The schedule of the ``[hours.NAME]`` table ``table`` (as tomllib gives it).

    Keys: ``timezone`` (an IANA name, default Europe/Amsterdam); ``monday`` ... ``sunday``
    (a list of "HH:MM-HH:MM" ranges, missing or empty: closed that day); ``closed_route``
    (where callers go when closed, default "voicemail"); ``holidays`` ("NL", or a table
    with ``country``, ``subdivision``, ``language``, ``route``, ``open_on``); ``closed`` (a
    list of ``{date, through, from, until, reason, route}`` tables, or plain dates);
    ``ical`` (a URL or absolute path, or a table with ``source``, ``route``,
    ``refresh_minutes``). Raises ScheduleError with every problem found, each naming its
    key, and with every pair of overlapping closures whose routes differ."""
    read = _Reader(f"[{SECTION}.{name}]")
    for key in sorted(set(table) - _SCHEDULE_KEYS):
        read.problem(key, f"unknown key{_suggestion(key, _SCHEDULE_KEYS)}")
    zone = read.timezone(table.get("timezone", DEFAULT_TIMEZONE))
    closed_route = read.route("closed_route", table.get("closed_route", DEFAULT_CLOSED_ROUTE))
    weekly = tuple(read.ranges(day, table.get(day, [])) for day in WEEKDAYS)
    rule = read.holidays(table["holidays"]) if "holidays" in table else None
    # With a bad zone, the listed dates are still checked (against the default zone).
    closures = read.closures(table.get("closed", []), zone or zoneinfo.ZoneInfo(DEFAULT_TIMEZONE))
    calendar = read.calendar(table["ical"]) if "ical" in table else None
    if read.problems or zone is None or closed_route is None:
        raise ScheduleError(read.problems)
    schedule = Schedule(
        name=name,
        timezone=zone,
        weekly=weekly,
        closed_route=closed_route,
        closures=closures,
        holidays=rule,
        calendar=calendar,
    )
    conflicts = _conflicts(schedule)
    if conflicts:
        raise ScheduleError(conflicts)
    return schedule


class _Reader:
    """Takes typed values out of a schedule table, collecting problems, not stopping."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.problems: list[str] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.where} {key}: {message}")

    def timezone(self, value: object) -> zoneinfo.ZoneInfo | None:
        if not isinstance(value, str):
            self.problem("timezone", f"expected an IANA time zone name, got {value!r}")
            return None
        if value not in _NOT_A_PLACE:
            try:
                return zoneinfo.ZoneInfo(value)
            except (KeyError, ValueError, OSError):  # unknown; not a key; a folder (Europe)
                pass
        matches = difflib.get_close_matches(
            value, zoneinfo.available_timezones() - _NOT_A_PLACE, n=1
        )
        hint = f"; did you mean {matches[0]!r}?" if matches else ""
        self.problem(
            "timezone",
            f"{value!r} is not an IANA time zone name (such as 'Europe/Amsterdam'){hint}",
        )
        return None

    def route(self, key: str, value: object) -> str | None:
        if isinstance(value, str) and _ROUTE.fullmatch(value):
            return value
        self.problem(
            key,
            f"{value!r} is not a route name (letters, digits, '-' and '_', at most 40, "
            "such as 'voicemail')",
        )
        return None

    def optional_route(self, key: str, table: Mapping[str, object]) -> str | None:
        return self.route(key, table["route"]) if "route" in table else None

    def ranges(self, day: str, value: object) -> tuple[TimeRange, ...]:
        entries = [value] if isinstance(value, str) else value
        if not isinstance(entries, list):
            self.problem(
                day, f'expected a list of time ranges such as ["08:30-12:00"], got {value!r}'
            )
            return ()
        found = []
        for entry in entries:
            hours = self.time_range(day, entry)
            if hours is not None:
                found.append(hours)
        return tuple(sorted(found, key=lambda hours: hours.start))

    def time_range(self, key: str, value: object) -> TimeRange | None:
        match = _RANGE.fullmatch(value.strip()) if isinstance(value, str) else None
        start = _minute_of(match[1], allow_24=False) if match else None
        end = _minute_of(match[2], allow_24=True) if match else None
        if match is None or start is None or end is None:
            self.problem(
                key,
                f"{value!r} is not a time range (HH:MM-HH:MM from 00:00 to 24:00, "
                "such as '08:30-17:30', or '22:00-06:00' into the next day)",
            )
            return None
        if end == start:
            self.problem(
                key,
                f"{value!r} ends when it starts: an empty range (a whole day is '00:00-24:00')",
            )
            return None
        return TimeRange(start, end)

    def clock(self, key: str, value: object, *, allow_24: bool) -> int | None:
        if isinstance(value, time):  # a TOML local time, 12:00:00
            if value.second or value.microsecond or value.tzinfo is not None:
                self.problem(key, f"{value!r} is not a time of day in whole minutes")
                return None
            return value.hour * 60 + value.minute
        minute = _minute_of(value, allow_24=allow_24) if isinstance(value, str) else None
        if minute is None:
            latest = "24:00" if allow_24 else "23:59"
            self.problem(key, f"{value!r} is not a time of day (HH:MM from 00:00 to {latest})")
        return minute

    def day(self, key: str, value: object) -> date | None:
        if isinstance(value, date) and not isinstance(value, datetime):  # a TOML date
            return value
        if isinstance(value, str) and _DATE.fullmatch(value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError as exc:
                self.problem(key, f"{value!r} is not a date ({exc})")
                return None
        self.problem(
            key, f"{value!r} is not a date with its year (YYYY-MM-DD, such as '2026-12-31')"
        )
        return None

    def reason(self, key: str, value: object) -> str:
        if not isinstance(value, str):
            self.problem(key, f"expected a text, got {value!r}")
            return ""
        return one_line(value, MAX_REASON)

    def closures(self, value: object, zone: tzinfo) -> tuple[Closure, ...]:
        if not isinstance(value, list):
            self.problem(
                "closed",
                f'expected a list such as [{{date = "2026-12-31", reason = "..."}}], got {value!r}',
            )
            return ()
        found = []
        for index, entry in enumerate(value):
            closure = self.closure(f"closed[{index}]", entry, zone)
            if closure is not None:
                found.append(closure)
        return tuple(sorted(found, key=_by_start))

    def closure(self, key: str, entry: object, zone: tzinfo) -> Closure | None:
        if isinstance(entry, str | date):
            entry = {"date": entry}
        if not isinstance(entry, Mapping):
            self.problem(key, f"expected a date or a table with a date, got {entry!r}")
            return None
        count = len(self.problems)
        for extra in sorted(set(entry) - _CLOSED_KEYS):
            self.problem(f"{key}.{extra}", f"unknown key{_suggestion(extra, _CLOSED_KEYS)}")
        if "date" not in entry:
            self.problem(f"{key}.date", "missing: the date closed, such as '2026-12-31'")
            return None
        first = self.day(f"{key}.date", entry["date"])
        last = self.day(f"{key}.through", entry["through"]) if "through" in entry else first
        opens = self.clock(f"{key}.from", entry["from"], allow_24=False) if "from" in entry else 0
        closes = (
            self.clock(f"{key}.until", entry["until"], allow_24=True)
            if "until" in entry
            else _MINUTES_PER_DAY
        )
        reason = self.reason(f"{key}.reason", entry.get("reason", ""))
        route = self.optional_route(f"{key}.route", entry)
        if len(self.problems) > count or None in (first, last, opens, closes):
            return None
        assert first is not None and last is not None and opens is not None and closes is not None
        start, end = _instant(zone, first, opens), _instant(zone, last, closes)
        span = _describe_span(first, last, opens, closes)
        if end <= start:
            self.problem(key, f"closes nothing: {span} ends before it starts")
            return None
        return Closure(
            start=start,
            end=end,
            reason=f"closed: {reason or span}",
            route=route,
            rule=f"{key} on {span}" + (f" ({reason!r})" if reason else ""),
            kind=ClosureKind.LISTED,
        )

    def holidays(self, value: object) -> HolidayRule | None:
        table: Mapping[str, object]
        if isinstance(value, str):
            table = {"country": value}
        elif isinstance(value, Mapping):
            table = value
        else:
            self.problem(
                "holidays", f'expected a country code such as "NL" or a table, got {value!r}'
            )
            return None
        count = len(self.problems)
        for extra in sorted(set(table) - _HOLIDAY_KEYS):
            self.problem(f"holidays.{extra}", f"unknown key{_suggestion(extra, _HOLIDAY_KEYS)}")
        country = table.get("country")
        key = "holidays" if isinstance(value, str) else "holidays.country"
        supported = holidays_package.list_supported_countries()
        if not isinstance(country, str) or country.upper() not in supported:
            self.problem(
                key,
                f"{country!r} is not a country the holidays package knows "
                "(an ISO 3166 code such as 'NL', 'BE', 'DE')",
            )
            return None
        country = country.upper()
        subdivision = None
        if "subdivision" in table:
            wanted = table["subdivision"]
            known = {code.casefold(): code for code in supported[country]}
            if not isinstance(wanted, str) or wanted.casefold() not in known:
                self.problem(
                    "holidays.subdivision",
                    f"{wanted!r} is not a subdivision of {country} "
                    f"(known: {', '.join(supported[country]) or 'none'})",
                )
            else:
                subdivision = known[wanted.casefold()]
        entity = holidays_package.country_holidays(country)
        languages = tuple(entity.supported_languages)
        # Always a language: without one the package reads LANG from the environment.
        language = table.get("language", entity.default_language or "en")
        if not isinstance(language, str) or (languages and language not in languages):
            self.problem(
                "holidays.language",
                f"{language!r} is not a language of {country}'s holiday names "
                f"(known: {', '.join(languages) or 'none'})",
            )
            return None
        route = self.optional_route("holidays.route", table)
        open_on = self.open_on(table.get("open_on", []), country, subdivision, language)
        if len(self.problems) > count:
            return None
        return HolidayRule(country, subdivision, language, route, open_on)

    def open_on(
        self, value: object, country: str, subdivision: str | None, language: str
    ) -> frozenset[str]:
        if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
            self.problem(
                "holidays.open_on",
                f'expected a list of holiday names such as ["Goede vrijdag"], got {value!r}',
            )
            return frozenset()
        wanted = {str(name).casefold(): str(name) for name in value}
        if not wanted:
            return frozenset()
        known = _holiday_names(country, subdivision, language)
        for folded, name in sorted(wanted.items()):
            if folded not in {k.casefold() for k in known}:
                self.problem(
                    "holidays.open_on",
                    f"{name!r} is not a holiday of {country} (known: {', '.join(known)})",
                )
        return frozenset(wanted)

    def calendar(self, value: object) -> CalendarSource | None:
        table: Mapping[str, object]
        if isinstance(value, str):
            table = {"source": value}
        elif isinstance(value, Mapping):
            table = value
        else:
            self.problem("ical", f"expected a URL, a file path or a table, got {value!r}")
            return None
        count = len(self.problems)
        for extra in sorted(set(table) - _ICAL_KEYS):
            self.problem(f"ical.{extra}", f"unknown key{_suggestion(extra, _ICAL_KEYS)}")
        key = "ical" if isinstance(value, str) else "ical.source"
        source = table.get("source")
        if not isinstance(source, str) or not (
            source.startswith("/") or source.lower().startswith(_SOURCE_SCHEMES)
        ):
            self.problem(
                key,
                f"{source!r} is neither an http(s) or webcal URL nor an absolute file path",
            )
        route = self.optional_route("ical.route", table)
        refresh = table.get("refresh_minutes", DEFAULT_REFRESH_MINUTES)
        if isinstance(refresh, bool) or not isinstance(refresh, int) or not 1 <= refresh <= 1440:
            self.problem(
                "ical.refresh_minutes", f"expected a whole number from 1 to 1440, got {refresh!r}"
            )
        if len(self.problems) > count:
            return None
        assert isinstance(source, str) and isinstance(refresh, int)
        return CalendarSource(source, route, timedelta(minutes=refresh))


def _suggestion(key: str, known: Iterable[str]) -> str:
    matches = difflib.get_close_matches(key, sorted(known), n=2)
    hint = f" (did you mean {' or '.join(matches)}?)" if matches else ""
    return f"{hint}; known: {', '.join(sorted(known))}"


def _minute_of(text: str, *, allow_24: bool) -> int | None:
    """Minutes after midnight of "H:MM"/"HH:MM"; "24:00" only when ``allow_24``."""
    match = _TIME.fullmatch(text.strip())
    if match is None:
        return None
    hour, minute = int(match[1]), int(match[2])
    if minute > 59 or hour > 24 or (hour == 24 and (minute or not allow_24)):
        return None
    return hour * 60 + minute


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _describe_span(first: date, last: date, opens: int, closes: int) -> str:
    text = first.isoformat()
    if opens:
        text += f" from {_hhmm(opens)}"
    if last != first:
        text += f" through {last.isoformat()}"
    if closes != _MINUTES_PER_DAY:
        text += f" until {_hhmm(closes)}"
    return text


# --- conflicts --------------------------------------------------------------------------------


def _conflicts(schedule: Schedule) -> list[str]:
    """One line per pair of overlapping closures that route callers differently."""
    dated = [*schedule.closures, *schedule.calendar_closures]
    if not dated:
        return []
    zone = schedule.timezone
    first_year = min(c.start.astimezone(zone).year for c in dated)
    last_year = max(c.end.astimezone(zone).year for c in dated)
    closures = sorted(
        [*dated, *schedule._holiday_closures(range(first_year, last_year + 1))],
        key=_by_start,
    )
    where = f"[{SECTION}.{schedule.name}]"
    found: list[str] = []
    active: list[Closure] = []
    for closure in closures:
        active = [c for c in active if c.end > closure.start]
        route = closure.route or schedule.closed_route
        for other in active:
            other_route = other.route or schedule.closed_route
            if other_route != route:
                found.append(
                    f"{where} {other.rule} routes to {other_route!r} but {closure.rule} "
                    f"routes to {route!r} at the same time: give them the same route or "
                    "drop one"
                )
        active.append(closure)
    return found


# --- instants ---------------------------------------------------------------------------------


def _utc(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what}: expected a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def _instant(zone: tzinfo, day: date, minute: int) -> datetime:
    """The UTC instant at which the clock in ``zone`` first shows ``minute`` (after
    midnight, 1440 being the next midnight) on ``day``; see the module's time rules."""
    day += timedelta(days=minute // _MINUTES_PER_DAY)
    minute %= _MINUTES_PER_DAY
    return _from_wall(zone, datetime(day.year, day.month, day.day, minute // 60, minute % 60))


def _from_wall(zone: tzinfo, wall: datetime) -> datetime:
    """The first instant the clock in ``zone`` shows the naive ``wall`` time, or when it
    never does (the DST gap), the instant it jumps past it."""
    wall = wall.replace(tzinfo=None)
    instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)  # fold=0: the first reading
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # In a gap. With the offset after the jump the instant falls before it, with the
    # offset before after it; the jump (on a whole second) lies between: bisect.
    low = math.floor(wall.replace(tzinfo=zone, fold=1).timestamp())
    high = math.ceil(instant.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _by_start(closure: Closure) -> datetime:
    return closure.start.astimezone(UTC)


def _precedence(closure: Closure) -> tuple[int, datetime]:
    return _RANK[closure.kind], closure.start.astimezone(UTC)


@functools.lru_cache(maxsize=256)
def _holidays_of(
    country: str, subdivision: str | None, language: str, year: int
) -> tuple[tuple[date, tuple[str, ...]], ...]:
    table = holidays_package.country_holidays(
        country, subdiv=subdivision, years=year, language=language
    )
    return tuple((day, tuple(table.get_list(day))) for day in sorted(table))


@functools.lru_cache(maxsize=32)
def _holiday_names(country: str, subdivision: str | None, language: str) -> tuple[str, ...]:
    table = holidays_package.country_holidays(
        country, subdiv=subdivision, years=HOLIDAY_NAME_YEARS, language=language
    )
    return tuple(sorted({name for day in table for name in table.get_list(day)}))

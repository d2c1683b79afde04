"""A schedule's iCalendar closures, read from a file or URL and kept fresh.

The calendar only ever adds closures, so it must never close a line by failing: a refresh
that cannot fetch, read or use the calendar keeps the last good copy (expanded again for
the moment of the refresh, so recurring events keep coming), and without one the line
follows its other rules, with no calendar closures at all. The last good copy can be kept
in a file as well, so a restart while the calendar server is down keeps it too.

A calendar whose events overlap another closure with a different route (a configuration
error in ``[hours.NAME]`` itself) counts as unusable: the copy before it stays in use and
the problem, naming both rules, is logged and kept in ``last_error``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from switchboard.core.schedule import CalendarSource, Schedule, closures_from_ical

log = logging.getLogger(__name__)

# A closures calendar is small; this only keeps a wrong URL from filling the memory.
MAX_BYTES = 4 * 1024 * 1024
# Events are expanded from a day back to this far ahead; every refresh moves the window.
LOOKBACK = timedelta(days=1)
HORIZON = timedelta(days=400)
DEFAULT_TIMEOUT = 10.0
# After a failed refresh the next try comes sooner than the refresh interval.
RETRY = timedelta(minutes=1)

# read(source, timeout) -> the calendar's bytes; raises on any failure.
Reader = Callable[[str, float], bytes]
Sleep = Callable[[float], Awaitable[None]]


def read_source(source: str, timeout: float) -> bytes:
    """The bytes at ``source``: an absolute file path, a ``file://`` URL, or an ``http://``,
    ``https://`` or ``webcal://`` URL (webcal is fetched over https). ``timeout`` bounds
    each network wait. Raises OSError when it cannot be read, ValueError when it holds
    more than MAX_BYTES."""
    lowered = source.lower()
    if source.startswith("/") or lowered.startswith("file://"):
        path = Path(source if source.startswith("/") else urlsplit(source).path)
        if path.stat().st_size > MAX_BYTES:
            raise ValueError(f"{source}: larger than {MAX_BYTES} bytes")
        return path.read_bytes()
    if lowered.startswith("webcal://"):
        source = "https://" + source[len("webcal://") :]
    request = urllib.request.Request(
        source, headers={"User-Agent": "switchboard", "Accept": "text/calendar"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        data: bytes = response.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"{source}: larger than {MAX_BYTES} bytes")
    return data


class CalendarFeed:
    """Keeps the calendar closures of ``schedule`` (which must have an ``ical`` source)
    up to date. :attr:`schedule` is always usable; :meth:`refresh` never raises for a
    calendar that cannot be had. One refresh at a time (``keep_fresh`` runs them in a
    worker thread); reading :attr:`schedule` from another thread meanwhile is safe."""

    def __init__(
        self,
        schedule: Schedule,
        *,
        cache_file: Path | None = None,
        read: Reader = read_source,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if schedule.calendar is None:
            raise ValueError(f"[hours.{schedule.name}] has no ical source to follow")
        self._source: CalendarSource = schedule.calendar
        self._base = schedule.with_calendar_closures(())
        self._current = self._base
        self._good: bytes | None = None
        self._cache_file = cache_file
        self._read = read
        self._timeout = timeout
        # Why the latest refresh failed (None after a good one), and when the copy in
        # use was fetched (None: no copy, or one from the cache file).
        self.last_error: str | None = None
        self.last_success: datetime | None = None

    @property
    def schedule(self) -> Schedule:
        """The schedule with the closures of the last good copy (none without one)."""
        return self._current

    @property
    def source(self) -> CalendarSource:
        return self._source

    def refresh(self, now: datetime) -> bool:
        """Fetch the calendar and use it if it reads and fits the schedule; else keep the
        last good copy, or the cached one, or none. True when the fetched copy is used."""
        try:
            data = self._read(self._source.source, self._timeout)
            schedule = self._expand(data, now)
        except Exception as exc:  # whatever went wrong, the line must keep its hours
            self._fall_back(now, exc)
            return False
        if self.last_error is not None:
            log.info("[hours.%s] ical %s reads again", self._base.name, self._source.source)
        if data != self._good:
            self._save(data)
        self._good, self._current = data, schedule
        self.last_error, self.last_success = None, now
        return True

    async def keep_fresh(
        self, clock: Callable[[], datetime], *, sleep: Sleep = asyncio.sleep
    ) -> None:
        """Refresh now and every ``refresh_minutes`` after, until cancelled; after a failed
        refresh the next try comes after RETRY (or the interval, if shorter)."""
        while True:
            used = await asyncio.to_thread(self.refresh, clock())
            wait = self._source.refresh if used else min(self._source.refresh, RETRY)
            await sleep(wait.total_seconds())

    def _expand(self, data: bytes, now: datetime) -> Schedule:
        closures = closures_from_ical(
            data.decode("utf-8-sig", errors="replace"),
            now - LOOKBACK,
            now + HORIZON,
            self._base.timezone,
            route=self._source.route,
            source=f"ical {self._source.source}",
        )
        return self._base.with_calendar_closures(closures)

    def _fall_back(self, now: datetime, exc: Exception) -> None:
        problem = str(exc) or type(exc).__name__
        if not problem.startswith("["):  # a conflict names its schedule already
            problem = f"[hours.{self._base.name}] ical {self._source.source}: {problem}"
        kept = "keeping the last good copy"
        if self._good is not None:
            # Expanded again for now, so the window of recurring events moves on; should
            # the moved window bring a conflict, the expansion in use stays.
            try:
                self._current = self._expand(self._good, now)
            except Exception:
                kept = "keeping the last good copy as last expanded"
        elif (cached := self._load_cache(now)) is not None:
            kept = f"using the copy saved in {self._cache_file}"
            self._good, self._current = cached
        else:
            kept = "no calendar closures until it reads"
        # One warning per new problem: a calendar server that is down is retried often.
        level = logging.WARNING if problem != self.last_error else logging.DEBUG
        log.log(level, "%s; %s", problem, kept)
        self.last_error = problem

    def _load_cache(self, now: datetime) -> tuple[bytes, Schedule] | None:
        if self._cache_file is None:
            return None
        try:
            data = self._cache_file.read_bytes()
            return data, self._expand(data, now)
        except FileNotFoundError:
            return None
        except Exception as exc:  # a damaged cache is no reason to close either
            log.warning("ical cache %s is not usable: %s", self._cache_file, exc)
            return None

    def _save(self, data: bytes) -> None:
        if self._cache_file is None:
            return
        # Written aside and renamed, so a crash never leaves half a calendar behind.
        try:
            self._cache_file.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(
                dir=self._cache_file.parent, prefix=f".{self._cache_file.name}."
            )
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(data)
                os.replace(temporary, self._cache_file)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as exc:
            log.warning("ical cache %s cannot be written: %s", self._cache_file, exc)

"""The calendar feed: closures from an iCalendar file or URL, and a calendar that cannot be
had never closes the line: the last good copy stays, or there are no calendar closures."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from switchboard import calendar_feed
from switchboard.calendar_feed import CalendarFeed, read_source
from switchboard.core.schedule import Schedule, parse_schedule

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=AMS)
OUTING = datetime(2026, 6, 12, 10, 0, tzinfo=AMS)  # a Friday
TRAINING = datetime(2026, 6, 19, 10, 0, tzinfo=AMS)  # the Friday after


def calendar(*events: tuple[str, str]) -> bytes:
    """A calendar of all-day events, each (YYYYMMDD, summary)."""
    body = "".join(
        f"BEGIN:VEVENT\r\nUID:{day}@example\r\nDTSTART;VALUE=DATE:{day}\r\n"
        f"SUMMARY:{summary}\r\nEND:VEVENT\r\n"
        for day, summary in events
    )
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\n{body}END:VCALENDAR\r\n"
    ).encode()


def office(source: object, **extra: object) -> Schedule:
    weekdays = ("monday", "tuesday", "wednesday", "thursday", "friday")
    return parse_schedule(
        "reception",
        {**{day: ["08:30-17:30"] for day in weekdays}, "ical": source, **extra},
    )


@dataclass
class Served:
    status: int = 200
    body: bytes = b""
    requests: int = 0


@pytest.fixture
def calendar_server() -> Iterator[tuple[str, Served]]:
    """An HTTP server on 127.0.0.1 serving ``Served.body`` with ``Served.status``."""
    served = Served()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests += 1
            self.send_response(served.status)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("Content-Length", str(len(served.body)))
            self.end_headers()
            self.wfile.write(served.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/closures.ics", served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_a_file_source_closes_the_line_on_its_events(tmp_path: Path) -> None:
    path = tmp_path / "closures.ics"
    path.write_bytes(calendar(("20260612", "Company outing")))
    feed = CalendarFeed(office(str(path)))
    assert feed.schedule.state_at(OUTING).open  # nothing read yet
    assert feed.refresh(NOW)
    state = feed.schedule.state_at(OUTING)
    assert (state.open, state.reason, state.route) == (
        False,
        "calendar: Company outing",
        "voicemail",
    )
    assert feed.last_error is None and feed.last_success == NOW
    as_url = CalendarFeed(office(path.as_uri()))
    assert as_url.refresh(NOW) and not as_url.schedule.state_at(OUTING).open


def test_a_url_source_keeps_its_last_good_copy_through_failed_refreshes(
    calendar_server: tuple[str, Served],
) -> None:
    url, served = calendar_server
    feed = CalendarFeed(office(url, closed_route="callback"))
    served.body = calendar(("20260612", "Company outing"))
    assert feed.refresh(NOW)
    assert feed.schedule.state_at(OUTING).route == "callback"

    served.status = 500
    assert not feed.refresh(NOW + timedelta(minutes=15))
    assert feed.last_error is not None and "500" in feed.last_error and url in feed.last_error
    assert feed.schedule.state_at(OUTING).reason == "calendar: Company outing"

    served.status, served.body = 200, b"<html>maintenance</html>"
    assert not feed.refresh(NOW + timedelta(minutes=30))
    assert feed.last_error is not None and "not an iCalendar file" in feed.last_error
    assert not feed.schedule.state_at(OUTING).open
    assert feed.last_success == NOW

    served.body = calendar(("20260619", "Training"))
    assert feed.refresh(NOW + timedelta(minutes=45))
    assert feed.schedule.state_at(OUTING).open  # the new copy replaces the old one
    assert feed.schedule.state_at(TRAINING).reason == "calendar: Training"
    assert feed.last_error is None


def test_without_a_good_copy_a_failed_fetch_means_no_calendar_closures(
    calendar_server: tuple[str, Served],
) -> None:
    url, served = calendar_server
    served.status = 404
    feed = CalendarFeed(office(url))
    assert not feed.refresh(NOW)
    state = feed.schedule.state_at(OUTING)
    assert (state.open, state.reason) == (True, "weekly hours")  # never closed by the failure
    assert feed.last_error is not None and "404" in feed.last_error


def test_a_calendar_that_conflicts_with_the_schedule_is_not_used(
    calendar_server: tuple[str, Served],
) -> None:
    url, served = calendar_server
    feed = CalendarFeed(office({"source": url, "route": "urgent"}, holidays="NL"))
    served.body = calendar(("20260612", "Company outing"))
    assert feed.refresh(NOW)
    served.body = calendar(("20260612", "Company outing"), ("20261225", "Christmas party"))
    assert not feed.refresh(NOW)
    assert feed.last_error is not None
    assert "Christmas party" in feed.last_error and "Eerste kerstdag" in feed.last_error
    assert feed.schedule.state_at(OUTING).route == "urgent"  # the copy before it stays
    christmas = feed.schedule.state_at(datetime(2026, 12, 25, 10, 0, tzinfo=AMS))
    assert christmas.reason == "holiday: Eerste kerstdag"


def test_the_saved_copy_is_used_after_a_restart_while_the_calendar_is_down(
    calendar_server: tuple[str, Served], tmp_path: Path
) -> None:
    url, served = calendar_server
    cache = tmp_path / "cache" / "reception.ics"
    served.body = calendar(("20260612", "Company outing"))
    assert CalendarFeed(office(url), cache_file=cache).refresh(NOW)
    assert cache.read_bytes() == served.body

    served.status = 503
    restarted = CalendarFeed(office(url), cache_file=cache)
    assert not restarted.refresh(NOW)
    assert restarted.schedule.state_at(OUTING).reason == "calendar: Company outing"
    assert restarted.last_success is None  # not fetched: from the saved copy

    cache.write_bytes(b"garbage")
    damaged = CalendarFeed(office(url), cache_file=cache)
    assert not damaged.refresh(NOW)
    assert damaged.schedule.state_at(OUTING).open


def test_the_last_good_copy_is_expanded_again_as_time_moves_on(
    calendar_server: tuple[str, Served],
) -> None:
    url, served = calendar_server
    served.body = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\nBEGIN:VEVENT\r\n"
        b"UID:anniversary@example\r\nDTSTART;VALUE=DATE:20260612\r\n"
        b"RRULE:FREQ=YEARLY\r\nSUMMARY:Anniversary\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    feed = CalendarFeed(office(url))
    assert feed.refresh(NOW)
    in_two_years = datetime(2028, 6, 12, 10, 0, tzinfo=AMS)  # a Monday, beyond the window
    assert feed.schedule.state_at(in_two_years).open
    served.status = 500
    assert not feed.refresh(datetime(2027, 12, 1, 9, 0, tzinfo=AMS))
    assert feed.schedule.state_at(in_two_years).reason == "calendar: Anniversary"


def test_a_calendar_server_that_never_answers_times_out() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never answers
    try:
        feed = CalendarFeed(
            office(f"http://127.0.0.1:{silent.getsockname()[1]}/closures.ics"), timeout=0.3
        )
        started = time.monotonic()
        assert not feed.refresh(NOW)
        assert time.monotonic() - started < 5
        assert feed.last_error is not None and "timed out" in feed.last_error
        assert feed.schedule.state_at(OUTING).open
    finally:
        silent.close()


def test_an_oversized_source_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "closures.ics"
    path.write_bytes(calendar(("20260612", "Company outing")))
    monkeypatch.setattr(calendar_feed, "MAX_BYTES", 100)
    with pytest.raises(ValueError, match="larger than 100 bytes"):
        read_source(str(path), 1.0)


def test_a_repeated_failure_is_logged_once(
    calendar_server: tuple[str, Served], caplog: pytest.LogCaptureFixture
) -> None:
    url, served = calendar_server
    served.status = 500
    feed = CalendarFeed(office(url))
    with caplog.at_level(logging.DEBUG, logger="switchboard.calendar_feed"):
        for minute in range(3):
            feed.refresh(NOW + timedelta(minutes=minute))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "no calendar closures until it reads" in warnings[0].message
    assert served.requests == 3


async def test_keep_fresh_refreshes_on_the_interval_and_retries_sooner_after_a_failure() -> None:
    answers = [calendar(("20260612", "Company outing")), None, calendar()]
    read_count = 0

    def read(source: str, timeout: float) -> bytes:
        nonlocal read_count
        answer = answers[read_count]
        read_count += 1
        if answer is None:
            raise OSError("connection refused")
        return answer

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            raise asyncio.CancelledError

    feed = CalendarFeed(
        office({"source": "https://x.example/c.ics", "refresh_minutes": 30}),
        read=read,
    )
    with pytest.raises(asyncio.CancelledError):
        await feed.keep_fresh(lambda: NOW, sleep=sleep)
    assert waits == [30 * 60, 60, 30 * 60]
    assert feed.schedule.state_at(OUTING).open  # the last copy read has no events


def test_a_schedule_without_an_ical_source_has_no_feed() -> None:
    with pytest.raises(ValueError, match=r"\[hours\.reception\] has no ical source"):
        CalendarFeed(parse_schedule("reception", {}))

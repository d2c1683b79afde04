"""Opening hours and holidays: when a line is open, why, where a closed line sends callers,
and when that changes, through DST, New Year, overnight ranges, holidays, iCalendar closures
and manual overrides; bad configuration is refused naming the key."""

from __future__ import annotations

import itertools
import textwrap
import tomllib
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from switchboard.core.schedule import (
    WEEKDAYS,
    CalendarError,
    Change,
    Closure,
    ClosureKind,
    OpenState,
    Override,
    Schedule,
    ScheduleError,
    closures_from_ical,
    describe,
    parse_schedule,
    reopening,
)

AMS = ZoneInfo("Europe/Amsterdam")
TICK = timedelta(microseconds=1)
OFFICE: dict[str, object] = {
    "monday": ["08:30-12:00", "13:00-17:30"],
    "tuesday": ["08:30-17:30"],
    "wednesday": ["08:30-17:30"],
    "thursday": ["08:30-17:30"],
    "friday": ["08:30-17:30"],
}


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, fold: int = 0
) -> datetime:
    """A wall time in Amsterdam (``fold=1``: the second reading in the October fold)."""
    return datetime(year, month, day, hour, minute, tzinfo=AMS, fold=fold)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def schedule(**table: object) -> Schedule:
    return parse_schedule("reception", table)


def office(**extra: object) -> Schedule:
    return parse_schedule("reception", {**OFFICE, **extra})


def moments(changes: list[Change]) -> list[tuple[datetime, bool]]:
    """The changes as (UTC instant, open): UTC, since aware datetimes of one zone compare
    by wall time, which cannot tell the two 02:30s of the October fold apart."""
    return [(change.at.astimezone(UTC), change.open) for change in changes]


def problems_of(table: dict[str, object]) -> list[str]:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule("reception", table)
    return caught.value.problems


# --- the documented format ----------------------------------------------------------------

EXAMPLE = """
[hours.reception]
timezone = "Europe/Amsterdam"
closed_route = "voicemail"
monday    = ["08:30-12:00", "13:00-17:30"]
tuesday   = ["08:30-17:30"]
wednesday = ["08:30-17:30"]
thursday  = ["08:30-17:30"]
friday    = ["08:30-16:00"]
sunday    = ["22:00-06:00"]          # the night line: Sunday 22:00 to Monday 06:00
holidays  = {country = "NL", open_on = ["Goede vrijdag"]}
closed = [
    {date = "2026-12-24", from = "12:00", reason = "Christmas Eve"},
    {date = 2026-12-31, reason = "New Year's Eve", route = "callback"},
    {date = "2026-07-27", through = "2026-08-07", reason = "summer break", route = "urgent"},
]
ical = {source = "https://calendar.example/closures.ics", route = "voicemail", refresh_minutes = 30}
"""


def test_the_documented_toml_example_reads_and_behaves_as_written() -> None:
    reception = parse_schedule("reception", tomllib.loads(EXAMPLE)["hours"]["reception"])

    assert reception.state_at(local(2026, 12, 24, 11, 0)).open
    eve = reception.state_at(local(2026, 12, 24, 12, 0))
    assert (eve.open, eve.reason, eve.route) == (False, "closed: Christmas Eve", "voicemail")
    new_years_eve = reception.state_at(local(2026, 12, 31, 10, 0))
    assert (new_years_eve.reason, new_years_eve.route) == ("closed: New Year's Eve", "callback")
    summer = reception.state_at(local(2026, 8, 3, 10, 0))
    assert (summer.route, summer.next_open) == ("urgent", local(2026, 8, 9, 22, 0))
    assert reception.state_at(local(2026, 4, 3, 10, 0)).open  # Goede vrijdag: open_on
    assert reception.calendar is not None
    assert reception.calendar.source == "https://calendar.example/closures.ics"
    assert reception.calendar.refresh == timedelta(minutes=30)


# --- weekly hours ---------------------------------------------------------------------------


def test_open_within_the_weekly_hours_until_the_range_ends() -> None:
    state = office().state_at(local(2026, 3, 2, 10, 0))  # a Monday
    assert state == OpenState(
        open=True, reason="weekly hours", route="", until=local(2026, 3, 2, 12, 0), next_open=None
    )


def test_closed_over_lunch_sends_callers_to_the_closed_route_and_says_when_it_opens() -> None:
    state = office(closed_route="callback").state_at(local(2026, 3, 2, 12, 30))
    assert (state.open, state.reason, state.route) == (False, "weekly hours", "callback")
    assert state.until == state.next_open == local(2026, 3, 2, 13, 0)


def test_a_range_is_half_open_open_at_its_start_closed_at_its_end() -> None:
    hours = office()
    assert not hours.state_at(local(2026, 3, 2, 8, 30) - TICK).open
    assert hours.state_at(local(2026, 3, 2, 8, 30)).open
    assert hours.state_at(local(2026, 3, 2, 17, 30) - TICK).open
    assert not hours.state_at(local(2026, 3, 2, 17, 30)).open


def test_touching_ranges_are_one_opening() -> None:
    hours = schedule(tuesday=["08:00-12:00", "12:00-17:00", "11:00-12:30"])
    assert hours.state_at(local(2026, 3, 3, 9, 0)).until == local(2026, 3, 3, 17, 0)
    assert moments(hours.changes(local(2026, 3, 3, 0, 0), days=1)) == [
        (local(2026, 3, 3, 8, 0).astimezone(UTC), True),
        (local(2026, 3, 3, 17, 0).astimezone(UTC), False),
    ]


def test_a_day_without_hours_is_closed_until_the_next_opening() -> None:
    state = office().state_at(local(2026, 3, 7, 11, 0))  # Saturday
    assert not state.open and state.next_open == local(2026, 3, 9, 8, 30)


def test_twenty_four_hundred_is_the_end_of_the_day() -> None:
    hours = schedule(friday=["18:00-24:00"], saturday=["00:00-02:00"])
    assert hours.state_at(local(2026, 3, 6, 23, 59)).until == local(2026, 3, 7, 2, 0)


def test_an_overnight_range_runs_from_sunday_night_into_monday() -> None:
    hours = office(sunday=["22:00-06:00"])
    sunday_night = hours.state_at(local(2026, 3, 1, 23, 0))
    assert sunday_night.open and sunday_night.until == local(2026, 3, 2, 6, 0)
    assert hours.state_at(local(2026, 3, 2, 5, 59)).open
    early_monday = hours.state_at(local(2026, 3, 2, 6, 0))
    assert not early_monday.open and early_monday.next_open == local(2026, 3, 2, 8, 30)
    opens_closes = [(c.at, c.open) for c in hours.changes(local(2026, 3, 1, 12, 0), days=1)]
    assert opens_closes == [
        (local(2026, 3, 1, 22, 0), True),
        (local(2026, 3, 2, 6, 0), False),
        (local(2026, 3, 2, 8, 30), True),
    ]


def test_an_overnight_range_joins_the_next_mornings_hours() -> None:
    hours = schedule(sunday=["22:00-06:00"], monday=["06:00-12:00"])
    assert hours.state_at(local(2026, 3, 1, 22, 0)).until == local(2026, 3, 2, 12, 0)


# --- daylight saving time -------------------------------------------------------------------


def test_dst_gap_a_range_over_the_missing_hour_is_one_real_hour() -> None:
    # 2026-03-29, Europe/Amsterdam: at 02:00 the clocks jump to 03:00.
    hours = schedule(sunday=["02:00-04:00"])
    changes = hours.changes(local(2026, 3, 29, 0, 0), days=1)
    assert moments(changes) == [(utc(2026, 3, 29, 1, 0), True), (utc(2026, 3, 29, 2, 0), False)]
    assert [c.at.strftime("%H:%M %Z") for c in changes] == ["03:00 CEST", "04:00 CEST"]


def test_dst_gap_a_range_starting_in_the_missing_hour_starts_at_three() -> None:
    hours = schedule(sunday=["02:30-05:00"])
    before = hours.state_at(local(2026, 3, 29, 1, 59))
    assert not before.open
    assert before.next_open == local(2026, 3, 29, 3, 0)
    assert before.next_open is not None and before.next_open.astimezone(UTC) == utc(
        2026, 3, 29, 1, 0
    )


def test_dst_gap_a_range_inside_the_missing_hour_never_opens_that_day() -> None:
    hours = schedule(sunday=["02:00-03:00"])
    assert hours.changes(local(2026, 3, 29, 0, 0), days=1) == []
    # A week later the hour exists again.
    assert moments(hours.changes(local(2026, 4, 5, 0, 0), days=1)) == [
        (utc(2026, 4, 5, 0, 0), True),
        (utc(2026, 4, 5, 1, 0), False),
    ]


def test_dst_fold_a_range_ending_at_half_past_two_ends_at_the_first_half_past_two() -> None:
    # 2026-10-25: 03:00 CEST becomes 02:00 CET, so 02:00-03:00 happens twice.
    hours = schedule(sunday=["00:00-02:30"])
    first_quarter_past = local(2026, 10, 25, 2, 15, fold=0)
    state = hours.state_at(first_quarter_past)
    assert state.open and state.until is not None
    assert state.until.astimezone(UTC) == utc(2026, 10, 25, 0, 30)  # 02:30 CEST
    assert not hours.state_at(local(2026, 10, 25, 2, 15, fold=1)).open  # the second 02:15


def test_dst_fold_a_range_starting_in_the_repeated_hour_starts_at_its_first_reading() -> None:
    hours = schedule(sunday=["02:30-04:00"])
    assert moments(hours.changes(local(2026, 10, 25, 0, 0), days=1)) == [
        (utc(2026, 10, 25, 0, 30), True),  # the first 02:30 (CEST)
        (utc(2026, 10, 25, 3, 0), False),  # 04:00 CET: open 2.5 real hours
    ]


def test_changes_across_the_dst_weekend_keep_the_wall_clock_hours() -> None:
    changes = office().changes(local(2026, 3, 27, 0, 0), days=4)
    assert [(c.at.strftime("%a %H:%M %Z"), c.open) for c in changes] == [
        ("Fri 08:30 CET", True),
        ("Fri 17:30 CET", False),
        ("Mon 08:30 CEST", True),
        ("Mon 12:00 CEST", False),
        ("Mon 13:00 CEST", True),
        ("Mon 17:30 CEST", False),
    ]


# --- holidays -------------------------------------------------------------------------------


def test_kings_day_moves_to_the_26th_when_the_27th_is_a_sunday() -> None:
    # 2025-04-27 is a Sunday: Koningsdag is Saturday the 26th.
    hours = schedule(saturday=["10:00-16:00"], sunday=["10:00-16:00"], holidays="NL")
    saturday = hours.state_at(local(2025, 4, 26, 11, 0))
    assert (saturday.open, saturday.reason) == (False, "holiday: Koningsdag")
    assert hours.state_at(local(2025, 4, 27, 11, 0)).open
    monday = office(holidays="NL").state_at(local(2026, 4, 27, 9, 0))  # in 2026 the 27th
    assert (monday.open, monday.reason) == (False, "holiday: Koningsdag")


def test_a_holiday_on_a_weekend_closes_weekend_hours_and_names_itself() -> None:
    # Christmas 2027 falls on a Saturday, Second Christmas Day on the Sunday.
    weekend = office(saturday=["10:00-14:00"], holidays="NL")
    assert weekend.state_at(local(2027, 12, 18, 11, 0)).open  # an ordinary Saturday
    christmas = weekend.state_at(local(2027, 12, 25, 11, 0))
    assert (christmas.open, christmas.reason) == (False, "holiday: Eerste kerstdag")
    assert christmas.next_open == local(2027, 12, 27, 8, 30)
    sunday = office(holidays="NL").state_at(local(2027, 12, 26, 11, 0))
    assert sunday.reason == "holiday: Tweede kerstdag"


def test_new_year_a_half_day_on_new_years_eve_then_the_holiday_then_the_weekend() -> None:
    hours = office(
        holidays="NL",
        closed=[
            {"date": "2026-12-31", "from": "12:00", "reason": "oliebollen", "route": "callback"}
        ],
    )
    morning = hours.state_at(local(2026, 12, 31, 11, 0))
    assert morning.open and morning.until == local(2026, 12, 31, 12, 0)
    afternoon = hours.state_at(local(2026, 12, 31, 12, 0))
    assert (afternoon.reason, afternoon.route) == ("closed: oliebollen", "callback")
    assert afternoon.next_open == local(2027, 1, 4, 8, 30)  # Friday 1 January: holiday
    new_year = hours.state_at(local(2027, 1, 1, 10, 0))
    assert (new_year.open, new_year.reason) == (False, "holiday: Nieuwjaarsdag")
    changes = hours.changes(local(2026, 12, 31, 0, 0), days=5)
    assert [(c.at, c.open, c.route) for c in changes[:3]] == [
        (local(2026, 12, 31, 8, 30), True, ""),
        (local(2026, 12, 31, 12, 0), False, "callback"),
        (local(2027, 1, 4, 8, 30), True, ""),
    ]


def test_an_overnight_range_into_new_years_day_stops_at_midnight() -> None:
    hours = schedule(thursday=["22:00-06:00"], holidays="NL")
    night = hours.state_at(local(2026, 12, 31, 23, 0))
    assert night.open and night.until == local(2027, 1, 1, 0, 0)
    assert hours.state_at(local(2027, 1, 1, 0, 0)).reason == "holiday: Nieuwjaarsdag"


def test_open_on_keeps_a_holiday_a_working_day() -> None:
    good_friday = local(2026, 4, 3, 10, 0)
    assert not office(holidays="NL").state_at(good_friday).open
    kept_open = office(holidays={"country": "NL", "open_on": ["Goede Vrijdag"]})
    assert kept_open.state_at(good_friday).open
    assert not kept_open.state_at(local(2026, 4, 6, 10, 0)).open  # Easter Monday still closed


def test_holiday_names_in_another_language_and_their_own_route() -> None:
    hours = office(holidays={"country": "nl", "language": "en_US", "route": "urgent"})
    state = hours.state_at(local(2026, 4, 27, 9, 0))
    assert (state.reason, state.route) == ("holiday: King's Day", "urgent")


def test_a_subdivision_has_its_own_holidays() -> None:
    epiphany = local(2026, 1, 6, 10, 0)  # a public holiday in Bavaria, not in Berlin
    assert not office(holidays={"country": "DE", "subdivision": "by"}).state_at(epiphany).open
    assert office(holidays={"country": "DE", "subdivision": "BE"}).state_at(epiphany).open


# --- listed closures --------------------------------------------------------------------------


def test_a_listed_closure_beats_the_weekly_hours() -> None:
    hours = office(closed=[{"date": "2026-06-12", "reason": "company outing", "route": "urgent"}])
    state = hours.state_at(local(2026, 6, 12, 10, 0))
    assert (state.open, state.reason, state.route) == (False, "closed: company outing", "urgent")
    assert state.next_open == local(2026, 6, 15, 8, 30)


def test_a_closure_until_a_time_opens_late() -> None:
    hours = office(closed=[{"date": "2026-06-12", "until": "10:00"}])
    state = hours.state_at(local(2026, 6, 12, 9, 0))
    assert state.reason == "closed: 2026-06-12 until 10:00"
    assert state.next_open == local(2026, 6, 12, 10, 0)


def test_plain_dates_and_toml_dates_close_whole_days() -> None:
    hours = office(closed=["2026-06-11", date(2026, 6, 12)])
    assert hours.state_at(local(2026, 6, 11, 9, 0)).next_open == local(2026, 6, 15, 8, 30)


def test_toml_local_times_work_for_from_and_until() -> None:
    table = tomllib.loads("closed = [{date = 2026-06-12, from = 12:00:00, until = 14:00:00}]")
    hours = office(**table)
    assert hours.state_at(local(2026, 6, 12, 12, 0)).next_open == local(2026, 6, 12, 14, 0)


# --- manual overrides -------------------------------------------------------------------------


def staff_meeting(**changes: Any) -> Override:
    values: dict[str, Any] = {
        "open": False,
        "reason": "staff meeting",
        "until": local(2026, 3, 3, 14, 0),
        "by": "anna",
        "at": local(2026, 3, 3, 13, 0),
    }
    values.update(changes)
    return Override(**values)


def test_a_closed_override_beats_the_weekly_hours_until_it_ends() -> None:
    hours = office()
    state = hours.state_at(local(2026, 3, 3, 13, 30), staff_meeting())
    assert state == OpenState(
        open=False,
        reason="override by anna: staff meeting",
        route="voicemail",
        until=local(2026, 3, 3, 14, 0),
        next_open=local(2026, 3, 3, 14, 0),
    )
    assert hours.state_at(local(2026, 3, 3, 14, 0), staff_meeting()).open


def test_until_is_when_the_line_opens_not_when_the_override_ends() -> None:
    # Closed from 11:00 until 12:30; lunch is closed anyway until 13:00.
    meeting = staff_meeting(at=local(2026, 3, 2, 11, 0), until=local(2026, 3, 2, 12, 30))
    state = office().state_at(local(2026, 3, 2, 11, 30), meeting)
    assert state.next_open == local(2026, 3, 2, 13, 0)
    lunch = office().state_at(local(2026, 3, 2, 12, 45), meeting)
    assert lunch.reason == "weekly hours"


def test_an_open_override_opens_on_a_holiday() -> None:
    hours = office(holidays="NL")
    opened = Override(
        open=True,
        reason="King's Day sale",
        until=local(2026, 4, 27, 16, 0),
        by="bert",
        at=local(2026, 4, 27, 9, 0),
    )
    state = hours.state_at(local(2026, 4, 27, 10, 0), opened)
    assert (state.open, state.reason, state.route) == (
        True,
        "override by bert: King's Day sale",
        "",
    )
    assert state.until == local(2026, 4, 27, 16, 0)
    assert hours.state_at(local(2026, 4, 27, 16, 0), opened).reason == "holiday: Koningsdag"


def test_an_override_applies_from_when_it_was_made_until_it_ends_only() -> None:
    hours = office()
    assert hours.state_at(local(2026, 3, 3, 12, 59), staff_meeting()).reason == "weekly hours"
    assert hours.state_at(local(2026, 3, 3, 15, 0), staff_meeting()).reason == "weekly hours"


def test_a_closed_override_can_send_callers_elsewhere() -> None:
    state = office().state_at(local(2026, 3, 3, 13, 30), staff_meeting(route="urgent"))
    assert state.route == "urgent"


def test_an_override_that_ends_before_it_starts_or_is_naive_is_refused() -> None:
    with pytest.raises(ValueError, match=r"Override\.until"):
        staff_meeting(until=local(2026, 3, 3, 12, 0))
    with pytest.raises(ValueError, match=r"Override\.at: expected a timezone-aware"):
        staff_meeting(at=datetime(2026, 3, 3, 13, 0))
    with pytest.raises(ValueError, match=r"Override\.route"):
        staff_meeting(route="voice mail")


def test_overrides_show_in_the_list_of_changes() -> None:
    changes = office().changes(local(2026, 3, 3, 12, 0), days=1, override=staff_meeting())
    assert [(c.at, c.open, c.reason) for c in changes] == [
        (local(2026, 3, 3, 13, 0), False, "override by anna: staff meeting"),
        (local(2026, 3, 3, 14, 0), True, "weekly hours"),
        (local(2026, 3, 3, 17, 30), False, "weekly hours"),
        (local(2026, 3, 4, 8, 30), True, "weekly hours"),
    ]


# --- conflicts --------------------------------------------------------------------------------


def test_a_listed_closure_on_a_holiday_with_another_route_names_both_rules() -> None:
    [problem] = problems_of(
        {**OFFICE, "holidays": "NL", "closed": [{"date": "2026-04-27", "route": "callback"}]}
    )
    assert problem.startswith("[hours.reception] ")
    assert "closed[0] on 2026-04-27" in problem and "'callback'" in problem
    assert "holidays NL: Koningsdag on 2026-04-27" in problem and "'voicemail'" in problem


def test_a_listed_closure_on_a_holiday_with_the_same_route_is_fine_and_named() -> None:
    hours = office(holidays="NL", closed=[{"date": "2026-04-27", "reason": "stocktaking"}])
    assert hours.state_at(local(2026, 4, 27, 10, 0)).reason == "closed: stocktaking"


def test_a_half_day_on_a_holiday_with_another_route_is_a_conflict_too() -> None:
    problems = problems_of(
        {"holidays": "NL", "closed": [{"date": "2027-12-25", "from": "12:00", "route": "urgent"}]}
    )
    assert len(problems) == 1 and "Eerste kerstdag" in problems[0]


def test_two_listed_closures_that_overlap_with_different_routes_name_both() -> None:
    [problem] = problems_of(
        {
            "closed": [
                {"date": "2026-07-27", "through": "2026-08-07", "route": "urgent"},
                {"date": "2026-08-03", "reason": "audit", "route": "callback"},
            ]
        }
    )
    assert "closed[0] on 2026-07-27 through 2026-08-07" in problem
    assert "closed[1] on 2026-08-03 ('audit')" in problem


def test_closures_that_only_touch_do_not_conflict() -> None:
    hours = office(holidays="NL", closed=[{"date": "2026-12-24", "route": "callback"}])
    assert hours.state_at(local(2026, 12, 24, 23, 59)).route == "callback"
    assert hours.state_at(local(2026, 12, 25, 0, 0)).route == "voicemail"


# --- invalid configuration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            {"monday": ["8:30-25:00"]},
            "[hours.reception] monday: '8:30-25:00' is not a time range",
        ),
        ({"tuesday": ["8:60-17:00"]}, "tuesday: '8:60-17:00' is not a time range"),
        ({"tuesday": ["0830-1700"]}, "tuesday: '0830-1700' is not a time range"),
        ({"tuesday": ["08:30"]}, "tuesday: '08:30' is not a time range"),
        ({"tuesday": ["24:00-08:00"]}, "tuesday: '24:00-08:00' is not a time range"),
        ({"wednesday": ["08:00-08:00"]}, "wednesday: '08:00-08:00' ends when it starts"),
        ({"monday": 8}, "monday: expected a list of time ranges"),
        ({"munday": ["08:00-17:00"]}, "munday: unknown key (did you mean"),
        ({"timezone": "Europe/Amsterdm"}, "timezone: 'Europe/Amsterdm' is not an IANA time zone"),
        ({"timezone": "localtime"}, "timezone: 'localtime' is not an IANA time zone name"),
        ({"timezone": "Europe"}, "timezone: 'Europe' is not an IANA time zone name"),
        ({"timezone": 1}, "timezone: expected an IANA time zone name"),
        ({"closed": [{"date": "12-31"}]}, "closed[0].date: '12-31' is not a date with its year"),
        ({"closed": ["31-12-2026"]}, "closed[0].date: '31-12-2026' is not a date with its year"),
        ({"closed": [{"date": "2026-02-30"}]}, "closed[0].date: '2026-02-30' is not a date"),
        ({"closed": [{"reason": "x"}]}, "closed[0].date: missing"),
        ({"closed": [{"date": "2026-06-12", "form": "12:00"}]}, "closed[0].form: unknown key"),
        (
            {"closed": [{"date": "2026-06-12", "from": "14:00", "until": "12:00"}]},
            "closed[0]: closes nothing: 2026-06-12 from 14:00 until 12:00 ends before it starts",
        ),
        ({"closed": [{"date": "2026-06-12", "from": "25:00"}]}, "closed[0].from: '25:00' is not"),
        ({"closed": {"date": "2026-06-12"}}, "closed: expected a list"),
        ({"closed_route": "voice mail"}, "closed_route: 'voice mail' is not a route name"),
        ({"closed": [{"date": "2026-06-12", "route": ""}]}, "closed[0].route: '' is not a route"),
        ({"holidays": "XX"}, "holidays: 'XX' is not a country the holidays package knows"),
        ({"holidays": {"country": "NL", "language": "de"}}, "holidays.language: 'de' is not"),
        ({"holidays": {"country": "DE", "subdivision": "ZZ"}}, "holidays.subdivision: 'ZZ'"),
        (
            {"holidays": {"country": "NL", "open_on": ["Carnaval"]}},
            "holidays.open_on: 'Carnaval' is not a holiday of NL (known: Bevrijdingsdag",
        ),
        ({"holidays": 31}, "holidays: expected a country code"),
        ({"ical": "closures.ics"}, "ical: 'closures.ics' is neither an http(s) or webcal URL"),
        (
            {"ical": {"source": "/etc/switchboard/closures.ics", "refresh_minutes": 0}},
            "ical.refresh_minutes: expected a whole number from 1 to 1440, got 0",
        ),
        ({"ical": {"url": "https://x.example/a.ics"}}, "ical.url: unknown key"),
    ],
)
def test_a_bad_value_is_refused_naming_its_key(table: dict[str, object], expected: str) -> None:
    problems = problems_of(table)
    assert any(expected in problem for problem in problems), problems
    assert all(problem.startswith("[hours.reception] ") for problem in problems)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(
            "sales",
            {"timezone": "Mars/Olympus", "monday": ["9-17"], "closed": [{"date": "06-12"}]},
        )
    message = str(caught.value)
    assert len(caught.value.problems) == 3
    assert "[hours.sales] timezone:" in message and "[hours.sales] monday:" in message
    assert "[hours.sales] closed[0].date:" in message
    assert isinstance(caught.value, ValueError)


def test_instants_without_a_zone_are_refused() -> None:
    with pytest.raises(ValueError, match="instant: expected a timezone-aware datetime"):
        office().state_at(datetime(2026, 3, 2, 10, 0))
    with pytest.raises(ValueError, match="days: expected a whole number"):
        office().changes(local(2026, 3, 2, 10, 0), days=0)


# --- iCalendar ------------------------------------------------------------------------------


def ics(*events: str) -> str:
    body = "\n".join(textwrap.dedent(event).strip() for event in events)
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//switchboard tests//EN\n{body}\nEND:VCALENDAR\n"


TEAM_LUNCH = """
    BEGIN:VEVENT
    UID:lunch@example
    DTSTART;TZID=Europe/Amsterdam:20260302T120000
    DTEND;TZID=Europe/Amsterdam:20260302T130000
    RRULE:FREQ=WEEKLY;COUNT=6
    SUMMARY:Team lunch
    END:VEVENT
"""
YEAR = (local(2026, 1, 1), local(2027, 1, 1))


def starts(closures: list[Closure]) -> list[datetime]:
    return [closure.start.astimezone(AMS) for closure in closures]


def test_ical_rrule_gives_a_closure_per_occurrence_in_the_window() -> None:
    closures = closures_from_ical(ics(TEAM_LUNCH), *YEAR, AMS, route="callback")
    # Six Mondays at 12:00 wall time, across the DST change of 29 March.
    assert starts(closures) == [local(2026, 3, d, 12, 0) for d in (2, 9, 16, 23, 30)] + [
        local(2026, 4, 6, 12, 0)
    ]
    assert {c.reason for c in closures} == {"calendar: Team lunch"}
    assert {c.route for c in closures} == {"callback"}
    assert closures[-1].end - closures[-1].start == timedelta(hours=1)
    assert starts(
        closures_from_ical(ics(TEAM_LUNCH), local(2026, 3, 10), local(2026, 3, 24), AMS)
    ) == [
        local(2026, 3, 16, 12, 0),
        local(2026, 3, 23, 12, 0),
    ]


def test_ical_exdate_leaves_an_occurrence_out() -> None:
    event = TEAM_LUNCH.replace("RRULE", "EXDATE;TZID=Europe/Amsterdam:20260316T120000\n    RRULE")
    assert local(2026, 3, 16, 12, 0) not in starts(closures_from_ical(ics(event), *YEAR, AMS))
    assert len(closures_from_ical(ics(event), *YEAR, AMS)) == 5


def test_ical_recurrence_id_moves_one_occurrence() -> None:
    moved = """
        BEGIN:VEVENT
        UID:lunch@example
        RECURRENCE-ID;TZID=Europe/Amsterdam:20260323T120000
        DTSTART;TZID=Europe/Amsterdam:20260324T150000
        DTEND;TZID=Europe/Amsterdam:20260324T160000
        SUMMARY:Team lunch (moved to Tuesday)
        END:VEVENT
    """
    closures = closures_from_ical(ics(TEAM_LUNCH, moved), *YEAR, AMS)
    assert local(2026, 3, 23, 12, 0) not in starts(closures)
    [tuesday] = [c for c in closures if c.start == local(2026, 3, 24, 15, 0)]
    assert tuesday.reason == "calendar: Team lunch (moved to Tuesday)"
    assert len(closures) == 6


def test_ical_tzid_times_are_converted() -> None:
    new_york = """
        BEGIN:VEVENT
        UID:ny@example
        DTSTART;TZID=America/New_York:20260610T090000
        DTEND;TZID=America/New_York:20260610T100000
        SUMMARY:Board meeting in New York
        END:VEVENT
    """
    [closure] = closures_from_ical(ics(new_york), *YEAR, AMS)
    assert closure.start == utc(2026, 6, 10, 13, 0)  # 09:00 EDT is 15:00 in Amsterdam
    assert closure.start.astimezone(AMS).hour == 15


def test_ical_tzid_from_a_vtimezone_of_its_own_outlook_style() -> None:
    outlook = """
        BEGIN:VTIMEZONE
        TZID:W. Europe Standard Time
        BEGIN:STANDARD
        DTSTART:16010101T030000
        TZOFFSETFROM:+0200
        TZOFFSETTO:+0100
        RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
        END:STANDARD
        BEGIN:DAYLIGHT
        DTSTART:16010101T020000
        TZOFFSETFROM:+0100
        TZOFFSETTO:+0200
        RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
        END:DAYLIGHT
        END:VTIMEZONE
        BEGIN:VEVENT
        UID:outlook@example
        DTSTART;TZID=W. Europe Standard Time:20260615T120000
        DTEND;TZID=W. Europe Standard Time:20260615T130000
        SUMMARY:Heidag
        END:VEVENT
    """
    [closure] = closures_from_ical(ics(outlook), *YEAR, AMS)
    assert closure.start == utc(2026, 6, 15, 10, 0)


def test_ical_all_day_utc_and_floating_events() -> None:
    events = """
        BEGIN:VEVENT
        UID:outing@example
        DTSTART;VALUE=DATE:20260612
        DTEND;VALUE=DATE:20260614
        SUMMARY:Company outing
        END:VEVENT
        BEGIN:VEVENT
        UID:utc@example
        DTSTART:20260701T080000Z
        DTEND:20260701T090000Z
        SUMMARY:Fire drill
        END:VEVENT
        BEGIN:VEVENT
        UID:floating@example
        DTSTART:20260702T090000
        DTEND:20260702T100000
        SUMMARY:Training
        END:VEVENT
    """
    outing, drill, training = closures_from_ical(ics(events), *YEAR, AMS)
    assert (outing.start, outing.end) == (local(2026, 6, 12), local(2026, 6, 14))
    assert drill.start == utc(2026, 7, 1, 8, 0)
    assert training.start == local(2026, 7, 2, 9, 0)  # no zone: the schedule's


def test_ical_cancelled_and_instant_events_close_nothing() -> None:
    events = """
        BEGIN:VEVENT
        UID:cancelled@example
        DTSTART:20260701T080000Z
        DTEND:20260701T090000Z
        STATUS:CANCELLED
        SUMMARY:Called off
        END:VEVENT
        BEGIN:VEVENT
        UID:instant@example
        DTSTART:20260702T080000Z
        SUMMARY:Reminder
        END:VEVENT
    """
    assert closures_from_ical(ics(events), *YEAR, AMS) == []


def test_ical_that_cannot_be_read_is_a_calendar_error_naming_the_source() -> None:
    with pytest.raises(CalendarError, match=r"closures\.ics: not an iCalendar file"):
        closures_from_ical("this is not a calendar", *YEAR, AMS, source="closures.ics")
    broken_rule = TEAM_LUNCH.replace("FREQ=WEEKLY;COUNT=6", "FREQ=SOMETIMES")
    with pytest.raises(CalendarError, match=r"closures\.ics"):
        closures_from_ical(ics(broken_rule), *YEAR, AMS, source="closures.ics")


def test_calendar_closures_close_the_line_and_are_replaced_on_refresh() -> None:
    hours = office()
    on_tuesdays = TEAM_LUNCH.replace("20260302T", "20260303T")
    closures = closures_from_ical(ics(on_tuesdays), *YEAR, AMS, route="callback")
    with_lunch = hours.with_calendar_closures(closures)
    state = with_lunch.state_at(local(2026, 3, 10, 12, 30))
    assert (state.open, state.reason, state.route) == (False, "calendar: Team lunch", "callback")
    assert state.next_open == local(2026, 3, 10, 13, 0)
    # Even over the weekly lunch break, the calendar's reason and route are the ones given.
    mondays = hours.with_calendar_closures(closures_from_ical(ics(TEAM_LUNCH), *YEAR, AMS))
    assert mondays.state_at(local(2026, 3, 9, 12, 30)).reason == "calendar: Team lunch"
    assert hours.state_at(local(2026, 3, 9, 12, 30)).reason == "weekly hours"
    assert with_lunch.with_calendar_closures([]).state_at(local(2026, 3, 10, 12, 30)).open


def test_a_calendar_closure_that_conflicts_is_refused_naming_both() -> None:
    hours = office(holidays="NL")
    kings_day = """
        BEGIN:VEVENT
        UID:kd@example
        DTSTART;VALUE=DATE:20260427
        SUMMARY:Koningsdag borrel
        END:VEVENT
    """
    closures = closures_from_ical(ics(kings_day), *YEAR, AMS, route="urgent", source="closures.ics")
    with pytest.raises(ScheduleError) as caught:
        hours.with_calendar_closures(closures)
    assert "closures.ics event 'Koningsdag borrel' at 2026-04-27 00:00" in str(caught.value)
    assert "holidays NL: Koningsdag on 2026-04-27" in str(caught.value)
    same_route = closures_from_ical(ics(kings_day), *YEAR, AMS)
    reason = hours.with_calendar_closures(same_route).state_at(local(2026, 4, 27, 9, 0)).reason
    assert reason == "calendar: Koningsdag borrel"  # more specific than the holiday


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(1, 20),
    excluded=st.sets(st.integers(0, 19)),
    weekday_offset=st.integers(0, 6),
)
def test_ical_rrule_with_exdates_closes_exactly_the_remaining_occurrences(
    count: int, excluded: set[int], weekday_offset: int
) -> None:
    first = date(2026, 3, 2) + timedelta(days=weekday_offset)
    dropped = sorted(i for i in excluded if i < count)
    exdates = "".join(
        f"EXDATE;TZID=Europe/Amsterdam:{(first + timedelta(weeks=i)):%Y%m%d}T100000\n"
        for i in dropped
    )
    event = (
        "BEGIN:VEVENT\nUID:w@example\n"
        f"DTSTART;TZID=Europe/Amsterdam:{first:%Y%m%d}T100000\n"
        f"DTEND;TZID=Europe/Amsterdam:{first:%Y%m%d}T103000\n"
        f"RRULE:FREQ=WEEKLY;COUNT={count}\n{exdates}SUMMARY:stand-up\nEND:VEVENT"
    )
    closures = closures_from_ical(ics(event), *YEAR, AMS)
    expected = [
        local(day.year, day.month, day.day, 10, 0)
        for day in (first + timedelta(weeks=i) for i in range(count) if i not in dropped)
    ]
    assert starts(closures) == expected


# --- the board's words and the caller's sentence ----------------------------------------------


FRIDAY_EVENING = local(2026, 3, 6, 18, 0)


@pytest.mark.parametrize(
    ("now", "english", "dutch"),
    [
        (local(2026, 3, 2, 14, 0), "open until 17:30", "open tot 17:30"),
        (FRIDAY_EVENING, "closed, opens Monday 8:30", "gesloten, open maandag 8:30"),
        (local(2026, 3, 2, 12, 15), "closed, opens 13:00", "gesloten, open 13:00"),
        (local(2026, 3, 2, 19, 0), "closed, opens tomorrow 8:30", "gesloten, open morgen 8:30"),
        (
            local(2026, 12, 24, 12, 0),
            "closed, opens Monday 4 January 2027 8:30",
            "gesloten, open maandag 4 januari 2027 8:30",
        ),
    ],
)
def test_describe_for_the_board_in_english_and_dutch(
    now: datetime, english: str, dutch: str
) -> None:
    hours = office(
        holidays="NL", closed=[{"date": "2026-12-24", "through": "2026-12-31", "from": "12:00"}]
    )
    state = hours.state_at(now)
    assert describe(state, now, "en") == english
    assert describe(state, now, "nl-NL") == dutch


def test_describe_a_line_that_never_changes() -> None:
    always = schedule(**{day: ["00:00-24:00"] for day in WEEKDAYS})
    assert describe(always.state_at(FRIDAY_EVENING), FRIDAY_EVENING, "nl") == "open"
    never = schedule()
    assert describe(never.state_at(FRIDAY_EVENING), FRIDAY_EVENING, "en") == "closed"
    assert describe(never.state_at(FRIDAY_EVENING), FRIDAY_EVENING, "nl") == "gesloten"
    with pytest.raises(ValueError, match="language 'de'"):
        describe(never.state_at(FRIDAY_EVENING), FRIDAY_EVENING, "de")


def test_the_callers_sentence_as_parts_any_language_can_speak() -> None:
    state = office().state_at(FRIDAY_EVENING)
    again = reopening(state, FRIDAY_EVENING)
    assert again is not None
    # "we are open again on Monday at 8:30"
    assert (again.weekday, again.hour, again.minute, again.days_ahead) == (0, 8, 30, 3)
    assert again.timestamp == int(local(2026, 3, 9, 8, 30).timestamp())
    assert reopening(office().state_at(local(2026, 3, 2, 10, 0)), FRIDAY_EVENING) is None
    assert reopening(schedule().state_at(FRIDAY_EVENING), FRIDAY_EVENING) is None


# --- properties -------------------------------------------------------------------------------


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def time_ranges(draw: st.DrawFn) -> str:
    # Quarter hours hit the DST hour often; any minute now and then.
    step = draw(st.sampled_from([15, 15, 15, 1]))
    start = draw(st.integers(0, 1440 // step - 1)) * step
    end = draw(st.integers(0, 1440 // step).filter(lambda e: e * step != start)) * step
    return f"{hhmm(start)}-{hhmm(end)}"


def weekly_tables() -> st.SearchStrategy[dict[str, object]]:
    days = st.fixed_dictionaries(
        {}, optional={day: st.lists(time_ranges(), max_size=3) for day in WEEKDAYS}
    )
    return st.builds(
        lambda table, with_holidays: {**table, **({"holidays": "NL"} if with_holidays else {})},
        days,
        st.booleans(),
    )


@st.composite
def listed_closures(draw: st.DrawFn) -> dict[str, object]:
    first = draw(st.dates(date(2025, 12, 20), date(2027, 1, 10)))
    entry: dict[str, object] = {"date": first.isoformat()}
    if draw(st.booleans()):
        entry["from"] = hhmm(draw(st.integers(0, 95)) * 15)
    if draw(st.booleans()):
        entry["through"] = (first + timedelta(days=draw(st.integers(1, 3)))).isoformat()
    elif draw(st.booleans()) and "from" in entry:
        start = int(str(entry["from"])[:2]) * 60 + int(str(entry["from"])[3:])
        entry["until"] = hhmm(draw(st.integers(start // 15 + 1, 96)) * 15)
    return entry


DST_AND_NEW_YEAR = [utc(2026, 3, 29, 1, 0), utc(2026, 10, 25, 1, 0), utc(2026, 12, 31, 23, 0)]
instants = st.one_of(
    st.datetimes(datetime(2025, 12, 20), datetime(2027, 1, 10), timezones=st.just(UTC)),
    st.builds(
        lambda edge, minutes: edge + timedelta(minutes=minutes),
        st.sampled_from(DST_AND_NEW_YEAR),
        st.integers(-48 * 60, 48 * 60),
    ),
)


@st.composite
def overrides(draw: st.DrawFn, *, optional: bool = True) -> Override | None:
    if optional and draw(st.booleans()):
        return None
    made = draw(instants)
    return Override(
        open=draw(st.booleans()),
        reason="test",
        until=made + timedelta(minutes=draw(st.integers(1, 72 * 60))),
        by="hypothesis",
        at=made,
    )


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    table = draw(weekly_tables())
    # All on the default route, so a listed closure on a holiday is never a conflict.
    table["closed"] = draw(st.lists(listed_closures(), max_size=3))
    return parse_schedule("property", table)


def same_instant(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.astimezone(UTC) == b.astimezone(UTC)


PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(
    hours=schedules(),
    override=overrides(),
    start=instants,
    offsets=st.lists(st.integers(0, 3 * 24 * 3600 * 10**6 - 1), min_size=1, max_size=6),
)
def test_state_at_any_instant_agrees_with_the_list_of_changes(
    hours: Schedule, override: Override | None, start: datetime, offsets: list[int]
) -> None:
    changes = hours.changes(start, days=3, override=override)
    first = hours.state_at(start, override)
    for offset in offsets:
        instant = start + timedelta(microseconds=offset)
        earlier = [c for c in changes if c.at.astimezone(UTC) <= instant]
        later = [c for c in changes if c.at.astimezone(UTC) > instant]
        state = hours.state_at(instant, override)
        assert state.open == (earlier[-1].open if earlier else first.open)
        if later:
            assert same_instant(state.until, later[0].at)
        else:
            assert state.until is None or state.until >= start + timedelta(days=3)
        assert same_instant(state.next_open, None if state.open else state.until)
        assert (state.route == "") == state.open


@PROPERTY_SETTINGS
@given(hours=schedules(), override=overrides(), start=instants)
def test_every_change_is_half_open_in_force_at_its_instant_not_a_tick_before(
    hours: Schedule, override: Override | None, start: datetime
) -> None:
    changes = hours.changes(start, days=3, override=override)
    for before, after in itertools.pairwise(changes):
        # In UTC: Python orders two local times of one zone by the wall clock, fold ignored.
        assert before.open != after.open and before.at.astimezone(UTC) < after.at.astimezone(UTC)
    for change in changes:
        at = hours.state_at(change.at, override)
        assert (at.open, at.reason, at.route) == (change.open, change.reason, change.route)
        tick_before = change.at.astimezone(UTC) - TICK
        if tick_before >= start:
            assert hours.state_at(tick_before, override).open != change.open


@PROPERTY_SETTINGS
@given(hours=schedules(), override=overrides(), instant=instants)
def test_until_is_the_next_flip_and_the_state_holds_up_to_it(
    hours: Schedule, override: Override | None, instant: datetime
) -> None:
    state = hours.state_at(instant, override)
    if state.until is not None:
        assert state.until.astimezone(UTC) > instant
        assert hours.state_at(state.until, override).open != state.open
        # One tick before, counted in UTC: local arithmetic would step into the DST gap.
        assert hours.state_at(state.until.astimezone(UTC) - TICK, override).open == state.open
    if not state.open and state.next_open is not None:
        assert hours.state_at(state.next_open, override).open


@PROPERTY_SETTINGS
@given(
    hours=schedules(),
    instant=instants,
    zone=st.sampled_from(["UTC", "Asia/Tokyo", "America/Sao_Paulo"]),
)
def test_the_zone_an_instant_is_written_in_does_not_matter(
    hours: Schedule, instant: datetime, zone: str
) -> None:
    assert hours.state_at(instant) == hours.state_at(instant.astimezone(ZoneInfo(zone)))


@PROPERTY_SETTINGS
@given(hours=schedules(), override=overrides(optional=False), instant=instants)
def test_an_override_decides_while_it_lasts_and_nothing_else_changes(
    hours: Schedule, override: Override | None, instant: datetime
) -> None:
    assert override is not None
    with_it = hours.state_at(instant, override)
    if override.at <= instant < override.until:
        assert with_it.open == override.open
        assert with_it.reason == "override by hypothesis: test"
    else:
        assert with_it.open == hours.state_at(instant).open


def wall_clock_open(table: dict[str, object], instant: datetime) -> bool:
    """The table read the way a person reads it, for a day without a DST change."""
    wall = instant.astimezone(AMS)
    if "holidays" in table and wall.date() in holidays.country_holidays("NL", years=wall.year):
        return False
    second = wall.hour * 3600 + wall.minute * 60 + wall.second + wall.microsecond / 1e6
    today = WEEKDAYS[wall.weekday()]
    yesterday = WEEKDAYS[(wall.weekday() - 1) % 7]

    def bounds(text: object) -> tuple[int, int]:
        start, end = str(text).split("-")
        return tuple(int(h) * 3600 + int(m) * 60 for h, m in (start.split(":"), end.split(":")))  # type: ignore[return-value]

    ranges_today = table.get(today, [])
    ranges_yesterday = table.get(yesterday, [])
    assert isinstance(ranges_today, list) and isinstance(ranges_yesterday, list)
    for text in ranges_today:
        start, end = bounds(text)
        if (start <= second < end) if end > start else second >= start:
            return True
    for text in ranges_yesterday:
        start, end = bounds(text)
        if end <= start and second < end:
            return True
    return False


@PROPERTY_SETTINGS
@given(table=weekly_tables(), instant=instants)
def test_away_from_dst_days_the_state_is_what_the_table_says(
    table: dict[str, object], instant: datetime
) -> None:
    day = instant.astimezone(AMS).date()
    midnight = datetime(day.year, day.month, day.day, tzinfo=AMS)
    next_midnight = midnight + timedelta(days=1)
    assume(midnight.utcoffset() == next_midnight.utcoffset())
    hours = parse_schedule("property", table)
    assert hours.state_at(instant).open == wall_clock_open(table, instant)


def test_a_listed_closure_kind_and_rule_are_kept_for_the_board() -> None:
    hours = office(closed=[{"date": "2026-06-12", "reason": "outing"}])
    [closure] = hours.closures
    assert closure.kind is ClosureKind.LISTED
    assert closure.rule == "closed[0] on 2026-06-12 ('outing')"
    assert closure.start == local(2026, 6, 12) and closure.end == local(2026, 6, 13)

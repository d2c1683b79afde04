"""Place and wait, spoken (issue 13): what a waiting caller hears, and when.

The estimate is checked where a caller would notice it (a longer queue, fewer members, a
quiet morning with few calls), the announcement by what is said at which second. The
properties run derandomized and without an example database: the same on every machine.
"""

from __future__ import annotations

import math
from dataclasses import replace
from statistics import NormalDist

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.core.wait_estimate import (
    MAX_ENTRIES,
    Announcement,
    CallerState,
    HandleTimes,
    WaitEstimate,
    WaitSettings,
    announced_minutes,
    announcement,
    expected_wait,
)

SUITE = settings(deadline=None, max_examples=200, derandomize=True, database=None)
DEFAULTS = WaitSettings()
T0 = 1_800_000_000.0  # some epoch second; nothing reads the clock


def steady(handle_s: float = 120.0, calls: int = 10, *, ended_at: float = T0) -> HandleTimes:
    """A queue whose last ``calls`` calls each took ``handle_s``, ending just before T0."""
    times = HandleTimes()
    for i in range(calls):
        end = ended_at - (calls - i)
        times.answered(at=end - handle_s, waited_s=30.0)
        times.ended(answered_at=end - handle_s, ended_at=end)
    return times


def estimate(
    times: HandleTimes, ahead: int, members: int = 1, extra_ahead: int = 0
) -> WaitEstimate:
    result = expected_wait(times, ahead=ahead, members=members, now=T0, extra_ahead=extra_ahead)
    assert result is not None
    return result


def seconds(percentile_s: float) -> WaitEstimate:
    return WaitEstimate(percentile_s, percentile_s, "handle times")


# The estimate ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ahead", "members", "wait_s"),
    [
        (0, 1, 120.0),  # next in line, one member: one call to wait for
        (0, 2, 60.0),  # two members share it
        (3, 1, 480.0),  # three ahead: four calls
        (3, 2, 240.0),
        (5, 3, 240.0),  # six calls over three members
        (9, 2, 600.0),
    ],
)
def test_the_wait_is_callers_ahead_plus_one_over_members_times_handle_time(
    ahead: int, members: int, wait_s: float
) -> None:
    # Identical handle times: no spread, so the percentile is the formula itself.
    result = estimate(steady(120.0), ahead, members)
    assert result.basis == "handle times"
    assert result.expected_s == pytest.approx(wait_s)
    assert result.percentile_s == pytest.approx(wait_s)


def test_the_handle_time_is_the_median_so_one_long_call_does_not_sway_the_typical_wait() -> None:
    times = steady(120.0, calls=10)
    times.ended(answered_at=T0 - 3600.5, ended_at=T0 - 0.5)  # a one-hour call
    assert estimate(times, 0).expected_s == pytest.approx(120.0)


def test_erratic_calls_mean_a_longer_announced_wait_than_steady_ones_of_equal_median() -> None:
    erratic = HandleTimes()
    for i, handle in enumerate([30, 60, 90, 120, 120, 120, 300, 400, 500, 600, 900]):
        erratic.ended(answered_at=T0 - 1000 - handle + i, ended_at=T0 - 1000 + i)
    calm, wild = estimate(steady(120.0, calls=11), 2), estimate(erratic, 2)
    assert wild.expected_s == pytest.approx(calm.expected_s)
    assert wild.percentile_s > calm.percentile_s * 1.5


def lognormal(calls: int, median_s: float = 180.0, sigma: float = 0.8) -> HandleTimes:
    """Handle times spread exactly like a lognormal: its quantiles at (i + 0.5) / calls."""
    times = HandleTimes()
    for i in range(calls):
        handle = median_s * math.exp(sigma * NormalDist().inv_cdf((i + 0.5) / calls))
        times.ended(answered_at=T0 - 1000 - handle, ended_at=T0 - 1000 + i / calls)
    return times


def test_next_in_line_with_one_member_four_in_five_calls_end_within_the_figure() -> None:
    # What "80th percentile" promises the caller: skewed handle times, and the figure is
    # their own 80th percentile, not the normal curve's mean + 0.84 sd (30 % longer).
    times = lognormal(200)
    figure = estimate(times, 0).percentile_s
    handles = sorted(
        180.0 * math.exp(0.8 * NormalDist().inv_cdf((i + 0.5) / 200)) for i in range(200)
    )
    within = sum(handle <= figure for handle in handles) / len(handles)
    assert 0.77 <= within <= 0.83


def test_far_back_the_figure_covers_the_sum_of_the_calls_ahead() -> None:
    # Nine calls ahead with one member: the sum of ten handle times, whose 80th
    # percentile is well above ten medians, as the mean is above the median.
    result = estimate(lognormal(200), 9)
    assert result.expected_s == pytest.approx(1800.0, rel=0.01)
    mean_s = 180.0 * math.exp(0.32)
    assert 10 * mean_s < result.percentile_s < 10 * mean_s * 1.4


def test_virtual_callers_ahead_count_like_callers_in_the_queue() -> None:
    times = steady(120.0)
    assert estimate(times, 0, 2, extra_ahead=3) == estimate(times, 3, 2)


def test_with_fewer_than_ten_calls_answered_it_falls_back_to_the_last_callers_wait() -> None:
    times = steady(120.0, calls=9)
    times.answered(at=T0 - 1, waited_s=200.0)
    result = estimate(times, 0)
    assert result.basis == "last wait"
    assert result.expected_s == 200.0
    assert result.percentile_s >= 200.0
    # The tenth call ending brings the handle times back.
    times.ended(answered_at=T0 - 121, ended_at=T0 - 1)
    assert estimate(times, 0).basis == "handle times"


def test_the_fallback_is_conservative_the_longest_call_seen_counts_per_place() -> None:
    times = HandleTimes()
    times.answered(at=T0 - 400, waited_s=0.0)  # answered at once: says nothing of a queue
    times.ended(answered_at=T0 - 400, ended_at=T0 - 100)  # but the member was busy 300 s
    assert estimate(times, 0).percentile_s == pytest.approx(300.0)
    assert estimate(times, 2, 2).percentile_s == pytest.approx(450.0)


def test_with_few_calls_known_the_figure_allows_for_how_little_is_known() -> None:
    times = HandleTimes()
    for i, handle in enumerate([60.0, 120.0, 300.0] * 3):
        times.ended(answered_at=T0 - 1000 - handle + i, ended_at=T0 - 1000 + i)
    times.answered(at=T0 - 1, waited_s=0.0)
    # The same nine calls, trusted by a queue set to need nine, or not by the default.
    trusted = expected_wait(times, ahead=9, members=1, now=T0, settings=WaitSettings(min_samples=9))
    cautious = estimate(times, 9)
    assert trusted is not None and trusted.basis == "handle times"
    assert cautious.basis == "last wait"
    # Ten calls ahead, their mean taken from nine: the mean's own error widens the margin
    # the figure keeps above the ten calls' mean (10 x 160 s).
    assert cautious.percentile_s - 1600 > (trusted.percentile_s - 1600) * 1.25


def test_a_wait_known_before_any_call_ended_is_used() -> None:
    times = HandleTimes()
    times.answered(at=T0 - 5, waited_s=90.0)
    assert estimate(times, 4).percentile_s == 90.0


def test_no_member_who_can_answer_means_no_wait_is_said() -> None:
    assert expected_wait(steady(), ahead=0, members=0, now=T0) is None


def test_nothing_known_means_no_wait_is_said() -> None:
    assert expected_wait(HandleTimes(), ahead=0, members=2, now=T0) is None


def test_calls_that_ended_more_than_half_an_hour_ago_no_longer_count() -> None:
    times = steady(120.0, calls=10, ended_at=T0)  # ended T0 - 10 ... T0 - 1
    times.ended(answered_at=T0 - 400, ended_at=T0)  # and one 400 s call ending at T0
    assert estimate(times, 0).basis == "handle times"
    still = expected_wait(times, ahead=0, members=1, now=T0 + 1800 - 11)
    assert still is not None and still.basis == "handle times"
    # Half an hour after the ten ended, only the 400 s call is left: too few to trust.
    result = expected_wait(times, ahead=0, members=1, now=T0 + 1800 - 0.5)
    assert result is not None
    assert result.basis == "last wait"
    assert result.percentile_s == pytest.approx(400.0)


def test_the_window_counts_calls_by_when_they_ended_so_long_calls_are_not_lost() -> None:
    times = steady(120.0, calls=9, ended_at=T0)
    # Answered 40 minutes ago, ended a second ago: a long call, and part of the window.
    times.ended(answered_at=T0 - 2400, ended_at=T0 - 0.5)
    result = estimate(times, 0)
    assert result.basis == "handle times"
    assert result.percentile_s > 120.0


def test_memory_is_bounded_however_busy_the_queue() -> None:
    times = HandleTimes()
    for i in range(MAX_ENTRIES + 50):
        times.ended(answered_at=T0 + i - 1, ended_at=T0 + i)
    assert len(times) == MAX_ENTRIES


def test_a_late_event_still_leaves_the_window_on_time() -> None:
    times = HandleTimes(window_s=100.0)
    times.ended(answered_at=T0 - 10, ended_at=T0 + 50)
    times.ended(answered_at=T0 - 20, ended_at=T0)  # reported after the later one
    summary = times.summary(T0 + 120)
    assert summary is not None and summary.count == 1


# The minutes said ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("percentile_s", "minutes", "more_than"),
    [
        (0.0, 1, False),  # never "0 minutes"
        (1.0, 1, False),
        (60.0, 1, False),
        (61.0, 2, False),  # rounded up
        (179.9, 3, False),
        (900.0, 15, False),
        (900.5, 15, True),  # "more than 15 minutes"
        (7200.0, 15, True),
    ],
)
def test_minutes_are_rounded_up_at_least_one_and_capped(
    percentile_s: float, minutes: int, more_than: bool
) -> None:
    assert announced_minutes(seconds(percentile_s), DEFAULTS) == (minutes, more_than)


def test_the_cap_is_per_queue() -> None:
    assert announced_minutes(seconds(600.5), WaitSettings(max_minutes=10)) == (10, True)


# When and what is announced ---------------------------------------------------------------


def caller(position: int = 3, *, ringing: bool = False) -> CallerState:
    return CallerState(joined_at=T0, position=position, ringing=ringing)


def hear(state: CallerState, at: float, wait_s: float | None = 200.0) -> Announcement | None:
    est = None if wait_s is None else seconds(wait_s)
    return announcement(DEFAULTS, state, est, T0 + at)


def test_the_first_announcement_comes_twenty_seconds_after_joining() -> None:
    state = caller(3)
    assert hear(state, 19.9) is None
    assert hear(state, 20.0) == Announcement(3, False, 4, False)


def test_nothing_is_said_while_a_member_is_being_rung_for_the_caller() -> None:
    state = caller(1, ringing=True)
    assert hear(state, 20.0) is None
    assert hear(state, 45.0) is None
    # The member did not answer: the caller hears it as soon as the ringing stops.
    assert hear(replace(state, ringing=False), 46.0) == Announcement(1, False, 4, False)


def test_then_every_sixty_seconds_at_most() -> None:
    state = caller(5).after(Announcement(5, False, 4, False), T0 + 20)
    moved = replace(state, position=4)
    assert hear(moved, 79.9) is None
    assert hear(moved, 80.0) == Announcement(4, False, 4, False)


def test_timing_is_per_queue() -> None:
    quick = WaitSettings(first_after_s=5, every_s=30)
    state = caller(2)
    assert announcement(quick, state, seconds(100), T0 + 5) is not None
    state = state.after(Announcement(2, False, 2, False), T0 + 5)
    assert announcement(quick, replace(state, position=1), seconds(50), T0 + 35) is not None


def test_the_place_is_said_when_it_improved_and_only_the_wait_when_it_did_not() -> None:
    state = caller(4).after(Announcement(4, False, 5, False), T0 + 20)
    # Same place, a new figure: only the wait.
    assert hear(state, 80, wait_s=200) == Announcement(None, False, 4, False)
    # A priority caller went ahead: worse is not news, the place is not said.
    assert hear(replace(state, position=5), 80, wait_s=200) == Announcement(None, False, 4, False)
    # Moved up: the place, with the wait.
    assert hear(replace(state, position=2), 80, wait_s=200) == Announcement(2, False, 4, False)


def test_far_back_it_is_more_than_ten_said_once_and_the_number_once_within_ten() -> None:
    state = caller(14)
    first = hear(state, 20, wait_s=1200)
    assert first == Announcement(10, True, 15, True)
    state = state.after(first, T0 + 20)
    assert hear(replace(state, position=12), 80, wait_s=1100) is None
    within = hear(replace(state, position=9), 80, wait_s=1000)
    assert within == Announcement(9, False, 15, True)


def test_nothing_is_said_when_neither_place_nor_minutes_are_news() -> None:
    state = caller(1).after(Announcement(1, False, 3, False), T0 + 20)
    assert hear(state, 80, wait_s=170) is None
    assert hear(state, 140, wait_s=170) is None
    # Three minutes after "3 minutes" that promise has run out: the caller hears it again.
    assert hear(state, 200, wait_s=170) == Announcement(None, False, 3, False)


def test_without_an_estimate_only_the_place_is_said() -> None:
    state = caller(2)
    first = hear(state, 20, wait_s=None)
    assert first == Announcement(2, False, None, False)
    assert hear(state.after(first, T0 + 20), 80, wait_s=None) is None


def test_the_state_remembers_what_was_said_and_when() -> None:
    state = caller(3).after(Announcement(3, False, 2, False), T0 + 20)
    assert (state.announced_at, state.said_position, state.said_minutes) == (T0 + 20, 3, 2)
    state = state.after(Announcement(None, False, None, False), T0 + 80)
    assert (state.announced_at, state.said_position, state.said_minutes_at) == (
        T0 + 80,
        3,
        T0 + 20,
    )


def test_settings_that_would_break_the_rules_are_refused() -> None:
    with pytest.raises(ValueError):
        WaitSettings(percentile=0.3)  # a caller further back could hear a shorter wait
    with pytest.raises(ValueError):
        WaitSettings(every_s=0)


# Properties ------------------------------------------------------------------------------

handles = st.lists(st.floats(1.0, 7200.0), min_size=0, max_size=40)
last_waits = st.none() | st.floats(0.0, 3600.0)


def filled(handle_list: list[float], last_wait: float | None) -> HandleTimes:
    times = HandleTimes()
    for i, handle in enumerate(handle_list):
        times.ended(answered_at=T0 - 1000 - handle + i, ended_at=T0 - 1000 + i)
    if last_wait is not None:
        times.answered(at=T0 - 1, waited_s=last_wait)
    return times


@SUITE
@given(
    handle_list=handles,
    last_wait=last_waits,
    ahead=st.integers(0, 60),
    members=st.integers(1, 8),
    waited_s=st.floats(0.0, 7200.0),
    percentile=st.floats(0.5, 0.99),
)
def test_the_minutes_said_are_at_least_one_and_never_a_wait_already_run_out(
    handle_list: list[float],
    last_wait: float | None,
    ahead: int,
    members: int,
    waited_s: float,
    percentile: float,
) -> None:
    rules = WaitSettings(percentile=percentile)
    est = expected_wait(
        filled(handle_list, last_wait), ahead=ahead, members=members, now=T0, settings=rules
    )
    if est is None:
        assert not handle_list and last_wait is None
        return
    # A caller who has waited waited_s and is still in the queue.
    state = CallerState(joined_at=T0 - waited_s - rules.first_after_s, position=ahead + 1)
    said = announcement(rules, state, est, T0)
    assert said is not None and said.minutes is not None
    assert 1 <= said.minutes <= rules.max_minutes
    if said.more_than_minutes:
        assert est.percentile_s > rules.max_minutes * 60
    else:
        # The minutes are from now: what is said covers the percentile, so the moment it
        # points at (now + minutes) is later than now and than the estimate's own figure.
        assert said.minutes * 60 >= est.percentile_s
        assert said.minutes * 60 >= est.expected_s


@SUITE
@given(
    handle_list=handles,
    last_wait=last_waits,
    ahead=st.integers(0, 60),
    further=st.integers(1, 60),
    members=st.integers(1, 8),
    extra=st.integers(0, 5),
)
def test_a_caller_further_back_never_hears_a_shorter_wait(
    handle_list: list[float],
    last_wait: float | None,
    ahead: int,
    further: int,
    members: int,
    extra: int,
) -> None:
    times = filled(handle_list, last_wait)
    near = expected_wait(times, ahead=ahead, members=members, now=T0, extra_ahead=extra)
    far = expected_wait(times, ahead=ahead + further, members=members, now=T0, extra_ahead=extra)
    if near is None or far is None:
        assert near is None and far is None
        return
    assert far.expected_s >= near.expected_s
    assert far.percentile_s >= near.percentile_s
    assert announced_minutes(far, DEFAULTS) >= announced_minutes(near, DEFAULTS)


# A wait as the dialplan would drive it: the queue moves, members are rung, the caller
# asks "anything to say?" whenever it likes.
steps = st.lists(
    st.tuples(st.floats(0.5, 90.0), st.integers(-2, 3), st.booleans(), st.floats(0, 2000)),
    min_size=1,
    max_size=40,
)


@SUITE
@given(start=st.integers(1, 30), steps=steps)
def test_over_a_whole_wait_the_rules_hold(
    start: int, steps: list[tuple[float, int, bool, float]]
) -> None:
    state = CallerState(joined_at=T0, position=start)
    now = T0
    said_at: list[float] = []
    numbers: list[int] = []
    for dt, moved, ringing, wait_s in steps:
        now += dt
        state = replace(state, position=max(1, state.position - moved), ringing=ringing)
        said = announcement(DEFAULTS, state, seconds(wait_s), now)
        if said is None:
            continue
        assert not ringing
        assert now - T0 >= DEFAULTS.first_after_s
        assert not said_at or now - said_at[-1] >= DEFAULTS.every_s
        assert said.minutes is not None and said.minutes >= 1
        if said.position is not None and not said.more_than_positions:
            assert said.position == state.position <= DEFAULTS.max_position
            assert not numbers or said.position < numbers[-1]  # only ever better news
            numbers.append(said.position)
        said_at.append(now)
        state = state.after(said, now)
    if said_at:
        assert said_at[0] - T0 >= DEFAULTS.first_after_s

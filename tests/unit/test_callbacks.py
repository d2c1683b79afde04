"""Callbacks keep the caller's place (issue 14): the state machine, retries, and the
line of live and virtual callers served in join order (switchboard.core.callbacks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from switchboard.core.callbacks import (
    ACTIVE,
    TRANSITIONS,
    CallbackError,
    CallbackState,
    InLine,
    RetryPolicy,
    after_unreached,
    callbacks_ahead,
    check_request,
    check_transition,
    first_dial,
    line_up,
    to_dispatch,
)
from switchboard.core.schedule import parse_schedule

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_a_finished_callback_never_moves_again_and_a_waiting_one_cannot_skip_dialling() -> None:
    for end in (CallbackState.DONE, CallbackState.NOT_REACHED, CallbackState.CANCELLED):
        assert TRANSITIONS[end] == frozenset()
        with pytest.raises(CallbackError):
            check_transition(end, CallbackState.WAITING)
    with pytest.raises(CallbackError, match="is waiting cannot become connected"):
        check_transition(CallbackState.WAITING, CallbackState.CONNECTED)
    check_transition(CallbackState.DIALLING, CallbackState.WAITING)  # a retry
    assert CallbackState.DONE not in ACTIVE and CallbackState.DIALLING in ACTIVE


def test_an_unreached_caller_is_tried_three_times_five_minutes_apart() -> None:
    policy = RetryPolicy()
    first = after_unreached(1, policy, NOW)
    assert first.state is CallbackState.WAITING and first.not_before == NOW + timedelta(minutes=5)
    assert after_unreached(2, policy, NOW).state is CallbackState.WAITING
    last = after_unreached(3, policy, NOW)
    assert last.state is CallbackState.NOT_REACHED and last.not_before is None


@pytest.mark.parametrize(
    ("queue", "e164", "source"),
    [
        ("switchboard", "0612345678", "queue"),  # not international
        ("switchboard", "+31612345678'; DROP TABLE callbacks;--", "queue"),
        ("switch board", "+31612345678", "queue"),
        ("switchboard", "+31612345678", "fax"),
        ("", "+31612345678", "web"),
    ],
)
def test_a_request_that_cannot_be_stored_is_refused(queue: str, e164: str, source: str) -> None:
    with pytest.raises(CallbackError):
        check_request(queue, e164, source, "", "")
    check_request("switchboard", "+31612345678", "web", "Anna", "invoice")


def live(key: str, at: float, offered: bool = False) -> InLine:
    return InLine(key, at, virtual=False, being_offered=offered)


def virtual(key: str, at: float, dialling: bool = False) -> InLine:
    return InLine(f"callback:{key}", at, virtual=True, being_offered=dialling)


def test_live_and_virtual_callers_are_served_in_the_order_they_joined() -> None:
    line = line_up(
        [live("c2", 20.0), live("c4", 40.0), live("c5", 40.0)],
        [virtual("1", 10.0), virtual("3", 30.0), virtual("6", 40.0)],
    )
    assert [e.key for e in line] == [
        "callback:1",
        "c2",
        "callback:3",
        "c4",
        "c5",
        "callback:6",
    ]
    # A live caller's place counts the callbacks ahead of them.
    assert callbacks_ahead(line, "c4") == 2
    assert callbacks_ahead(line, "c2") == 1
    # Two free members: the callback at the front, and the live caller behind it.
    assert [e.key for e in to_dispatch(line, 2)] == ["callback:1"]
    # Three: the second callback's turn too; never one behind a live caller not served.
    assert [e.key for e in to_dispatch(line, 3)] == ["callback:1", "callback:3"]
    assert to_dispatch(line, 0) == []


def test_never_more_callbacks_dial_than_members_are_free() -> None:
    line = line_up([], [virtual(str(i), float(i)) for i in range(10)])
    assert len(to_dispatch(line, 2)) == 2
    # One already dialling holds a ringing member, not a free one: the next two go.
    line = line_up(
        [live("c0", 0.5, offered=True)],
        [virtual("0", 0.0, dialling=True)] + [virtual(str(i), float(i)) for i in range(1, 10)],
    )
    assert [e.key for e in to_dispatch(line, 2)] == ["callback:1", "callback:2"]


def test_a_callback_expected_at_closing_time_is_dialled_from_the_next_opening() -> None:
    schedule = parse_schedule("reception", {"tuesday": "08:30-17:30", "wednesday": "08:30-17:30"})
    # Tuesday 1 December 2026 in Amsterdam (UTC+1): 17:10, closing at 17:30.
    now = datetime(2026, 12, 1, 16, 10, tzinfo=UTC)
    state = schedule.state_at(now, None)
    wednesday = datetime(2026, 12, 2, 7, 30, tzinfo=UTC)
    assert first_dial(now, 10, state, schedule) is None  # dialled 17:20: today
    assert first_dial(now, None, state, schedule) is None  # no estimate: as soon as we can
    assert first_dial(now, 20, state, schedule) == wednesday  # 17:30: closed by then
    assert first_dial(now, 45, state, schedule) == wednesday
    evening = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    assert first_dial(evening, None, schedule.state_at(evening, None), schedule) == wednesday
    assert first_dial(now, 45, None, None) is None  # no opening hours: always open

"""The service level's pure rules (switchboard.core.service_level, .report, .worklist) on
a scripted day of calls, counted by hand first."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from switchboard.core.calls.model import Call, CallOutcome, CallState, FallbackStep, PBXModel
from switchboard.core.report import Interval, ReportError, interval_starts, period
from switchboard.core.service_level import (
    Counted,
    Standing,
    Thresholds,
    classify,
    percentile,
    standing,
    tally,
)
from switchboard.core.worklist import (
    AttemptKind,
    Escalation,
    escalated,
    missed_attempt,
    resolution,
    short_abandon,
    worklist_call_item,
)
from tests.unit.test_call_model import channel

ZONE = ZoneInfo("Europe/Amsterdam")
T0 = 1_790_000_000.0


def ended(
    *,
    answered_after: float | None = None,
    after: float,
    outcome: str,
    fallback: tuple[FallbackStep, ...] = (),
    queued: bool = True,
    reason: str = "",
    linked_id: str = "1.1",
) -> Call:
    return Call(
        call_id=f"t:{linked_id}",
        pbx="t",
        linked_id=linked_id,
        caller_number="0612345678",
        caller_name="",
        state=CallState.ENDED,
        started_at=T0 - 3,
        queued_at=T0 if queued else None,
        answered_at=None if answered_after is None else T0 + answered_after,
        answered_by="200" if answered_after is not None else "",
        ended_at=T0 + after,
        outcome=outcome,
        fallback=fallback,
        fallback_reason=reason,
        via_queue="switchboard",
    )


# The scripted day: answered at 10 s and 20 s, abandons at 3 s and 30 s, one caller sent
# to voicemail by the fallback chain after 120 s, one who asked for a callback at 90 s.
DAY = [
    ended(answered_after=10, after=100, outcome=CallOutcome.ANSWERED),
    ended(answered_after=20, after=200, outcome=CallOutcome.ANSWERED),
    ended(after=3, outcome=CallOutcome.ABANDONED),
    ended(after=30, outcome=CallOutcome.ABANDONED),
    ended(after=200, outcome=CallOutcome.MISSED, fallback=(FallbackStep("voicemail", T0 + 120),)),
    ended(after=150, outcome=CallOutcome.MISSED, fallback=(FallbackStep("callback", T0 + 90),)),
]


def test_the_scripted_day_counts_as_by_hand() -> None:
    counted = [c for c in map(classify, DAY) if c is not None]
    day = tally(counted, Thresholds())
    # answered 2 (1 within 15 s), abandoned 1 (30 s), 1 within 5 s apart, sent on 2.
    assert (day.answered, day.answered_in_time, day.abandoned, day.short_abandons, day.sent_on) == (
        2,
        1,
        1,
        1,
        2,
    )
    assert day.counted == 5 and day.arrivals == 6
    assert day.service_level == pytest.approx(1 / 5)
    assert day.abandon_rate == pytest.approx(1 / 5)
    # At a 20 s norm both answers are in time.
    assert tally(counted, Thresholds(answer_within_s=20)).service_level == pytest.approx(2 / 5)


def test_waits_count_from_the_first_moment_in_the_queue_across_the_fallback_chain() -> None:
    by_operator = ended(
        answered_after=140,
        after=300,
        outcome=CallOutcome.ANSWERED,
        fallback=(FallbackStep("operator", T0 + 120),),
    )
    assert classify(by_operator) is not None
    assert (classify(by_operator).kind, classify(by_operator).wait_s) == (Counted.ANSWERED, 140)
    sent = classify(DAY[4])
    assert sent is not None and (sent.kind, sent.wait_s) == (Counted.SENT_ON, 120)


def test_calls_that_never_queued_or_were_closed_do_not_count() -> None:
    assert classify(ended(after=10, outcome=CallOutcome.MISSED, queued=False)) is None
    assert classify(ended(after=10, outcome=CallOutcome.MISSED, reason="closed")) is None
    up = replace(ended(after=0, outcome=""), state=CallState.QUEUED, ended_at=None)
    assert classify(up) is None


def test_percentile_is_postgresqls_percentile_cont() -> None:
    assert percentile([], 0.5) is None
    assert percentile([10.0], 0.9) == 10.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert (
        percentile([0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0], 0.9) == 90.0
    )


def test_the_live_figure_against_the_target() -> None:
    assert standing(None, 0.8) is Standing.NONE
    assert standing(0.85, 0.8) is Standing.MET
    assert standing(0.75, 0.8) is Standing.CLOSE
    assert standing(0.5, 0.8) is Standing.MISSED


def test_a_25_and_a_23_hour_day() -> None:
    autumn = period(date(2026, 10, 25), date(2026, 10, 26), ZONE, Interval.HOUR)
    hours = list(interval_starts(autumn, Interval.HOUR))
    assert len(hours) == 25
    assert [h.strftime("%H %Z") for h in hours[1:4]] == ["01 CEST", "02 CEST", "02 CET"]
    spring = period(date(2026, 3, 29), date(2026, 3, 30), ZONE, Interval.QUARTER)
    assert len(list(interval_starts(spring, Interval.QUARTER))) == 23 * 4
    days = period(date(2026, 10, 24), date(2026, 10, 27), ZONE, Interval.DAY)
    starts = list(interval_starts(days, Interval.DAY))
    assert [s.hour for s in starts] == [0, 0, 0]
    assert starts[2] - starts[1] == timedelta(days=1)
    assert (starts[2].astimezone(UTC) - starts[1].astimezone(UTC)) == timedelta(hours=25)
    weeks = period(date(2026, 12, 2), date(2026, 12, 20), ZONE, Interval.WEEK)
    assert [s.date() for s in interval_starts(weeks, Interval.WEEK)] == [
        date(2026, 11, 30),
        date(2026, 12, 7),
        date(2026, 12, 14),
    ]


def test_a_report_that_cannot_be_made_says_why() -> None:
    with pytest.raises(ReportError, match="after the start"):
        period(date(2026, 12, 2), date(2026, 12, 1), ZONE, Interval.DAY)
    with pytest.raises(ReportError, match="intervals"):
        period(date(2020, 1, 1), date(2026, 1, 1), ZONE, Interval.QUARTER)


def test_what_adds_to_the_worklist() -> None:
    abandoned = missed_attempt(DAY[3], "inbound", "+31612345678")
    assert abandoned is not None
    assert (abandoned.kind, abandoned.waited_s, abandoned.group) == (
        AttemptKind.ABANDONED,
        30,
        "switchboard",
    )
    assert missed_attempt(DAY[4], "inbound", "+31612345678").step == "voicemail"  # type: ignore[union-attr]
    # Answered, asked for a callback (the callbacks follow it), internal, our own callback.
    assert missed_attempt(DAY[0], "inbound", "+31612345678") is None
    # Offered a callback by the fallback chain and hung up before it was stored: missed;
    # once stored (SwitchboardCallbackAsked), the callbacks follow them.
    assert missed_attempt(DAY[5], "inbound", "+31612345678").step == "callback"  # type: ignore[union-attr]
    assert missed_attempt(replace(DAY[5], callback_asked=True), "inbound", "+31612345678") is None
    assert missed_attempt(DAY[3], "internal", None) is None
    ours = ended(after=30, outcome=CallOutcome.MISSED, linked_id="sb-callback-4-1-abc")
    assert missed_attempt(ours, "inbound", "+31612345678") is None
    # A withheld caller counts, in the bucket without a number.
    withheld = missed_attempt(DAY[3], "inbound", None)
    assert withheld is not None and withheld.e164 is None


def test_what_resolves_an_item() -> None:
    answered = resolution(DAY[0], "inbound", "+31612345678")
    assert answered is not None and answered.how == "answered when they called again"
    out = Call(
        call_id="t:o",
        pbx="t",
        linked_id="o",
        caller_number="201",
        caller_name="",
        state=CallState.ENDED,
        started_at=T0,
        answered_at=T0 + 5,
        ended_at=T0 + 14,
    )
    assert resolution(out, "outbound", "+31612345678") is None  # 9 s: not a conversation
    longer = replace(out, ended_at=T0 + 15)
    assert resolution(longer, "outbound", "+31612345678").how == "called back"  # type: ignore[union-attr]
    board = replace(longer, linked_id="sb-worklist-42-a1b2c3")
    found = resolution(board, "internal", None)
    assert found is not None and found.item == 42
    assert worklist_call_item("sb-worklist-x-1") is None
    assert worklist_call_item("sb-worklist-" + "9" * 30 + "-1") is None


def test_escalation_and_short_abandons() -> None:
    opened = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    rule = Escalation(attempts=3, after=timedelta(minutes=30))
    assert not escalated(2, opened, opened + timedelta(minutes=29), rule)
    assert escalated(3, opened, opened, rule)
    assert escalated(1, opened, opened + timedelta(minutes=31), rule)
    assert short_abandon(AttemptKind.ABANDONED, 4.9)
    assert not short_abandon(AttemptKind.ABANDONED, 5.0)
    assert not short_abandon(AttemptKind.MISSED, 1.0)


def test_a_caller_who_asked_for_a_callback_hangs_up_sent_on_not_abandoned() -> None:
    """extensions.conf [switchboard-callback] says so with UserEvent SwitchboardCallbackAsked
    once the request is stored; the caller then hangs up (the call ends "abandoned")."""
    model = PBXModel("pbx1")
    caller = ("7.1", "7.1", "PJSIP/trunk-7")
    model.apply(channel("Newchannel", *caller), now=1.0)
    model.apply(channel("QueueCallerJoin", *caller, Queue="switchboard", Position="1"), now=2.0)
    asked = channel("UserEvent", *caller) | {
        "UserEvent": "SwitchboardCallbackAsked",
        "Queue": "switchboard",
    }
    (change,) = model.apply(asked, now=60.0)
    assert change.call.callback_asked
    model.apply(channel("QueueCallerAbandon", *caller, Queue="switchboard", Position="1"), now=61.0)
    model.apply(channel("QueueCallerLeave", *caller, Queue="switchboard", Position="1"), now=61.0)
    ended = [c.call for c in model.apply(channel("Hangup", *caller), now=62.0) if c.call.ended_at]
    assert ended and ended[0].callback_asked
    counted = classify(ended[0])
    assert counted is not None and counted.kind is Counted.SENT_ON
    assert missed_attempt(ended[0], "inbound", "+31612345678") is None
    # Without the event the same call is an abandon on the worklist.
    plain = replace(ended[0], callback_asked=False)
    assert classify(plain).kind is Counted.ABANDONED  # type: ignore[union-attr]
    assert missed_attempt(plain, "inbound", "+31612345678") is not None


def test_an_answered_call_counts_from_its_answer() -> None:
    talking = replace(
        ended(answered_after=12, after=0, outcome=""), state=CallState.TALKING, ended_at=None
    )
    counted = classify(talking)
    assert counted is not None and (counted.kind, counted.wait_s) == (Counted.ANSWERED, 12)

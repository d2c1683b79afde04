"""Routing decisions, table-driven: what a caller would notice is who picks up first."""

from datetime import UTC, datetime, timedelta

import pytest

from switchboard.core.contacts import ContactMatch
from switchboard.core.numbers import normalise
from switchboard.core.queue_priority import decide_route
from switchboard.core.recognition import CallerHistory, PastCall, recognise, summarise_history

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def contact(contact_id: int = 1, *, vip: bool = False) -> ContactMatch:
    return ContactMatch(contact_id, "Anna", "Bakkerij", vip, "nl", NOW - DAY)


def call(
    minutes_ago: float, *, answered_by: str | None, linked_id: str = "", inbound: bool = True
) -> PastCall:
    started = NOW - timedelta(minutes=minutes_ago)
    return PastCall(
        linked_id or f"c{minutes_ago}", started, answered_by is not None, answered_by, inbound
    )


@pytest.mark.parametrize(
    ("matches", "history", "priority", "preferred", "reason"),
    [
        ([contact()], [], 0, "", "first call"),
        ([contact(vip=True)], [], 10, "", "VIP"),
        ([contact()], [call(30, answered_by="201")], 3, "201", "called recently"),
        ([contact()], [call(30, answered_by=None)], 5, "", "missed earlier"),
        # Missed after being answered earlier: still missed, and back to the same person.
        (
            [contact()],
            [call(10, answered_by=None), call(90, answered_by="203")],
            5,
            "203",
            "missed earlier",
        ),
        # Answered after the miss: the miss is settled.
        (
            [contact()],
            [call(10, answered_by="202"), call(90, answered_by=None)],
            3,
            "202",
            "called recently",
        ),
        ([contact(vip=True)], [call(30, answered_by=None)], 10, "", "VIP"),
        # A VIP flag on a shared number (company switchboard) is nobody's in particular.
        ([contact(1, vip=True), contact(2)], [], 0, "", "first call"),
        # Unknown callers get the same fairness for missed calls.
        ([], [call(5, answered_by=None)], 5, "", "missed earlier"),
        # A call answered by several parties or a trunk has no one to return to.
        ([contact()], [call(30, answered_by="100, 201")], 3, "", "called recently"),
        # Older than the repeat window: not a repeat caller, but the same person helps.
        ([contact()], [call(60 * 30, answered_by="204")], 0, "204", "first call"),
        # We called them (a call-back): they did not call again, but 201 knows the matter.
        (
            [contact()],
            [call(10, answered_by="201", inbound=False)],
            0,
            "201",
            "first call",
        ),
        # Called back after a missed call: the miss is settled; the missed call still
        # makes this their second call, and 201 who called back takes it.
        (
            [contact()],
            [call(10, answered_by="201", inbound=False), call(90, answered_by=None)],
            3,
            "201",
            "called recently",
        ),
    ],
)
def test_routing(
    matches: list[ContactMatch],
    history: list[PastCall],
    priority: int,
    preferred: str,
    reason: str,
) -> None:
    summary = summarise_history(
        history, this_call="now", now=NOW, repeat_window=timedelta(hours=24)
    )
    recognition = recognise(
        normalise("0612345678"), matches, caller_name=None, now=NOW, history=summary
    )
    decision = decide_route(recognition)
    assert (decision.queue_priority, decision.preferred_extension, decision.reason) == (
        priority,
        preferred,
        reason,
    )


def test_the_current_call_is_not_its_own_history() -> None:
    summary = summarise_history(
        [call(0, answered_by=None, linked_id="this")],
        this_call="this",
        now=NOW,
        repeat_window=timedelta(hours=24),
    )
    assert summary == CallerHistory()


def test_history_reaches_the_dialplan_as_variables() -> None:
    summary = summarise_history(
        [call(20, answered_by=None), call(200, answered_by="201")],
        this_call="x",
        now=NOW,
        repeat_window=timedelta(hours=24),
    )
    recognition = recognise(
        normalise("0612345678"), [contact()], caller_name=None, now=NOW, history=summary
    )
    variables = recognition.channel_variables() | decide_route(recognition).channel_variables()
    assert variables["SB_REPEAT_CALLER"] == "yes"
    assert variables["SB_RECENT_CALLS"] == "2"
    assert variables["SB_MISSED_CALL"] == "yes"
    assert variables["SB_LAST_HANDLED_BY"] == "201"
    assert variables["SB_QUEUE_PRIORITY"] == "5"
    assert variables["SB_PREFERRED_EXTENSION"] == "201"

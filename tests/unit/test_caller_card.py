from datetime import UTC, datetime, timedelta

import pytest

from switchboard.core.caller_card import describe, explain
from switchboard.core.numbers import NumberKind
from switchboard.core.recognition import Confidence
from switchboard_ui.i18n import translator

NOW = datetime(2026, 11, 22, tzinfo=UTC)


@pytest.mark.parametrize(
    ("confidence", "kind", "verified_days_ago", "expected"),
    [
        (Confidence.VERIFIED, NumberKind.PUBLIC, 12, "Recognised by number, verified 12 days ago."),
        (
            Confidence.UNVERIFIED,
            NumberKind.PUBLIC,
            425,
            "Recognised by number, last verified 14 months ago: verify the address.",
        ),
        (
            Confidence.UNVERIFIED,
            NumberKind.PUBLIC,
            None,
            "Recognised by number only, never verified: verify the address before trusting it.",
        ),
        (Confidence.UNKNOWN, NumberKind.PUBLIC, None, "Unknown number."),
        (Confidence.UNKNOWN, NumberKind.WITHHELD, None, "Number withheld: ask who is calling."),
        (Confidence.UNKNOWN, NumberKind.INTERNAL, None, "Internal call."),
    ],
)
def test_the_card_says_how_far_to_trust_the_recognition(
    confidence: Confidence, kind: NumberKind, verified_days_ago: int | None, expected: str
) -> None:
    verified = None if verified_days_ago is None else NOW - timedelta(days=verified_days_ago)
    assert explain(confidence, kind, verified, NOW) == expected


def test_a_shared_number_says_how_many_share_it() -> None:
    text = explain(Confidence.SHARED, NumberKind.PUBLIC, None, NOW, shared_by=3)
    assert text == "Number shared by 3 contacts (a switchboard): ask who is calling."


def call_row(**fields: object) -> dict[str, object]:
    """A calls row as the journal writes it (migration 0006), started at NOW."""
    return {
        "direction": "inbound",
        "started_at": NOW,
        "answered_at": None,
        "answered_by": None,
        "ended_at": NOW + timedelta(seconds=42),
        "via_queue": None,
        "transfers": "[]",
        "parked_space": None,
        "parked_by": None,
        "picked_up_by": None,
        "unanswered_reason": None,
        "outcome": None,
        "called_back_at": None,
        "called_back_by": None,
    } | fields


ANSWERED = {"answered_at": NOW + timedelta(seconds=5), "answered_by": "100"}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({**ANSWERED, "outcome": "answered"}, "answered by 100"),
        (
            {
                **ANSWERED,
                "outcome": "transferred",
                "transfers": '[{"kind": "blind", "by": "100", "to": "201", "at": 1.0}]',
            },
            "answered by 100, transferred to 201",
        ),
        (
            {
                **ANSWERED,
                "outcome": "transferred",
                "parked_space": "701",
                "parked_by": "100",
                "picked_up_by": "201",
            },
            "answered by 100, parked in 701, picked up by 201",
        ),
        (
            {**ANSWERED, "outcome": "parked", "parked_space": "702", "parked_by": "203"},
            "answered by 100, parked in 702 by 203, the caller hung up while parked",
        ),
        ({"outcome": "abandoned", "via_queue": "switchboard"}, "abandoned after 0:42 in the queue"),
        ({"outcome": "abandoned"}, "abandoned after 0:42 while it rang"),
        ({"outcome": "missed", "unanswered_reason": "busy"}, "missed (busy)"),
        ({"outcome": "missed"}, "missed"),
        (
            {
                "outcome": "abandoned",
                "via_queue": "switchboard",
                "called_back_by": "201",
                "called_back_at": NOW + timedelta(minutes=12, seconds=42),
            },
            "abandoned after 0:42 in the queue, called back by 201 12 min later",
        ),
        ({"direction": "outbound", **ANSWERED, "answered_by": "201"}, "outgoing call from 201"),
        # Issue 12: forwards, pickups and failed transfers, as the model records them.
        (
            {
                **ANSWERED,
                "answered_by": "0612345678",
                "transfers": [{"kind": "forward", "by": "202", "to": "0612345678"}],
            },
            "forwarded by 202 to 0612345678",
        ),
        ({**ANSWERED, "answered_by": "203", "picked_up_by": "203"}, "picked up by 203"),
        (
            {
                **ANSWERED,
                "transfers": [
                    {"kind": "blind", "by": "100", "to": "202", "failed": "busy", "then": "100"}
                ],
            },
            "answered by 100, transfer to 202 failed (busy), then with 100",
        ),
        (
            {
                **ANSWERED,
                "outcome": "transfer failed",
                "transfers": [{"kind": "blind", "by": "100", "to": "202", "failed": "no answer"}],
            },
            "answered by 100, transfer to 202 failed (no answer), nobody took the call after that",
        ),
        (
            {**ANSWERED, "transfers": [{"kind": "blonde", "by": "100", "to": "201"}]},
            "answered by 100, transferred to 201",
        ),
        # Issue 13: the fallback chain, as the model records it.
        (
            {
                "answered_at": NOW + timedelta(seconds=130),
                "answered_by": "203",
                "queued_at": NOW,
                "fallback_reason": "nobody",
                "fallback": [{"step": "operator", "at": 1.0}, {"step": "backoffice", "at": 2.0}],
            },
            "waited 2:10, no receptionist available, answered by 203 in the back office",
        ),
        (
            {
                "outcome": "abandoned",
                "queued_at": NOW,
                "fallback_reason": "waited",
                "fallback": [
                    {"step": "voicemail", "at": (NOW + timedelta(seconds=125)).timestamp()}
                ],
            },
            "waited 2:05, no answer in time, left a voicemail",
        ),
        (
            {
                "outcome": "abandoned",
                "via_queue": "switchboard",
                "fallback_reason": "waited",
                "fallback": [{"step": "operator", "at": 1.0}],
            },
            "abandoned after 0:42 in the queue, no answer in time",
        ),
        ({"ended_at": None}, "in progress"),
        # Journalled before outcomes were kept (migration 0006): as the card said then.
        ({"answered_at": NOW, "answered_by": "201", "transfers": []}, "answered by 201"),
    ],
)
def test_each_call_in_the_history_says_how_it_went(
    fields: dict[str, object], expected: str
) -> None:
    assert describe(call_row(**fields)) == expected


def test_a_dutch_receptionist_reads_the_card_in_dutch() -> None:
    t = translator("nl")
    assert (
        explain(Confidence.UNVERIFIED, NumberKind.PUBLIC, NOW - timedelta(days=425), NOW, t=t)
        == "Herkend aan nummer, laatst gecontroleerd 14 maanden geleden: controleer het adres."
    )
    transferred = call_row(**ANSWERED, transfers=[{"kind": "blind", "by": "100", "to": "201"}])
    assert describe(transferred, t) == "aangenomen door 100, doorverbonden naar 201"
    failed = call_row(
        **ANSWERED,
        transfers=[{"kind": "blind", "by": "100", "to": "202", "failed": "busy", "then": "100"}],
    )
    assert describe(failed, t) == (
        "aangenomen door 100, doorverbinden naar 202 mislukt (in gesprek), daarna met 100"
    )
    called_back = call_row(
        outcome="abandoned",
        via_queue="switchboard",
        called_back_at=NOW + timedelta(minutes=12, seconds=42),
        called_back_by="201",
    )
    assert describe(called_back, t) == (
        "opgehangen na 0:42 in de wachtrij, teruggebeld door 201 12 min later"
    )

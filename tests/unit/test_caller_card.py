from datetime import UTC, datetime, timedelta

import pytest

from pbx_agi.recognition import Confidence
from switchboard.caller_card import explain
from switchboard.numbers import NumberKind

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

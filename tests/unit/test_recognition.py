from datetime import UTC, datetime, timedelta

import pytest

from pbx_agi.recognition import Confidence, recognise
from switchboard.contacts import ContactMatch
from switchboard.numbers import normalise

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def match(
    contact_id: int, *, verified_days_ago: int | None, company: str | None = "Bakkerij"
) -> ContactMatch:
    verified = None if verified_days_ago is None else NOW - timedelta(days=verified_days_ago)
    return ContactMatch(contact_id, f"Contact {contact_id}", company, False, "nl", verified)


@pytest.mark.parametrize(
    ("raw", "matches", "expected", "display"),
    [
        (
            "0612345678",
            [match(1, verified_days_ago=10)],
            Confidence.VERIFIED,
            "Contact 1 - Bakkerij",
        ),
        (
            "0612345678",
            [match(1, verified_days_ago=430)],
            Confidence.UNVERIFIED,
            "Contact 1 - Bakkerij",
        ),
        (
            "0612345678",
            [match(1, verified_days_ago=None, company=None)],
            Confidence.UNVERIFIED,
            "Contact 1",
        ),
        (
            "0201234567",
            [match(1, verified_days_ago=1), match(2, verified_days_ago=1)],
            Confidence.SHARED,
            "Bakkerij",
        ),
        ("0612345678", [], Confidence.UNKNOWN, "Caller Name"),
        ("anonymous", [match(1, verified_days_ago=1)], Confidence.UNKNOWN, "Caller Name"),
        ("201", [match(1, verified_days_ago=1)], Confidence.UNKNOWN, "Caller Name"),
    ],
)
def test_confidence_tells_how_far_to_trust_a_match(
    raw: str, matches: list[ContactMatch], expected: Confidence, display: str
) -> None:
    result = recognise(normalise(raw), matches, caller_name="Caller Name", now=NOW)
    assert result.confidence is expected
    assert result.display_name == display
    assert result.channel_variables()["SB_CONFIDENCE"] == expected.value
    assert result.channel_variables()["SB_RECOGNISED"] == ("yes" if result.contact else "no")


def test_a_hostile_caller_name_reaches_the_dialplan_harmless() -> None:
    result = recognise(normalise("0612345678"), [], caller_name='x"\nEXEC System reboot', now=NOW)
    assert result.display_name == "x EXEC System reboot"

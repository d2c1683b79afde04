import string
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbx_agi.agi_protocol import sanitise_value
from pbx_agi.recognition_commands import recognition_commands
from switchboard.core.contacts import ContactMatch
from switchboard.core.numbers import normalise
from switchboard.core.queue_priority import decide_route
from switchboard.core.recognition import Confidence, display_text, recognise
from switchboard.core.text import sanitise_display_name
from tests.asterisk_model import asterisk_parse_args, variables_set

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


any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=80)


@given(name=any_text, company=any_text, language=any_text, caller_name=any_text)
def test_any_recognition_reaches_asterisk_in_one_command(
    name: str, company: str, language: str, caller_name: str
) -> None:
    contact = ContactMatch(7, name, company, True, language, NOW)
    for matches in ([contact], [], [contact, match(8, verified_days_ago=1, company=company)]):
        recognition = recognise(normalise("0612345678"), matches, caller_name=caller_name, now=NOW)
        commands = recognition_commands(recognition)
        assert len(commands) == 1  # one round trip while the line rings
        assert asterisk_parse_args(commands[0].encode())[:2] == [b"EXEC", b"MSet"]
        expected = recognition.channel_variables() | decide_route(recognition).channel_variables()
        if recognition.display_name:
            expected["CALLERID(name)"] = recognition.display_name
        assert variables_set(commands) == {k: sanitise_value(v) for k, v in expected.items()}


@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=60))
def test_display_text_is_the_display_sanitiser(text: str) -> None:
    assert display_text(text) == sanitise_display_name(text)


@given(st.text(alphabet=string.printable, max_size=60))
def test_display_text_is_the_display_sanitiser_for_plain_ascii(text: str) -> None:
    assert display_text(text) == sanitise_display_name(text)

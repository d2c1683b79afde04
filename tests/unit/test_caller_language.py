"""The language a caller hears (issue 13): the contact's, else the number's country."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from switchboard.core.caller_language import caller_language
from switchboard.core.numbers import normalise
from switchboard.core.recognition import recognise


@pytest.mark.parametrize(
    ("contact", "number", "expected"),
    [
        ("en", "+31612345678", "en"),  # the contact's own language wins
        ("nl", "+442079460123", "nl"),
        (None, "+31612345678", "nl"),
        (None, "+3225550000", "nl"),  # Belgium
        (None, "+5978612345", "nl"),  # Suriname
        (None, "+442079460123", "en"),
        (None, "+4930123456", "en"),  # any other country: English
        (None, None, ""),  # withheld, internal: the dialplan's site default
        ("de", "+4930123456", "en"),  # a language we have no prompts in
        (None, "+999123", ""),  # no country
    ],
)
def test_the_language_comes_from_the_contact_then_the_country(
    contact: str | None, number: str | None, expected: str
) -> None:
    assert caller_language(contact, number) == expected


def test_recognition_tells_the_dialplan_the_language_even_without_a_contact() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    foreign = recognise(normalise("+442079460123"), [], caller_name=None, now=now)
    assert foreign.channel_variables()["SB_LANGUAGE"] == "en"
    withheld = recognise(normalise("anonymous"), [], caller_name=None, now=now)
    assert withheld.channel_variables()["SB_LANGUAGE"] == ""

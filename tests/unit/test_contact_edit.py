"""Checking a contact a receptionist typed into the board: every mistake is named on the
field it is in, and every way of writing a number ends up as the same E.164 number."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.core.contact_form import (
    ContactDraft,
    FieldError,
    display_number,
    number_patterns,
    parse_contact_form,
)
from switchboard.core.contacts import MAX_NUMBERS, LabelledNumber
from switchboard_ui import i18n


def parse(data: dict[str, Any], region: str = "NL") -> ContactDraft:
    draft = parse_contact_form(data, region=region)
    assert isinstance(draft, ContactDraft), draft
    return draft


def errors(data: dict[str, Any], region: str = "NL") -> dict[str, str]:
    result = parse_contact_form(data, region=region)
    assert isinstance(result, list), f"accepted: {result}"
    assert all(isinstance(e, FieldError) for e in result)
    return {e.field: e.message for e in result}


def test_a_complete_contact_is_kept_as_typed_but_trimmed() -> None:
    draft = parse(
        {
            "name": "  Noor Visser ",
            "company": "Visser & Zn",
            "numbers": [{"number": "06 4581 0001", "label": " mobiel "}, "020 555 1234"],
            "email": "noor@visser.nl",
            "address": "Dorpsstraat 1\r\n1234 AB Ergens",
            "notes": "Belt graag 's ochtends",
            "vip": True,
            "language": "EN",
        }
    )
    assert draft == ContactDraft(
        name="Noor Visser",
        company="Visser & Zn",
        numbers=(LabelledNumber("+31645810001", "mobiel"), LabelledNumber("+31205551234")),
        email="noor@visser.nl",
        address="Dorpsstraat 1\n1234 AB Ergens",
        notes="Belt graag 's ochtends",
        vip=True,
        language="en",
    )


def test_only_a_name_is_needed_and_blank_fields_are_empty() -> None:
    draft = parse(
        {"name": "Jan", "company": " ", "email": "", "numbers": [], "vip": None, "language": ""}
    )
    assert draft == ContactDraft(name="Jan")


ONE_DUTCH_MOBILE = [
    "0612345678",
    "06 12345678",
    "06-12345678",
    "06 1234 5678",
    "06-12 34 56 78",
    "(06) 1234 5678",
    "06.12.34.56.78",
    "+31612345678",
    "+31 6 1234 5678",
    "+31 (0)6 1234 5678",
    "0031 6 12345678",
    "31612345678",  # a trunk that drops the +
    "06\u00a012\u00a034\u00a056\u00a078",  # no-break spaces, pasted from a web page
    "06\u20131234\u20135678",  # en dashes, pasted from a PDF
    "\t0612345678 ",
]


@pytest.mark.parametrize("written", ONE_DUTCH_MOBILE)
def test_every_way_of_writing_one_dutch_mobile_is_the_same_number(written: str) -> None:
    draft = parse({"name": "Anna", "numbers": [written]})
    assert draft.numbers == (LabelledNumber("+31612345678"),)


def test_numbers_abroad_are_kept_and_the_region_decides_the_national_form() -> None:
    assert parse({"name": "Anna", "numbers": ["+32 475 12 34 56"]}).numbers[0].e164 == (
        "+32475123456"
    )
    assert parse({"name": "Anna", "numbers": ["0475 12 34 56"]}, region="BE").numbers[0].e164 == (
        "+32475123456"
    )


FIELD_ERRORS: dict[str, tuple[dict[str, Any], str, str]] = {
    "no name": ({"name": None}, "name", "Fill in the contact's name."),
    "blank name": ({"name": "   "}, "name", "Fill in the contact's name."),
    "name not text": ({"name": 42}, "name", "Name must be text."),
    "name too long": (
        {"name": "x" * 201},
        "name",
        "Name is too long: 201 characters, at most 200.",
    ),
    "name on two lines": ({"name": "Jan\nJansen"}, "name", "Name must fit on one line."),
    "name with a NUL": (
        {"name": "Jan\x00"},
        "name",
        "Name contains an invisible control character; retype it.",
    ),
    "company too long": (
        {"company": "c" * 201},
        "company",
        "Company is too long: 201 characters, at most 200.",
    ),
    "company on two lines": ({"company": "A\nB"}, "company", "Company must fit on one line."),
    "email without domain": (
        {"email": "noor@visser"},
        "email",
        "'noor@visser' is not an e-mail address (like naam@bedrijf.nl).",
    ),
    "email with a space": (
        {"email": "noor visser@x.nl"},
        "email",
        "'noor visser@x.nl' is not an e-mail address (like naam@bedrijf.nl).",
    ),
    "email too long": (
        {"email": "a" * 250 + "@x.nl"},
        "email",
        "E-mail is too long: 255 characters, at most 254.",
    ),
    "address too long": (
        {"address": "a" * 501},
        "address",
        "Address is too long: 501 characters, at most 500.",
    ),
    "address with a control character": (
        {"address": "Dorpsstraat\x1b1"},
        "address",
        "Address contains an invisible control character; retype it.",
    ),
    "notes too long": (
        {"notes": "n" * 4001},
        "notes",
        "Notes is too long: 4001 characters, at most 4000.",
    ),
    "notes not text": ({"notes": ["a"]}, "notes", "Notes must be text."),
    "vip as a word": ({"vip": "ja"}, "vip", "VIP must be yes or no (true or false)."),
    "vip as a number": ({"vip": 1}, "vip", "VIP must be yes or no (true or false)."),
    "german": (
        {"language": "de"},
        "language",
        "Language must be Dutch (nl) or English (en), not 'de'.",
    ),
    "language not text": (
        {"language": 1},
        "language",
        "Language must be Dutch (nl) or English (en), not '1'.",
    ),
    "numbers not a list": ({"numbers": "0612345678"}, "numbers", "Numbers must be a list."),
    "a number not text": ({"numbers": [612345678]}, "numbers.0", "Number 1 must be text."),
    "an internal extension": (
        {"numbers": ["0612345678", "201"]},
        "numbers.1",
        "'201' is too short for a phone number (an internal extension?).",
    ),
    "a digit short": (
        {"numbers": ["061234567"]},
        "numbers.0",
        "'061234567' is not a phone number we can call: check the digits"
        " (a foreign number starts with + or 00).",
    ),
    "a digit too many": (
        {"numbers": ["06123456789"]},
        "numbers.0",
        "'06123456789' is not a phone number we can call: check the digits"
        " (a foreign number starts with + or 00).",
    ),
    "letters": ({"numbers": ["bel maar"]}, "numbers.0", "'bel maar' is not a phone number."),
    "withheld": ({"numbers": ["anonymous"]}, "numbers.0", "'anonymous' is not a phone number."),
    "a long paste is shown cut short": (
        {"numbers": ["0" * 80]},
        "numbers.0",
        f"'{'0' * 39}…' is not a phone number we can call: check the digits"
        " (a foreign number starts with + or 00).",
    ),
    "label too long": (
        {"numbers": [{"number": "0612345678", "label": "l" * 41}]},
        "numbers.0.label",
        "The label is too long: 41 characters, at most 40.",
    ),
    "label on two lines": (
        {"numbers": [{"number": "0612345678", "label": "werk\nmobiel"}]},
        "numbers.0.label",
        "The label must fit on one line.",
    ),
    "unknown key in a number": (
        {"numbers": [{"nummer": "0612345678"}]},
        "numbers.0",
        "Unknown field 'nummer' in number 1.",
    ),
    "unknown field": ({"emial": "x@y.nl"}, "emial", "Unknown field 'emial'."),
}


@pytest.mark.parametrize(
    ("data", "field", "message"), FIELD_ERRORS.values(), ids=list(FIELD_ERRORS)
)
def test_each_mistake_is_named_on_its_field(data: dict[str, Any], field: str, message: str) -> None:
    found = errors({"name": "Jan", **data})
    assert found.get(field) == message, found


def test_messages_come_in_the_language_of_the_translator_given() -> None:
    """The board passes the reader's language; the check itself stays the same."""
    result = parse_contact_form(
        {"name": "n" * 201, "numbers": ["0612345678", "12", "+31 6 1234 5678"], "vip": "ja"},
        region="NL",
        t=i18n.translator("nl"),
    )
    assert isinstance(result, list)
    assert {e.field: e.message for e in result} == {
        "name": "Naam: te lang, 201 tekens (maximaal 200).",
        "vip": "VIP moet ja of nee zijn (true of false).",
        "numbers.1": "'12' is te kort voor een telefoonnummer (een intern toestelnummer?).",
        "numbers.2": "'+31 6 1234 5678' is hetzelfde nummer als nummer 1 (06 12345678).",
    }


def test_every_mistake_is_reported_at_once() -> None:
    found = errors(
        {
            "name": "",
            "email": "nope",
            "vip": "ja",
            "language": "fr",
            "numbers": ["0612345678", "12", "", "06 1234 5678"],
        }
    )
    assert set(found) == {"name", "email", "vip", "language", "numbers.1", "numbers.3"}


def test_one_number_twice_in_a_form_points_at_the_first() -> None:
    found = errors({"name": "Jan", "numbers": ["0612345678", "020 5551234", "+31 6 1234 5678"]})
    assert found == {
        "numbers.2": "'+31 6 1234 5678' is the same number as number 1 (06 12345678).",
    }


def test_blank_number_rows_are_skipped_but_rows_keep_their_place() -> None:
    draft = parse({"name": "Jan", "numbers": ["", {"number": "  "}, "0612345678", None]})
    assert draft.numbers == (LabelledNumber("+31612345678"),)
    found = errors({"name": "Jan", "numbers": ["", "", "12"]})
    assert list(found) == ["numbers.2"]


def test_at_most_twenty_numbers() -> None:
    numbers = [f"06458{i:05d}" for i in range(MAX_NUMBERS + 1)]
    assert parse({"name": "Jan", "numbers": numbers[:MAX_NUMBERS]}).numbers[-1].e164 == (
        "+3164580" + "0019"
    )
    assert errors({"name": "Jan", "numbers": numbers}) == {
        "numbers": f"At most {MAX_NUMBERS} numbers per contact ({MAX_NUMBERS + 1} given)."
    }


def test_a_contact_echoed_back_from_the_api_is_accepted() -> None:
    """A client may GET a contact, change a field and PUT the whole object back."""
    stored = {
        "id": 7,
        "name": "Jan",
        "source": None,
        "updated_at": "2025-01-01T00:00:00+00:00",
        "numbers": [
            {
                "e164": "+31612345678",
                "display": "06 12345678",
                "label": "mobiel",
                "verified_at": None,
                "verified_days_ago": None,
            }
        ],
    }
    assert parse(stored).numbers == (LabelledNumber("+31612345678", "mobiel"),)


DISPLAY = {
    "+31612345678": "06 12345678",
    "+31205551234": "020 555 1234",
    "+32475123456": "+32 475 12 34 56",
}


@pytest.mark.parametrize(("e164", "shown"), DISPLAY.items())
def test_numbers_are_shown_the_way_receptionists_write_them(e164: str, shown: str) -> None:
    assert display_number(e164, "NL") == shown


SEARCHES = {
    "a mobile written nationally": ("0645", ["+31645%"]),
    "with separators": ("06-45 81", ["+3164581%"]),
    "internationally": ("+3164", ["+3164%"]),
    "with 00": ("0031645", ["+31645%"]),
    "the end of a number": ("810001", ["%810001%"]),
    "a whole number": ("06 4581 0001", ["+31645810001"]),
    "a name": ("Visser", []),
    "two digits are too few to mean a number": ("06", []),
}


@pytest.mark.parametrize(("query", "patterns"), SEARCHES.values(), ids=list(SEARCHES))
def test_number_searches_are_normalised(query: str, patterns: list[str]) -> None:
    assert number_patterns(query, "NL") == patterns

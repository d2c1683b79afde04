import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.core.numbers import NumberKind, known_number, normalise
from switchboard.core.text import MAX_DISPLAY_NAME, sanitise_display_name


@pytest.mark.parametrize(
    "raw", ["0612345678", "+31612345678", "0031 6 1234 5678", "31612345678", "06-12 34 56 78"]
)
def test_every_way_of_writing_a_dutch_mobile_is_one_number(raw: str) -> None:
    number = normalise(raw, "NL")
    assert number.kind is NumberKind.PUBLIC
    assert number.e164 == "+31612345678"


@pytest.mark.parametrize("raw", ["", "anonymous", "Anonymous", "unknown", "restricted", None])
def test_withheld_numbers_are_recognised_as_such(raw: str | None) -> None:
    assert normalise(raw).kind is NumberKind.WITHHELD
    assert not normalise(raw).matchable


@pytest.mark.parametrize("raw", ["100", "201", "2001"])
def test_internal_extensions_never_match_a_contact(raw: str) -> None:
    assert normalise(raw).kind is NumberKind.INTERNAL


@pytest.mark.parametrize(
    "raw",
    ["12345678901234567890", "06123", "+1", "'; DROP TABLE contacts;--", "0612\n345678", "x" * 500],
)
def test_garbage_is_invalid_and_never_matches(raw: str) -> None:
    number = normalise(raw)
    assert number.kind in {NumberKind.INVALID, NumberKind.INTERNAL}
    assert number.e164 is None


@given(st.text(max_size=80))
def test_normalise_never_raises_and_only_returns_e164(raw: str) -> None:
    number = normalise(raw)
    if number.kind is NumberKind.PUBLIC:
        assert number.e164 is not None and number.e164.startswith("+")
        assert number.e164[1:].isdigit()
    else:
        assert number.e164 is None


@given(st.text())
def test_display_names_are_one_short_harmless_line(text: str) -> None:
    name = sanitise_display_name(text)
    assert len(name) <= MAX_DISPLAY_NAME
    assert not any(c in name for c in '"\\<>;\r\n\x00')
    assert name == name.strip()


def test_display_name_keeps_accents_and_drops_injection() -> None:
    assert sanitise_display_name('José "Boss"\nEXEC System') == "José Boss EXEC System"


# -- the shortcut for numbers recognition already knows -----------------------------------

REGIONS = ["NL", "BE", "DE", "GB", "US", "AR", "FR"]


@given(
    region=st.sampled_from(REGIONS),
    national=st.text(alphabet="0123456789", min_size=6, max_size=12),
    shape=st.sampled_from(["national", "e164", "00", "bare", "spaced"]),
)
def test_a_known_number_is_found_exactly_as_phonenumbers_would_read_it(
    region: str, national: str, shape: str
) -> None:
    country_code = str(phonenumbers.country_code_for_region(region))
    prefix = phonenumbers.PhoneMetadata.metadata_for_region(region).national_prefix or ""
    raw = {
        "national": prefix + national,
        "e164": f"+{country_code}{national}",
        "00": f"00{country_code}{national}",
        "bare": national,
        "spaced": f"{prefix}{national[:2]} {national[2:]}",
    }[shape]
    # Whatever phonenumbers makes of this or its neighbours is "known" (a contact's).
    known = {
        n.e164
        for n in (normalise(raw, region), normalise(f"+{country_code}{national}", region))
        if n.e164
    }
    shortcut = known_number(raw, region, known.__contains__)
    assert shortcut is None or shortcut == normalise(raw, region).e164


def test_the_shortcut_takes_a_trunk_s_usual_forms_of_a_known_number() -> None:
    known = {"+31612345678"}.__contains__
    assert known_number("0612345678", "NL", known) == "+31612345678"
    assert known_number("+31612345678", "NL", known) == "+31612345678"
    # Anything else goes the long way round, through phonenumbers.
    for raw in ["0031612345678", "06-12345678", "0687654321", "100", None, "+3161234567\uff18"]:
        assert known_number(raw, "NL", known) is None
    # Regions where phonenumbers rewrites national numbers its own way are not guessed.
    assert known_number("0111512345678", "AR", lambda _: True) is None

"""Every text the board shows exists in Dutch, with the same placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

from aiohttp.test_utils import make_mocked_request

from switchboard_ui import i18n

UI = Path(i18n.__file__).parent
# Messages of the pure core that the board shows, translated by the translator it is given.
CORE_MESSAGES = [
    UI.parent / "switchboard" / "core" / name for name in ("contact_form.py", "caller_card.py")
]
# t("...") in templates and scripts; English text is the key.
CALL = re.compile(r"""\bt\(\s*"((?:[^"\\]|\\.)*)"\s*[,)]""")


def texts_in_use() -> set[str]:
    found: set[str] = set()
    pages = [*UI.glob("templates/*.html"), *UI.glob("static/*.js"), *UI.glob("*.py")]
    for path in [*pages, *CORE_MESSAGES]:
        found.update(CALL.findall(path.read_text(encoding="utf-8")))
    return found


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_text_on_the_pages_has_a_dutch_translation() -> None:
    missing = sorted(texts_in_use() - i18n.DUTCH.keys())
    assert not missing, f"add Dutch for: {missing}"


def test_no_dutch_translation_is_left_over_from_a_removed_text() -> None:
    unused = sorted(i18n.DUTCH.keys() - texts_in_use())
    assert not unused, f"no longer used: {unused}"


def test_dutch_keeps_every_placeholder() -> None:
    for english, dutch in i18n.DUTCH.items():
        assert placeholders(english) == placeholders(dutch), english


def test_placeholders_are_filled_after_translation() -> None:
    assert i18n.translate("nl", "in queue {queue}", queue="sales") == "in wachtrij sales"
    assert i18n.translate("en", "in queue {queue}", queue="sales") == "in queue sales"


def test_a_chosen_language_beats_the_browser_preference() -> None:
    dutch_browser = {"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.8"}
    assert i18n.language_of(make_mocked_request("GET", "/", headers=dutch_browser)) == "nl"
    chose_english = {**dutch_browser, "Cookie": f"{i18n.LANGUAGE_COOKIE}=en"}
    assert i18n.language_of(make_mocked_request("GET", "/", headers=chose_english)) == "en"
    unknown = {"Accept-Language": "de-DE", "Cookie": f"{i18n.LANGUAGE_COOKIE}=xx"}
    assert i18n.language_of(make_mocked_request("GET", "/", headers=unknown)) == "en"


def test_the_script_catalogue_cannot_close_its_script_element() -> None:
    original = dict(i18n.DUTCH)
    try:
        i18n.DUTCH["</script><script>alert(1)</script>"] = "&"
        text = i18n.script_catalogue("nl")
    finally:
        i18n.DUTCH.clear()
        i18n.DUTCH.update(original)
    assert "<" not in text and "&" not in text

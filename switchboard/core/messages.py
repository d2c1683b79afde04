"""Texts the core writes for receptionists, in their language.

The core stays free of the web layer: a function that writes such a text takes a
translator ``t(english_text, **values)`` and calls it with the English text literally, so
the catalogue test in tests/unit/test_i18n.py can find it. The board passes its
request's translator (switchboard_ui/i18n.py); everything else gets English.
"""

from __future__ import annotations

from collections.abc import Callable

# t(english_text, **values) -> the text in the reader's language, {values} filled in.
Translate = Callable[..., str]


def english(text: str, **values: object) -> str:
    """The default translator: the English text is its own translation."""
    return text.format(**values) if values else text

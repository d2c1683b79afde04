"""Text that reaches a phone display, a SIP header, the dialplan or the board: made
harmless first, by one rule (:func:`one_line`)."""

from __future__ import annotations

import unicodedata

MAX_DISPLAY_NAME = 40
# Quotes, backslashes and angle brackets end or escape a SIP display name or AGI argument.
_FORBIDDEN = frozenset('"\\<>;')


def one_line(value: str, limit: int, *, blanked: frozenset[str] = frozenset()) -> str:
    """``value`` on one printable line of at most ``limit`` characters: control
    characters, every kind of space and the characters in ``blanked`` become a space,
    runs of spaces one space, none at either end."""
    cleaned = "".join(
        " " if char in blanked or unicodedata.category(char)[0] in "CZ" else char for char in value
    )
    return " ".join(cleaned.split())[:limit].rstrip()


def sanitise_display_name(text: str | None) -> str:
    """A single-line, printable caller name of at most MAX_DISPLAY_NAME characters,
    without the characters that end or escape a SIP display name or AGI argument."""
    if not text:
        return ""
    return one_line(text, MAX_DISPLAY_NAME, blanked=_FORBIDDEN)

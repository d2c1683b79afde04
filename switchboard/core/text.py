"""Text that reaches a phone display, a SIP header or the dialplan: made harmless first."""

from __future__ import annotations

import unicodedata

MAX_DISPLAY_NAME = 40
# Quotes, backslashes and angle brackets end or escape a SIP display name or AGI argument.
_FORBIDDEN = frozenset('"\\<>;')


def sanitise_display_name(text: str | None) -> str:
    """A single-line, printable caller name of at most MAX_DISPLAY_NAME characters."""
    if not text:
        return ""
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category.startswith("C") or char in _FORBIDDEN:
            kept.append(" ")
        elif category.startswith("Z"):
            kept.append(" ")
        else:
            kept.append(char)
    return " ".join("".join(kept).split())[:MAX_DISPLAY_NAME].rstrip()

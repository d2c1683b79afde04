"""Caller numbers as Asterisk hands them to us, normalised to E.164 with ``phonenumbers``.

Caller IDs are attacker-controlled: anything that is not clearly a phone number is
classified, never matched, and never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

import phonenumbers

WITHHELD_WORDS = frozenset(
    {"", "anonymous", "unknown", "restricted", "private", "withheld", "unavailable", "asterisk"}
)
# Internal extensions are short; anything this short cannot be a public number.
MAX_EXTENSION_DIGITS = 6
MAX_RAW_LENGTH = 64
_SEPARATORS = re.compile(r"[ \-./()]")
_DIALLABLE = re.compile(r"\+?[0-9]+")


class NumberKind(Enum):
    PUBLIC = "public"
    WITHHELD = "withheld"
    INTERNAL = "internal"
    INVALID = "invalid"


@dataclass(frozen=True)
class CallerNumber:
    kind: NumberKind
    e164: str | None = None

    @property
    def matchable(self) -> bool:
        return self.kind is NumberKind.PUBLIC


def normalise(raw: str | None, region: str = "NL") -> CallerNumber:
    """Classify ``raw`` and, for a public number, return its E.164 form."""
    if raw is None or len(raw) > MAX_RAW_LENGTH:
        return CallerNumber(NumberKind.INVALID if raw else NumberKind.WITHHELD)
    text = raw.strip()
    if text.lower() in WITHHELD_WORDS:
        return CallerNumber(NumberKind.WITHHELD)
    compact = _SEPARATORS.sub("", text)
    if not _DIALLABLE.fullmatch(compact):
        return CallerNumber(NumberKind.INVALID)
    if not compact.startswith("+") and len(compact) <= MAX_EXTENSION_DIGITS:
        return CallerNumber(NumberKind.INTERNAL)
    # Some trunks send international numbers without the leading + or 00.
    candidates = [compact] if compact.startswith("+") else [compact, "+" + compact]
    for candidate in candidates:
        try:
            parsed = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            return CallerNumber(NumberKind.PUBLIC, e164)
    return CallerNumber(NumberKind.INVALID)

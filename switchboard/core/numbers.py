"""Caller numbers as Asterisk hands them to us, normalised to E.164 with ``phonenumbers``.

Caller IDs are attacker-controlled: anything that is not clearly a phone number is
classified, never matched, and never raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneMetadata

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


_DIGITS = re.compile(r"[0-9]+")


@lru_cache(maxsize=64)
def _plain_national_prefix(region: str) -> tuple[str, str] | None:
    """(national prefix, country code) when the region's numbers dialled nationally are
    simply the prefix and the national number (NL: "0" and "31"); None where
    phonenumbers applies rules of its own (GB's "180020", AR's transforms, ...)."""
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None or not metadata.national_prefix or metadata.country_code is None:
        return None
    if metadata.national_prefix_transform_rule is not None:
        return None
    if metadata.national_prefix_for_parsing not in (None, metadata.national_prefix):
        return None
    return metadata.national_prefix, str(metadata.country_code)


def known_number(raw: str | None, region: str, is_known: Callable[[str], bool]) -> str | None:
    """The E.164 form of ``raw`` when it is plainly one of ``is_known``'s numbers (which
    :func:`normalise` accepted before, e.g. a contact's), else None: then ask
    :func:`normalise`.

    Recognition runs while the line rings, and parsing with phonenumbers is most of its
    cost. A caller id as trunks send it (+31612345678, or 0612345678 in NL) of a
    number we already know needs no parsing: it can only be that number."""
    if raw is None or len(raw) > MAX_RAW_LENGTH:
        return None
    if raw.startswith("+"):
        candidate = raw
    else:
        plain = _plain_national_prefix(region)
        if plain is None or len(raw) <= MAX_EXTENSION_DIGITS:
            return None
        prefix, country_code = plain
        if not raw.startswith(prefix):
            return None
        candidate = f"+{country_code}{raw[len(prefix) :]}"
    if not _DIGITS.fullmatch(candidate, 1) or not is_known(candidate):
        return None
    return candidate

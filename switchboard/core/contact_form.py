"""Adding and editing one contact by hand, as a receptionist does from the board.

Two halves:

- :func:`parse_contact_form` is pure: the submitted form (a JSON object) in, a
  :class:`ContactDraft` or a list of :class:`FieldError` out, every error naming its
  field (``name``, ``numbers.1``, ``numbers.1.label``, ...) in words a receptionist
  understands, in English or through the translator it is given (the board passes
  the request's language; the English text is the key, see switchboard_ui/i18n.py).
  Numbers are normalised with :func:`switchboard.core.numbers.normalise`; one that is not
  a usable public number is refused with a message that shows it.
- Storing it is :mod:`switchboard.store.contacts`'s job.

A contact's numbers are replaced as a whole on update, but a number that stays keeps its
``verified_at``: retyping ``06 1234 5678`` as ``0612345678`` does not lose the
verification, since both are the same E.164 number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import phonenumbers

from switchboard.core.contacts import (
    EMAIL,
    MAX_ADDRESS_CHARS,
    MAX_COMPANY_CHARS,
    MAX_EMAIL_CHARS,
    MAX_LABEL_CHARS,
    MAX_NAME_CHARS,
    MAX_NOTES_CHARS,
    MAX_NUMBERS,
    LabelledNumber,
)
from switchboard.core.messages import Translate, english
from switchboard.core.numbers import NumberKind, normalise

Language = Literal["nl", "en"]

MAX_QUERY_CHARS = 100

# What the form may carry, and the fields a client may echo back from GET unchanged.
FORM_FIELDS = frozenset(
    {"name", "company", "numbers", "email", "address", "notes", "vip", "language"}
)
READ_ONLY_FIELDS = frozenset({"id", "source", "updated_at", "created_at"})
NUMBER_FIELDS = frozenset({"number", "label"})
READ_ONLY_NUMBER_FIELDS = frozenset({"e164", "display", "verified_at", "verified_days_ago"})

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # tab and newline are judged apart
# Pasted from a web page or a PDF: no-break and thin spaces, Unicode dashes.
_ODD_SPACES = re.compile(r"\s")
_ODD_DASHES = re.compile(r"[\u2010-\u2015\u2212]")
_NUMBER_QUERY = re.compile(r"\+?[0-9]{3,}")
_QUERY_SEPARATORS = re.compile(r"[\s\-./()]")


@dataclass(frozen=True)
class FieldError:
    field: str  # "name", "numbers", "numbers.0", "numbers.0.label", ...
    message: str


@dataclass(frozen=True)
class ContactDraft:
    """A contact as the receptionist submitted it, checked and normalised."""

    name: str
    company: str | None = None
    numbers: tuple[LabelledNumber, ...] = ()
    email: str | None = None
    address: str | None = None
    notes: str | None = None
    vip: bool = False
    language: Language = "nl"


# --------------------------------------------------------------------------- the form


def _shown(raw: str) -> str:
    """A value as a message quotes it: trimmed, and cut short when long."""
    text = raw.strip()
    return repr(text if len(text) <= 40 else text[:39] + "…")


def _text(
    data: Mapping[str, Any],
    key: str,
    label: str,
    limit: int,
    errors: list[FieldError],
    t: Translate,
    *,
    field: str | None = None,
    multiline: bool = False,
) -> str | None:
    """A stripped text value, None when absent or blank; an error is appended if bad.

    ``label`` names the field in the messages, already translated.
    """
    field = field or key
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append(FieldError(field, t("{label} must be text.", label=label)))
        return None
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return None
    if not multiline and ("\n" in text or "\t" in text):
        errors.append(FieldError(field, t("{label} must fit on one line.", label=label)))
        return None
    if _CONTROL.search(text):
        errors.append(
            FieldError(
                field,
                t("{label} contains an invisible control character; retype it.", label=label),
            )
        )
        return None
    if len(text) > limit:
        errors.append(
            FieldError(
                field,
                t(
                    "{label} is too long: {count} characters, at most {limit}.",
                    label=label,
                    count=str(len(text)),
                    limit=str(limit),
                ),
            )
        )
        return None
    return text


def _number_problem(raw: str, kind: NumberKind, t: Translate) -> str:
    shown = _shown(raw)
    if kind is NumberKind.INTERNAL:
        return t("{number} is too short for a phone number (an internal extension?).", number=shown)
    if kind is NumberKind.WITHHELD or not any(c.isdigit() for c in raw):
        return t("{number} is not a phone number.", number=shown)
    return t(
        "{number} is not a phone number we can call: check the digits (a foreign number starts with + or 00).",  # noqa: E501 (one line: the i18n test finds it)
        number=shown,
    )


def _numbers(
    value: Any, region: str, errors: list[FieldError], t: Translate
) -> tuple[LabelledNumber, ...]:
    """The numbers rows; blank rows (an added row left empty) are skipped.

    Errors are keyed by the row's position in the submitted list, so the page can put
    each message next to its own input.
    """
    if value is None:
        return ()
    if not isinstance(value, list):
        errors.append(FieldError("numbers", t("Numbers must be a list.")))
        return ()
    numbers: list[LabelledNumber] = []
    first_row: dict[str, int] = {}  # e164 -> row where it was first given
    for row, item in enumerate(value):
        field = f"numbers.{row}"
        position = str(row + 1)
        entry: Mapping[str, Any]
        if item is None:
            continue
        if isinstance(item, str):
            entry = {"number": item}
        elif isinstance(item, Mapping):
            entry = item
            unknown = sorted(set(entry) - NUMBER_FIELDS - READ_ONLY_NUMBER_FIELDS)
            if unknown:
                errors.append(
                    FieldError(
                        field,
                        t(
                            "Unknown field {name} in number {row}.",
                            name=repr(unknown[0]),
                            row=position,
                        ),
                    )
                )
                continue
            if entry.get("number") is None and isinstance(entry.get("e164"), str):
                entry = {**entry, "number": entry["e164"]}  # echoed back from GET
        else:
            errors.append(FieldError(field, t("Number {row} must be text.", row=position)))
            continue
        raw = entry.get("number")
        if raw is not None and not isinstance(raw, str):
            errors.append(FieldError(field, t("Number {row} must be text.", row=position)))
            continue
        label = _text(
            entry, "label", t("The label"), MAX_LABEL_CHARS, errors, t, field=f"{field}.label"
        )
        raw = _ODD_DASHES.sub("-", _ODD_SPACES.sub(" ", raw or "")).strip()
        if not raw:
            continue
        number = normalise(raw, region)
        if number.kind is not NumberKind.PUBLIC or number.e164 is None:
            errors.append(FieldError(field, _number_problem(raw, number.kind, t)))
            continue
        if number.e164 in first_row:
            earlier = first_row[number.e164]
            errors.append(
                FieldError(
                    field,
                    t(
                        "{number} is the same number as number {row} ({display}).",
                        number=_shown(raw),
                        row=str(earlier + 1),
                        display=display_number(number.e164, region),
                    ),
                )
            )
            continue
        first_row[number.e164] = row
        numbers.append(LabelledNumber(number.e164, label))
    if len(numbers) > MAX_NUMBERS:
        errors.append(
            FieldError(
                "numbers",
                t(
                    "At most {limit} numbers per contact ({count} given).",
                    limit=str(MAX_NUMBERS),
                    count=str(len(numbers)),
                ),
            )
        )
    return tuple(numbers)


def parse_contact_form(
    data: Mapping[str, Any], *, region: str, t: Translate = english
) -> ContactDraft | list[FieldError]:
    """Check a submitted contact; the draft, or every problem with the field it is in.

    ``t`` puts the messages in the reader's language (English by default).
    """
    errors: list[FieldError] = []
    for key in sorted(set(data) - FORM_FIELDS - READ_ONLY_FIELDS):
        errors.append(FieldError(str(key), t("Unknown field {name}.", name=repr(str(key)[:40]))))

    name = _text(data, "name", t("Name"), MAX_NAME_CHARS, errors, t)
    if name is None and not any(e.field == "name" for e in errors):
        errors.append(FieldError("name", t("Fill in the contact's name.")))
    company = _text(data, "company", t("Company"), MAX_COMPANY_CHARS, errors, t)
    email = _text(data, "email", t("E-mail"), MAX_EMAIL_CHARS, errors, t)
    if email is not None and not EMAIL.fullmatch(email):
        errors.append(
            FieldError(
                "email",
                t("{email} is not an e-mail address (like naam@bedrijf.nl).", email=_shown(email)),
            )
        )
    address = _text(data, "address", t("Address"), MAX_ADDRESS_CHARS, errors, t, multiline=True)
    notes = _text(data, "notes", t("Notes"), MAX_NOTES_CHARS, errors, t, multiline=True)

    vip = data.get("vip")
    if vip is None:
        vip = False
    elif not isinstance(vip, bool):
        errors.append(FieldError("vip", t("VIP must be yes or no (true or false).")))
        vip = False

    language: Language = "nl"
    raw_language = data.get("language")
    if raw_language is not None:
        chosen = raw_language.strip().lower() if isinstance(raw_language, str) else None
        if chosen in ("", "nl"):
            language = "nl"
        elif chosen == "en":
            language = "en"
        else:
            errors.append(
                FieldError(
                    "language",
                    t(
                        "Language must be Dutch (nl) or English (en), not {value}.",
                        value=repr(str(raw_language)[:20]),
                    ),
                )
            )

    numbers = _numbers(data.get("numbers"), region, errors, t)
    if errors or name is None:
        return errors
    return ContactDraft(name, company, numbers, email, address, notes, vip, language)


def display_number(e164: str, region: str) -> str:
    """How a receptionist writes the number: nationally at home, else internationally."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    home = phonenumbers.region_code_for_number(parsed) == region
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if home
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return str(phonenumbers.format_number(parsed, style))


# --------------------------------------------------------------------------- the database


def number_patterns(query: str, region: str) -> list[str]:
    """LIKE patterns on E.164 for a query that is (part of) a phone number, else none.

    ``0645`` is written nationally: the patterns look for ``+31645…``; ``0031645`` and
    ``+31645`` likewise; bare digits (``460001``) match anywhere in the number.
    """
    compact = _QUERY_SEPARATORS.sub("", _ODD_DASHES.sub("-", query))
    if not _NUMBER_QUERY.fullmatch(compact):
        return []
    full = normalise(compact, region)
    if full.kind is NumberKind.PUBLIC and full.e164 is not None:
        return [full.e164]
    if compact.startswith("+"):
        return [compact + "%"]
    if compact.startswith("00"):
        return ["+" + compact[2:] + "%"]
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    national_prefix = metadata.national_prefix if metadata else None
    if national_prefix and compact.startswith(national_prefix):
        country = phonenumbers.country_code_for_region(region)
        return [f"+{country}{compact[len(national_prefix) :]}%"]
    return [f"%{compact}%"]

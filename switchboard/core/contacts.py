"""What a contact is, apart from where it is kept: the types every layer shares."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# The limits of a contact's fields, as the table enforces them (migrations) or as far as
# anybody types; the board's form and the file import both check against these.
MAX_NAME_CHARS = 200  # contacts.name has CHECK (length(name) BETWEEN 1 AND 200)
MAX_COMPANY_CHARS = 200
MAX_EMAIL_CHARS = 254  # the longest address SMTP can carry
MAX_ADDRESS_CHARS = 500
MAX_NOTES_CHARS = 4000
MAX_LABEL_CHARS = 40
MAX_NUMBERS = 20
#: What passes for an e-mail address, typed or imported: something@something.tld.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class ContactError(ValueError):
    """A contact could not be stored as given."""


@dataclass(frozen=True, slots=True)
class ContactMatch:
    contact_id: int
    name: str
    company: str | None
    vip: bool
    language: str
    verified_at: datetime | None


@dataclass(frozen=True)
class LabelledNumber:
    """A contact's number in E.164, with the label people gave it ("mobiel", "werk")."""

    e164: str
    label: str | None = None


class ContactFields(Protocol):
    """What a new contact is made of, whether typed on the board or read from a file."""

    @property
    def name(self) -> str: ...
    @property
    def company(self) -> str | None: ...
    @property
    def vip(self) -> bool: ...
    @property
    def language(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def address(self) -> str | None: ...
    @property
    def notes(self) -> str | None: ...
    @property
    def numbers(self) -> Sequence[LabelledNumber]: ...


@dataclass(frozen=True)
class NewContact:
    """One contacts row to insert; ``source``/``external_id`` for imported contacts."""

    name: str
    company: str | None = None
    vip: bool = False
    language: str = "nl"
    email: str | None = None
    address: str | None = None
    notes: str | None = None
    source: str | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class StoredNumber:
    e164: str
    label: str | None
    verified_at: datetime | None


@dataclass(frozen=True)
class StoredContact:
    id: int
    name: str
    company: str | None
    email: str | None
    address: str | None
    notes: str | None
    vip: bool
    language: str
    source: str | None  # the list it was imported from; None when added by hand
    updated_at: datetime
    numbers: tuple[StoredNumber, ...]


@dataclass(frozen=True)
class ContactSummary:
    """One line of a search result."""

    id: int
    name: str
    company: str | None
    vip: bool
    numbers: tuple[str, ...]  # E.164

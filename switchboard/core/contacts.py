"""What a contact is, apart from where it is kept: the types every layer shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


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

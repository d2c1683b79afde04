"""Which contact stored by an earlier import of the same list a row of the file updates
(see :mod:`switchboard.store.contacts`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from switchboard.contact_files.common import ImportedContact


@dataclass(frozen=True)
class PreviousImport:
    """A contact as an earlier import of the same source left it."""

    id: int
    name: str
    company: str | None = None
    email: str | None = None
    notes: str | None = None
    vip: bool = False
    language: str = "nl"
    address: str | None = None
    external_id: str | None = None
    numbers: dict[str, str | None] = field(default_factory=dict)  # e164 -> label


def match_contacts(
    stored: Sequence[PreviousImport],
    incoming: Sequence[ImportedContact],
    *,
    company_in_file: bool = True,
) -> list[int | None]:
    """For each incoming contact, the id of the stored contact it updates (or None).

    Pure: the rule of the module docstring, with every stored contact taken at most
    once and the lowest id winning a tie.
    """
    matches: list[int | None] = [None] * len(incoming)
    taken: set[int] = set()
    ordered = sorted(stored, key=lambda c: c.id)

    by_id = {c.external_id: c.id for c in ordered if c.external_id is not None}
    for i, contact in enumerate(incoming):
        if contact.external_id is not None and (found := by_id.get(contact.external_id)):
            matches[i] = found
            taken.add(found)

    def claim(i: int, candidates: list[PreviousImport]) -> None:
        for candidate in candidates:
            if candidate.id in taken:
                continue
            if incoming[i].external_id is not None and candidate.external_id is not None:
                continue  # another id in the same list: another contact
            matches[i] = candidate.id
            taken.add(candidate.id)
            return

    emails: dict[str, list[PreviousImport]] = {}
    for c in ordered:
        if c.email:
            emails.setdefault(c.email.casefold(), []).append(c)
    rows_per_email: dict[str, int] = {}
    for contact in incoming:
        if contact.email:
            key = contact.email.casefold()
            rows_per_email[key] = rows_per_email.get(key, 0) + 1
    for i, contact in enumerate(incoming):
        if matches[i] is None and contact.email:
            key = contact.email.casefold()
            if rows_per_email[key] == 1:
                claim(i, emails.get(key, []))

    def person(name: str, company: str | None) -> tuple[str, str | None]:
        return (name, company if company_in_file else None)

    people: dict[tuple[str, str | None], list[PreviousImport]] = {}
    for c in ordered:
        people.setdefault(person(c.name, c.company), []).append(c)
    for i, contact in enumerate(incoming):
        if matches[i] is None:
            claim(i, people.get(person(contact.name, contact.company), []))
    return matches

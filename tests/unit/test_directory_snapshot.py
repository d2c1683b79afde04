"""The directory snapshot: rows in, facts out; freed a slice at a time when replaced."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pbx_agi import caller_directory
from pbx_agi.caller_directory import DirectorySnapshot


async def test_a_replaced_snapshot_is_emptied_in_slices_with_other_work_in_between(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    snapshot = DirectorySnapshot(timedelta(days=30))
    snapshot.put_contacts(
        {
            "id": i,
            "name": f"Contact {i}",
            "company": None,
            "vip": False,
            "language": "nl",
            "numbers": [f"+3164545{i:04d}"],
            "verified": [None],
        }
        for i in range(10)
    )
    monkeypatch.setattr(caller_directory, "DISPOSE_SLICE", 3)
    left_at_each_turn: list[int] = []

    async def a_call_being_served() -> None:
        while True:
            left_at_each_turn.append(len(snapshot.by_number))
            await asyncio.sleep(0)

    other = asyncio.create_task(a_call_being_served())
    await asyncio.sleep(0)
    await snapshot.dispose()
    other.cancel()
    assert snapshot.number_count == 0 and not snapshot.numbers_of
    # The other task saw the numbers go three at a time, not all at once.
    assert [10, 7, 4, 1] == sorted(set(left_at_each_turn), reverse=True)[:4]


def contact_row(**changes: Any) -> dict[str, Any]:
    row = {
        "id": 7,
        "name": "Anna Jansen",
        "company": "Jansen BV",
        "vip": False,
        "language": "nl",
        "numbers": ["+31645450010", "+31645450011"],
        "verified": [datetime(2026, 1, 5, tzinfo=UTC), None],
    }
    return row | changes


def test_a_contact_read_again_unchanged_keeps_the_objects_held() -> None:
    """A refresh reads the last seconds again. Replacing what it holds anyway made fresh
    objects of a whole import for the garbage collector to walk: 65-100 ms pauses."""
    snapshot = DirectorySnapshot(timedelta(days=30))
    snapshot.put_contacts([contact_row()])
    held = snapshot.by_number["+31645450010"][0]
    snapshot.put_contacts([contact_row()])
    assert snapshot.by_number["+31645450010"][0] is held


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Anna de Vries"},
        {"company": None},
        {"vip": True},
        {"language": "en"},
        {"verified": [None, None]},
        {"numbers": ["+31645450010", "+31645450012"]},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_changed_contact_replaces_what_is_held(change: dict[str, Any]) -> None:
    snapshot = DirectorySnapshot(timedelta(days=30))
    snapshot.put_contacts([contact_row()])
    snapshot.put_contacts([contact_row(**change)])
    now = datetime(2026, 11, 23, tzinfo=UTC)
    changed = contact_row(**change)
    for e164, verified_at in zip(changed["numbers"], changed["verified"], strict=True):
        (match,) = snapshot.facts(e164, now).matches
        assert (match.name, match.company, match.vip, match.language, match.verified_at) == (
            changed["name"],
            changed["company"],
            changed["vip"],
            changed["language"],
            verified_at,
        )
    for dropped in {"+31645450010", "+31645450011"} - set(changed["numbers"]):
        assert snapshot.facts(dropped, now).matches == ()


def test_a_contact_without_numbers_is_taken_again_and_losing_its_numbers_forgets_them() -> None:
    snapshot = DirectorySnapshot(timedelta(days=30))
    no_numbers = contact_row(id=8, numbers=None, verified=None)
    snapshot.put_contacts([no_numbers])
    snapshot.put_contacts([no_numbers])  # read again, as every refresh reads the last seconds
    snapshot.put_contacts([contact_row()])
    snapshot.put_contacts([contact_row(numbers=None, verified=None)])
    assert snapshot.number_count == 0

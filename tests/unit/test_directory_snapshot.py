"""The replaced directory snapshot is freed a slice at a time, with calls served between."""

from __future__ import annotations

import asyncio
from datetime import timedelta

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

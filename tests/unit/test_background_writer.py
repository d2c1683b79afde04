"""The journals' writer loses nothing: failed or hung writes are retried, in order."""

from __future__ import annotations

import asyncio

import pytest

from switchboard.store import background_writer
from switchboard.store.background_writer import BackgroundWriter


class TargetServerAttributeNotMatched(Exception):
    """Like asyncpg's, raised while a restarted server comes up: not an InterfaceError."""


async def test_every_row_is_written_in_order_whatever_the_database_throws(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(background_writer, "RETRY_AFTER_S", 0.0)
    written: list[int] = []
    troubles = [ConnectionResetError(), TargetServerAttributeNotMatched(), None]

    async def write(row: int) -> None:
        if row == 2 and troubles:
            trouble = troubles.pop(0)
            if trouble is not None:
                raise trouble
            await asyncio.sleep(10)  # hangs: the timeout gives up on this attempt
        written.append(row)

    writer = BackgroundWriter[int]("test journal", write, timeout_s=0.05)
    writer.start()
    for row in (1, 2, 3):
        writer.put(row, f"row {row}")
    await writer.close(grace_s=5)
    assert written == [1, 2, 3]


async def test_a_full_backlog_is_reported_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def write(_row: int) -> None:
        await asyncio.sleep(10)

    writer = BackgroundWriter[int]("test journal", write, max_backlog=1)
    writer.put(1, "row 1")
    writer.put(2, "row 2")
    assert "test journal backlog full; row 2 not journalled" in caplog.text
    await writer.close(grace_s=0.01)

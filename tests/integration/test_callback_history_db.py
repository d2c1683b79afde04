"""A callback in the caller's history (issue 14): the caller card says how it went."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from switchboard.board.caller_card import caller_card
from switchboard.core.callbacks import RetryPolicy
from switchboard.core.caller_card import describe_callback
from switchboard.store import callbacks

pytestmark = pytest.mark.integration


def test_each_way_a_callback_can_go_reads_as_a_sentence() -> None:
    reached = [(1, "202", "no answer"), (2, "201", "reached")]
    assert describe_callback("queue", "done", reached) == (
        "callback asked for in the queue, reached by 201 at attempt 2"
    )
    assert describe_callback("web", "not reached", [(1, "", "no answer")] * 3) == (
        "callback asked for on the website, not reached after 3 attempts"
    )
    assert describe_callback("board", "done", []) == (
        "callback scheduled on the board, answered when they called again"
    )
    assert (
        describe_callback("queue", "waiting", [])
        == "callback asked for in the queue, waiting in line"
    )


async def test_the_caller_card_tells_the_callback_among_the_calls(db: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    e164, queue = "+31612000701", "cb-history"
    await db.execute("DELETE FROM callbacks WHERE e164 = $1", e164)
    stored, _ = await callbacks.request(
        db,
        pbx="main",
        queue=queue,
        e164=e164,
        source="queue",
        joined_at=now - timedelta(minutes=12),
        not_before=now - timedelta(minutes=12),
        subject="offerte",
    )
    taken = await callbacks.claim(
        db,
        pbx="main",
        queue=queue,
        owner="t",
        members=["201"],
        now=now,
        lease=timedelta(seconds=30),
    )
    assert [c.id for c in taken] == [stored.id]
    assert await callbacks.connected(db, stored.id, 1)
    await callbacks.finish_attempt(
        db, stored.id, "t", reached=True, result="reached", now=now, policy=RetryPolicy()
    )
    card = await caller_card(db, "0612000701", region="NL", now=now)
    (line,) = [h for h in card["history"] if h["direction"] == "callback"]
    assert line["outcome"] == "callback asked for in the queue, reached by 201 at attempt 1"
    assert line["note"] == "offerte" and line["result"] == "done"

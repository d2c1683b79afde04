"""Issue 13, part 1: the board shows the expected wait beside each waiting caller, as
the bridge estimates it (switchboard.core.calls.waits), and drops it when the caller is
answered."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from switchboard.board import figures
from switchboard.core.calls.model import Call, CallState
from switchboard.core.service_level import Thresholds
from switchboard.store.calls import write_call
from tests.browser.conftest import Board, logged_in, waiting_call

pytestmark = [pytest.mark.integration, pytest.mark.browser]


async def test_the_expected_wait_is_beside_each_waiting_caller(
    browser: Browser, db: asyncpg.Pool, board: Board
) -> None:
    page = await logged_in(browser, db, board)
    first = {**waiting_call("+31612345678", "Anna"), "queue_position": 1}
    second = {**waiting_call("+31687654321", "Bert"), "queue_position": 2}
    board.hub.publish({"type": "call", "call": first})
    board.hub.publish({"type": "call", "call": second})
    waits = [
        {"call_id": first["call_id"], "minutes": 2, "more_than": False, "basis": "handle times"},
        {"call_id": second["call_id"], "minutes": 15, "more_than": True, "basis": "handle times"},
    ]
    board.hub.publish({"type": "waits", "pbx": "test", "waits": waits})
    details = page.locator("#waiting .call .detail")
    await expect(details).to_have_text(
        [
            "in queue switchboard, position 1 · about 2 min",
            "in queue switchboard, position 2 · more than 15 min",
        ]
    )
    # A new estimate replaces the PBX's old ones: Anna is next, Bert's is not known.
    board.hub.publish({"type": "waits", "pbx": "test", "waits": waits[:1]})
    await expect(details).to_have_text(
        ["in queue switchboard, position 1 · about 2 min", "in queue switchboard, position 2"]
    )


async def test_the_board_says_how_often_announced_waits_were_overrun_today(
    browser: Browser, db: asyncpg.Pool, board: Board
) -> None:
    # Today's figures (the board's panel counts by the first moment in a queue).
    zone = ZoneInfo("Europe/Amsterdam")
    before = (await figures.today(db, zone, Thresholds(), datetime.now(UTC))).total
    announced, overrun = before.announced, before.overrun
    now = time.time()
    # Told "about 2 minutes" and answered after 1:30; told 1 minute, answered after 3.
    for linked_id, waited, promised in (("kept", 90.0, 120.0), ("broken", 180.0, 60.0)):
        call = Call(
            call_id=f"test:{linked_id}-{now}",
            pbx="test",
            linked_id=f"{linked_id}-{now}",
            caller_number="0612345678",
            caller_name="",
            state=CallState.TALKING,
            started_at=now - waited - 5,
            queued_at=now - waited,
            answered_at=now,
            via_queue="switchboard",
            predicted_wait_s=promised,
        )
        await write_call(db, call, "NL")
    page = await logged_in(browser, db, board)
    await expect(page.locator("#figures [data-figure=overrun]")).to_have_text(
        f"{overrun + 1} of {announced + 2}"
    )

"""Issue 13, part 1: the board shows the expected wait beside each waiting caller, as
the bridge estimates it (switchboard.core.calls.waits), and drops it when the caller is
answered."""

from __future__ import annotations

import asyncpg
import pytest
from playwright.async_api import Browser, expect

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

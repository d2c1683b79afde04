"""Issue 14: the board's callback panel in a real browser: a receptionist schedules a
callback for a caller they could not help now, sees it in line with its place, and
cancels it; a request from the queue shows up live."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from switchboard.store import callbacks
from tests.browser.conftest import Board, logged_in

pytestmark = [pytest.mark.integration, pytest.mark.browser]


async def test_schedule_a_callback_see_its_place_and_cancel_it(
    browser: Browser, db: asyncpg.Pool, board: Board
) -> None:
    await db.execute("DELETE FROM callbacks WHERE queue = 'switchboard' AND state = 'waiting'")
    page = await logged_in(browser, db, board)
    form = page.locator("#callback-form")
    await form.locator("input[name=number]").fill("06 1200 0401")
    await form.locator("input[name=name]").fill("Mevrouw Visser")
    await form.get_by_role("button", name="Schedule a callback").click()
    await expect(page.locator("#callback-status")).to_have_text("Saved.")
    mine = page.locator("#callbacks li", has_text="Mevrouw Visser")
    await expect(mine.locator(".detail")).to_have_text(
        re.compile(r"^waiting · place 1 · waited 0:0\d$")
    )
    row = await db.fetchrow(
        "SELECT source, requested_by FROM callbacks"
        " WHERE e164 = '+31612000401' AND state = 'waiting'"
    )
    assert (row["source"], row["requested_by"]) == ("board", "joris")
    # A caller who asked in the queue five minutes earlier is in front of her, live.
    await callbacks.request(
        db,
        pbx="main",
        queue="switchboard",
        e164="+31612000402",
        source="queue",
        joined_at=datetime.now(UTC) - timedelta(minutes=5),
        not_before=datetime.now(UTC),
    )
    board.hub.publish({"type": "callbacks"})
    await expect(mine.locator(".detail")).to_have_text(re.compile(r"^waiting · place 2 · "))
    # A number that cannot be called is refused with the reason.
    await form.locator("input[name=number]").fill("0900 1234567")
    await form.get_by_role("button", name="Schedule a callback").click()
    await expect(page.locator("#callback-status")).to_have_text(
        "Not saved: number: a premium-rate number"
    )
    await mine.get_by_role("button", name="Cancel").click()
    await expect(mine.locator(".detail")).to_have_text("cancelled")
    assert (
        await db.fetchval(
            "SELECT state FROM callbacks WHERE e164 = '+31612000401' ORDER BY id DESC LIMIT 1"
        )
        == "cancelled"
    )

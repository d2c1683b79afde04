"""Issue 13: the board shows each schedule's state and closes the line now, with a
reason and an end time, in a real browser; the override is what the FastAGI route reads
(proven with real calls in tests/integration/test_hours_sandbox.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from switchboard.core.opening import Hours
from switchboard.core.schedule import parse_schedule
from switchboard.store.hours_overrides import current_override
from tests.browser.conftest import Board, logged_in, serve_board

pytestmark = [pytest.mark.integration, pytest.mark.browser]

ALWAYS = {day: "00:00-24:00" for day in ("monday", "tuesday", "wednesday", "thursday")}
ALWAYS |= {day: "00:00-24:00" for day in ("friday", "saturday", "sunday")}


@pytest.fixture
async def open_board(db: asyncpg.Pool) -> AsyncIterator[Board]:
    await db.execute("DELETE FROM hours_overrides WHERE schedule = 'reception'")
    reception = Hours(parse_schedule("reception", ALWAYS), queues=("switchboard",))
    async with serve_board(db, hours=[reception]) as served:
        yield served


async def test_close_now_until_a_time_and_back_to_the_schedule(
    browser: Browser, db: asyncpg.Pool, open_board: Board
) -> None:
    page = await logged_in(browser, db, open_board)
    shown = page.locator("#hours-list li")
    await expect(shown).to_have_text("reception: open")
    form = page.locator("#hours-form")
    await form.locator("input[name=reason]").fill("staff meeting")
    await form.locator("input[name=until]").fill("23:59")
    await form.get_by_role("button", name="Close now").click()
    await expect(page.locator("#hours-status")).to_have_text("Saved.")
    # (Just before midnight the same time is tomorrow's.)
    await expect(shown).to_have_text(
        re.compile(r"^reception: closed, opens (tomorrow )?23:59 \(staff meeting, joris\)$")
    )
    override = await current_override(db, "reception", datetime.now(UTC))
    assert override is not None and override.by == "joris" and not override.open
    await form.get_by_role("button", name="Follow the schedule").click()
    await expect(shown).to_have_text("reception: open")

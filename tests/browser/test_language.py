"""A receptionist switches the board to Dutch and back; the choice sticks across pages."""

from __future__ import annotations

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import Board, logged_in, waiting_call

pytestmark = [pytest.mark.integration, pytest.mark.browser]


async def test_the_board_speaks_dutch_when_asked(
    browser: Browser, db: asyncpg.Pool, board: Board
) -> None:
    page = await logged_in(browser, db, board)
    await expect(page.get_by_role("heading", name="Waiting")).to_be_visible()

    await page.get_by_role("link", name="Nederlands").click()
    await expect(page).to_have_url(f"{board.url}/board")
    await expect(page.locator("html")).to_have_attribute("lang", "nl")
    await expect(page.get_by_role("heading", name="Wachtend")).to_be_visible()
    # Texts the script writes are Dutch too.
    board.hub.publish({"type": "call", "call": waiting_call("+31612345678", "")})
    await expect(page.locator("#waiting .detail")).to_have_text("in wachtrij switchboard")
    await expect(page.locator("#waiting .confidence")).to_have_text(
        "herkend aan nummer — controleer"
    )

    # The choice is remembered: the contacts page and a reload stay Dutch.
    await page.reload()
    await expect(page.get_by_role("heading", name="In gesprek")).to_be_visible()
    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", name="In conversation")).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", "en")


async def test_only_paths_on_this_site_are_followed_after_choosing(
    browser: Browser, db: asyncpg.Pool, board: Board
) -> None:
    page = await logged_in(browser, db, board)
    await page.goto(f"{board.url}/language?lang=nl&next=//evil.example/")
    await expect(page).to_have_url(f"{board.url}/board")
    response = await page.goto(f"{board.url}/language?lang=fr")
    assert response is not None and response.status == 400
    assert "unknown language 'fr'" in await response.text()

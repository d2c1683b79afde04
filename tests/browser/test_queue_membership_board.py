"""Issue 13, part 4: who answers a queue is kept by the switchboard. A receptionist adds
a colleague to the reception queue from the board (real Chromium on a `switchboard run`
process), Asterisk is restarted, and the colleague is a member again without anybody
doing anything: restored from PostgreSQL on the reconnect."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from devtools.sandbox import Sandbox
from tests.browser.test_thin_slice import logged_in_board
from tests.conftest import RunningSwitchboard

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def members(sandbox: Sandbox) -> str:
    return sandbox.cli("queue show switchboard")


async def test_a_member_added_from_the_board_is_a_member_after_an_asterisk_restart(
    browser: Browser, db: asyncpg.Pool, switchboard: RunningSwitchboard, sandbox: Sandbox
) -> None:
    page = await logged_in_board(browser, db, switchboard)
    form = page.locator("#queue-form")
    await form.locator("input[name=queue]").fill("switchboard")
    await form.locator("input[name=extension]").fill("207")
    try:
        await form.get_by_role("button", name="Join").click()
        await expect(page.locator("#queue-status")).to_have_text("Saved.")
        assert "PJSIP/207" in members(sandbox)

        await form.locator("input[name=reason]").fill("lunch")
        await form.get_by_role("button", name="Pause").click()
        await expect(page.locator("#queue-status")).to_have_text("Saved.")

        await asyncio.to_thread(sandbox.down)
        await asyncio.to_thread(sandbox.up)
        await expect(page.locator("#link")).to_have_text("Live", timeout=15_000)
        # Restored before the board went Live again (the resync restores first), paused
        # with its reason, as the receptionist left it.
        shown = members(sandbox)
        lines = [line for line in shown.splitlines() if "PJSIP/207" in line]
        assert lines, f"207 is no longer a member after the restart:\n{shown}"
        assert "paused" in lines[0] and "lunch" in lines[0], shown
    finally:
        await form.get_by_role("button", name="Leave").click()
        await expect(page.locator("#queue-status")).to_have_text("Saved.")
    assert "PJSIP/207" not in members(sandbox)
    assert await db.fetchval("SELECT count(*) FROM queue_members") == 0

"""Presence on the board in Chromium, against the sandbox Asterisk: a colleague's DND
from their phone shows, a status the receptionist sets shows, and a phone in a real
SIPp call shows in a call with whom."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from ami_bridge.bridge import AMIBridge
from devtools.sandbox import Sandbox
from devtools.sipp import place_call, run_call, start_phone
from switchboard.config import PBXConfig
from tests.browser.conftest import Board, logged_in
from tests.conftest import ARTIFACTS

pytestmark = [pytest.mark.integration, pytest.mark.browser]
COLLEAGUE = "208"  # an extension no other test uses


def _available(ext: str) -> dict[str, str]:
    return {
        "Action": "Setvar",
        "Variable": f"PRESENCE_STATE(CustomPresence:{ext})",
        "Value": "available,,",
    }


@pytest.fixture
async def live_board(sandbox: Sandbox, board: Board) -> AsyncIterator[Board]:
    """The in-process board fed by a real AMI bridge to the sandbox."""
    settings = sandbox.settings
    pbx = PBXConfig(
        name="sandbox",
        port=settings.ami_port,
        username=settings.ami_username,
        secret=settings.ami_secret,
    )
    bridge = AMIBridge(pbx, board.hub, pbxs=board.pbxs)
    await bridge.start()
    for _ in range(300):
        if bridge.connected and len(bridge.presence.extensions) > 1:
            break
        await asyncio.sleep(0.1)
    else:
        await bridge.close()
        pytest.fail(
            f"after 30 s the bridge knows {len(bridge.presence.extensions)} extensions"
            f" (connected: {bridge.connected}): the resynchronisation did not list them"
        )
    await bridge.send_action(_available(COLLEAGUE))
    try:
        yield board
    finally:
        await bridge.send_action(_available(COLLEAGUE))
        await bridge.close()


async def test_a_colleagues_dnd_from_their_phone_shows_on_the_grid(
    browser: Browser, db: asyncpg.Pool, live_board: Board
) -> None:
    page = await logged_in(browser, db, live_board)
    tile = page.locator(f'.extension[data-extension="{COLLEAGUE}"]')
    await expect(tile.locator(".ext-name")).to_have_text(f"Phone {COLLEAGUE}")
    await expect(tile.locator(".ext-state")).to_have_text("available")

    result = await asyncio.to_thread(run_call, COLLEAGUE, None, duration_s=0, dialed="*76")
    assert result.ok, result.errors
    await expect(tile.locator(".ext-state")).to_have_text("do not disturb", timeout=5_000)
    await expect(tile).to_have_attribute("data-shown", "dnd")

    # Key D on the chosen colleague switches it off again, through the board's API.
    await tile.click()
    await tile.press("d")
    await expect(tile.locator(".ext-state")).to_have_text("available", timeout=5_000)


async def test_the_receptionist_sets_lunch_until_half_past_one(
    browser: Browser, db: asyncpg.Pool, live_board: Board
) -> None:
    page = await logged_in(browser, db, live_board)
    tile = page.locator(f'.extension[data-extension="{COLLEAGUE}"]')
    await tile.click()
    form = page.locator("#presence-form")
    await form.get_by_label("Status").select_option("away")
    await form.get_by_label("Note").fill("lunch")
    await form.get_by_label("Back at").fill("13:30")
    await form.get_by_role("button", name="Set status").click()
    await expect(tile.locator(".ext-note")).to_have_text("lunch until 13:30", timeout=5_000)
    await expect(tile.locator(".ext-state")).to_have_text("away")
    await expect(page.locator("#presence-status")).to_have_text("Saved.")

    # A note the server refuses is reported, not lost silently.
    await form.get_by_label("Note").evaluate("input => input.removeAttribute('maxlength')")
    await form.get_by_label("Note").fill("x" * 61)
    await form.get_by_role("button", name="Set status").click()
    await expect(page.locator("#presence-status")).to_contain_text("at most 60 characters")
    await expect(tile.locator(".ext-note")).to_have_text("lunch until 13:30")


async def test_a_phone_in_a_real_call_shows_in_a_call_with_whom(
    browser: Browser, db: asyncpg.Pool, live_board: Board
) -> None:
    page = await logged_in(browser, db, live_board)
    operator = page.locator('.extension[data-extension="100"]')
    await expect(operator.locator(".ext-state")).to_have_text("available")
    # The queue's member and its pause are on the board too.
    await expect(page.locator('.queue-line[data-queue="switchboard"]')).to_contain_text(
        "Operator (available)"
    )
    phone = start_phone("100", answer_after_s=0.5)
    call = place_call("0612340000", "Anna Jansen", duration_s=4)
    try:
        await expect(operator.locator(".ext-state")).to_have_text("in a call", timeout=10_000)
        await expect(operator.locator(".ext-talk")).to_have_text("with Anna Jansen")
        await expect(operator.locator(".ext-timer")).to_have_text("0:01", timeout=3_000)
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "presence.png"), full_page=True)
    finally:
        await asyncio.to_thread(call.wait, 30)
        phone.stop()
    await expect(operator.locator(".ext-state")).to_have_text("available", timeout=10_000)
    await expect(operator.locator(".ext-talk")).to_have_text("")


async def test_tiles_say_they_are_stale_while_the_pbx_is_gone(
    browser: Browser, db: asyncpg.Pool, live_board: Board
) -> None:
    page = await logged_in(browser, db, live_board)
    tile = page.locator(f'.extension[data-extension="{COLLEAGUE}"]')
    await expect(tile).not_to_have_class(re.compile(r"\bstale\b"))
    # What the bridge tells the boards when the PBX goes (proven by test_ami_liveness).
    gone = {"type": "pbx", "pbx": {"name": "sandbox", "connected": False}}
    live_board.hub.publish(gone)
    await expect(tile).to_have_class(re.compile(r"\bstale\b"), timeout=5_000)
    await expect(tile).to_have_attribute("title", "Last known state: the PBX is not connected")
    live_board.hub.publish({"type": "pbx", "pbx": {"name": "sandbox", "connected": True}})
    await expect(tile).not_to_have_class(re.compile(r"\bstale\b"), timeout=5_000)
    await expect(tile.locator(".ext-state")).to_have_text("available")

"""Call control in a real Chromium against `switchboard run`, the sandbox Asterisk and
SIPp phones: a real call arrives, is answered from the board onto the receptionist's
phone and transferred blind to 201 by dragging it onto 201 in the presence grid;
another is answered by key, transferred to 202 after asking first, by keys, and the
board shows each result in words."""

from __future__ import annotations

import secrets

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect

from switchboard.sipp import place_call, start_phone
from switchboard_ui.auth import create_user
from tests.conftest import ARTIFACTS, RunningSwitchboard

pytestmark = [pytest.mark.integration, pytest.mark.browser]


async def receptionist_board(
    browser: Browser, db: asyncpg.Pool, switchboard: RunningSwitchboard
) -> Page:
    password = secrets.token_urlsafe(12)
    await create_user(
        db, "lotte", password, role="receptionist", display_name="Lotte", extension="200"
    )
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    await page.goto(switchboard.board_url)
    await page.fill("input[name=username]", "lotte")
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await expect(page.locator("#link")).to_have_text("Live", timeout=10_000)
    await expect(page.locator("#call-control .cc-phone")).to_have_text("Your phone: 200")
    return page


async def test_answer_and_transfer_blind_and_attended_from_the_board(
    browser: Browser, db: asyncpg.Pool, switchboard: RunningSwitchboard
) -> None:
    page = await receptionist_board(browser, db, switchboard)
    phones = [start_phone(ext, answer_after_s=1.0) for ext in ("200", "201", "202")]
    callers = []
    try:
        # 1. A call arrives and waits; the receptionist clicks Answer on it.
        callers.append(place_call("0612000201", None, duration_s=90))
        first = page.locator("#waiting .call", has_text="0612000201")
        await expect(first.locator(".detail")).to_have_text("in queue switchboard", timeout=10_000)
        await first.get_by_role("button", name="Answer").click()
        first = page.locator("#talking .call", has_text="0612000201")
        await expect(first.locator(".call-status")).to_have_text(
            "Lotte answered on 200.", timeout=15_000
        )
        await expect(first.locator(".detail")).to_have_text("with 200")

        # 2. Dragged onto colleague 201 in the presence grid: a blind transfer.
        colleague = page.locator('.extension[data-extension="201"]')
        await first.drag_to(colleague)
        await expect(first.locator(".call-status")).to_have_text(
            "Lotte transferred the call to 201.", timeout=15_000
        )
        await expect(first.locator(".detail")).to_have_text("with 201", timeout=10_000)

        # 3. Another call: A answers the caller waiting longest, T asks 202 first,
        #    C completes the transfer once 202 has been asked.
        callers.append(place_call("0612000202", None, duration_s=90))
        second = page.locator(".call", has_text="0612000202")
        await expect(second.locator(".detail")).to_have_text("in queue switchboard", timeout=10_000)
        await page.locator("body").click(position={"x": 5, "y": 5})  # nothing focused
        await page.keyboard.press("a")
        await expect(second.locator(".call-status")).to_have_text(
            "Lotte answered on 200.", timeout=15_000
        )
        await second.locator(".caller-name").click()  # select it (opens the caller card)
        await page.keyboard.press("t")
        await page.keyboard.type("202")
        await page.keyboard.press("Enter")
        await expect(second.locator(".call-status")).to_have_text(
            "Lotte is asking 202; the caller is on hold.", timeout=15_000
        )
        await expect(second.get_by_role("button", name="Complete transfer")).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "board-call-control.png"))
        await page.locator("body").click(position={"x": 5, "y": 5})
        await page.keyboard.press("c")
        await expect(second.locator(".call-status")).to_have_text(
            "Lotte transferred the call to 202 after asking.", timeout=15_000
        )
        await expect(second.locator(".detail")).to_contain_text("202", timeout=10_000)
        # The panel keeps the story, newest first.
        await expect(page.locator("#call-control .cc-log li").first).to_have_text(
            "Lotte transferred the call to 202 after asking."
        )
    finally:
        for process in [*callers, *phones]:
            process.stop()


async def test_a_refusal_is_shown_next_to_the_call(
    browser: Browser, db: asyncpg.Pool, switchboard: RunningSwitchboard
) -> None:
    page = await receptionist_board(browser, db, switchboard)
    call = place_call("0612000203", None, duration_s=60)
    try:
        row = page.locator("#waiting .call", has_text="0612000203")
        await expect(row.locator(".detail")).to_have_text("in queue switchboard", timeout=10_000)
        await row.locator(".caller-name").click()
        # Parking needs the receptionist on the call: refused, and said so in words.
        await page.keyboard.press("p")
        await expect(row.locator(".call-status")).to_have_text(
            "Answer the call first: this is done from your own phone."
        )
        await expect(page.locator("#call-control .cc-message")).to_have_text(
            "Answer the call first: this is done from your own phone."
        )
    finally:
        call.stop()

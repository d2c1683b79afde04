"""Call control in a real Chromium against `switchboard run`, the sandbox Asterisk and
SIPp phones: a real call arrives, is answered from the board onto the receptionist's
phone and transferred blind to 201 by dragging it onto 201 in the presence grid;
another is answered by key, transferred to 202 after asking first, by keys, and the
board shows each result in words."""

from __future__ import annotations

import re

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from devtools.sipp import place_call, start_phone
from tests.browser.conftest import receptionist_board
from tests.conftest import ARTIFACTS, RunningSwitchboard

# (With the queue's expected wait, once it has a history: " · about 1 min".)
IN_QUEUE = re.compile(r"^in queue switchboard, position \d( · (about|more than) \d+ min)?$")

pytestmark = [pytest.mark.integration, pytest.mark.browser]


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
        await expect(first.locator(".detail")).to_have_text(IN_QUEUE, timeout=10_000)
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
        await expect(second.locator(".detail")).to_have_text(IN_QUEUE, timeout=10_000)
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


async def test_a_refusal_is_shown_next_to_the_call_and_hang_up_takes_two_clicks(
    browser: Browser, db: asyncpg.Pool, switchboard: RunningSwitchboard
) -> None:
    page = await receptionist_board(browser, db, switchboard)
    call = place_call("0612000203", None, duration_s=60)
    try:
        row = page.locator("#waiting .call", has_text="0612000203")
        await expect(row.locator(".detail")).to_have_text(IN_QUEUE, timeout=10_000)
        await row.locator(".caller-name").click()
        # Parking needs the receptionist on the call: refused, and said so in words.
        await page.keyboard.press("p")
        await expect(row.locator(".call-status")).to_have_text(
            "Answer the call first: this is done from your own phone."
        )
        await expect(page.locator("#call-control .cc-message")).to_have_text(
            "Answer the call first: this is done from your own phone."
        )
        # One click on Hang up only arms it; the second hangs up.
        await row.get_by_role("button", name="Hang up").click()
        await row.get_by_role("button", name="Click again to hang up").click()
        await expect(row).to_have_count(0, timeout=10_000)
        await expect(page.locator("#call-control .cc-log li").first).to_have_text(
            "Lotte hung up the call."
        )
        assert call.wait(timeout=10) == 0  # Asterisk sent the caller a BYE
    finally:
        call.stop()


async def test_the_second_receptionist_sees_who_took_the_call(
    browser: Browser, db: asyncpg.Pool, switchboard: RunningSwitchboard
) -> None:
    lotte = await receptionist_board(browser, db, switchboard)
    milan = await receptionist_board(browser, db, switchboard, "milan", "203")
    phone = start_phone("200", answer_after_s=4.0)  # Lotte takes a moment to pick up
    call = place_call("0612000204", None, duration_s=60)
    try:
        at_lotte = lotte.locator("#waiting .call", has_text="0612000204")
        at_milan = milan.locator(".call", has_text="0612000204")
        await expect(at_milan.get_by_role("button", name="Answer")).to_be_visible(timeout=10_000)
        await at_lotte.get_by_role("button", name="Answer").click()
        # While Lotte's phone rings, Milan's board names her and offers nothing to click.
        await expect(at_milan.locator(".call-status")).to_have_text("Lotte is answering this call.")
        await expect(at_milan.locator(".call-actions button")).to_have_count(0)
        await expect(at_milan.locator(".call-status")).to_have_text(
            "Lotte answered on 200.", timeout=15_000
        )
    finally:
        call.stop()
        phone.stop()

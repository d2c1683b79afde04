"""What the call lists say: answered calls in every form sit under "In conversation", and
calls of a PBX the board lost are marked as only the last known state."""

from __future__ import annotations

import re
import time

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import Board, logged_in, waiting_call

pytestmark = [pytest.mark.integration, pytest.mark.browser]

STALE = re.compile(r"\bstale\b")


def answered(number: str, state: str, **fields: object) -> dict[str, object]:
    now = time.time()
    return {
        **waiting_call(number, ""),
        "state": state,
        "queue": "",
        "answered_at": now - 300,
        "talking_since": now - 5,
        **fields,
    }


async def test_held_and_parked_calls_are_in_conversation_not_waiting(
    browser: Browser, db: asyncpg.Pool, board: Board
) -> None:
    page = await logged_in(browser, db, board)
    board.hub.publish(
        {"type": "call", "call": answered("+31612345678", "parked", parked_space="701")}
    )
    board.hub.publish({"type": "call", "call": answered("+31687654321", "held")})
    board.hub.publish(
        {"type": "call", "call": answered("+31611111111", "talking", talking_with="201")}
    )

    talking = page.locator("#talking")
    await expect(talking.locator(".call")).to_have_count(3)
    await expect(page.locator("#waiting .call")).to_have_count(0)
    details = await talking.locator(".detail").all_text_contents()
    assert sorted(details) == ["on hold", "parked in 701", "with 201"]
    # The clock shows this conversation (5 s), not the whole call (5 min).
    timer = talking.locator(".call", has_text="with 201").locator(".timer")
    await expect(timer).to_have_text(re.compile(r"^0:(0[5-9]|[12][0-9])$"))


async def test_calls_of_a_lost_pbx_are_marked_and_their_clock_stops(
    browser: Browser, db: asyncpg.Pool, board: Board
) -> None:
    page = await logged_in(browser, db, board)
    call = {**waiting_call("+31612345678", "Anna"), "started_at": time.time() - 3}
    board.hub.publish({"type": "call", "call": call})
    row = page.locator("#waiting .call")
    await expect(row).not_to_have_class(STALE)

    board.hub.publish({"type": "pbx", "pbx": {"name": "test", "connected": False}})
    await expect(row).to_have_class(STALE)
    await expect(row).to_have_attribute("title", "Last known state: the PBX is not connected")
    frozen = await row.locator(".timer").text_content()
    await page.wait_for_timeout(2100)
    assert await row.locator(".timer").text_content() == frozen

    board.hub.publish({"type": "pbx", "pbx": {"name": "test", "connected": True}})
    await expect(row).not_to_have_class(STALE)


async def test_the_caller_answered_next_is_at_the_top(
    browser: Browser, db: asyncpg.Pool, board: Board
) -> None:
    page = await logged_in(browser, db, board)
    waited_longer = {**waiting_call("+31611111111", "Anna"), "queue_position": 2}
    vip = {**waiting_call("+31622222222", "Bert VIP"), "queue_position": 1}
    vip["started_at"] = waited_longer["started_at"] + 20  # came later, placed in front
    ringing = {**waiting_call("+31633333333", "Cor"), "state": "ringing", "queue": ""}
    for call in (waited_longer, vip, ringing):
        board.hub.publish({"type": "call", "call": call})
    rows = page.locator("#waiting .call")
    await expect(rows.locator(".caller-name")).to_have_text(["Bert VIP", "Anna", "Cor"])
    await expect(rows.locator(".detail")).to_have_text(
        ["in queue switchboard, position 1", "in queue switchboard, position 2", "ringing"]
    )

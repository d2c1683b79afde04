"""Issue 14: the board's callback panel in a real browser: a receptionist schedules a
callback for a caller they could not help now, sees it in line with its place, and
cancels it; a request from the queue shows up live. And against the real service: the
panel follows a callback from "waiting, place 3" to "done", and while one receptionist
dials it, it is hers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from devtools.sandbox import Sandbox
from devtools.sipp import start_phone
from switchboard.store import callbacks
from tests.browser.conftest import Board, logged_in, receptionist_board
from tests.callback_calls import ACCEPTS, ask
from tests.conftest import RunningSwitchboard

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
    await mine.get_by_label("Reason").fill("reached her by e-mail")
    await mine.get_by_role("button", name="Cancel").click()
    await expect(mine.locator(".detail")).to_have_text("cancelled")
    row = await db.fetchrow(
        "SELECT state, reason FROM callbacks WHERE e164 = '+31612000401' ORDER BY id DESC LIMIT 1"
    )
    assert (row["state"], row["reason"]) == ("cancelled", "reached her by e-mail")


async def test_the_panel_follows_a_callback_from_place_3_to_done_and_it_is_one_receptionists(
    browser: Browser, db: asyncpg.Pool, switchboard: RunningSwitchboard, sandbox: Sandbox
) -> None:
    """Against `switchboard run`, the sandbox Asterisk and SIPp: three callbacks wait while
    the operator is away; Lotte calls the third back now. Her phone rings first, then the
    caller, who presses 1. Milan's board shows it is Lotte's (nothing to click, and his
    stale "call back now" is refused with her name) and then done."""
    # The operator (the queue's member) is away: nothing is dialled by itself.
    sandbox.cli("queue pause member PJSIP/100 queue switchboard reason training")
    await db.execute(
        "UPDATE callbacks SET state = 'cancelled' WHERE queue = 'switchboard'"
        " AND state IN ('requested', 'waiting')"
    )
    ids = [
        await ask(db, "switchboard", e164, waited=timedelta(minutes=m), name=name, source="queue")
        for m, e164, name in (
            (6, "+31612000411", "Eerste"),
            (5, "+31612000412", "Tweede"),
            (4, "+31612000413", "Mevrouw Derde"),
        )
    ]
    lotte = await receptionist_board(browser, db, switchboard, "lotte", "200")
    milan = await receptionist_board(browser, db, switchboard, "milan", "203")
    phone = start_phone("200", answer_after_s=1.0)
    caller = start_phone("0", answer_after_s=0.5, hang_up_after_s=3, keys=ACCEPTS)
    try:
        at_lotte = lotte.locator("#callbacks li", has_text="Mevrouw Derde")
        at_milan = milan.locator("#callbacks li", has_text="Mevrouw Derde")
        for row in (at_lotte, at_milan):
            await expect(row.locator(".detail")).to_have_text(
                re.compile(r"^waiting · place 3 · waited 4:\d\d$")
            )
        await expect(at_milan.get_by_role("button", name="Call back now")).to_be_visible()
        await at_lotte.get_by_role("button", name="Call back now").click()
        await expect(at_milan.locator(".detail")).to_have_text(
            re.compile(r"^(dialling|connected) · waited 4:\d\d · attempt 1 · by Lotte \(200\)$"),
            timeout=10_000,
        )
        await expect(at_milan.get_by_role("button")).to_have_count(0)
        refused = await milan.evaluate(
            "async (id) => { const r = await window.board.post('/api/callbacks/now', {id});"
            " return [r.status, r.data.error]; }",
            ids[2],
        )
        assert refused == [409, "Lotte is calling this back."]
        for row in (at_lotte, at_milan):
            await expect(row.locator(".detail")).to_have_text("done · attempt 1", timeout=60_000)
        # The two before her are still in line, in their order.
        first = milan.locator("#callbacks li", has_text="Eerste")
        await expect(first.locator(".detail")).to_have_text(re.compile(r"^waiting · place 1 · "))
    finally:
        phone.stop()
        caller.stop()
        # (Out of line before the operator is back: else they would be dialled now.)
        await db.execute(
            "UPDATE callbacks SET state = 'cancelled' WHERE id = ANY($1) AND state = 'waiting'",
            ids,
        )
        sandbox.cli("queue unpause member PJSIP/100 queue switchboard")

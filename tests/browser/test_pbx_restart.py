"""Asterisk is restarted while a receptionist watches the board: the board says plainly
that it is not connected while the PBX is gone, the call that vanished with it does not
linger, and once Asterisk is back the board is Live again and shows new calls, all
without a page reload. Every part is real: the sandbox Asterisk is stopped and started
again (or frozen), the call is a SIPp call, the board is Chromium on a `switchboard run`
process."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from ami_bridge.bridge import PING_INTERVAL_S
from devtools.sandbox import Sandbox
from devtools.sipp import place_call
from tests.browser.test_thin_slice import logged_in_board
from tests.conftest import ARTIFACTS, RunningSwitchboard

pytestmark = [pytest.mark.integration, pytest.mark.browser]

NOT_CONNECTED = "Not connected to the PBX — reconnecting…"


def _crash(sandbox: Sandbox) -> None:
    pid = sandbox.status().pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)


# "restart": `core stop now` hangs up every channel first, so the board learns of the
# call's end from its Hangup. "crash": SIGKILL, no Hangup ever comes; only the channel
# list read after the reconnect can tell the board the call is gone.
@pytest.mark.parametrize("stop", [Sandbox.down, _crash], ids=["restart", "crash"])
async def test_the_board_recovers_by_itself_when_asterisk_restarts(
    browser: Browser,
    db: asyncpg.Pool,
    switchboard: RunningSwitchboard,
    sandbox: Sandbox,
    stop: Callable[[Sandbox], None],
) -> None:
    page = await logged_in_board(browser, db, switchboard)
    # Survives only if the page is never reloaded or navigated away.
    await page.evaluate("window.boardLoadedOnce = 'still this page'")
    link = page.locator("#link")

    before = place_call("0611112222", "Before Restart", duration_s=60)
    try:
        old_row = page.locator(".call", has_text="Before Restart")
        await expect(old_row).to_be_visible(timeout=5_000)

        await asyncio.to_thread(stop, sandbox)
        await expect(link).to_have_text(NOT_CONNECTED, timeout=5_000)
        await expect(link).to_have_class("link link-down")
        # Said plainly and kept saying while the PBX stays away (reconnects are refused).
        await asyncio.sleep(3)
        await expect(link).to_have_text(NOT_CONNECTED)
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / f"board-pbx-down-{stop.__name__}.png"))
    finally:
        before.stop()

    await asyncio.to_thread(sandbox.up)
    await expect(link).to_have_text("Live", timeout=15_000)
    # The call died with the old Asterisk: no ghost row once the board is live again.
    await expect(old_row).to_have_count(0)
    assert await page.locator(".call").count() == 0

    after = place_call("0633334444", "After Restart", duration_s=3)
    try:
        await expect(page.locator(".call", has_text="After Restart")).to_be_visible(timeout=5_000)
    finally:
        after.wait(timeout=30)
    assert await page.evaluate("window.boardLoadedOnce") == "still this page"


async def test_a_hung_asterisk_is_reported_and_the_board_recovers_when_it_runs_again(
    browser: Browser, db: asyncpg.Pool, switchboard: RunningSwitchboard, sandbox: Sandbox
) -> None:
    """A hung PBX keeps its TCP connections open and answers nothing: only the AMI
    Ping can tell. SIGSTOP freezes the sandbox Asterisk as a hang would."""
    page = await logged_in_board(browser, db, switchboard)
    await page.evaluate("window.boardLoadedOnce = 'still this page'")
    link = page.locator("#link")
    pid = sandbox.status().pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        # Two ping intervals at most (the Ping in flight, then the unanswered one).
        await expect(link).to_have_text(NOT_CONNECTED, timeout=(2 * PING_INTERVAL_S + 3) * 1000)
    finally:
        os.kill(pid, signal.SIGCONT)
    await expect(link).to_have_text("Live", timeout=15_000)
    call = place_call("0655556666", "After The Hang", duration_s=3)
    try:
        await expect(page.locator(".call", has_text="After The Hang")).to_be_visible(timeout=5_000)
    finally:
        call.wait(timeout=30)
    assert await page.evaluate("window.boardLoadedOnce") == "still this page"

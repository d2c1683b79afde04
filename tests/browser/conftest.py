"""A real headless Debian Chromium driven by Playwright (no browser download)."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright, expect

from ami_bridge.replay import replay_state
from switchboard.board.hub import BoardHub
from switchboard.board.pbxs import PBXs
from switchboard.core.calls.state import PBXState
from switchboard.core.opening import Hours
from switchboard.store.users import create_user
from switchboard_ui.app import create_app
from tests.conftest import RunningSwitchboard, free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach the internet,
# which this closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


class Board:
    """A board served in-process on a free port; ``hub`` puts calls on it by hand, a
    bridge registered in ``pbxs`` is the PBX its call control and presence act on."""

    def __init__(self, url: str, hub: BoardHub, pbxs: PBXs) -> None:
        self.url = url
        self.hub = hub
        self.pbxs = pbxs


@asynccontextmanager
async def serve_board(db: asyncpg.Pool, hours: Sequence[Hours] = ()) -> AsyncIterator[Board]:
    """The board app on a free port of 127.0.0.1 until the block ends."""
    hub, pbxs = BoardHub(), PBXs()
    port = free_port()
    app = create_app(db, hub, pbxs=pbxs, hours=hours)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield Board(f"http://127.0.0.1:{port}", hub, pbxs)
    finally:
        await server.close()


@pytest.fixture
async def board(db: asyncpg.Pool) -> AsyncIterator[Board]:
    async with serve_board(db) as served:
        yield served


async def logged_in(
    browser: Browser, db: asyncpg.Pool, board: Board, username: str = "joris"
) -> Page:
    """A new page with ``username`` (a receptionist) logged in on the board."""
    password = secrets.token_urlsafe(12)
    await create_user(
        db, username, password, role="receptionist", display_name=username.capitalize()
    )
    boards_before = board.hub.subscriber_count
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(f"{board.url}/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{board.url}/board")
    # Calls published by hand before the page's websocket subscribed would be lost.
    for _ in range(100):
        if board.hub.subscriber_count > boards_before:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the board page never opened its websocket")
    return page


def waiting_call(number: str, name: str) -> dict[str, Any]:
    return {
        "call_id": f"test:{number}",
        "pbx": "test",
        "caller_number": number,
        "caller_name": name,
        "state": "queued",
        "queue": "switchboard",
        "confidence": "unverified",
        "started_at": time.time(),
    }


def play(board: Board, state: PBXState, events: Sequence[Mapping[str, str]]) -> None:
    """Recorded AMI events through the live call model onto the board, as the bridge
    publishes them (ami_bridge.replay.replay_state: the recording's own clock)."""
    for _now, changes in replay_state(state, events):
        board.hub.publish_changes(changes.calls)


async def receptionist_board(
    browser: Browser,
    db: asyncpg.Pool,
    switchboard: RunningSwitchboard,
    username: str = "lotte",
    extension: str = "200",
) -> Page:
    """A page of its own (its own session) on `switchboard run`'s board, ``username`` (a
    receptionist with phone ``extension``) logged in, the board live."""
    password = secrets.token_urlsafe(12)
    name = username.capitalize()
    await create_user(
        db, username, password, role="receptionist", display_name=name, extension=extension
    )
    # A page of its own context: its own cookies, so its own session.
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    await page.goto(switchboard.board_url)
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await expect(page.locator("#link")).to_have_text("Live", timeout=10_000)
    await expect(page.locator("#call-control .cc-phone")).to_have_text(f"Your phone: {extension}")
    return page

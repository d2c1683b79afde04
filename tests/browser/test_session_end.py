"""A board whose session ends goes to the login page by itself, and shows no more calls:
expired, or ended by a password change, it never keeps reconnecting as if the PBX
were down."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from switchboard.store import users as auth
from tests.browser.conftest import Board, logged_in, serve_board

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture
async def quick_board(db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Board]:
    """The board with its sessions checked every 0.2 s instead of every few seconds."""
    monkeypatch.setattr(auth, "SESSION_CHECK_S", 0.2)
    async with serve_board(db) as served:
        yield served


@pytest.mark.parametrize("how", ["expired", "password changed"])
async def test_a_board_whose_session_ended_shows_the_login_page(
    browser: Browser, db: asyncpg.Pool, quick_board: Board, how: str
) -> None:
    page = await logged_in(browser, db, quick_board, "joris")
    if how == "expired":
        await db.execute("UPDATE board_sessions SET expires_at = now() WHERE username = 'joris'")
    else:
        await auth.create_user(db, "joris", "another password", role="receptionist")
    await expect(page).to_have_url(f"{quick_board.url}/login", timeout=5000)
    assert quick_board.hub.subscriber_count == 0

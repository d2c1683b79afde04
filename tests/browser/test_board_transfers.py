"""Issue 12: the board tells the truth through a transfer the caller makes. A real
sandbox recording (phone 200 calls 201, transfers 201 to 202 unasked and is gone; 201
and 202 talk on) goes through the live call model into the board, in three steps."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from ami_bridge.replay import read_recording
from switchboard.core.calls.state import PBXState
from tests.browser.conftest import Board, logged_in, play

pytestmark = [pytest.mark.integration, pytest.mark.browser]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"
RECORDING = FIXTURES / "caller_blind_transfer.ami"


async def test_a_caller_side_transfer_shows_who_talks_until_the_last_hang_up(
    browser: Browser, db: asyncpg.Pool, board: Board
) -> None:
    events = read_recording(RECORDING.read_bytes()).events
    transfer = next(i for i, e in enumerate(events) if e.get("Event") == "BlindTransfer")
    # 201 and 202 in one bridge: the later of their two BridgeEnters after the transfer.
    colleague_in = max(
        next(
            i
            for i, e in enumerate(events)
            if i > transfer
            and e.get("Event") == "BridgeEnter"
            and e.get("Channel", "").startswith(phone)
        )
        for phone in ("PJSIP/201-", "PJSIP/202-")
    )
    page = await logged_in(browser, db, board)
    state = PBXState("sandbox")
    talking = page.locator("#talking .call")

    # 200 talks with 201.
    play(board, state, events[:transfer])
    await expect(talking).to_have_count(1)
    await expect(talking.locator(".detail")).to_have_text("with 201")
    # 200 transferred 201 to 202 and is gone: the call goes on, and says with whom.
    play(board, state, events[transfer : colleague_in + 1])
    await expect(talking).to_have_count(1)
    await expect(talking.locator(".detail")).to_have_text("with 201, 202")
    await expect(talking).to_contain_text("200")
    # 201 hangs up: only now is the call over.
    play(board, state, events[colleague_in + 1 :])
    await expect(talking).to_have_count(0)
    await expect(page.locator("#waiting .call")).to_have_count(0)

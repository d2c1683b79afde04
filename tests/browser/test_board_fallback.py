"""Issue 13: the board says where the fallback chain has a caller and why. The real
fallback_to_voicemail recording (the queue gives up, the operator is busy, nobody
answers in the back office, voicemail) goes through the live model into the board."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from ami_bridge.replay import read_recording
from switchboard.core.calls.state import PBXState
from tests.browser.conftest import Board, logged_in, play

pytestmark = [pytest.mark.integration, pytest.mark.browser]

RECORDING = (
    Path(__file__).resolve().parent.parent / "fixtures" / "ami" / "fallback_to_voicemail.ami"
)


def step_at(events: list[dict[str, str]], step: str) -> int:
    return next(
        i
        for i, e in enumerate(events)
        if e.get("UserEvent") == "SwitchboardFallback" and e.get("Step") == step
    )


async def test_each_fallback_step_is_on_the_board_with_its_reason(
    browser: Browser, db: asyncpg.Pool, board: Board
) -> None:
    events = read_recording(RECORDING.read_bytes()).events
    page = await logged_in(browser, db, board)
    state = PBXState("sandbox")
    waiting = page.locator("#waiting .call")

    joined = next(i for i, e in enumerate(events) if e.get("Event") == "QueueCallerJoin")
    play(board, state, events[: joined + 1])
    await expect(waiting.locator(".detail")).to_have_text("in queue switchboard, position 1")
    play(board, state, events[joined + 1 : step_at(events, "operator") + 1])
    await expect(waiting.locator(".detail")).to_have_text("ringing the operator: no answer in time")
    play(board, state, events[step_at(events, "operator") + 1 : step_at(events, "backoffice") + 1])
    await expect(waiting.locator(".detail")).to_have_text(
        "waiting in the back office: no answer in time"
    )
    play(board, state, events[step_at(events, "backoffice") + 1 : step_at(events, "voicemail") + 1])
    await expect(waiting.locator(".detail")).to_have_text("leaving a voicemail: no answer in time")
    play(board, state, events[step_at(events, "voicemail") + 1 :])
    await expect(waiting).to_have_count(0)

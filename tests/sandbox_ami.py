"""A test's own AMI view of the sandbox Asterisk: recognitions as they happen, channel
variables read back, and a call model of its own, as the board's bridge keeps one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from panoramisk import Manager

from ami_bridge.bridge import event_headers
from devtools.sipp import place_call
from switchboard.core.calls.model import PBXModel

VARIABLES = [
    "CALLERID(name)",
    "SB_CONTACT_NAME",
    "SB_COMPANY",
    "SB_PREFERRED_EXTENSION",
    "SB_LAST_HANDLED_BY",
    "SB_RECOGNISED",
    "SB_CONFIDENCE",
    "SB_NUMBER_KIND",
    "SB_VIP",
    "SB_REPEAT_CALLER",
    "SB_MISSED_CALL",
    "SB_QUEUE_PRIORITY",
    "AGISTATUS",
]
# The directory picks up journalled calls within its refresh interval (2 s).
DIRECTORY_REFRESH_S = 2.5


class Asterisk:
    """The test's own AMI connection: waits for recognitions, reads channel variables,
    and keeps its own call model, as the board's bridge does."""

    def __init__(self, manager: Manager) -> None:
        self.manager = manager
        self.recognitions: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self.model = PBXModel("sandbox")
        manager.register_event("UserEvent", self._on_user_event)
        manager.register_event("*", self._on_event)

    def _on_event(self, _manager: Manager, event: Any) -> None:
        self.model.apply(event_headers(event), time.time())

    def _on_user_event(self, _manager: Manager, event: Any) -> None:
        if event.get("UserEvent") == "SwitchboardRecognition":
            self.recognitions.put_nowait(dict(event))

    async def recognised_call(self, number: str, wait_s: float = 10) -> dict[str, str]:
        """The channel variables of the next recognised call from ``number``."""
        deadline = time.monotonic() + wait_s
        while True:
            event = await asyncio.wait_for(self.recognitions.get(), deadline - time.monotonic())
            if event.get("CallerIDNum") == number:
                break
        await asyncio.sleep(0.3)  # the dialplan moves on to the queue
        values = {}
        for name in VARIABLES:
            reply = await self.manager.send_action(
                {"Action": "Getvar", "Channel": event["Channel"], "Variable": name}
            )
            values[name] = reply.get("Value", "")
        return values


async def call_and_read(asterisk: Asterisk, number: str, name: str | None = None) -> dict[str, str]:
    call = place_call(number, name, duration_s=2)
    try:
        return await asterisk.recognised_call(number)
    finally:
        await asyncio.to_thread(call.wait, 30)


def collect(asterisk: Asterisk) -> list[dict[str, str]]:
    """Every AMI event from now on, in order, as a list the test reads when it likes."""
    events: list[dict[str, str]] = []

    def keep(_manager: Manager, event: Any) -> None:
        events.append(event_headers(event))

    asterisk.manager.register_event("*", keep)
    return events


async def until(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """``predicate()``'s first true value (it may be a coroutine, a database query),
    asked every 0.2 s; AssertionError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.2)


def log_since(path: Path, start: int) -> str:
    """What Asterisk wrote to its log ``path`` from byte ``start`` on (the size when the
    test began): channel names start again at 0 after an Asterisk restart, so an earlier
    test's lines would match this one's channels. A log started anew is read whole."""
    with path.open("rb") as log_file:
        log_file.seek(start if path.stat().st_size >= start else 0)
        return log_file.read().decode(errors="replace")

"""Issue 13, part 1: waiting callers hear their place and wait, in their language, and
keep their place while they do. Three real SIPp callers in the sandbox's reception queue
while its only member (the operator, 100) is on another call; the session's switchboard
announces as it ships (first after 20 s). What each caller heard is read three ways:
the switchboard's UserEvent, the files Asterisk played (messages.log, with their
language), and the audio arriving at the caller's SIP media address."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from panoramisk import Manager

from ami_bridge.bridge import event_headers
from devtools.sandbox import Sandbox
from devtools.sipp import place_call, start_phone
from switchboard.store.contacts import add_contact
from tests.sandbox_ami import DIRECTORY_REFRESH_S, Asterisk, log_since

pytestmark = pytest.mark.integration

# The shipped default: the first announcement 20 s after joining.
FIRST_ANNOUNCEMENT_S = 20.0
# When the operator comes free, after all three callers heard their first announcement.
RELEASE_AFTER_S = 30.0


def collect(asterisk: Asterisk) -> list[tuple[float, dict[str, str]]]:
    events: list[tuple[float, dict[str, str]]] = []

    def keep(_manager: Manager, event: Any) -> None:
        events.append((time.monotonic(), event_headers(event)))

    asterisk.manager.register_event("*", keep)
    return events


@pytest.fixture
def silent_music(sandbox: Sandbox) -> Iterator[None]:
    """Music on hold that is silence, so that what reaches a caller's ear while they
    wait is the announcement and nothing else; the shipped music comes back after."""
    conf = sandbox.root / "etc/asterisk/musiconhold.conf"
    shipped = conf.read_bytes()
    conf.write_text(
        "[general]\n[default]\nmode = playlist\nentry = /usr/share/asterisk/sounds/en/silence/10\n"
    )
    sandbox.cli("moh reload")
    try:
        yield
    finally:
        conf.write_bytes(shipped)
        sandbox.cli("moh reload")


def _alaw_to_linear(byte: int) -> int:
    """G.711 A-law to a 16-bit sample (ITU-T G.711)."""
    byte ^= 0x55
    sign, exponent, mantissa = byte & 0x80, (byte >> 4) & 0x07, byte & 0x0F
    value = (mantissa << 4) + 8
    if exponent:
        value = (value + 0x100) << (exponent - 1)
    return value if sign else -value


class Ear(asyncio.DatagramProtocol):
    """A caller's SIP media address: keeps the loudness of every RTP packet received."""

    def __init__(self) -> None:
        self.packets: list[tuple[float, float]] = []  # (monotonic time, RMS of its audio)

    def datagram_received(self, data: bytes, _addr: Any) -> None:
        if len(data) <= 12 or data[1] & 0x7F != 8:  # RTP header; PCMA only (we offer it first)
            return
        samples = [_alaw_to_linear(b) for b in data[12:]]
        rms = math.sqrt(sum(s * s for s in samples) / len(samples))
        self.packets.append((time.monotonic(), rms))

    def loud_between(self, start: float, end: float, threshold: float = 300.0) -> int:
        return sum(1 for at, rms in self.packets if start <= at <= end and rms > threshold)

    def heard_between(self, start: float, end: float) -> int:
        return sum(1 for at, _ in self.packets if start <= at <= end)


async def test_three_waiting_callers_hear_their_place_in_their_language_and_keep_it(
    asterisk: Asterisk, sandbox: Sandbox, db: asyncpg.Pool, silent_music: None
) -> None:
    # A: a contact who speaks English, on a Dutch number; B: a Dutch contact; C: nobody
    # we know, on a British number: the country decides.
    await add_contact(db, "Mr Smith", ["0612000131"], language="en")
    await add_contact(db, "Mevrouw Jansen", ["0612000132"], language="nl")
    numbers = ["0612000131", "0612000132", "+442079460133"]
    await asyncio.sleep(DIRECTORY_REFRESH_S)
    # Only this test's part of Asterisk's log: channel names start again at every restart.
    log_start = sandbox.settings.messages_log.stat().st_size
    events = collect(asterisk)
    loop = asyncio.get_running_loop()
    ears: list[Ear] = []
    transports = []
    for _ in numbers:
        transport, ear = await loop.create_datagram_endpoint(Ear, local_addr=("127.0.0.1", 0))
        transports.append(transport)
        ears.append(ear)
    operator = start_phone("100", answer_after_s=0.2)
    callers = []
    try:
        # The operator is on another call: the queue keeps the callers (ringinuse=no).
        busy = await asterisk.manager.send_action(
            {
                "Action": "Originate",
                "Channel": "PJSIP/100",
                "Application": "Wait",
                "Data": "120",
                "ChannelId": "announce-test-busy",
                "Async": "true",
            }
        )
        assert any(m.get("Response") == "Success" for m in _messages(busy)), busy
        await _until(lambda: _state(events, "PJSIP/100") == "Up", 10, "the operator busy")
        started = time.monotonic()
        # A hangs up 4 s after the operator comes free, B 4 s after A, C after B: the
        # operator's phone takes one call at a time, so each is answered in turn.
        for i, (number, transport) in enumerate(zip(numbers, transports, strict=True)):
            port = ear_port(transport)
            callers.append(
                place_call(
                    number,
                    None,
                    duration_s=RELEASE_AFTER_S + 4 * (i + 1) - i,
                    timeout_s=90,
                    audio_port=port,
                )
            )
            await asyncio.sleep(1.0)
        await asyncio.sleep(started + RELEASE_AFTER_S - time.monotonic())
        freed = await asterisk.manager.send_action(
            {"Action": "Hangup", "Channel": "announce-test-busy"}
        )
        assert freed.get("Response") == "Success", freed
        for caller in callers:
            await asyncio.to_thread(caller.wait, 90)
    finally:
        for caller in callers:
            caller.stop()
        operator.stop()
        for transport in transports:
            transport.close()

    by_number = {
        e["CallerIDNum"]: (at, e["Uniqueid"], e["Channel"])
        for at, e in events
        if e.get("Event") == "QueueCallerJoin" and e.get("CallerIDNum") in numbers
    }
    assert len(by_number) == 3, by_number
    said = {
        e["For"]: (at, e) for at, e in events if e.get("UserEvent") == "SwitchboardAnnouncement"
    }
    log = log_since(sandbox.settings.messages_log, log_start)
    answered = [
        e["Uniqueid"] for _, e in events if e.get("Event") == "AgentConnect" and e.get("Queue")
    ]
    for place, (number, ear) in enumerate(zip(numbers, ears, strict=True), start=1):
        joined_at, unique_id, _channel = by_number[number]
        assert unique_id in said, (number, sorted(said))
        at, announcement = said[unique_id]
        # Their own place, about 20 s after they joined (the bridge looks every second).
        assert announcement["Position"] == str(place), announcement
        assert FIRST_ANNOUNCEMENT_S - 0.5 <= at - joined_at <= FIRST_ANNOUNCEMENT_S + 3.0
        # A wait, if the queue has a history in this session, in whole minutes >= 1.
        minutes = announcement.get("Minutes", "")
        assert minutes == "" or 1 <= int(minutes) <= 15, announcement
        # The prompts were played in the caller's language: English for the English
        # contact and the British number, Dutch for the Dutch contact.
        language = {"0612000131": "en", "0612000132": "nl", "+442079460133": "en"}[number]
        whisper = announcement["Channel"]
        played = [line for line in log.splitlines() if f"<{whisper}> Playing 'switchboard/" in line]
        assert played and all(f"(language '{language}')" in line for line in played), played
        assert any("switchboard/you-are-number" in line for line in played), played
        assert any(f"switchboard/n-{place}." in line for line in played), played
        # And it reached the caller's ear: loud audio in the seconds after it began,
        # where the music (silence) before it was quiet.
        assert ear.heard_between(joined_at + 5, at - 0.5) > 100, "no RTP while waiting"
        assert ear.loud_between(joined_at + 5, at - 0.5) == 0, "the music was not silent"
        assert ear.loud_between(at, at + 3.0) > 20, "the announcement did not reach the caller"
    # Kept their place: answered in the order they were told, A, B, C.
    order = [by_number[n][1] for n in numbers]
    assert [u for u in answered if u in order] == order, answered


def ear_port(transport: asyncio.BaseTransport) -> int:
    return int(transport.get_extra_info("sockname")[1])


def _messages(reply: Any) -> list[Any]:
    return reply if isinstance(reply, list) else [reply]


def _state(events: list[tuple[float, dict[str, str]]], prefix: str) -> str:
    states = [
        e.get("ChannelStateDesc", "")
        for _, e in events
        if e.get("Channel", "").startswith(prefix) and e.get("Event") == "Newstate"
    ]
    return states[-1] if states else ""


async def _until(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.1)

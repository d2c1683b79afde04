"""Recorded AMI in, call records out: the live model run over a file.

Reads the raw AMI wire format (as panoramisk's ``save_stream`` or a packet capture
writes it) or a JSON array of events (one object of header strings per event). A frame
that cannot be read is reported with its number and skipped; the rest still counts.

A recording may span reconnections: every "Asterisk Call Manager/..." greeting after
the first is a new login, read as a ``SwitchboardReconnect`` event (so it survives the
JSON form too). The replay then does what the live bridge does on every login: the
state forgets its channels and extensions and is rebuilt from the CoreShowChannels,
QueueStatus and ParkedCalls replies that follow (they are events too, with an ActionID).
Those replies carry no Timestamp, so they happen, for the replay, at the time of the
last event before them.

The events go through the same pure state as the bridge's (switchboard/core/calls/state.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from panoramisk import utils
from panoramisk.message import Message

from ami_bridge.bridge import event_headers
from switchboard.core.calls.model import CallEnded, Change
from switchboard.core.calls.presence import ExtensionRemoved
from switchboard.core.calls.state import PBXState, StateChanges

_BLANK_LINE = re.compile(r"\r?\n\r?\n")
_GREETING = "Asterisk Call Manager/"
#: The pseudo event that marks a new AMI login in a recording.
RECONNECTED = "SwitchboardReconnect"


class ReplayError(ValueError):
    """The recording cannot be read at all."""


@dataclass
class Recording:
    events: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_recording(data: bytes) -> Recording:
    text = data.decode("utf-8", errors="replace")
    if text.lstrip().startswith(("[", "{")):
        return _read_json(text)
    return _read_wire(text)


def _read_json(text: str) -> Recording:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReplayError(f"not valid JSON: {exc}") from None
    if not isinstance(items, list):
        raise ReplayError("a JSON recording must be an array of event objects")
    recording = Recording()
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in item.items()
        ):
            recording.problems.append(f"event {number}: not an object of header strings; skipped")
            continue
        recording.events.append(item)
    return recording


def _read_wire(text: str) -> Recording:
    recording = Recording()
    for number, frame in enumerate(_BLANK_LINE.split(text), start=1):
        lines = [line for line in frame.splitlines() if line.strip()]
        if lines and lines[0].startswith(_GREETING):
            recording.events.append({"Event": RECONNECTED})
            lines = lines[1:]
        if not lines:
            continue
        message = Message.from_line(utils.EOL.join(lines))
        if message is None:
            recording.problems.append(f"frame {number}: no Event or Response header; skipped")
        elif "Event" in message:
            recording.events.append(event_headers(message))
    return recording


def event_time(event: Mapping[str, str], fallback: float) -> float:
    """When the event happened: its Timestamp header (timestampevents=yes), else ``fallback``."""
    try:
        return float(event["Timestamp"])
    except (KeyError, ValueError):
        return fallback


def replay_state(
    state: PBXState, events: Iterable[Mapping[str, str]]
) -> Iterator[tuple[float, StateChanges]]:
    """What each event changed, with when it happened, as the live bridge would publish
    and journal it."""
    now = 0.0
    for event in events:
        now = event_time(event, now)
        if event.get("Event") == RECONNECTED:
            # As the bridge does on every login: what the reset reports goes nowhere,
            # the channel list that follows brings the calls that are still up back.
            state.reset()
            continue
        yield now, state.apply(event, now)


def replay_changes(state: PBXState, events: Iterable[Mapping[str, str]]) -> Iterator[Change]:
    """Every call change the live bridge would publish and journal, event by event."""
    for _now, changes in replay_state(state, events):
        yield from changes.calls


def replay(events: Iterable[Mapping[str, str]], *, pbx: str = "replay") -> Iterator[dict[str, Any]]:
    """Call records as the live bridge would journal them, in the order calls end; calls
    still up when the recording stops come last, marked ``"open": true``."""
    state = PBXState(pbx)
    for change in replay_changes(state, events):
        if isinstance(change, CallEnded):
            yield {"type": "call", "open": False, **change.call.to_json()}
    for call in state.model.snapshot():
        yield {"type": "call", "open": True, **call.to_json()}


def presence_timeline(
    events: Iterable[Mapping[str, str]], *, pbx: str = "replay"
) -> Iterator[dict[str, Any]]:
    """Each extension's presence as the board would show it, one record per change in
    the order they happened (``"at"``: the event's time), as the bridge journals them."""
    for now, changes in replay_state(PBXState(pbx), events):
        for change in changes.presence:
            removed = isinstance(change, ExtensionRemoved)
            yield {"type": "presence", "at": now, "removed": removed, **change.extension.to_json()}

"""The live picture of one PBX's calls, built from AMI events.

Pure and synchronous: events in (header dicts, as Asterisk sends them), changes out.
The same model serves the live bridge and recorded replays, so it must accept any
event in any order (the bridge may attach to a PBX mid-call) without raising.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from typing import Any

from switchboard.display import sanitise_display_name
from switchboard.numbers import WITHHELD_WORDS

Event = Mapping[str, str]


class CallState(Enum):
    RINGING = "ringing"  # the caller is in the dialplan or ringing a phone
    QUEUED = "queued"  # waiting in a queue for a receptionist
    TALKING = "talking"  # bridged with somebody
    ENDED = "ended"


@dataclass(frozen=True)
class Channel:
    unique_id: str
    linked_id: str
    name: str
    number: str = ""
    caller_name: str = ""
    state: str = ""
    bridge_id: str = ""


@dataclass(frozen=True)
class Call:
    """A call as the receptionist sees it: one caller, one state, one answering party."""

    call_id: str
    pbx: str
    linked_id: str
    caller_number: str
    caller_name: str
    state: CallState
    started_at: float
    queue: str = ""
    answered_at: float | None = None
    ended_at: float | None = None
    talking_with: str = ""
    answered_by: str = ""  # who took the call first: the contact's "last handled by"
    confidence: str = ""
    contact_id: str = ""  # the contact recognition matched, for the contact's history

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        return data


@dataclass(frozen=True)
class CallChanged:
    call: Call


@dataclass(frozen=True)
class CallEnded:
    call: Call


Change = CallChanged | CallEnded


@dataclass
class PBXModel:
    pbx: str
    channels: dict[str, Channel] = field(default_factory=dict)
    calls: dict[str, Call] = field(default_factory=dict)  # by linked id
    # Channels that hung up while a resynchronisation was under way: a channel list
    # requested before their Hangup must not bring them back as ghosts.
    _gone: set[str] = field(default_factory=set)
    # Calls whose caller hung up while other legs are still being torn down.
    _ended: set[str] = field(default_factory=set)

    def snapshot(self) -> list[Call]:
        return sorted(self.calls.values(), key=lambda call: call.started_at)

    def reset(self) -> list[Change]:
        """Forget everything (before a resynchronisation); every known call is reported ended."""
        ended = [CallEnded(call) for call in self.calls.values()]
        self.channels.clear()
        self.calls.clear()
        self._gone.clear()
        self._ended.clear()
        return list(ended)

    def apply(self, event: Event, now: float) -> list[Change]:
        kind = event.get("Event", "")
        handler = _HANDLERS.get(kind)
        if handler is None or not event.get("Uniqueid"):
            return []
        return handler(self, event, now)

    # -- channel lifecycle -------------------------------------------------------------

    def _on_channel_seen(self, event: Event, now: float) -> list[Change]:
        if event.get("Event") == "CoreShowChannel" and event["Uniqueid"] in self._gone:
            return []
        channel = self._channel_from(event)
        self.channels[channel.unique_id] = channel
        changes = self._refresh(channel.linked_id, now)
        age = _duration_s(event.get("Duration", ""))
        call = self.calls.get(channel.linked_id)
        if age and call is not None and now - age < call.started_at:
            # Rebuilt from the PBX's channel list: the call began before we saw it.
            self.calls[call.linked_id] = replace(call, started_at=now - age)
            changes = self._refresh(channel.linked_id, now, force=True)
        return changes

    def _on_hangup(self, event: Event, now: float) -> list[Change]:
        unique_id = event["Uniqueid"]
        channel = self.channels.pop(unique_id, None)
        self._gone.add(unique_id)
        linked_id = channel.linked_id if channel else event.get("Linkedid", "")
        if not linked_id:
            return []
        remaining = any(c.linked_id == linked_id for c in self.channels.values())
        if not remaining:
            self._ended.discard(linked_id)
        elif unique_id != linked_id:
            return self._refresh(linked_id, now)
        # The caller hung up: for the receptionist the call is over, even while the
        # other legs (a phone still ringing, a queue member) are being torn down.
        call = self.calls.pop(linked_id, None)
        if remaining:
            self._ended.add(linked_id)
        if call is None:
            return []
        return [CallEnded(replace(call, state=CallState.ENDED, ended_at=now))]

    def _on_bridge(self, event: Event, now: float) -> list[Change]:
        channel = self._channel_from(event)
        entering = event.get("Event") == "BridgeEnter"
        bridge_id = event.get("BridgeUniqueid", "") if entering else ""
        self.channels[channel.unique_id] = replace(channel, bridge_id=bridge_id)
        return self._refresh(channel.linked_id, now)

    def _on_queue(self, event: Event, now: float) -> list[Change]:
        channel = self._channel_from(event)
        self.channels[channel.unique_id] = channel
        call = self.calls.get(channel.linked_id)
        if call is None:
            self._refresh(channel.linked_id, now)
            call = self.calls[channel.linked_id]
        joined = event.get("Event") in {"QueueCallerJoin", "QueueEntry"}
        queue = event.get("Queue", "") if joined else ""
        self.calls[channel.linked_id] = replace(call, queue=queue)
        return self._refresh(channel.linked_id, now, force=True)

    def _on_recognition(self, event: Event, now: float) -> list[Change]:
        # Sent by the recognize route (UserEvent SwitchboardRecognition).
        if event.get("UserEvent") != "SwitchboardRecognition":
            return []
        channel = self.channels.get(event["Uniqueid"])
        call = self.calls.get(channel.linked_id) if channel else None
        if call is None:
            return []
        contact_id = event.get("ContactId", "")
        self.calls[call.linked_id] = replace(
            call,
            confidence=event.get("Confidence", ""),
            contact_id=contact_id if contact_id.isdigit() else "",
        )
        return self._refresh(call.linked_id, now, force=True)

    # -- derived call view -------------------------------------------------------------

    def _channel_from(self, event: Event) -> Channel:
        unique_id = event["Uniqueid"]
        known = self.channels.get(unique_id)
        return Channel(
            unique_id=unique_id,
            linked_id=event.get("Linkedid") or (known.linked_id if known else unique_id),
            name=event.get("Channel") or (known.name if known else ""),
            number=_field(event, "CallerIDNum", known.number if known else ""),
            caller_name=_field(event, "CallerIDName", known.caller_name if known else ""),
            state=event.get("ChannelStateDesc") or (known.state if known else ""),
            bridge_id=event.get("BridgeId") or (known.bridge_id if known else ""),
        )

    def _refresh(self, linked_id: str, now: float, *, force: bool = False) -> list[Change]:
        members = [c for c in self.channels.values() if c.linked_id == linked_id]
        if not members or linked_id in self._ended:
            return []
        previous = self.calls.get(linked_id)
        origin = next((c for c in members if c.unique_id == linked_id), None)
        if origin is None:
            # The caller's channel is gone (or was never seen, when attaching mid-call):
            # keep who called rather than relabel the call with whoever is left.
            origin = members[0]
            if previous is not None:
                origin = replace(
                    origin, number=previous.caller_number, caller_name=previous.caller_name
                )
        bridged_peers = self._bridged_peers(origin)
        if bridged_peers:
            state = CallState.TALKING
        elif previous is not None and previous.queue:
            state = CallState.QUEUED
        else:
            state = CallState.RINGING
        call = Call(
            call_id=f"{self.pbx}:{linked_id}",
            pbx=self.pbx,
            linked_id=linked_id,
            caller_number=origin.number,
            caller_name=origin.caller_name,
            state=state,
            started_at=previous.started_at if previous else now,
            queue=previous.queue if previous and state is CallState.QUEUED else "",
            answered_at=(previous.answered_at if previous and previous.answered_at else None)
            or (now if state is CallState.TALKING else None),
            talking_with=", ".join(_party(p) for p in bridged_peers),
            answered_by=(previous.answered_by if previous else "")
            or ", ".join(_party(p) for p in bridged_peers),
            confidence=previous.confidence if previous else "",
            contact_id=previous.contact_id if previous else "",
        )
        self.calls[linked_id] = call
        if call == previous and not force:
            return []
        return [CallChanged(call)]

    def _bridged_peers(self, origin: Channel) -> list[Channel]:
        if not origin.bridge_id:
            return []
        return [
            c
            for c in self.channels.values()
            if c.bridge_id == origin.bridge_id and c.unique_id != origin.unique_id
        ]


def _duration_s(text: str) -> int:
    """CoreShowChannel's "HH:MM:SS" in seconds; 0 when absent or unreadable."""
    parts = text.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return 0
    hours, minutes, seconds = (int(p) for p in parts)
    return hours * 3600 + minutes * 60 + seconds


def _party(channel: Channel) -> str:
    # "PJSIP/100-00000001" -> "100": the extension the receptionist knows.
    technology, _, rest = channel.name.partition("/")
    return rest.rsplit("-", 1)[0] if rest else technology


def _field(event: Event, key: str, known: str) -> str:
    """A caller ID field: the event's value when it carries one, else what we knew."""
    if key not in event:
        return known
    # Asterisk sends "<unknown>" for an absent caller ID, trunks "anonymous" and the
    # like for a withheld one. Anything else is the caller's own text until
    # recognition replaces it: shown harmless, never raw.
    value = sanitise_display_name(event[key])
    return "" if value.strip("<>").lower() in WITHHELD_WORDS else value


_HANDLERS = {
    "Newchannel": PBXModel._on_channel_seen,
    "NewCallerid": PBXModel._on_channel_seen,
    "Newstate": PBXModel._on_channel_seen,
    "NewConnectedLine": PBXModel._on_channel_seen,
    "CoreShowChannel": PBXModel._on_channel_seen,
    "Hangup": PBXModel._on_hangup,
    "BridgeEnter": PBXModel._on_bridge,
    "BridgeLeave": PBXModel._on_bridge,
    "QueueCallerJoin": PBXModel._on_queue,
    "QueueEntry": PBXModel._on_queue,
    "QueueCallerLeave": PBXModel._on_queue,
    "QueueCallerAbandon": PBXModel._on_queue,
    "UserEvent": PBXModel._on_recognition,
}

"""The live picture of one PBX's calls, built from AMI events.

Pure and synchronous: events in (header dicts, as Asterisk sends them), changes out.
The same model serves the live bridge and recorded replays, so it must accept any
event in any order (the bridge may attach to a PBX mid-call) without raising.

A call is everything sharing one Asterisk linked id: the caller's channel (whose
unique id is the linked id), the phones it rings, a queue member's leg, transfer
targets. Besides who talks with whom, the model keeps the story a receptionist asks
about later: through which queue it came, who answered, transfers ("transferred by
100 to 201"), parking ("parked in 701 by 100, picked up by 201") and how it ended.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from typing import Any

from switchboard.core.calls.channels import is_announcement, party
from switchboard.core.numbers import WITHHELD_WORDS
from switchboard.core.text import sanitise_display_name

#: One AMI event: its headers as strings, as Asterisk sends them (a repeated header
#: keeps its last value). The call domain's input, here and in presence and control.
Event = Mapping[str, str]


class CallState(Enum):
    RINGING = "ringing"  # the caller is in the dialplan or ringing a phone
    QUEUED = "queued"  # waiting in a queue for a receptionist
    TALKING = "talking"  # bridged with somebody
    HELD = "held"  # answered, now alone in its bridge (on hold during an attended transfer)
    PARKED = "parked"  # waiting in a parking space for somebody to pick it up
    ENDED = "ended"


class CallOutcome:
    """How a call ended (``Call.outcome``; empty while it is up)."""

    ANSWERED = "answered"  # somebody answered, nobody passed the call on
    TRANSFERRED = "transferred"  # answered, then transferred or parked and picked up by another
    # Answered, then transferred to somebody who did not take it, and nobody did after.
    TRANSFER_FAILED = "transfer failed"
    ABANDONED = "abandoned"  # the caller hung up, never answered (in a queue or ringing)
    MISSED = "missed"  # never answered and the PBX gave up: busy, no answer, unavailable
    PARKED = "parked"  # ended while parked (the caller gave up in the parking space)
    MERGED = "merged"  # its channels joined another call (a phone picking up a parked call)


# Enough for every channel that can still have events on their way after its Hangup.
HUNG_UP_REMEMBERED = 4096

#: The fallback chain's steps (extensions.conf [switchboard-fallback]).
FALLBACK_STEPS = frozenset({"operator", "backoffice", "callback", "voicemail", "urgent", "goodbye"})
# Why the queue gave the caller up (its QUEUESTATUS), as the board says it; any other
# status the chain treats as waited too long.
_FALLBACK_REASONS = {
    "TIMEOUT": "waited",
    "FULL": "full",
    "JOINEMPTY": "nobody",
    "LEAVEEMPTY": "nobody",
    "JOINUNAVAIL": "nobody",
    "LEAVEUNAVAIL": "nobody",
    "CLOSED": "closed",  # the opening hours (extensions.conf [switchboard-closed])
}
# A dialplan that loops through the chain (a site's own edit) must not grow a call.
_FALLBACK_STEPS_KEPT = 16

# DialEnd's DialStatus for a phone that did not take the call, as the history says it.
_UNANSWERED = {
    "BUSY": "busy",
    "NOANSWER": "no answer",
    "CHANUNAVAIL": "unavailable",
    "CONGESTION": "unavailable",
}


@dataclass(frozen=True)
class Channel:
    unique_id: str
    linked_id: str
    name: str
    number: str = ""
    caller_name: str = ""
    state: str = ""
    bridge_id: str = ""
    dialled: str = ""  # the extension the channel was created for (Newchannel's Exten)


@dataclass(frozen=True)
class Transfer:
    """A hand-over of the call: ``kind`` is "blind", "attended", "blonde" (an attended
    transfer completed while the target still rang) or "forward" (a phone's call
    forwarding sent it to an outside number)."""

    kind: str
    by: str  # who transferred ("100"), or the phone that forwarded ("202")
    to: str  # to whom ("201", "0612345678")
    at: float
    failed: str = ""  # the target did not take it: "busy", "no answer", "unavailable"
    then: str = ""  # after a failed transfer, whom the call talked with next

    def settled(self) -> bool:
        """Whether the story of this transfer is complete."""
        return bool(self.to) and (not self.failed or bool(self.then))


@dataclass(frozen=True)
class FallbackStep:
    """A step of the fallback chain the caller was sent to, and when."""

    step: str  # one of FALLBACK_STEPS
    at: float


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
    queue: str = ""  # the queue it waits in now
    # Its place in that queue (1 = answered next; a VIP joins in front); 0 when not waiting.
    queue_position: int = 0
    # The last place it had in a queue, kept after it left (the worklist shows where a
    # caller who hung up was in line).
    place: int = 0
    answered_at: float | None = None
    ended_at: float | None = None
    talking_with: str = ""
    answered_by: str = ""  # who took the call first: the contact's "last handled by"
    confidence: str = ""
    contact_id: str = ""  # the contact recognition matched, for the contact's history
    dialled: str = ""  # what the caller dialled: our number (DID), an extension, an outside number
    via_queue: str = ""  # the queue it came through, kept after it was answered
    transfers: tuple[Transfer, ...] = ()
    parked_space: str = ""  # last parked in this space ("701") ...
    parked_by: str = ""  # ... by this extension
    parked_at: float | None = None
    picked_up_by: str = ""  # who took it out of the parking space
    picked_up_at: float | None = None
    unanswered_reason: str = ""  # a phone it rang was "busy", gave "no answer", "unavailable"
    outcome: str = ""  # CallOutcome.*, once ended
    merged_into: str = ""  # the linked id of the call it joined (CallOutcome.MERGED)
    talking_since: float | None = None  # since when it talks with talking_with
    # First moment in a queue: the queue's wait and the whole wait count from here,
    # across the fallback chain's steps (service levels).
    queued_at: float | None = None
    # The fallback chain (extensions.conf [switchboard-fallback]): why the queue gave
    # the caller up ("waited", "nobody", "full") and the steps taken, the last being
    # where the caller is now ("operator", "backoffice", "voicemail", "goodbye").
    fallback_reason: str = ""
    fallback: tuple[FallbackStep, ...] = ()
    # The whole wait, from queued_at, that the caller was last told to expect ("about 3
    # minutes" said 40 s after joining: 220 s); None when no wait was announced. Kept
    # beside the real wait so the board can say how often a promise was broken.
    predicted_wait_s: float | None = None
    # The caller asked to be called back from the queue (UserEvent SwitchboardCallbackAsked,
    # extensions.conf [switchboard-callback]) and hung up: the callbacks follow them now.
    callback_asked: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        data["transfers"] = [asdict(t) for t in self.transfers]
        data["fallback"] = [asdict(s) for s in self.fallback]
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
    # Channels that hung up, the latest HUNG_UP_REMEMBERED of them: a unique id is never
    # used again, so a later event about one (Asterisk sends a ringing leg's last
    # NewConnectedLine after its Hangup, sometimes after the caller's too; a channel list
    # requested before the Hangup) must not bring it back as a ghost call.
    _hung_up: dict[str, None] = field(default_factory=dict)
    # The channels known when the PBX's channel list was last asked for (check_channels).
    _known_at_check: frozenset[str] | None = None
    # Calls known before the last reset: a call rebuilt from the channel list keeps its
    # story (who answered, transfers); one that is not listed ended while we were away.
    _before_resync: dict[str, Call] = field(default_factory=dict)
    # Calls whose caller hung up themselves (HangupRequest on the caller's channel,
    # QueueCallerAbandon): unanswered, that is "abandoned" rather than "missed".
    _caller_left: set[str] = field(default_factory=set)
    _parked: set[str] = field(default_factory=set)  # calls in a parking space now
    # Calls that left their parking space without a retriever (the parking timed out and
    # rings whoever parked it, or a Redirect took it out): whoever they talk with next
    # picked them up; if they end before that, they ended parked.
    _unparking: set[str] = field(default_factory=set)
    # Calls first seen in the PBX's channel list: their start is its Duration ago.
    _listed: set[str] = field(default_factory=set)
    # Calls whose caller handed them on (a transfer by the caller's own channel): the
    # caller's hang-up does not end them; the last hang-up of the others does.
    _handed_on: set[str] = field(default_factory=set)
    # Calls in the middle of a Local channel optimisation (LocalOptimizationBegin to
    # End): the real phone replaces the Local channel in the caller's bridge, and the
    # moment between its leaving and the phone's entering is not a change of state.
    _optimising: set[str] = field(default_factory=set)

    def snapshot(self) -> list[Call]:
        return sorted(self.calls.values(), key=lambda call: call.started_at)

    def sizes(self) -> dict[str, int]:
        """How much the model holds, structure by structure: what a soak test watches.
        All but ``hung_up`` (capped at :data:`HUNG_UP_REMEMBERED`) return to zero once
        every call has ended."""
        return {
            "channels": len(self.channels),
            "calls": len(self.calls),
            "hung_up": len(self._hung_up),
            "before_resync": len(self._before_resync),
            "caller_left": len(self._caller_left),
            "parked": len(self._parked),
            "unparking": len(self._unparking),
            "listed": len(self._listed),
            "handed_on": len(self._handed_on),
            "optimising": len(self._optimising),
        }

    def reset(self) -> list[Change]:
        """Forget the channels (before a resynchronisation); every known call is reported
        ended. The calls are remembered until the channel list's end
        (CoreShowChannelsComplete): a listed call carries on with its history, the others
        end then."""
        ended = [CallEnded(call) for call in self.calls.values()]
        self._known_at_check = None
        self._before_resync.update(self.calls)
        self.channels.clear()
        self.calls.clear()
        self._listed.clear()
        # _parked and _unparking stay: a parked call listed again is still parked (and
        # not talking with whoever else waits in the parking lot's holding bridge).
        return list(ended)

    def check_channels(self) -> None:
        """The PBX's channel list is being asked for (see :meth:`drop_unlisted`)."""
        self._known_at_check = frozenset(self.channels)

    def drop_unlisted(
        self, listed: Collection[str], now: float
    ) -> tuple[list[Channel], list[Change]]:
        """The channel list asked for at :meth:`check_channels` came: a channel known
        then that the PBX no longer lists hung up without our seeing it (a lost Hangup,
        or a late event that made it up), so it goes now, with the call it held up.
        Channels first seen since may be newer than the list, and stay. Returns the
        channels dropped and what changed."""
        known, self._known_at_check = self._known_at_check, None
        if known is None:
            return [], []  # a reset came in between: the resync's own list rules
        dropped = [self.channels[u] for u in sorted(known - set(listed)) if u in self.channels]
        changes: list[Change] = []
        for channel in dropped:
            hangup = {
                "Event": "Hangup",
                "Uniqueid": channel.unique_id,
                "Linkedid": channel.linked_id,
            }
            changes += self._on_hangup(hangup, now)
        return dropped, changes

    def apply(self, event: Event, now: float) -> list[Change]:
        """What ``event`` changed, at ``now`` (epoch seconds); any event, in any order."""
        kind = event.get("Event", "")
        handler = _HANDLERS.get(kind)
        if handler is not None:
            if not event.get("Uniqueid"):
                return []
            if is_announcement(event.get("Channel", "")):
                # An announcement whispering to a waiting caller is no call; it only
                # tells what it said (SwitchboardAnnouncement).
                if event.get("UserEvent") != "SwitchboardAnnouncement":
                    return []
                return self._on_announcement(event, now)
            return handler(self, event, now)
        handler = _CALL_HANDLERS.get(kind)
        return handler(self, event, now) if handler is not None else []

    # -- channel lifecycle -------------------------------------------------------------

    def _on_channel_seen(self, event: Event, now: float) -> list[Change]:
        if event["Uniqueid"] in self._hung_up:
            return []
        channel = self._channel_from(event)
        linked_id = channel.linked_id
        listed = event.get("Event") == "CoreShowChannel"
        if listed and linked_id not in self.calls and linked_id not in self._before_resync:
            self._listed.add(linked_id)
        changes = self._store(channel, now)
        changes += self._refresh(linked_id, now)
        age = _duration_s(event.get("Duration", ""))
        call = self.calls.get(linked_id)
        if age and call is not None and linked_id in self._listed and now - age < call.started_at:
            # Rebuilt from the PBX's channel list: the call began before we saw it.
            # A unique id begins with its channel's creation time, which bounds a
            # replay's guess (the channel list's replies carry no Timestamp).
            started = max(now - age, _created_at(channel.unique_id))
            self.calls[call.linked_id] = replace(call, started_at=min(started, call.started_at))
            changes += self._refresh(linked_id, now, force=True)
        return changes

    def _on_hangup(self, event: Event, now: float) -> list[Change]:
        unique_id = event["Uniqueid"]
        channel = self.channels.pop(unique_id, None)
        self._gone(unique_id)
        linked_id = channel.linked_id if channel else event.get("Linkedid", "")
        if not linked_id:
            return []
        members = [c for c in self.channels.values() if c.linked_id == linked_id]
        if members and (
            unique_id != linked_id or linked_id in self._handed_on or _in_conversation(members)
        ):
            # A leg of the call went, or the caller's own side did after handing the
            # call on, or while two of the others talk on (the caller transferred
            # them to each other): the call goes on until the last of them hangs up.
            return self._refresh(linked_id, now)
        # The caller hung up: for the receptionist the call is over, even while the
        # other legs (a phone still ringing, a queue member) are being torn down.
        # Those legs are forgotten now, as if hung up: whatever Asterisk still says
        # about them changes nothing, and a Hangup of theirs that never comes (we
        # attached after it) leaves nothing behind.
        for member in members:
            del self.channels[member.unique_id]
            self._gone(member.unique_id)
        call = self.calls.pop(linked_id, None)
        if call is None:
            self._forget(linked_id)
            return []
        return [CallEnded(self._end(call, now))]

    def _gone(self, unique_id: str) -> None:
        """Remember that a channel is gone (the latest HUNG_UP_REMEMBERED of them)."""
        self._hung_up[unique_id] = None
        if len(self._hung_up) > HUNG_UP_REMEMBERED:
            del self._hung_up[next(iter(self._hung_up))]

    def _on_hangup_request(self, event: Event, now: float) -> list[Change]:
        # Asterisk reports a hang-up that came from the channel's far end (a SIP BYE or
        # CANCEL) as HangupRequest; the dialplan's or a bridge's as SoftHangupRequest.
        if event["Uniqueid"] == event.get("Linkedid", event["Uniqueid"]):
            self._caller_left.add(event["Uniqueid"])
        return []

    def _on_bridge(self, event: Event, now: float) -> list[Change]:
        channel = self._channel_from(event)
        entering = event.get("Event") == "BridgeEnter"
        bridge_id = event.get("BridgeUniqueid", "") if entering else ""
        if event.get("BridgeTechnology") == "holding_bridge":
            # A parking lot (or any holding bridge): everybody in it hears music on
            # hold, nobody talks with anybody.
            bridge_id = ""
        changes = self._store(replace(channel, bridge_id=bridge_id), now)
        return changes + self._refresh(channel.linked_id, now)

    def _on_queue(self, event: Event, now: float) -> list[Change]:
        channel = self._channel_from(event)
        changes = self._store(channel, now)
        call = self.calls.get(channel.linked_id)
        if call is None:
            changes += self._refresh(channel.linked_id, now)
            call = self.calls.get(channel.linked_id)
            if call is None:
                return changes
        kind = event.get("Event")
        joined = kind in {"QueueCallerJoin", "QueueEntry"}
        queue = event.get("Queue", "") if joined else ""
        if kind == "QueueCallerAbandon" and channel.unique_id == channel.linked_id:
            self._caller_left.add(channel.linked_id)
        if kind == "QueueCallerAbandon":
            # Always followed by its QueueCallerLeave, which moves the others up.
            position = call.queue_position
        else:
            position = _position(event.get("Position", ""))
            changes += self._move_up_behind(call, event, position, now)
        self.calls[channel.linked_id] = replace(
            call,
            queue=queue,
            via_queue=queue or call.via_queue,
            queue_position=position,
            place=position or call.place,
            queued_at=call.queued_at
            if call.queued_at is not None or not joined
            else now - _int(event.get("Wait", "")),  # QueueEntry: waited this long
        )
        return changes + self._refresh(channel.linked_id, now, force=True)

    def _move_up_behind(self, call: Call, event: Event, position: int, now: float) -> list[Change]:
        """The others in the queue after ``call`` joined at or left from ``position``:
        Asterisk says nothing about them, but their places changed. (QueueEntry lists
        every caller with its place: nothing to infer from it.)"""
        kind = event.get("Event")
        if kind == "QueueCallerLeave":
            step, position = -1, position or call.queue_position
        elif kind == "QueueCallerJoin":
            step = 1
        else:
            return []
        queue = event.get("Queue") or call.queue
        changes: list[Change] = []
        for other in list(self.calls.values()):
            if other.linked_id == call.linked_id or other.queue != queue or not position:
                continue
            behind = (
                other.queue_position > position if step < 0 else other.queue_position >= position
            )
            if other.queue_position and behind:
                self.calls[other.linked_id] = replace(
                    other, queue_position=other.queue_position + step
                )
                changes += self._refresh(other.linked_id, now, force=True)
        return changes

    def _on_dial_end(self, event: Event, now: float) -> list[Change]:
        status = event.get("DialStatus", "")
        reason = _UNANSWERED.get(status)
        channel = self.channels.get(event["Uniqueid"])
        call = self.calls.get(channel.linked_id) if channel else None
        if (
            status == "CANCEL"
            and channel is not None
            and channel.unique_id == channel.linked_id
            and call is not None
            and not call.via_queue
        ):
            # The caller's own Dial was cancelled: they hung up while it rang (the same
            # as their HangupRequest, which a recording may lack). A ring that lost to
            # another phone is cancelled too, but that call is answered, and an answered
            # call is never abandoned. Not for a queue's rings, which app_queue also
            # cancels when the caller leaves the queue for the next step of the dialplan;
            # a queue caller who gives up says so in QueueCallerAbandon.
            self._caller_left.add(channel.linked_id)
        if reason is None or call is None:
            return []
        if call.answered_at is not None:
            return self._transfer_failed(call, event, reason, now)
        self.calls[call.linked_id] = replace(call, unanswered_reason=reason)
        return self._refresh(call.linked_id, now, force=True)

    def _transfer_failed(self, call: Call, event: Event, reason: str, now: float) -> list[Change]:
        """A dial of an answered call failed: if it was the target of the call's last
        transfer (or forward), that transfer failed for ``reason``."""
        last = call.transfers[-1] if call.transfers else None
        if last is None or last.failed:
            return []
        target = _party_in(event, "Dest")
        if last.to not in {target, _dialled_number(event.get("DialString", ""))}:
            return []
        transfers = (*call.transfers[:-1], replace(last, failed=reason))
        self.calls[call.linked_id] = replace(call, transfers=transfers)
        return self._refresh(call.linked_id, now, force=True)

    def _on_dial_begin(self, event: Event, now: float) -> list[Change]:
        """A phone's call forwarding: a channel at one of our extensions ("202") dials
        an outside number. (A dial from an outside number's own extension is an
        outgoing call, and a dial to another extension a ring group, a queue member
        or a follow-me, whose answer ``answered_by`` tells.)"""
        channel = self.channels.get(event["Uniqueid"])
        call = self.calls.get(channel.linked_id) if channel else None
        extension = event.get("Exten", "")
        number = _dialled_number(event.get("DialString", ""))
        if call is None or not _internal(extension) or not _outside(number):
            return []
        forward = Transfer(kind="forward", by=extension, to=number, at=now)
        self.calls[call.linked_id] = replace(call, transfers=(*call.transfers, forward))
        return self._refresh(call.linked_id, now, force=True)

    def _on_pickup(self, event: Event, now: float) -> list[Change]:
        """A phone took a call that rang another (directed or group pickup): the
        ringing channel (Target*) belongs to the call; the picker (Channel) answers."""
        target = self.channels.get(event.get("TargetUniqueid", ""))
        linked_id = target.linked_id if target else event.get("TargetLinkedid", "")
        call = self.calls.get(linked_id)
        if call is None:
            return []
        picker = party(event.get("Channel", ""), _field(event, "CallerIDNum", ""))
        self.calls[linked_id] = replace(call, picked_up_by=picker, picked_up_at=now)
        return self._refresh(linked_id, now, force=True)

    def _on_local_optimisation(self, event: Event, now: float) -> list[Change]:
        channel = self.channels.get(event.get("LocalOneUniqueid", ""))
        linked_id = channel.linked_id if channel else event.get("LocalOneLinkedid", "")
        if not linked_id:
            return []
        if event.get("Event") == "LocalOptimizationBegin":
            if linked_id in self.calls:
                self._optimising.add(linked_id)
            return []
        self._optimising.discard(linked_id)
        return self._refresh(linked_id, now)

    def _on_user_event(self, event: Event, now: float) -> list[Change]:
        """Our dialplan's UserEvents: SwitchboardRecognition (the recognize route's
        verdict), SwitchboardFallback (a step of the fallback chain) and
        SwitchboardCallbackAsked (a callback stored for the caller)."""
        kind = event.get("UserEvent")
        channel = self.channels.get(event["Uniqueid"])
        call = self.calls.get(channel.linked_id) if channel else None
        if call is None:
            return []
        if kind == "SwitchboardRecognition":
            contact_id = event.get("ContactId", "")
            call = replace(
                call,
                confidence=event.get("Confidence", ""),
                contact_id=contact_id if contact_id.isdigit() else "",
            )
        elif kind == "SwitchboardFallback":
            step = event.get("Step", "")
            if step not in FALLBACK_STEPS:
                return []  # a step this version does not know: nothing to tell
            since = _epoch(event.get("QueueSince", ""))
            call = replace(
                call,
                fallback_reason=call.fallback_reason
                or _FALLBACK_REASONS.get(event.get("Reason", ""), "waited"),
                fallback=(*call.fallback, FallbackStep(step, now))[-_FALLBACK_STEPS_KEPT:],
                queued_at=call.queued_at if call.queued_at is not None else since,
            )
        elif kind == "SwitchboardCallbackAsked":
            call = replace(call, callback_asked=True)
        else:
            return []
        self.calls[call.linked_id] = call
        return self._refresh(call.linked_id, now, force=True)

    def _on_announcement(self, event: Event, now: float) -> list[Change]:
        """UserEvent SwitchboardAnnouncement: the waiting caller whose channel's unique id
        is ``For`` was told to expect about ``Minutes`` minutes more (extensions.conf
        [switchboard-announce])."""
        channel = self.channels.get(event.get("For", ""))
        call = self.calls.get(channel.linked_id) if channel else None
        minutes = event.get("Minutes", "")
        if call is None or not minutes.isdigit() or len(minutes) > 4:
            return []  # a position only, or a caller gone: no promise to keep
        since = call.queued_at if call.queued_at is not None else now
        call = replace(call, predicted_wait_s=max(0.0, now - since) + int(minutes) * 60)
        self.calls[call.linked_id] = call
        return self._refresh(call.linked_id, now, force=True)

    # -- transfers and parking (these events name their channels by role) --------------

    def _on_blind_transfer(self, event: Event, now: float) -> list[Change]:
        if event.get("Result") != "Success":
            return []
        call = self._call_of(event, "Transferee", "Transferer")
        if call is None:
            return []
        if event.get("TransfererUniqueid") == call.linked_id:
            self._handed_on.add(call.linked_id)
        transfer = Transfer(
            kind="blind",
            by=_party_in(event, "Transferer"),
            to=event.get("Extension", ""),
            at=now,
        )
        self.calls[call.linked_id] = replace(call, transfers=(*call.transfers, transfer))
        return self._refresh(call.linked_id, now, force=True)

    def _on_attended_transfer(self, event: Event, now: float) -> list[Change]:
        if event.get("Result") != "Success":
            return []
        call = self._call_of(event, "Transferee", "OrigTransferer", "TransferTarget")
        if call is None:
            return []
        if call.linked_id in {event.get(f"{r}Uniqueid") for r in _TRANSFER_PARTIES}:
            self._handed_on.add(call.linked_id)
        target = _party_in(event, "TransferTarget") if event.get("TransferTargetChannel") else ""
        # Completed while the target still rang (the transferer hung up first).
        ringing = event.get("TransferTargetChannelStateDesc") == "Ringing"
        if not target:
            # Asterisk leaves the target out when it has already joined the caller's
            # bridge (DestType Bridge): then it is whoever is in there besides them.
            bridge = event.get("DestBridgeUniqueid") or event.get("OrigBridgeUniqueid", "")
            # Not the parties the event names, nor the call's own caller: an older
            # Asterisk leaves out the Transferee headers too.
            others = {event.get(f"{r}Uniqueid") for r in _TRANSFER_PARTIES} | {call.linked_id}
            targets = [
                c
                for c in self.channels.values()
                if bridge and c.bridge_id == bridge and c.unique_id not in others
            ]
            target = ", ".join(_party(c) for c in targets)
            ringing = bool(targets) and all(c.state == "Ringing" for c in targets)
        # DestType App (the transferee went on into the dialplan): who takes it is
        # known when it talks again (see _refresh).
        transfer = Transfer(
            kind="blonde" if ringing else "attended",
            by=_party_in(event, "OrigTransferer"),
            to=target,
            at=now,
        )
        self.calls[call.linked_id] = replace(call, transfers=(*call.transfers, transfer))
        return self._refresh(call.linked_id, now, force=True)

    def _on_parked(self, event: Event, now: float) -> list[Change]:
        # Also each parked call listed by the ParkedCalls action in a resync, the only
        # sign that a call first seen in the channel list waits in a parking lot.
        call = self._call_of(event, "Parkee")
        if call is None:
            return []
        space = event.get("ParkingSpace", "")
        parked_at = now - _int(event.get("ParkingDuration", ""))
        if call.linked_id in self._parked and call.parked_space == space:
            parked_at = call.parked_at if call.parked_at is not None else parked_at
        self._parked.add(call.linked_id)
        self._unparking.discard(call.linked_id)
        parker = event.get("ParkerDialString", "")
        parked_by = party(parker) if parker else ""
        if call.linked_id in self._listed and parked_by:
            # First seen in the lot, "bridged" with whoever else waits there: the one who
            # parked it is the best guess at who answered it.
            call = replace(call, answered_by=parked_by)
        self.calls[call.linked_id] = replace(
            call,
            parked_space=space,
            parked_by=parked_by,
            parked_at=parked_at,
            picked_up_by="",
            picked_up_at=None,
        )
        return self._refresh(call.linked_id, now, force=True)

    def _on_unparked(self, event: Event, now: float) -> list[Change]:
        call = self._call_of(event, "Parkee")
        if call is None:
            return []
        self._parked.discard(call.linked_id)
        if event.get("Event") == "UnParkedCall":
            call = replace(call, picked_up_by=_party_in(event, "Retriever"), picked_up_at=now)
        else:
            # ParkedCallTimeOut: the call rings whoever parked it again (res_parking.conf);
            # ParkedCallGiveUp: the caller hung up, or a Redirect took the call elsewhere.
            self._unparking.add(call.linked_id)
        self.calls[call.linked_id] = call
        return self._refresh(call.linked_id, now, force=True)

    def _on_channels_listed(self, event: Event, now: float) -> list[Change]:
        """CoreShowChannelsComplete: calls we knew before the resync and the PBX did not
        list any more ended while we were not connected (their end time is now)."""
        gone, self._before_resync = self._before_resync, {}
        return [CallEnded(self._end(call, now)) for call in gone.values()]

    # -- derived call view -------------------------------------------------------------

    def _channel_from(self, event: Event) -> Channel:
        unique_id = event["Uniqueid"]
        known = self.channels.get(unique_id)
        dialled = known.dialled if known else ""
        if event.get("Event") == "Newchannel" and not dialled:
            dialled = event.get("Exten", "")
        return Channel(
            unique_id=unique_id,
            linked_id=event.get("Linkedid") or (known.linked_id if known else unique_id),
            name=event.get("Channel") or (known.name if known else ""),
            number=_field(event, "CallerIDNum", known.number if known else ""),
            caller_name=_field(event, "CallerIDName", known.caller_name if known else ""),
            state=event.get("ChannelStateDesc") or (known.state if known else ""),
            bridge_id=event.get("BridgeId") or (known.bridge_id if known else ""),
            dialled=dialled,
        )

    def _store(self, channel: Channel, now: float) -> list[Change]:
        """Keep the channel; when Asterisk moved it into another call (bridging gives
        every channel the oldest linked id), the call it left may be over."""
        if channel.unique_id in self._hung_up:
            return []  # a late event about a channel that is gone
        known = self.channels.get(channel.unique_id)
        self.channels[channel.unique_id] = channel
        if known is None or known.linked_id == channel.linked_id:
            return []
        old = known.linked_id
        if any(c.linked_id == old for c in self.channels.values()):
            return self._refresh(old, now)
        # Its last channel moved away instead of hanging up: nothing of ``old`` is left
        # to end it later, so it is forgotten whole now.
        call = self.calls.pop(old, None)
        self._forget(old)
        if call is None:
            return []
        merged = replace(call, merged_into=channel.linked_id)
        return [CallEnded(replace(self._end(merged, now), outcome=CallOutcome.MERGED))]

    def _call_of(self, event: Event, *roles: str) -> Call | None:
        """The call an event about roles ("Transferee", "Parkee"...) belongs to: first
        a call whose caller is one of them (a caller's unique id is its call's linked
        id, whatever Asterisk re-linked the channel to since), then a call one of
        their channels is in."""
        for role in roles:
            if event.get(f"{role}Uniqueid", "") in self.calls:
                return self.calls[event[f"{role}Uniqueid"]]
        for role in roles:
            channel = self.channels.get(event.get(f"{role}Uniqueid", ""))
            linked_id = channel.linked_id if channel else event.get(f"{role}Linkedid", "")
            if linked_id in self.calls:
                return self.calls[linked_id]
        return None

    def _end(self, call: Call, now: float) -> Call:
        linked_id = call.linked_id
        ended = replace(
            call,
            state=CallState.ENDED,
            ended_at=call.ended_at if call.ended_at is not None else now,
            outcome=call.outcome
            or _outcome(call, linked_id in self._parked | self._unparking, self._caller_left),
        )
        self._forget(linked_id)
        return ended

    def _forget(self, linked_id: str) -> None:
        self._handed_on.discard(linked_id)
        self._optimising.discard(linked_id)
        self._caller_left.discard(linked_id)
        self._parked.discard(linked_id)
        self._unparking.discard(linked_id)
        self._listed.discard(linked_id)

    def _refresh(self, linked_id: str, now: float, *, force: bool = False) -> list[Change]:
        members = [c for c in self.channels.values() if c.linked_id == linked_id]
        if not members or (linked_id in self._hung_up and linked_id not in self.calls):
            return []  # (the caller hung up and the call ended: no ghost of it)
        previous = self.calls.get(linked_id) or self._before_resync.pop(linked_id, None)
        origin = next((c for c in members if c.unique_id == linked_id), None)
        if origin is not None:
            bridged_peers = self._bridged_peers(origin)
        else:
            # The caller's channel is gone (or was never seen, when attaching mid-call):
            # keep who called rather than relabel the call with whoever is left, and
            # show the conversation that goes on (whom the caller handed the call to).
            origin = next((c for c in members if self._bridged_peers(c)), members[0])
            bridged_peers = [origin, *self._bridged_peers(origin)] if origin.bridge_id else []
            if len(bridged_peers) < 2:
                bridged_peers = []
            if previous is not None:
                origin = replace(
                    origin, number=previous.caller_number, caller_name=previous.caller_name
                )
        answered = previous is not None and previous.answered_at is not None
        if linked_id in self._parked:
            state = CallState.PARKED  # (ParkedCall comes just before it leaves its bridge)
            bridged_peers = []
        elif bridged_peers:
            state = CallState.TALKING
        elif origin.bridge_id and answered:
            state = CallState.HELD
        elif previous is not None and previous.queue:
            state = CallState.QUEUED
        else:
            state = CallState.RINGING
        talking_with = ", ".join(_party(p) for p in bridged_peers)
        if (
            linked_id in self._optimising
            and previous is not None
            and previous.state is CallState.TALKING
            and state is not CallState.TALKING
        ):
            # A Local channel is being optimised away: still talking with the same.
            state, talking_with = CallState.TALKING, previous.talking_with
        picked_up: dict[str, Any] = {}
        if talking_with and linked_id in self._unparking:
            self._unparking.discard(linked_id)
            picked_up = {"picked_up_by": talking_with, "picked_up_at": now}
        base = previous or Call(
            call_id=f"{self.pbx}:{linked_id}",
            pbx=self.pbx,
            linked_id=linked_id,
            caller_number="",
            caller_name="",
            state=state,
            started_at=now,
            dialled=origin.dialled if origin.unique_id == linked_id else "",
        )
        call = replace(
            base,
            caller_number=origin.number,
            caller_name=origin.caller_name,
            state=state,
            queue=base.queue if state is CallState.QUEUED else "",
            queue_position=base.queue_position if state is CallState.QUEUED else 0,
            # 0.0 is a moment like any other (a replay without Timestamps): never "or".
            answered_at=(
                base.answered_at
                if base.answered_at is not None
                else now
                if state is CallState.TALKING
                else None
            ),
            talking_with=talking_with,
            talking_since=(
                base.talking_since
                if talking_with and talking_with == base.talking_with
                else now
                if talking_with
                else None
            ),
            answered_by=base.answered_by or talking_with,
            dialled=base.dialled or (origin.dialled if origin.unique_id == linked_id else ""),
            transfers=_settle(base.transfers, talking_with),
            **picked_up,
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


def _in_conversation(members: list[Channel]) -> bool:
    """Whether two of ``members`` share a bridge: they talk with each other."""
    bridges = [c.bridge_id for c in members if c.bridge_id]
    return len(bridges) != len(set(bridges))


def _settle(transfers: tuple[Transfer, ...], talking_with: str) -> tuple[Transfer, ...]:
    """The call's transfers once it talks with ``talking_with``: a transfer whose
    target was not known yet (DestType App) went to them; after a failed one, the
    call went on with them."""
    last = transfers[-1] if transfers else None
    if last is None or last.settled() or not talking_with:
        return transfers
    if not last.to:
        last = replace(last, to=talking_with)
    elif talking_with != last.to:
        last = replace(last, then=talking_with)
    else:
        return transfers
    return (*transfers[:-1], last)


def _outcome(call: Call, parked: bool, caller_left: set[str]) -> str:
    if parked:
        return CallOutcome.PARKED
    if call.answered_at is None:
        if call.linked_id in caller_left:
            return CallOutcome.ABANDONED
        if call.unanswered_reason:
            return CallOutcome.MISSED
        # Ended unanswered without a word why: a queue caller left (or we were away).
        return CallOutcome.ABANDONED if call.via_queue else CallOutcome.MISSED
    last = call.transfers[-1] if call.transfers else None
    if last is not None and last.failed and not last.then:
        return CallOutcome.TRANSFER_FAILED  # nobody took it after the failed transfer
    handed_on = any(t.kind != "forward" and not t.failed for t in call.transfers) or (
        call.picked_up_by and call.picked_up_by != call.answered_by.split(", ")[0]
    )
    return CallOutcome.TRANSFERRED if handed_on else CallOutcome.ANSWERED


def _dialled_number(dial_string: str) -> str:
    """The number in a Dial's DialString: "0612345678@trunk", "Local/0612345678@phones"
    and "PJSIP/0612345678@trunk" -> "0612345678"; "202" -> "202"."""
    return dial_string.rpartition("/")[2].partition("@")[0]


def _internal(extension: str) -> bool:
    """Whether ``extension`` is one of ours: a short number that does not start with
    the trunk prefix 0 (extensions.conf: internal numbers never start with 0)."""
    return extension.isdigit() and len(extension) <= 6 and not extension.startswith("0")


def _outside(number: str) -> bool:
    """Whether ``number`` is an outside number: "0612345678", "+31612345678"."""
    digits = number.removeprefix("+")
    return digits.isdigit() and (number.startswith(("0", "+")) or len(digits) > 6)


def _position(text: str) -> int:
    """A queue Position header; 0 when absent or unreadable."""
    return int(text) if text.isdigit() and len(text) < 6 else 0


def _duration_s(text: str) -> int:
    """CoreShowChannel's "HH:MM:SS" in seconds; 0 when absent or unreadable."""
    parts = text.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return 0
    hours, minutes, seconds = (int(p) for p in parts)
    return hours * 3600 + minutes * 60 + seconds


def _epoch(text: str) -> float | None:
    """An epoch second from the dialplan (${EPOCH}); None when absent or unreadable."""
    return float(text) if text.isdigit() and len(text) <= 12 else None


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 0


def _created_at(unique_id: str) -> float:
    """The epoch second in an Asterisk unique id ("1795392506.19", "host-1795392506.19");
    0 when it has none."""
    seconds, _, sequence = unique_id.rpartition("-")[2].partition(".")
    return float(seconds) if seconds.isdigit() and sequence.isdigit() else 0.0


def _party(channel: Channel) -> str:
    """Who ``channel`` is, as the receptionist knows them (:func:`channels.party`)."""
    return party(channel.name, channel.number)


def _party_in(event: Event, role: str) -> str:
    """Who the channel an event names by role is (TransfererChannel, ...)."""
    return party(event.get(f"{role}Channel", ""), _field(event, f"{role}CallerIDNum", ""))


def _field(event: Event, key: str, known: str) -> str:
    """A caller ID field: the event's value when it carries one, else what we knew."""
    if key not in event:
        return known
    # Asterisk sends "<unknown>" for an absent caller ID, trunks "anonymous" and the
    # like for a withheld one. Anything else is the caller's own text until
    # recognition replaces it: shown harmless, never raw.
    value = sanitise_display_name(event[key])
    return "" if value.strip("<>").lower() in WITHHELD_WORDS else value


_TRANSFER_PARTIES = ("Transferee", "OrigTransferer", "SecondTransferer")

# Events about one channel, named by its Uniqueid.
_HANDLERS = {
    "Newchannel": PBXModel._on_channel_seen,
    "NewCallerid": PBXModel._on_channel_seen,
    "Newstate": PBXModel._on_channel_seen,
    "NewConnectedLine": PBXModel._on_channel_seen,
    "CoreShowChannel": PBXModel._on_channel_seen,
    "Hangup": PBXModel._on_hangup,
    "HangupRequest": PBXModel._on_hangup_request,
    "BridgeEnter": PBXModel._on_bridge,
    "BridgeLeave": PBXModel._on_bridge,
    "QueueCallerJoin": PBXModel._on_queue,
    "QueueEntry": PBXModel._on_queue,
    "QueueCallerLeave": PBXModel._on_queue,
    "QueueCallerAbandon": PBXModel._on_queue,
    "DialBegin": PBXModel._on_dial_begin,
    "DialEnd": PBXModel._on_dial_end,
    "Pickup": PBXModel._on_pickup,
    "UserEvent": PBXModel._on_user_event,
}

# Events about a call that name its channels by role (or none at all).
_CALL_HANDLERS = {
    "BlindTransfer": PBXModel._on_blind_transfer,
    "AttendedTransfer": PBXModel._on_attended_transfer,
    "ParkedCall": PBXModel._on_parked,
    "UnParkedCall": PBXModel._on_unparked,
    "ParkedCallTimeOut": PBXModel._on_unparked,
    "ParkedCallGiveUp": PBXModel._on_unparked,
    "CoreShowChannelsComplete": PBXModel._on_channels_listed,
    "LocalOptimizationBegin": PBXModel._on_local_optimisation,
    "LocalOptimizationEnd": PBXModel._on_local_optimisation,
}

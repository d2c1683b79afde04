"""Who can take a call: each extension's phone, presence and conversation, from AMI.

Pure and synchronous, like the call model: events in, changes out, any order, never
raises. The PBX is the source of truth. An extension is a dialplan hint with a PJSIP
device (``exten => 201,hint,PJSIP/201,CustomPresence:201``); its

* device state comes from ``ExtensionStatus`` (else the hint's ``DeviceStateChange``),
* presence from ``PresenceStateChange``/``PresenceStatus`` of ``CustomPresence:<ext>``:
  ``dnd`` (the phone's *76 or the board), ``away``/``xa``/``chat`` with the return time
  in the subtype and the note in the message (set by a receptionist on the board),
* queue membership and pause from ``QueueMember``/``QueueMemberStatus``/``QueueMemberPause``,
* conversation ("talking with Anna since 12:01") from the call model's channels
  (:func:`conversations`), so the channel bookkeeping lives in one place,
* name from its PJSIP endpoint's ``callerid`` (``EndpointDetail``), which admins edit in
  pjsip.conf.

The merge (:attr:`Extension.shown`) is what the board shows as the headline, so the
phone's lamp, the DND key and the board never disagree: an unavailable phone is
unavailable; a phone in a call is in use (with a DND badge when DND is on); an idle
phone with DND is "dnd"; an idle phone whose person is away is "away" (with note and
return time); otherwise "available".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from switchboard.core.calls.channels import party, phone_of
from switchboard.core.calls.model import Call, Channel, Event
from switchboard.core.text import one_line

# ExtensionStatus "Status" bits (Asterisk's AST_EXTENSION_*).
_INUSE, _BUSY, _UNAVAILABLE, _RINGING, _ONHOLD = 1, 2, 4, 8, 16
# DeviceStateChange "State" -> our device state. BUSY is "in use" for the board: the
# phones are configured busy at their first call (device_state_busy_at = 1).
_DEVICE_STATES = {
    "NOT_INUSE": "idle",
    "INUSE": "in_use",
    "BUSY": "in_use",
    "RINGING": "ringing",
    "RINGINUSE": "in_use",
    "ONHOLD": "on_hold",
    "UNAVAILABLE": "unavailable",
    "INVALID": "unavailable",
}
PRESENCE_VALUES = ("not_set", "unavailable", "available", "away", "xa", "chat", "dnd")
AWAY_VALUES = ("away", "xa")
# What the board may show as text; longer values from the PBX are cut.
MAX_NOTE_CHARS = 80
MAX_NAME_CHARS = 60


@dataclass(frozen=True)
class QueueMembership:
    queue: str
    paused: bool = False
    reason: str = ""
    interface: str = ""  # the member as the queue knows it ("PJSIP/201", "Local/201@phones")


@dataclass(frozen=True)
class Extension:
    pbx: str
    extension: str
    name: str = ""
    device: str = "unknown"  # idle, ringing, in_use, on_hold, unavailable, unknown
    presence: str = "not_set"  # one of PRESENCE_VALUES
    note: str = ""  # "lunch", from the presence message
    until: str = ""  # "13:30", from the presence subtype
    talking_with: str = ""
    talking_since: float | None = None
    queues: tuple[QueueMembership, ...] = ()

    @property
    def dnd(self) -> bool:
        return self.presence == "dnd"

    @property
    def shown(self) -> str:
        """The one state the board shows; see the module docstring for the rules."""
        if self.device == "unavailable":
            return "unavailable"
        if self.device in {"in_use", "ringing", "on_hold"}:
            return self.device
        if self.dnd:
            return "dnd"
        if self.presence in AWAY_VALUES or self.presence == "unavailable":
            return "away"
        return "available"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["queues"] = [asdict(q) for q in self.queues]
        data["dnd"] = self.dnd
        data["shown"] = self.shown
        return data


@dataclass(frozen=True)
class ExtensionChanged:
    extension: Extension


@dataclass(frozen=True)
class ExtensionRemoved:
    extension: Extension


PresenceChange = ExtensionChanged | ExtensionRemoved


@dataclass(frozen=True)
class Talk:
    """An extension's conversation: with whom, since when (epoch seconds)."""

    with_: str
    since: float


@dataclass
class PresenceModel:
    pbx: str
    extensions: dict[str, Extension] = field(default_factory=dict)
    # Kept apart from the extensions because events arrive in any order: a presence
    # or device state may come before the hint that says which extension it is for.
    _presence: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # presentity
    _devices: dict[str, str] = field(default_factory=dict)  # "PJSIP/201" -> device state
    _hints: dict[str, tuple[list[str], str]] = field(default_factory=dict)  # devices, presentity
    _status: dict[str, str] = field(default_factory=dict)  # ext -> state from ExtensionStatus
    _names: dict[str, str] = field(default_factory=dict)  # "PJSIP/201" -> callerid name
    _members: dict[str, dict[str, QueueMembership]] = field(default_factory=dict)  # ext -> queue
    _talks: dict[str, Talk] = field(default_factory=dict)

    def snapshot(self) -> list[Extension]:
        return sorted(self.extensions.values(), key=lambda e: (len(e.extension), e.extension))

    def reset(self) -> None:
        """Forget everything before a resynchronisation from the PBX's lists."""
        self.extensions.clear()
        self._presence.clear()
        self._devices.clear()
        self._hints.clear()
        self._status.clear()
        self._names.clear()
        self._members.clear()
        self._talks.clear()

    def apply(self, event: Event) -> list[PresenceChange]:
        """What ``event`` changed on the board (most events change nothing here)."""
        handler = _HANDLERS.get(event.get("Event", ""))
        if handler is None:
            return []
        return handler(self, event)

    def set_conversations(self, talks: Mapping[str, Talk]) -> list[PresenceChange]:
        """Who each extension talks with now (from :func:`conversations`)."""
        touched = set(self._talks) | set(talks)
        self._talks = dict(talks)
        return self._refresh(touched)

    # -- event handlers ----------------------------------------------------------------

    def _on_extension_status(self, event: Event) -> list[PresenceChange]:
        ext = event.get("Exten", "")
        hint = event.get("Hint", "")
        devices = [d for d in hint.replace("&", ",").split(",") if d.startswith("PJSIP/")]
        if not ext or not devices:
            return []  # parking spaces and other hints without a phone
        presentity = next(
            (p for p in hint.split(",") if p.startswith("CustomPresence:")),
            f"CustomPresence:{ext}",
        )
        status = _int(event.get("Status", ""))
        if status is not None and status < 0:
            # -1 removed, -2 deleted: the hint is gone from the dialplan.
            self._hints.pop(ext, None)
            self._status.pop(ext, None)
            gone = self.extensions.pop(ext, None)
            return [ExtensionRemoved(gone)] if gone else []
        self._hints[ext] = (devices, presentity)
        if status is not None:
            self._status[ext] = _extension_state(status)
        return self._refresh({ext})

    def _on_device_state(self, event: Event) -> list[PresenceChange]:
        device, state = event.get("Device", ""), event.get("State", "")
        if not device.startswith("PJSIP/") or not state:
            return []
        self._devices[device] = _DEVICE_STATES.get(state, "unknown")
        return self._refresh({e for e, (devices, _) in self._hints.items() if device in devices})

    def _on_presence(self, event: Event) -> list[PresenceChange]:
        if event.get("Event") == "PresenceStatus":
            hint = self._hints.get(event.get("Exten", ""))
            presentity = hint[1] if hint else f"CustomPresence:{event.get('Exten', '')}"
        else:
            presentity = event.get("Presentity", "")
        status = event.get("Status", "").lower()
        if not presentity or status not in PRESENCE_VALUES:
            return []
        self._presence[presentity] = (
            status,
            one_line(event.get("Subtype", ""), MAX_NOTE_CHARS),
            one_line(event.get("Message", ""), MAX_NOTE_CHARS),
        )
        return self._refresh({e for e, (_, p) in self._hints.items() if p == presentity})

    def _on_endpoint(self, event: Event) -> list[PresenceChange]:
        endpoint = event.get("ObjectName", "")
        if not endpoint:
            return []
        self._names[f"PJSIP/{endpoint}"] = _callerid_name(event.get("Callerid", ""))
        return self._refresh(
            {e for e, (devices, _) in self._hints.items() if f"PJSIP/{endpoint}" in devices}
        )

    def _on_queue_member(self, event: Event) -> list[PresenceChange]:
        queue = event.get("Queue", "")
        interface = event.get("StateInterface") or event.get("Interface") or event.get("Location")
        ext = phone_of(interface or "")
        if not queue or not ext:
            return []
        memberships = self._members.setdefault(ext, {})
        if event.get("Event") == "QueueMemberRemoved":
            memberships.pop(queue, None)
        else:
            known = memberships.get(queue, QueueMembership(queue))
            paused = event.get("Paused", "")
            memberships[queue] = replace(
                known,
                paused=paused == "1" if paused in {"0", "1"} else known.paused,
                reason=one_line(event.get("PausedReason", known.reason), MAX_NOTE_CHARS),
                interface=event.get("Interface") or event.get("Location") or known.interface,
            )
        return self._refresh({ext})

    # -- derived view ------------------------------------------------------------------

    def _refresh(self, exts: Iterable[str]) -> list[PresenceChange]:
        changes: list[PresenceChange] = []
        for ext in sorted(exts):
            hint = self._hints.get(ext)
            if hint is None:
                continue  # not (yet) known as an extension: kept until its hint comes
            devices, presentity = hint
            presence, until, note = self._presence.get(presentity, ("not_set", "", ""))
            talk = self._talks.get(ext)
            extension = Extension(
                pbx=self.pbx,
                extension=ext,
                name=next((self._names[d] for d in devices if self._names.get(d)), ""),
                device=self._status.get(ext) or _combined([self._devices.get(d) for d in devices]),
                presence=presence,
                # A note belongs to a status: "available" with an old note would mislead.
                note=note if presence != "available" else "",
                until=until if presence != "available" else "",
                talking_with=talk.with_ if talk else "",
                talking_since=talk.since if talk else None,
                queues=tuple(sorted(self._members.get(ext, {}).values(), key=lambda q: q.queue)),
            )
            if self.extensions.get(ext) != extension:
                self.extensions[ext] = extension
                changes.append(ExtensionChanged(extension))
        return changes


def conversations(
    channels: Iterable[Channel], calls: Mapping[str, Call], now: float
) -> dict[str, Talk]:
    """Who each phone (PJSIP/<ext>) is bridged with, from the call model's channels.

    The other party is named by its caller ID (a recognised caller's name, a phone's
    callerid), else its number or extension. The conversation started when its call was
    answered (the call model knows), else ``now``.
    """
    by_bridge: dict[str, list[Channel]] = {}
    for channel in channels:
        if channel.bridge_id:
            by_bridge.setdefault(channel.bridge_id, []).append(channel)
    talks: dict[str, Talk] = {}
    for members in by_bridge.values():
        for channel in members:
            ext = phone_of(channel.name)
            peers = [p for p in members if p.unique_id != channel.unique_id]
            if not ext or not peers:
                continue
            call = calls.get(channel.linked_id)
            since = call.answered_at if call and call.answered_at is not None else now
            with_ = ", ".join(p.caller_name or p.number or party(p.name) for p in peers)
            known = talks.get(ext)
            talks[ext] = Talk(f"{known.with_}, {with_}" if known else with_, since)
    return talks


def _extension_state(status: int) -> str:
    if status & _UNAVAILABLE:
        return "unavailable"
    if status & _ONHOLD:
        return "on_hold"
    if status & (_INUSE | _BUSY):
        return "in_use"
    if status & _RINGING:
        return "ringing"
    return "idle"


def _combined(states: list[str | None]) -> str:
    """One state for a hint with several devices: the busiest wins."""
    for state in ("in_use", "on_hold", "ringing", "idle", "unavailable"):
        if state in states:
            return state
    return "unknown"


def _callerid_name(callerid: str) -> str:
    """'"Phone 201" <201>' -> "Phone 201"."""
    name = callerid.rsplit("<", 1)[0].strip() if "<" in callerid else callerid
    return one_line(name.strip().strip('"'), MAX_NAME_CHARS)


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


_HANDLERS = {
    "ExtensionStatus": PresenceModel._on_extension_status,
    "DeviceStateChange": PresenceModel._on_device_state,
    "PresenceStateChange": PresenceModel._on_presence,
    "PresenceStatus": PresenceModel._on_presence,
    "EndpointDetail": PresenceModel._on_endpoint,
    "QueueMember": PresenceModel._on_queue_member,
    "QueueMemberStatus": PresenceModel._on_queue_member,
    "QueueMemberPause": PresenceModel._on_queue_member,
    "QueueMemberAdded": PresenceModel._on_queue_member,
    "QueueMemberRemoved": PresenceModel._on_queue_member,
}


#: The pause reasons presence sets (:func:`presence_pauses`); a pause with another
#: reason is a person's own, and presence never lifts it.
PRESENCE_PAUSE_REASONS = {"dnd": "do not disturb", "away": "away"}


@dataclass(frozen=True)
class PauseChange:
    """A queue member to pause or unpause: QueuePause ``interface`` in ``queue``."""

    queue: str
    interface: str
    paused: bool
    reason: str = ""


def presence_pauses(extension: Extension) -> list[PauseChange]:
    """What the extension's presence asks of its queue memberships: somebody on do not
    disturb or away is paused in every queue (so the queue does not keep a caller for
    them, and the fallback chain takes over where nobody else can answer); back to
    available, the pauses presence made are lifted. Idempotent: a membership already
    as it should be needs nothing, so the PBX's confirming QueueMemberPause asks for
    nothing more. A phone merely busy or offline is the queue's own business."""
    away = extension.presence in AWAY_VALUES or extension.presence == "unavailable"
    wanted = "dnd" if extension.dnd else "away" if away else ""
    ours = set(PRESENCE_PAUSE_REASONS.values())
    changes: list[PauseChange] = []
    for member in extension.queues:
        if not member.interface:
            continue
        if wanted and not member.paused:
            reason = PRESENCE_PAUSE_REASONS[wanted]
            changes.append(PauseChange(member.queue, member.interface, True, reason))
        elif not wanted and member.paused and member.reason in ours:
            changes.append(PauseChange(member.queue, member.interface, False))
    return changes

"""Who is a member of which queue, as the switchboard keeps it: the checks every queue
name, interface, name, penalty and pause reason passes before it reaches PostgreSQL or
the PBX (AMI ``QueueAdd``/``QueueRemove``/``QueuePause``), and the member itself.

The limits are Asterisk's (``apps/app_queue.c``): a member's interface, state interface,
name and pause reason are each kept in 80 bytes with the terminating NUL, so at most 79
bytes of UTF-8; longer ones Asterisk cuts silently, mid-character if need be, and the
board would show what the PBX never had. Asterisk matches queue names and interfaces
without regard to case, so the store does too.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime

#: Bytes Asterisk keeps of an interface, state interface, member name or pause reason.
MAX_ASTERISK_BYTES = 79
MAX_QUEUE = 79  # a queues.conf section name: char name[80]
MAX_ENDPOINT = 64
MAX_PENALTY = 1000
MAX_ACTOR = 64
_NAME_CHARS = "[A-Za-z0-9_.-]"
_QUEUE = re.compile(f"{_NAME_CHARS}{{1,{MAX_QUEUE}}}")
# PJSIP/<endpoint> or Local/<exten>@<context>; the technology in any case, as Asterisk
# takes it, written back the way Asterisk writes it.
_INTERFACE = re.compile(
    f"(?i:(?P<tech>pjsip|local))/(?P<rest>{_NAME_CHARS}+(?:@{_NAME_CHARS}+)?)", re.ASCII
)
_TECHS = {"pjsip": "PJSIP", "local": "Local"}
_ENDPOINT = re.compile(f"{_NAME_CHARS}{{1,{MAX_ENDPOINT}}}", re.ASCII)
_LOCAL = re.compile(f"{_NAME_CHARS}+@{_NAME_CHARS}+", re.ASCII)

QUEUE_RULE = f"1-{MAX_QUEUE} letters, digits, '-', '_' or '.', as in queues.conf"
INTERFACE_RULE = (
    "PJSIP/<endpoint> or Local/<extension>@<context> (letters, digits, '-', '_', '.'),"
    f" at most {MAX_ASTERISK_BYTES} characters"
)


class QueueMemberError(ValueError):
    """A queue membership change refused before anything was sent or stored: ``field``
    names what was wrong (queue, interface, member_name, state_interface, penalty,
    reason, by, pbx), the text says why, in a sentence the board can show."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotAMember(QueueMemberError):
    """The interface is not a member of that queue, as far as the switchboard keeps it."""


class AlreadyAMember(QueueMemberError):
    """The interface is a member of that queue already, with other settings."""


@dataclass(frozen=True)
class QueueMember:
    """One member of one queue on one PBX, as the switchboard keeps it and restores it.

    ``member_name`` and ``state_interface`` may be empty: Asterisk then uses the
    interface. ``pause_reason`` is empty unless ``paused``. ``updated_by`` and
    ``updated_at`` say who made the last change, and when (None until stored).
    """

    pbx: str
    queue: str
    interface: str
    member_name: str = ""
    state_interface: str = ""
    penalty: int = 0
    paused: bool = False
    pause_reason: str = ""
    updated_by: str = ""
    updated_at: datetime | None = None

    def same_member(self, queue: str, interface: str) -> bool:
        """Whether this is the member ``interface`` of ``queue`` (Asterisk ignores case)."""
        return self.queue.lower() == queue.lower() and self.interface.lower() == interface.lower()

    def same_settings(self, other: QueueMember) -> bool:
        """Whether ``other`` joins with this member's name, state interface and penalty."""
        return (
            self.member_name == other.member_name
            and self.state_interface.lower() == other.state_interface.lower()
            and self.penalty == other.penalty
        )

    def with_pause(self, paused: bool, reason: str = "") -> QueueMember:
        """This member paused with ``reason``, or unpaused (no reason)."""
        return replace(self, paused=paused, pause_reason=reason if paused else "")


def check_queue(queue: object) -> str:
    """The queue name, or :class:`QueueMemberError`."""
    if not isinstance(queue, str) or not _QUEUE.fullmatch(queue):
        raise QueueMemberError("queue", QUEUE_RULE)
    return queue


def check_interface(interface: object, field: str = "interface") -> str:
    """The member interface (``PJSIP/201``, ``Local/202@phones``) with its technology
    spelled as Asterisk spells it, or :class:`QueueMemberError` naming ``field``."""
    match = _INTERFACE.fullmatch(interface) if isinstance(interface, str) else None
    if match is None or len(match.group(0)) > MAX_ASTERISK_BYTES:
        raise QueueMemberError(field, INTERFACE_RULE)
    tech, rest = _TECHS[match["tech"].lower()], match["rest"]
    if tech == "PJSIP" and not _ENDPOINT.fullmatch(rest):
        raise QueueMemberError(
            field, f"a PJSIP endpoint is 1-{MAX_ENDPOINT} letters, digits, '-', '_' or '.'"
        )
    if tech == "Local" and not _LOCAL.fullmatch(rest):
        raise QueueMemberError(field, "a Local member is Local/<extension>@<context>")
    return f"{tech}/{rest}"


def check_state_interface(state_interface: object) -> str:
    """The state interface (where Asterisk reads whether the member is busy): empty for
    the interface itself, else as :func:`check_interface`."""
    if state_interface == "":
        return ""
    return check_interface(state_interface, "state_interface")


def check_text(value: object, field: str, what: str) -> str:
    """``value`` without the spaces around it: one printable line that Asterisk keeps
    whole (at most :data:`MAX_ASTERISK_BYTES` bytes of UTF-8), or
    :class:`QueueMemberError`. A line break would end the AMI header it travels in."""
    if not isinstance(value, str):
        raise QueueMemberError(field, f"{what}: text")
    text = value.strip()
    if any(unicodedata.category(char)[0] == "C" or char in "\u2028\u2029" for char in text):
        raise QueueMemberError(field, f"{what}: one line of plain text")
    size = len(text.encode("utf-8"))
    if size > MAX_ASTERISK_BYTES:
        raise QueueMemberError(
            field,
            f"{what}: at most {MAX_ASTERISK_BYTES} characters (accented ones count double:"
            f" Asterisk keeps {MAX_ASTERISK_BYTES} bytes); this is {size}",
        )
    return text


def check_member_name(member_name: object) -> str:
    """The member's name in queue logs and on the board ("" for the interface)."""
    return check_text(member_name, "member_name", "the member's name")


def check_reason(reason: object) -> str:
    """A pause reason ("lunch"; may be empty)."""
    return check_text(reason, "reason", "the pause reason")


def check_penalty(penalty: object) -> int:
    """A penalty from 0 (rung first) to :data:`MAX_PENALTY`, or :class:`QueueMemberError`."""
    if isinstance(penalty, bool) or not isinstance(penalty, int):
        raise QueueMemberError("penalty", f"a whole number from 0 to {MAX_PENALTY}")
    if not 0 <= penalty <= MAX_PENALTY:
        raise QueueMemberError("penalty", f"from 0 to {MAX_PENALTY}, not {penalty}")
    return penalty


def check_actor(by: object) -> str:
    """Who makes the change (a board username, "system"): recorded with it."""
    if not isinstance(by, str) or not by.strip():
        raise QueueMemberError("by", "who makes the change: a username")
    text = check_text(by, "by", "who makes the change")
    if len(text) > MAX_ACTOR:
        raise QueueMemberError("by", f"who makes the change: at most {MAX_ACTOR} characters")
    return text


def check_pbx(pbx: object) -> str:
    """The PBX's name in the config (``[pbx.NAME]``)."""
    if not isinstance(pbx, str) or not pbx or pbx != pbx.strip() or len(pbx) > MAX_ACTOR:
        raise QueueMemberError("pbx", "the name of a configured PBX")
    return pbx


def new_member(
    pbx: str,
    queue: object,
    interface: object,
    *,
    member_name: object = "",
    state_interface: object = "",
    penalty: object = 0,
) -> QueueMember:
    """A member to join, every field checked (unpaused); :class:`QueueMemberError`
    for the first field refused."""
    return QueueMember(
        pbx=check_pbx(pbx),
        queue=check_queue(queue),
        interface=check_interface(interface),
        member_name=check_member_name(member_name),
        state_interface=check_state_interface(state_interface),
        penalty=check_penalty(penalty),
    )


@dataclass(frozen=True)
class MembershipChange:
    """What a join, leave, pause or unpause did: the member as now stored (None after a
    leave) and whether the PBX confirmed it (False: it was unavailable, and the next
    restore carries the change out)."""

    member: QueueMember | None
    confirmed: bool

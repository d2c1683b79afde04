"""The PBXs this process is connected to, by name: how the board's APIs act on one.

The composition root (switchboard/service.py) creates one :class:`PBXs` and hands it
to every AMI bridge, which registers itself as the :class:`PBX` of its name, and to the
web app, which looks PBXs up in it. AMI itself (actions, credentials) stays behind the
:class:`PBX` protocol, on the AMI side.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Protocol

from switchboard.core.calls.control import Act, Actor, Claim, Refusal
from switchboard.core.calls.presence import Extension
from switchboard.core.queue_membership import MembershipChange, QueueMember

#: Sends one AMI action to a PBX and returns its reply's headers (``Response: Error``
#: included); raises :class:`PBXUnavailable` when the PBX is gone.
ActionSender = Callable[[Mapping[str, str]], Awaitable[dict[str, str]]]


class PBXUnavailable(Exception):
    """The PBX is not connected, or did not answer an action in time."""


class PBXRefused(Exception):
    """The PBX answered an action with an error; the exception's text is its message."""


class QueueMembership(Protocol):
    """Who answers a PBX's queues, as the board changes it: kept by the switchboard and
    restored on every reconnect (ami_bridge.queue_membership.QueueMembers). ``by`` is
    the board user making the change. Raises QueueMemberError (a ValueError naming the
    field) for bad input, PBXRefused, or PBXUnavailable for a leave while it is gone."""

    async def members(self) -> list[QueueMember]: ...

    async def join(
        self,
        queue: str,
        interface: str,
        *,
        by: str,
        member_name: str = "",
        state_interface: str = "",
        penalty: int = 0,
    ) -> MembershipChange: ...

    async def leave(self, queue: str, interface: str, *, by: str) -> MembershipChange: ...

    async def pause(
        self, queue: str, interface: str, reason: str = "", *, by: str
    ) -> MembershipChange: ...

    async def unpause(self, queue: str, interface: str, *, by: str) -> MembershipChange: ...


class PBX(Protocol):
    """One PBX as the board acts on it."""

    @property
    def queues(self) -> QueueMembership | None:
        """Its queue membership, None where the switchboard keeps none (no database)."""
        ...

    @property
    def name(self) -> str:
        """The PBX's name in the config (``[pbx.NAME]``), the prefix of its call ids."""
        ...

    def extension(self, number: str) -> Extension | None:
        """Extension ``number`` as the board shows it; None when the PBX has no such one."""
        ...

    async def command(
        self, act: Act, call_id: str, actor: Actor, target: str = ""
    ) -> Claim | Refusal:
        """Plan and send a board command on one of this PBX's calls: the claim once the
        PBX accepted it, else why not (never raises for a PBX that is gone)."""
        ...

    async def call_back_now(self, callback_id: int, extension: str) -> bool:
        """Dial waiting callback ``callback_id`` now, out of line, ringing ``extension``
        first; False when it is not waiting any more. Raises :class:`PBXUnavailable`."""
        ...

    async def call_number(self, extension: str, e164: str, item_id: int, label: str) -> str:
        """Ring ``extension`` and, once it answers, dial ``e164`` (a worklist item's call
        back, ``item_id`` carried in the call's channel id so its journal links itself);
        returns that channel id at once, the ringing goes on. ``label`` is what the
        phone's display shows. Raises :class:`PBXUnavailable`."""
        ...

    async def set_presence(self, extension: str, status: str, until: str, note: str) -> None:
        """Set ``extension``'s presence (available, dnd, away) with its return time and
        note; the boards see it once the PBX reports it. Raises :class:`PBXUnavailable`
        or :class:`PBXRefused`."""
        ...


class PBXs:
    """The registry of PBXs by name: one per ``[pbx.NAME]`` this process bridges."""

    def __init__(self) -> None:
        self._by_name: dict[str, PBX] = {}

    def add(self, pbx: PBX) -> None:
        """Register ``pbx`` under its name; a second PBX of that name is a ValueError."""
        if pbx.name in self._by_name:
            raise ValueError(f"a PBX named {pbx.name!r} is registered already")
        self._by_name[pbx.name] = pbx

    def get(self, name: str) -> PBX | None:
        """The PBX named ``name``; None for one nobody registered."""
        return self._by_name.get(name)

    def __iter__(self) -> Iterator[PBX]:
        return iter(self._by_name.values())

    def with_extension(self, number: str, pbx: str = "") -> list[PBX]:
        """The PBXs (only the one named ``pbx``, when given) that have extension ``number``."""
        return [p for p in self if pbx in {"", p.name} and p.extension(number) is not None]

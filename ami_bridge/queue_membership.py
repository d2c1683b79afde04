"""Queue members the switchboard keeps: joined, left and paused over AMI, stored in
PostgreSQL, and added back to the PBX on every (re)connect.

Asterisk forgets the members added at run time when it restarts (``queues.conf``:
``persistentmembers = no``); :meth:`QueueMembers.restore` adds every stored member of
its PBX back, paused as stored. Members the PBX has and the switchboard does not keep
(the static ones in ``queues.conf``, ones added at the CLI) are left alone.

A change is carried out in one PostgreSQL transaction that is held while the PBX
carries it out: the member's row is locked, the AMI action sent, and the change and its
log entry written and committed only then. So:

* the PBX never changes unless the database could be reached;
* a change the PBX refuses is not stored (:class:`QueueMemberRefused`, naming the
  queue, the interface and the PBX's own message);
* a join or pause the PBX could not be asked about (:class:`PBXUnavailable`: not
  connected, or no answer in time) is stored, ``confirmed`` False, and carried out by
  the next :meth:`~QueueMembers.restore`;
* a leave the PBX could not be asked about is not stored (PBXUnavailable is raised):
  a restore adds members, it never removes one, so a stored leave would leave the
  member ringing while the board said it had gone.

The replies are Asterisk 22's (``apps/app_queue.c``, ``manager_add_queue_member``,
``manager_remove_queue_member``, ``manager_pause_queue_member``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass

import asyncpg

from switchboard.board.pbxs import ActionSender, PBXRefused, PBXUnavailable
from switchboard.core.queue_membership import (
    AlreadyAMember,
    MembershipChange,
    NotAMember,
    QueueMember,
    check_actor,
    check_interface,
    check_pbx,
    check_queue,
    check_reason,
    new_member,
)
from switchboard.store import queue_members as store
from switchboard.store.queue_members import MemberChange

log = logging.getLogger(__name__)

# Asterisk's messages (compared without regard to case or surrounding spaces).
ADDED = "added interface to queue"
ALREADY_THERE = "unable to add interface: already there"
NOT_THERE = "unable to remove interface: not there"
NOT_DYNAMIC = "member not dynamic"
INTERFACE_NOT_FOUND = "interface not found"

# panoramisk 1.4 (actions.py, Action.multi) takes a first reply whose message starts
# with "added" and ends with "to queue" for the start of an event list, whatever its
# Response, and waits for the rest of a list that never comes: QueueAdd's success
# ("Response: Success", "Message: Added interface to queue") leaves the action's future
# pending until the bridge's timeout, which then reports a PBX that did not answer for a
# member it added. No header prevents it (the "Async: false" the bridge adds only
# counts for "successfully queued"): the one way out is the ``as_list=False`` argument
# of Manager.send_action, which multi checks first (``return bool(self.as_list)``).
# These actions are answered by exactly one reply, so as_list=False is always right
# for them.
SINGLE_REPLY_ACTIONS = frozenset({"queueadd", "queueremove", "queuepause"})


def as_list_for(action: Mapping[str, str]) -> bool | None:
    """The ``as_list`` to give panoramisk's ``Manager.send_action`` for ``action``:
    False for the queue member actions (one reply each, see SINGLE_REPLY_ACTIONS),
    None (panoramisk decides) for every other action."""
    name = str(action.get("Action", "")).lower()
    return False if name in SINGLE_REPLY_ACTIONS else None


class QueueMemberRefused(PBXRefused):
    """The PBX answered a queue member action with an error: the text names the PBX,
    the action, the queue and the interface, then the PBX's message."""

    def __init__(self, pbx: str, member: QueueMember, action: str, message: str) -> None:
        self.pbx = pbx
        self.queue = member.queue
        self.interface = member.interface
        self.action = action
        self.message = message or "no reason given"
        verb = {
            "QueueAdd": f"to add {member.interface} to queue {member.queue}",
            "QueueRemove": f"to remove {member.interface} from queue {member.queue}",
            "QueuePause": (
                f"to {'pause' if member.paused else 'unpause'} {member.interface}"
                f" in queue {member.queue}"
            ),
        }.get(action, f"{action} for {member.interface} in queue {member.queue}")
        super().__init__(f"{pbx} refused {verb}: {self.message}")


class StaticQueueMember(QueueMemberRefused):
    """The PBX will not remove a member configured in ``queues.conf``."""


@dataclass(frozen=True)
class RestoreReport:
    """What :meth:`QueueMembers.restore` did: the members the PBX has again, the ones
    it refused (each error names queue and interface), and, when the PBX went away
    during the restore, the ones not tried and why (``unavailable``)."""

    pbx: str
    restored: tuple[QueueMember, ...] = ()
    failed: tuple[QueueMemberRefused, ...] = ()
    not_tried: tuple[QueueMember, ...] = ()
    unavailable: str = ""

    @property
    def complete(self) -> bool:
        """Every stored member was tried."""
        return not self.unavailable


def add_action(member: QueueMember) -> dict[str, str]:
    """``QueueAdd`` for ``member``, paused (with its reason) as it says. An empty
    MemberName or StateInterface is left out: Asterisk then uses the interface."""
    action = {
        "Action": "QueueAdd",
        "Queue": member.queue,
        "Interface": member.interface,
        "Penalty": str(member.penalty),
        "Paused": "true" if member.paused else "false",
    }
    if member.member_name:
        action["MemberName"] = member.member_name
    if member.state_interface:
        action["StateInterface"] = member.state_interface
    if member.paused and member.pause_reason:
        action["Reason"] = member.pause_reason
    return action


def pause_action(member: QueueMember) -> dict[str, str]:
    """``QueuePause`` of ``member`` in its queue only (without Queue, Asterisk pauses
    the interface in every queue), to its paused state and reason."""
    action = {
        "Action": "QueuePause",
        "Queue": member.queue,
        "Interface": member.interface,
        "Paused": "true" if member.paused else "false",
    }
    if member.paused and member.pause_reason:
        action["Reason"] = member.pause_reason
    return action


def remove_action(member: QueueMember) -> dict[str, str]:
    """``QueueRemove`` of ``member`` from its queue."""
    return {"Action": "QueueRemove", "Queue": member.queue, "Interface": member.interface}


def _judge(reply: object) -> tuple[bool, str]:
    """(succeeded, message) of an AMI reply; anything but ``Response: Success`` fails."""
    if not isinstance(reply, Mapping):
        return False, f"an unreadable reply ({type(reply).__name__})"
    headers = {str(k).lower(): str(v) for k, v in reply.items()}
    response = headers.get("response", "").strip().lower()
    message = headers.get("message", "").strip()
    if response == "success":
        return True, message
    if response in {"error", "fail", "failure"}:
        return False, message
    return False, message or f"an unexpected reply {dict(reply)!r:.200}"


async def _send(send: ActionSender, pbx: str, member: QueueMember, action: dict[str, str]) -> str:
    """Send ``action``; its message on success, :class:`QueueMemberRefused` otherwise.
    "Already there", "Not there" and "Interface not found" come back as refusals too:
    the callers decide what they mean."""
    ok, message = _judge(await send(action))
    if not ok:
        raise QueueMemberRefused(pbx, member, action["Action"], message)
    return message


def _is(refusal: QueueMemberRefused, message: str) -> bool:
    return refusal.message.strip().lower() == message


async def add_member(send: ActionSender, pbx: str, member: QueueMember) -> None:
    """Make ``member`` a member on the PBX, paused as it says: ``QueueAdd``; when the
    PBX has it already ("Already there": added before, or a static member), a
    ``QueuePause`` to the stored pause. Raises :class:`QueueMemberRefused` or
    :class:`PBXUnavailable`."""
    try:
        await _send(send, pbx, member, add_action(member))
    except QueueMemberRefused as refused:
        if not _is(refused, ALREADY_THERE):
            raise
        await _send(send, pbx, member, pause_action(member))


async def set_paused(send: ActionSender, pbx: str, member: QueueMember) -> None:
    """Pause or unpause ``member`` on the PBX as it says: ``QueuePause``; when the PBX
    lacks the member ("Interface not found": it restarted since), :func:`add_member`.
    Raises :class:`QueueMemberRefused` or :class:`PBXUnavailable`."""
    try:
        await _send(send, pbx, member, pause_action(member))
    except QueueMemberRefused as refused:
        if not _is(refused, INTERFACE_NOT_FOUND):
            raise
        await add_member(send, pbx, member)


async def remove_member(send: ActionSender, pbx: str, member: QueueMember) -> None:
    """Take ``member`` out of its queue on the PBX: ``QueueRemove``; one the PBX does
    not have ("Not there") is out already. Raises :class:`StaticQueueMember` for a
    member of ``queues.conf``, :class:`QueueMemberRefused` or :class:`PBXUnavailable`."""
    try:
        await _send(send, pbx, member, remove_action(member))
    except QueueMemberRefused as refused:
        if _is(refused, NOT_THERE):
            return
        if _is(refused, NOT_DYNAMIC):
            why = f"{refused.message} (it is in queues.conf, and stays in the queue)"
            raise StaticQueueMember(pbx, member, "QueueRemove", why) from None
        raise


async def restore_members(
    send: ActionSender, pbx: str, members: Sequence[QueueMember]
) -> RestoreReport:
    """Add ``members`` to the PBX again, one after another (:func:`add_member`). A
    refusal is logged and reported, and the rest still tried; when the PBX goes away,
    the rest is reported not tried (the next connect restores them). Neither raises."""
    restored: list[QueueMember] = []
    failed: list[QueueMemberRefused] = []
    for index, member in enumerate(members):
        try:
            await add_member(send, pbx, member)
        except QueueMemberRefused as refused:
            log.error("queue member not restored: %s", refused)
            failed.append(refused)
        except PBXUnavailable as exc:
            left = tuple(members[index:])
            log.warning(
                "%s went away while its queue members were restored (%s); %d not restored"
                " until it reconnects",
                pbx,
                exc,
                len(left),
            )
            return RestoreReport(pbx, tuple(restored), tuple(failed), left, str(exc) or pbx)
        else:
            restored.append(member)
    log.info("%s: %d queue members restored, %d refused", pbx, len(restored), len(failed))
    return RestoreReport(pbx, tuple(restored), tuple(failed))


class QueueMembers:
    """Queue membership on the PBX named ``pbx``: changes are sent with
    ``send_action`` (the bridge's :meth:`~ami_bridge.bridge.AMIBridge.send_action`,
    which must send the queue actions with :func:`as_list_for`) and kept in ``pool``.

    Every method checks its input first: :class:`~switchboard.core.queue_membership.
    QueueMemberError` (a ValueError: ``field`` and a sentence) before anything is sent
    or stored; :class:`~switchboard.core.queue_membership.NotAMember` when the member
    is not kept, :class:`~switchboard.core.queue_membership.AlreadyAMember` for a join
    with other settings. ``by`` is who makes the change, as the log records it.
    """

    def __init__(self, pbx: str, send_action: ActionSender, pool: asyncpg.Pool) -> None:
        self.pbx = check_pbx(pbx)
        self._send = send_action
        self._pool = pool

    async def join(
        self,
        queue: str,
        interface: str,
        *,
        by: str,
        member_name: str = "",
        state_interface: str = "",
        penalty: int = 0,
    ) -> MembershipChange:
        """Make ``interface`` a member of ``queue`` (unpaused, or paused as it was kept).
        Joining again with the same settings sends the member to the PBX again and
        changes nothing else; with other settings it is :class:`AlreadyAMember` (leave
        first: Asterisk cannot change a member's name or state interface in place).
        Raises :class:`QueueMemberRefused` (nothing stored)."""
        wanted = new_member(
            self.pbx,
            queue,
            interface,
            member_name=member_name,
            state_interface=state_interface,
            penalty=penalty,
        )
        actor = check_actor(by)
        async with self._pool.acquire() as db, db.transaction():
            kept = await store.find(db, self.pbx, wanted.queue, wanted.interface, lock=True)
            if kept is not None and not kept.same_settings(wanted):
                raise AlreadyAMember(
                    "interface",
                    f"{kept.interface} is a member of queue {kept.queue} already"
                    f" ({_settings(kept)}); make it leave first to join it {_settings(wanted)}",
                )
            target = kept or wanted
            confirmed = await self._confirmed(add_member(self._send, self.pbx, target), target)
            if kept is not None:
                return MembershipChange(kept, confirmed)
            stored = await store.join(db, target, by=actor, confirmed=confirmed)
        return MembershipChange(stored, confirmed)

    async def leave(self, queue: str, interface: str, *, by: str) -> MembershipChange:
        """Take ``interface`` out of ``queue`` and stop keeping it. Raises
        :class:`PBXUnavailable` or :class:`QueueMemberRefused` (nothing changed), or
        :class:`StaticQueueMember`: the member is in ``queues.conf`` and stays in the
        queue, but the switchboard keeps it no longer (its leave is logged unconfirmed)."""
        queue, interface, actor = check_queue(queue), check_interface(interface), check_actor(by)
        static: StaticQueueMember | None = None
        async with self._pool.acquire() as db, db.transaction():
            kept = await self._kept(db, queue, interface)
            try:
                await remove_member(self._send, self.pbx, kept)
            except StaticQueueMember as exc:
                static = exc
            await store.leave(
                db, self.pbx, kept.queue, kept.interface, by=actor, confirmed=static is None
            )
        if static is not None:
            raise static
        return MembershipChange(None, True)

    async def pause(
        self, queue: str, interface: str, reason: str = "", *, by: str
    ) -> MembershipChange:
        """Pause member ``interface`` of ``queue`` (it takes no calls) with ``reason``
        (one line, may be empty). Raises :class:`QueueMemberRefused` (nothing stored)."""
        return await self._set_paused(queue, interface, True, check_reason(reason), by)

    async def unpause(self, queue: str, interface: str, *, by: str) -> MembershipChange:
        """Unpause member ``interface`` of ``queue``; its pause reason goes. Raises
        :class:`QueueMemberRefused` (nothing stored)."""
        return await self._set_paused(queue, interface, False, "", by)

    async def members(self) -> list[QueueMember]:
        """Every member kept for this PBX, by queue then interface."""
        return await store.members(self._pool, self.pbx)

    async def changes(self, limit: int = 100) -> list[MemberChange]:
        """The last ``limit`` membership changes on this PBX, newest first."""
        return await store.changes(self._pool, self.pbx, limit=limit)

    async def restore(self) -> RestoreReport:
        """Add every kept member of this PBX back to it, paused as kept (see
        :func:`restore_members`); for after every (re)connect, once Asterisk has loaded
        its queues. Members the PBX has that are not kept are left alone. Raises only
        when the database cannot be read."""
        return await restore_members(self._send, self.pbx, await self.members())

    async def _set_paused(
        self, queue: str, interface: str, paused: bool, reason: str, by: str
    ) -> MembershipChange:
        queue, interface, actor = check_queue(queue), check_interface(interface), check_actor(by)
        async with self._pool.acquire() as db, db.transaction():
            kept = await self._kept(db, queue, interface)
            target = kept.with_pause(paused, reason)
            confirmed = await self._confirmed(set_paused(self._send, self.pbx, target), target)
            if (target.paused, target.pause_reason) == (kept.paused, kept.pause_reason):
                return MembershipChange(kept, confirmed)
            if paused:
                stored = await store.pause(
                    db, self.pbx, kept.queue, kept.interface, reason, by=actor, confirmed=confirmed
                )
            else:
                stored = await store.unpause(
                    db, self.pbx, kept.queue, kept.interface, by=actor, confirmed=confirmed
                )
        return MembershipChange(stored, confirmed)

    async def _kept(self, db: store.Executor, queue: str, interface: str) -> QueueMember:
        kept = await store.find(db, self.pbx, queue, interface, lock=True)
        if kept is None:
            raise NotAMember(
                "interface", f"{interface} is not a member of queue {queue} on {self.pbx}"
            )
        return kept

    async def _confirmed(self, carried_out: Awaitable[None], member: QueueMember) -> bool:
        """Whether the PBX carried the change out; False, logged, when it was unavailable
        (the change is kept, and the next restore carries it out)."""
        try:
            await carried_out
        except PBXUnavailable as exc:
            log.warning(
                "%s unavailable (%s): %s in queue %s kept, sent again when it reconnects",
                self.pbx,
                exc,
                member.interface,
                member.queue,
            )
            return False
        return True


def _settings(member: QueueMember) -> str:
    name = f"name {member.member_name!r}, " if member.member_name else ""
    state = f"state {member.state_interface}, " if member.state_interface else ""
    return f"{name}{state}penalty {member.penalty}"

"""The callback dialer: dials the callbacks whose turn it is, exactly once (issue 14).

Every second, for each queue with callbacks, the line of live callers (the model) and
waiting callbacks (PostgreSQL) is served in join order (switchboard.core.callbacks:
``to_dispatch``); the callbacks whose turn it is are taken from the list with a lease
(switchboard.store.callbacks: ``claim``, SKIP LOCKED) and dialled member first: an
Originate of the member's phone (ChannelId and ActionID ``sb-callback-<id>-<attempt>-<dial>``,
``<dial>`` new for every Originate: a member who did not answer is rung again for the same
attempt, and a channel id Asterisk had a moment ago would be taken for a late event)
into extensions.conf ``[switchboard-callback-dial]``, which whispers who it is for, rings
the caller and asks them to press 1.

The dialplan's ``UserEvent SwitchboardCallback`` says how it went; the member channel's
Hangup ends the attempt: done when the caller pressed 1, else back in line (or "not
reached" after the last attempt). A member who did not answer costs the caller no
attempt. Leases that ran out (another instance killed mid-dial, this one restarted) are
held against the PBX's live channels before anything is dialled: a call still going on
is adopted and followed to its end, one that is gone goes back in line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from switchboard.config import CallbacksConfig
from switchboard.core.callbacks import (
    CallbackState,
    InLine,
    RetryPolicy,
    free_members,
    line_up,
    to_dispatch,
)
from switchboard.core.calls.model import Call, CallEnded, CallState, Change, PBXModel
from switchboard.core.calls.presence import PresenceModel
from switchboard.core.numbers import NumberKind, normalise
from switchboard.store import callbacks

log = logging.getLogger(__name__)

SendAction = Callable[[Mapping[str, str], float], Awaitable[Mapping[str, str]]]
MEMBER_REST = timedelta(seconds=60)
_CHANNEL_PREFIX = "sb-callback-"
# After a failed Originate, how long its channel's Hangup may still take to arrive.
_NO_CHANNEL_GRACE_S = 2.0


@dataclass
class _Attempt:
    callback_id: int
    attempt: int
    member: str
    member_answered: bool = False
    accepted: bool = False
    result: str = "no answer"
    seen: bool = False  # its channel was seen in the PBX (a Newchannel, the channel list)


class CallbackDialer:
    """Dials ``pbx``'s callbacks through ``send_action`` (the bridge's AMI)."""

    def __init__(
        self,
        pbx: str,
        pool: asyncpg.Pool,
        send_action: SendAction,
        model: PBXModel,
        presence: PresenceModel,
        settings: CallbacksConfig,
        *,
        is_ringing: Callable[[str], bool] = lambda _linked_id: False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        spawn: Callable[[Coroutine[Any, Any, None]], None] | None = None,
        region: str = "NL",
        is_open: Callable[[str], Awaitable[bool]] | None = None,
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self._pbx = pbx
        # Whether a queue's line is open now (its opening hours): never dialled closed.
        self._is_open = is_open
        # Tells the boards the list changed (they fetch it again).
        self._notify = notify
        self._region = region
        self._answered: set[str] = set()  # linked ids whose answer was looked at
        self._pool = pool
        self._send = send_action
        self._model = model
        self._presence = presence
        self._settings = settings
        self._policy = RetryPolicy(settings.attempts, timedelta(minutes=settings.retry_minutes))
        # How long a lease lasts; renewed every second while the call goes on.
        self._lease = timedelta(seconds=settings.lease_s)
        self._is_ringing = is_ringing
        self._clock = clock
        self._spawn = spawn or (lambda work: None)
        # Who this instance is, for the leases: unique per process start.
        self.owner = f"{pbx}-{uuid.uuid4().hex[:12]}"
        log.info("callback dialer for %s: %s", ", ".join(settings.queues), self.owner)
        self._attempts: dict[str, _Attempt] = {}  # channel id -> the attempt it carries
        # Set when a member may have come free: the next tick comes at once, not up to a
        # second later (bench/callback_dispatch.py).
        self.woken = asyncio.Event()
        self._busy_members: set[str] = set()  # rung for a callback by this instance
        # Members who did not answer a callback are left alone this long (they may
        # be away from their desk without saying so).
        self._resting: dict[str, datetime] = {}
        # Per queue, as last counted (every second): the callbacks waiting ahead of each
        # live caller's join time, and of "now" (for a time not counted: every one).
        self._ahead: dict[str, dict[float, int]] = {}
        self._ahead_now: dict[str, int] = {}

    def sizes(self) -> dict[str, int]:
        return {"attempts": len(self._attempts), "members": len(self._busy_members)}

    def wake(self) -> None:
        """A member may have come free (their phone idle again): look now."""
        self.woken.set()

    # -- every second ------------------------------------------------------------------

    async def tick(self) -> None:
        """Reconcile the leases that ran out, then dial whose turn it is."""
        now = self._clock()
        await self._reconcile(now)
        for queue in self._settings.queues:
            if self._is_open is None or await self._is_open(queue):
                await self._dispatch(queue, now)

    async def _reconcile(self, now: datetime) -> None:
        # (Whether a channel is live is asked of the model at the moment of deciding:
        # a channel that appears while this awaits the database is not taken for gone.)
        channels = self._model.channels
        # This instance's calls keep their leases while they go on. One whose channel
        # was there and is gone ended while its Hangup was lost (the AMI connection cut,
        # Asterisk restarted): it ends now. One whose lease another instance took (this
        # one was away too long) is that instance's to follow.
        for channel_id, attempt in list(self._attempts.items()):
            if channel_id in channels:
                attempt.seen = True
            elif attempt.seen:
                log.warning("callback %d: its call ended unseen", attempt.callback_id)
                attempt.result = "ended unseen"
                self._end_attempt(channel_id)
                continue
            if not await callbacks.renew(
                self._pool, attempt.callback_id, self.owner, now + self._lease
            ):
                log.warning("callback %d: followed by another instance", attempt.callback_id)
                self._drop_attempt(channel_id)
        for stale in await callbacks.expired_leases(self._pool, self._pbx, now):
            if self._attempt_for(stale.id, stale.attempts) is not None:
                continue  # renewed just now (it ran out between two seconds)
            prefix = f"{_CHANNEL_PREFIX}{stale.id}-{stale.attempts}-"
            live_id = next((c for c in channels if c.startswith(prefix)), None)
            if live_id is not None:
                # Its dialler is gone, the call is not: this instance follows it.
                if await callbacks.adopt(
                    self._pool, stale.id, stale.lease_until, self.owner, now + self._lease
                ):
                    accepted = stale.state is CallbackState.CONNECTED
                    self._attempts[live_id] = _Attempt(
                        stale.id,
                        stale.attempts,
                        stale.member,
                        member_answered=True,
                        accepted=accepted,
                        seen=True,
                    )
                    self._busy_members.add(stale.member)
                    log.info("callback %d: adopted its call %s", stale.id, live_id)
            elif stale.state is CallbackState.CONNECTED:
                # The caller accepted and the call is over: done, never dialled again.
                if await callbacks.settle_connected(self._pool, stale.id, stale.lease_until, now):
                    log.warning("callback %d: its dialler went away after the call; done", stale.id)
                    self._notify()
            elif await callbacks.release(self._pool, stale.id, stale.lease_until, now):
                log.warning("callback %d: its dialler went away; back in line", stale.id)
                self._notify()

    async def _dispatch(self, queue: str, now: datetime) -> None:
        live = [
            call
            for call in self._model.snapshot()
            if call.state is CallState.QUEUED and call.queue == queue
        ]
        joins = [_joined(call) for call in live]
        counts = await callbacks.waiting_ahead(
            self._pool,
            self._pbx,
            queue,
            [datetime.fromtimestamp(at, UTC) for at in joins] + [now],
        )
        self._ahead[queue] = dict(zip(joins, counts, strict=False))
        self._ahead_now[queue] = counts[-1]
        self._resting = {m: t for m, t in self._resting.items() if t > now}
        members = [
            m
            for m in free_members(self._presence.extensions.values(), queue)
            if m not in self._busy_members and m not in self._resting
        ]
        if not members or counts[-1] == 0:
            return
        # No entry further back than the free members reach can be dispatched.
        due = await callbacks.in_line(
            self._pool, self._pbx, queue, limit=len(members) + len(live), due_by=now
        )
        if not due:
            return
        line = line_up(
            (_live(call, self._is_ringing(call.linked_id)) for call in live),
            (InLine(f"callback:{c.id}", c.joined_at.timestamp(), virtual=True) for c in due),
        )
        turns = len(to_dispatch(line, len(members)))
        if turns == 0:
            return
        taken = await callbacks.claim(
            self._pool,
            pbx=self._pbx,
            queue=queue,
            owner=self.owner,
            members=members[:turns],
            now=now,
            lease=self._lease,
        )
        if taken:
            self._notify()
        for callback in taken:
            self._start_attempt(callback, now)

    def _start_attempt(self, callback: callbacks.StoredCallback, now: datetime) -> None:
        channel_id = f"{_CHANNEL_PREFIX}{callback.id}-{callback.attempts}-{secrets.token_hex(3)}"
        self._attempts[channel_id] = _Attempt(callback.id, callback.attempts, callback.member)
        self._busy_members.add(callback.member)
        waited = max(0, int((now - callback.joined_at).total_seconds() // 60))
        self._spawn(self._ring_member(channel_id, callback.member, callback, min(waited, 59)))

    async def call_now(self, callback_id: int, extension: str) -> bool:
        """A receptionist calls a waiting callback back now from ``extension``, out of
        line: their phone rings first, as a member's would. False when it is no longer
        waiting."""
        now = self._clock()
        callback = await callbacks.claim_one(
            self._pool,
            callback_id,
            owner=self.owner,
            member=extension,
            now=now,
            lease=self._lease,
        )
        if callback is None:
            return False
        self._notify()
        self._start_attempt(callback, now)
        return True

    async def _ring_member(
        self, channel_id: str, member: str, callback: callbacks.StoredCallback, waited: int
    ) -> None:
        ring_s = self._settings.member_ring_s
        action = {
            "Action": "Originate",
            "ActionID": channel_id,
            "Channel": f"PJSIP/{member}",
            "Context": "switchboard-callback-dial",
            "Exten": "member",
            "Priority": "1",
            "Async": "true",
            "Timeout": str(ring_s * 1000),
            "ChannelId": channel_id,
            "CallerID": f'"Callback" <{callback.e164}>',
            "Variable": ",".join(
                f"{k}={v}"
                for k, v in {
                    "SB_CALLBACK_ID": str(callback.id),
                    "SB_CALLBACK_ATTEMPT": str(callback.attempts),
                    "SB_CALLBACK_NUMBER": callback.e164,
                    "SB_CALLBACK_WAITED": str(waited),
                    "SB_CALLBACK_LANGUAGE": callback.language,
                }.items()
            ),
        }
        try:
            reply = await self._send(action, ring_s + 10.0)
        except Exception as exc:  # the PBX gone: the lease runs out, then reconciled
            log.warning("callback %d: member %s not rung: %s", callback.id, member, exc)
            self._drop_attempt(channel_id)
            return
        if reply.get("Response") != "Success":
            # The member did not answer (or could not be rung): not the caller's fault.
            # Its channel's Hangup usually says so first; one never created has none.
            await asyncio.sleep(_NO_CHANNEL_GRACE_S)
            attempt = self._attempts.get(channel_id)
            if attempt is not None and not attempt.member_answered:
                del self._attempts[channel_id]
                await self._member_missed(attempt)

    def callbacks_ahead(self, queue: str, joined_at: float) -> int:
        """Waiting callbacks of ``queue`` that joined before ``joined_at``, as counted at
        the last second (a moment not counted: every waiting one, the most there are)."""
        counted = self._ahead.get(queue, {}).get(joined_at)
        return counted if counted is not None else self._ahead_now.get(queue, 0)

    def on_calls(self, changes: Iterable[Change]) -> None:
        """Follow the model: a caller answered resolves the callbacks they wait for."""
        for change in changes:
            call = change.call
            if isinstance(change, CallEnded):
                self._answered.discard(call.linked_id)
                continue
            if call.answered_at is None or call.linked_id in self._answered:
                continue
            if call.linked_id.startswith(_CHANNEL_PREFIX):
                continue  # a callback of ours: not the caller calling again
            self._answered.add(call.linked_id)
            number = normalise(call.caller_number, self._region)
            if number.kind is NumberKind.PUBLIC and number.e164:
                self._spawn(self.answered(number.e164))

    async def answered(self, e164: str) -> None:
        """A caller was answered: callbacks they still wait for are done."""
        resolved = await callbacks.answered_meanwhile(self._pool, self._pbx, e164)
        if resolved:
            self._notify()
            log.info("%d callback(s) resolved: the caller called again and was answered", resolved)

    # -- what the PBX says -------------------------------------------------------------

    def on_event(self, event: Mapping[str, str]) -> None:
        kind = event.get("Event")
        if kind == "UserEvent" and event.get("UserEvent") == "SwitchboardCallback":
            found = self._attempt_for(event.get("Id", ""), event.get("Attempt", ""))
            if found is None:
                return
            attempt = found
            result = event.get("Result", "")[:40]
            attempt.result = result
            if result == "member answered":
                attempt.member_answered = True
            elif result == "accepted":
                attempt.accepted = True
                self._spawn(self._connected(attempt))
        elif kind == "Newchannel":
            dialling = self._attempts.get(event.get("Uniqueid", ""))
            if dialling is not None:
                dialling.seen = True
        elif kind == "Hangup":
            self._end_attempt(event.get("Uniqueid", ""))

    def _attempt_for(self, callback_id: int | str, attempt: int | str) -> _Attempt | None:
        """This instance's attempt ``attempt`` of callback ``callback_id`` (as numbers, or
        as the dialplan's event says them), if it follows it."""
        return next(
            (
                a
                for a in self._attempts.values()
                if str(a.callback_id) == str(callback_id) and str(a.attempt) == str(attempt)
            ),
            None,
        )

    def _end_attempt(self, channel_id: str) -> None:
        """The member's channel is gone: the attempt ends as far as it got."""
        attempt = self._attempts.pop(channel_id, None)
        if attempt is not None:
            self._busy_members.discard(attempt.member)
            if attempt.member_answered:
                self._spawn(self._finished(attempt))
            else:
                self._spawn(self._member_missed(attempt))

    def _drop_attempt(self, channel_id: str) -> None:
        """No longer this instance's to follow: its lease runs out (or ran out) and the
        reconciliation settles it from the PBX's channels."""
        attempt = self._attempts.pop(channel_id, None)
        if attempt is not None:
            self._busy_members.discard(attempt.member)

    async def _member_missed(self, attempt: _Attempt) -> None:
        self._busy_members.discard(attempt.member)
        self._resting[attempt.member] = self._clock() + MEMBER_REST
        await callbacks.member_missed(self._pool, attempt.callback_id, self.owner)
        self._notify()
        log.info("callback %d: member %s did not answer", attempt.callback_id, attempt.member)

    async def _connected(self, attempt: _Attempt) -> None:
        await callbacks.connected(self._pool, attempt.callback_id, attempt.attempt)
        self._notify()

    async def _finished(self, attempt: _Attempt) -> None:
        state = await callbacks.finish_attempt(
            self._pool,
            attempt.callback_id,
            self.owner,
            reached=attempt.accepted,
            result="reached" if attempt.accepted else attempt.result,
            now=self._clock(),
            policy=self._policy,
        )
        self._notify()
        log.info("callback %d attempt %d: %s", attempt.callback_id, attempt.attempt, state)


def _joined(call: Call) -> float:
    return call.queued_at if call.queued_at is not None else call.started_at


def _live(call: Call, ringing: bool) -> InLine:
    return InLine(call.call_id, _joined(call), virtual=False, being_offered=ringing)


async def run_forever(
    dialer: CallbackDialer, connected: Callable[[], bool], every_s: float = 1.0
) -> None:
    """The dialer's loop, beside the bridge: every ``every_s``, or at once when woken (a
    member came free). A failing tick (the database gone) is logged and tried again."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(dialer.woken.wait(), every_s)
        dialer.woken.clear()
        if not connected():
            continue
        try:
            await dialer.tick()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            # (InterfaceError: a pooled connection the restarted server closed.)
            log.warning("callbacks not dispatched this second: %r", exc)

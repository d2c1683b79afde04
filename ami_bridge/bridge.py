"""One AMI connection per Asterisk, feeding the live model, the journal and the boards.

Events go through one ordered queue into the pure state (switchboard/core/calls/state.py:
the call model and the presence model, who can take a call), so it never sees events
out of order and never runs concurrently with itself. On every (re)connect the calls
are rebuilt from the PBX's own channel list, the extensions from its extension, device
and presence lists.

Each bridge is the :class:`switchboard.board.pbxs.PBX` of its name: it registers itself
in the registry it is given, through which the board's APIs command calls and set
presence. AMI (actions, credentials) stays in here.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg
from panoramisk import Manager

from ami_bridge.announcer import WaitAnnouncer
from ami_bridge.call_desk import CallDesk
from ami_bridge.callback_dialer import CallbackDialer, run_forever
from ami_bridge.journal import CallJournal
from ami_bridge.presence_journal import PresenceJournal
from ami_bridge.protocol import DecodingAMIProtocol
from ami_bridge.queue_membership import QueueMembers, as_list_for
from switchboard.board.hub import BoardHub, Message
from switchboard.board.pbxs import PBXRefused, PBXs, PBXUnavailable
from switchboard.config import CallbacksConfig, PBXConfig
from switchboard.core.calls.announcements import Announcements
from switchboard.core.calls.control import Act, Actor, Claim, Refusal
from switchboard.core.calls.model import Call, CallState, PBXModel
from switchboard.core.calls.presence import (
    Extension,
    ExtensionChanged,
    PauseChange,
    PresenceModel,
    presence_pauses,
)
from switchboard.core.calls.state import PBXState, StateChanges
from switchboard.core.calls.waits import WaitBoard, answering_members
from switchboard.core.wait_estimate import WaitSettings, announced_minutes
from switchboard.core.worklist import WORKLIST_CALL_PREFIX

log = logging.getLogger(__name__)

_RESYNC = {"Event": "__resync__"}
# After a resync's lists: from here the model holds the PBX's channels again.
_SYNCED = {"Event": "__synced__"}
# A PBX that answers no Ping for one interval is taken as gone: it is noticed within
# two intervals of going silent (the Ping in flight, then the one that finds no answer).
PING_INTERVAL_S = 5.0
# What the resynchronisation reads back, in this order: calls, queues, then who can
# take a call. Presence before the extensions (hints), so an extension on DND comes
# back on DND at once instead of "available" first; names follow per phone.
_RESYNC_ACTIONS = (
    "CoreShowChannels",
    "QueueStatus",
    # Which calls wait in a parking lot: the channel list cannot tell.
    "ParkedCalls",
    "DeviceStateList",
    "PresenceStateList",
    "ExtensionStateList",
)
_RESYNC_EVENTS = frozenset(
    {
        "CoreShowChannel",
        # The end of the channel list: the model ends the calls it knew that are gone.
        "CoreShowChannelsComplete",
        "QueueEntry",
        "QueueMember",
        "ParkedCall",
        "ExtensionStatus",
        "DeviceStateChange",
        "PresenceStateChange",
        "EndpointDetail",
    }
)
# How often the PBX's channel list is held against the model between resyncs: a call
# whose end got lost leaves the boards within this long instead of at the next reconnect.
CHANNEL_CHECK_S = 60.0
# How often the waiting callers are looked at for an announcement that is due: the
# announcements' times are whole seconds (first after 20 s, then every 60 s).
ANNOUNCE_TICK_S = 1.0
# The queue events that start and end a member's ringing for a caller.
_RING_STARTS = frozenset({"AgentCalled"})
_RING_ENDS = frozenset({"AgentRingNoAnswer", "AgentConnect", "QueueCallerLeave"})
# How long after a login the bridge waits for FullyBooted before it resynchronises
# anyway: a starting Asterisk takes a few seconds, and one whose AMI user may not read
# "system" events never says it.
FULLY_BOOTED_WAIT_S = 15.0


class _ChannelCheck(dict[str, str]):
    """Queued when the channel list is asked for (``listed`` None) and again with the
    list: the model compares them in event order, so calls that began in between stay."""

    def __init__(self, listed: frozenset[str] | None) -> None:
        super().__init__(Event="ChannelCheck")
        self.listed = listed


ACTION_TIMEOUT_S = 5.0
#: How long a receptionist's phone rings for a worklist call-back before it gives up.
WORKLIST_RING_S = 30
_ENDPOINT = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def presence_action(extension: str, status: str, until: str, note: str) -> dict[str, str]:
    """The AMI action that sets ``extension``'s presence: ``Setvar
    PRESENCE_STATE(CustomPresence:<ext>)`` to the status (available, dnd, away), the
    subtype (the return time) and the message (the note), both base64 so that commas
    are safe, as the dialplan's *76 sets it."""
    value = f"{status},{_b64(until)},{_b64(note)},e"
    return {
        "Action": "Setvar",
        "Variable": f"PRESENCE_STATE(CustomPresence:{extension})",
        "Value": value,
    }


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def event_headers(message: Mapping[str, Any]) -> dict[str, str]:
    """AMI headers as plain strings (a repeated header keeps its last value)."""
    headers = {}
    for key, value in message.items():
        if isinstance(value, list):
            value = value[-1] if value else ""
        headers[str(key)] = str(value)
    return headers


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager, but one that stays closed once we close it and that notices
    a PBX that stopped answering.

    panoramisk sends a Ping every interval but never looks at the reply, so a PBX that
    hangs (or a link that silently drops packets) left the board "Live" forever. Here a
    Ping still unanswered when the next one is due drops the connection: the usual
    reconnect follows and the boards are told at once.
    """

    closing = False
    _ping: tuple[Any, Any] | None = None  # (protocol, reply future) of the last Ping

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing:
            super().connection_lost(exc)

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        if self.closing:
            return None
        return super().connect(*args, **kwargs)

    def login(self, future: Any) -> bool:
        # panoramisk drops a refused login without a word; Asterisk then closes the
        # connection and only "connection lost" would be logged, every second.
        authenticated: bool = super().login(future)
        if not authenticated:
            log.error(
                "AMI at %s:%s refused the login of %r (%s): check the pbx username and"
                " secret against the PBX's manager.conf",
                self.config["host"],
                self.config["port"],
                self.config.get("username"),
                future.result().get("Message", "no reason given"),
            )
        return authenticated

    def ping(self) -> None:
        protocol = self.protocol
        if protocol is None or getattr(protocol, "closed", True):
            return
        if self._ping is not None and self._ping[0] is protocol and not self._ping[1].done():
            log.warning(
                "AMI at %s:%s answered no Ping for %.1f s; dropping the connection",
                self.config["host"],
                self.config["port"],
                self.ping_interval,
            )
            self._ping = None
            # abort() makes the protocol report connection_lost, which reconnects.
            protocol.transport.abort()
            return
        self.pinger = self.loop.call_later(self.ping_interval, self.ping)
        self._ping = (protocol, protocol.send({"Action": "Ping"}))


class AMIBridge:
    """The AMI connection to the PBX ``pbx`` configures, and that PBX for the board.

    Publishes every change to ``hub`` and records it in the journals given; registers
    itself in ``pbxs`` (when given) as the :class:`~switchboard.board.pbxs.PBX` named
    ``pbx.name``.
    """

    def __init__(
        self,
        pbx: PBXConfig,
        hub: BoardHub,
        journal: CallJournal | None = None,
        *,
        pbxs: PBXs | None = None,
        clock: Callable[[], float] = time.time,
        ping_interval_s: float = PING_INTERVAL_S,
        presence_journal: PresenceJournal | None = None,
        channel_check_s: float = CHANNEL_CHECK_S,
        fully_booted_wait_s: float = FULLY_BOOTED_WAIT_S,
        pool: asyncpg.Pool | None = None,
        queues: Mapping[str, WaitSettings] | None = None,
        callbacks: CallbacksConfig | None = None,
        region: str = "NL",
        is_open: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self.pbx = pbx
        self.state = PBXState(pbx.name)
        self._presence_journal = presence_journal
        self.connected = False
        # The model holds what the PBX has (False from a lost connection until the
        # resync's lists are in): the callback dialer settles nothing from it before.
        self._synced = False
        self._hub = hub
        self._journal = journal
        self._clock = clock
        self._events: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self._consumer: asyncio.Task[None] | None = None
        self._channel_check_s = channel_check_s
        self._fully_booted_wait_s = fully_booted_wait_s
        self._logins = 0  # which login a FullyBooted watch belongs to
        self._booted = False  # FullyBooted seen on this connection
        self._checker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pausing: set[asyncio.Task[None]] = set()  # presence's queue pauses in flight
        # The expected wait of every waiting caller, learnt from the calls that end.
        self._waits = WaitBoard()
        self._waits_shown: list[dict[str, Any]] = []
        # What the waiting callers hear about their place and wait (``queues``: per queue).
        self._announcements = Announcements(queues)
        self._announcer = WaitAnnouncer(
            self.send_action,
            offer_queues=frozenset(callbacks.queues) if callbacks and pool else frozenset(),
            offer_from_minutes=callbacks.offer_from_minutes if callbacks else 0,
        )
        self._announcing: asyncio.Task[None] | None = None
        # Callbacks whose turn it is are dialled from here (needs the database).
        self._dialer = (
            CallbackDialer(
                pbx.name,
                pool,
                self.send_action,
                self.model,
                self.presence,
                callbacks,
                is_ringing=self._announcements.is_ringing,
                clock=lambda: datetime.fromtimestamp(self._clock(), UTC),
                spawn=self._spawn,
                region=region,
                is_open=is_open,
                notify=lambda: hub.publish({"type": "callbacks", "pbx": pbx.name}),
            )
            if pool is not None and callbacks is not None
            else None
        )
        self._dialling: asyncio.Task[None] | None = None
        self._manager = _Manager(
            host=pbx.host,
            port=pbx.port,
            username=pbx.username,
            secret=pbx.secret,
            events="on",
            reconnect_timeout=1,
            protocol_factory=DecodingAMIProtocol,
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
        )
        # Set after construction: panoramisk's constructor rounds them to whole seconds.
        self._manager.ping_delay = self._manager.ping_interval = ping_interval_s
        self._manager.register_event("*", self._on_event)
        self._manager.register_event("FullyBooted", self._on_fully_booted)
        hub.add_snapshot_source(self._snapshot)
        self.desk = CallDesk(pbx.name, self.model, self.send_action, hub, clock=clock)
        # Queue members the board adds, kept in PostgreSQL and added back on every
        # login (Asterisk forgets them when it restarts).
        self._queues = QueueMembers(pbx.name, self.send_action, pool) if pool else None
        if pbxs is not None:
            pbxs.add(self)

    @property
    def name(self) -> str:
        return self.pbx.name

    @property
    def queues(self) -> QueueMembers | None:
        return self._queues

    @property
    def model(self) -> PBXModel:
        """The live call model (the state's)."""
        return self.state.model

    @property
    def presence(self) -> PresenceModel:
        """The live presence model (the state's)."""
        return self.state.presence

    async def start(self) -> None:
        self._manager.loop = asyncio.get_running_loop()
        self._consumer = asyncio.create_task(self._consume(), name=f"ami-{self.pbx.name}")
        self._checker = asyncio.create_task(
            self._check_channels_forever(), name=f"ami-{self.pbx.name}-channel-check"
        )
        self._announcing = asyncio.create_task(
            self._announce_forever(), name=f"ami-{self.pbx.name}-announcements"
        )
        if self._dialer is not None:
            self._dialling = asyncio.create_task(
                run_forever(self._dialer, lambda: self.connected and self._synced),
                name=f"ami-{self.pbx.name}-callbacks",
            )
        self._manager.connect()
        log.info(
            "AMI bridge connecting to %s at %s:%d", self.pbx.name, self.pbx.host, self.pbx.port
        )

    async def close(self) -> None:
        self._manager.closing = True
        self._manager.close()
        loops = [
            t
            for t in (self._consumer, self._checker, self._announcing, self._dialling)
            if t is not None
        ]
        for task in [*self._tasks, *self._pausing, *loops]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._pausing, *loops, return_exceptions=True)
        await self.desk.close()

    def _snapshot(self) -> Message:
        return {
            "calls": [call.to_json() for call in self.model.snapshot()],
            "pbx": [{"name": self.pbx.name, "connected": self.connected}],
            "extensions": [e.to_json() for e in self.presence.snapshot()],
            "waits": self._current_waits(),
        }

    async def send_action(
        self, action: Mapping[str, str], timeout_s: float = ACTION_TIMEOUT_S
    ) -> dict[str, str]:
        """Send one AMI action; its reply's headers (``Response: Error`` included).

        Raises PBXUnavailable when the PBX is not connected or does not answer in time.
        """
        if not self.connected:
            raise PBXUnavailable(f"{self.pbx.name} is not connected")
        try:
            # "Async: false": panoramisk reads a reply ending "successfully queued" (Atxfer,
            # CancelAtxfer) as the start of an Originate's event list and, for an action
            # without that header, raises inside the protocol: the connection dropped.
            request = {"Async": "false", **action}
            reply = await asyncio.wait_for(
                self._manager.send_action(request, as_list=as_list_for(request)), timeout_s
            )
        except TimeoutError:
            raise PBXUnavailable(f"{self.pbx.name} did not answer {action.get('Action')}") from None
        except ConnectionError as exc:
            raise PBXUnavailable(f"{self.pbx.name}: {exc}") from exc
        return event_headers(reply[-1] if isinstance(reply, list) else reply)

    def feed(self, message: Mapping[str, Any]) -> None:
        """Take one AMI event (its headers; a repeated header as a list, as panoramisk
        hands them over) as if the PBX had just sent it: it is queued behind every event
        before it, for the state, the journals, the call desk and the boards."""
        self._events.put_nowait(event_headers(message))

    # -- the PBX the board acts on (switchboard.board.pbxs.PBX) --------------------------

    def extension(self, number: str) -> Extension | None:
        return self.presence.extensions.get(number)

    async def command(
        self, act: Act, call_id: str, actor: Actor, target: str = ""
    ) -> Claim | Refusal:
        return await self.desk.command(act, call_id, actor, target)

    async def set_presence(self, extension: str, status: str, until: str, note: str) -> None:
        reply = await self.send_action(presence_action(extension, status, until, note))
        if reply.get("Response") != "Success":
            log.warning("Setvar presence refused by %s: %r", self.pbx.name, reply)
            raise PBXRefused(reply.get("Message", ""))

    # -- panoramisk callbacks (run in the event loop) ------------------------------------

    def _on_event(self, _manager: Manager, message: Mapping[str, Any]) -> None:
        self.feed(message)

    def _on_login(self, _manager: Manager) -> None:
        log.info("AMI logged in to %s", self.pbx.name)
        self.connected = True
        # (FullyBooted may already have come: panoramisk hands it over before this.)
        self._logins += 1
        self._manager.loop.call_later(self._fully_booted_wait_s, self._unbooted, self._logins)

    def _on_fully_booted(self, _manager: Manager, _event: Any) -> None:
        # Asterisk says so right after our login, or, when it is still starting, once
        # all its modules have loaded: only then are its hints, queues and dialplan there
        # to be listed. A resync at login during a restart found no extensions at all.
        log.info("%s is fully booted; resynchronising", self.pbx.name)
        self._booted = True
        self._start_resync()

    def _unbooted(self, login: int) -> None:
        """No FullyBooted since this login: resynchronise anyway rather than show an
        empty board that says Live (a later FullyBooted resynchronises again)."""
        if login != self._logins or self._booted or not self.connected:
            return
        log.warning(
            "%s sent no FullyBooted within %.0f s of the login; resynchronising anyway."
            " Is it still starting, or does the AMI user lack the 'system' read permission?",
            self.pbx.name,
            self._fully_booted_wait_s,
        )
        self._start_resync()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` beside the consumer (which must not wait for the PBX)."""
        task = asyncio.create_task(work)
        self._pausing.add(task)
        task.add_done_callback(self._pausing.discard)

    def _start_resync(self) -> None:
        for task in self._tasks:
            task.cancel()  # (in the rare case of two FullyBooted, the second one wins)
        task = asyncio.create_task(self._resync())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_disconnect(self, _manager: Manager, exc: Any) -> None:
        log.warning("AMI connection to %s lost (%s); reconnecting", self.pbx.name, exc)
        self.connected = False
        self._synced = False
        self._booted = False
        # A resynchronisation still waiting for the lost connection would otherwise
        # announce "connected" later, while the PBX is still gone.
        for task in self._tasks:
            task.cancel()
        self._hub.publish({"type": "pbx", "pbx": {"name": self.pbx.name, "connected": False}})

    async def _resync(self) -> None:
        self._events.put_nowait(_RESYNC)
        if self._queues is not None:
            # Before QueueStatus, so that the board's picture has them. After the PBX
            # fully booted (the resync waits for it): a starting Asterisk answers "No
            # such queue" for every member.
            try:
                report = await self._queues.restore()
            except (OSError, asyncpg.PostgresError) as exc:
                # The database is away: the PBX keeps what it has; the next login
                # restores. The board must not stay "not connected" for it.
                log.error("%s: queue members not restored: %s", self.pbx.name, exc)
            else:
                for refused in report.failed:
                    log.error("%s: queue member not restored: %s", self.pbx.name, refused)
        endpoints: list[str] = []
        for action in _RESYNC_ACTIONS:
            request = {"Action": action}
            try:
                # No as_list: panoramisk then takes a list from "EventList: start" and
                # an error (an action this PBX lacks) as one reply, instead of waiting for a
                # list that never comes until the timeout.
                reply = await asyncio.wait_for(self._manager.send_action(request), 10)
            except TimeoutError:
                log.error("%s on %s timed out; the board may miss calls", request, self.pbx.name)
                continue
            for message in reply if isinstance(reply, list) else [reply]:
                if message.get("Event") in _RESYNC_EVENTS:
                    self._events.put_nowait(event_headers(message))
                if message.get("Event") == "ExtensionStatus":
                    hint = str(message.get("Hint", "")).replace("&", ",").split(",")
                    endpoints += [d[6:] for d in hint if d.startswith("PJSIP/") and d[6:]]
        for endpoint in dict.fromkeys(e for e in endpoints if _ENDPOINT.fullmatch(e)):
            # Each phone's name is its endpoint's callerid (pjsip.conf), read with Getvar:
            # PJSIPShowEndpoint needs the "system" right our AMI user does not get.
            try:
                reply = await self.send_action(
                    {"Action": "Getvar", "Variable": f"PJSIP_ENDPOINT({endpoint},callerid)"}
                )
            except PBXUnavailable:
                continue
            self._events.put_nowait(
                {
                    "Event": "EndpointDetail",
                    "ObjectName": endpoint,
                    "Callerid": reply.get("Value", ""),
                }
            )
        self._events.put_nowait(_SYNCED)
        self._hub.publish({"type": "pbx", "pbx": {"name": self.pbx.name, "connected": True}})

    async def _check_channels_forever(self) -> None:
        while True:
            await asyncio.sleep(self._channel_check_s)
            if self.connected:
                await self.check_channels()

    async def check_channels(self) -> None:
        """Hold the PBX's channel list against the model: channels it no longer has
        (their Hangup lost) go, with the calls they held up."""
        self._events.put_nowait(_ChannelCheck(None))
        try:
            reply = await asyncio.wait_for(
                self._manager.send_action({"Action": "CoreShowChannels"}), 2 * ACTION_TIMEOUT_S
            )
        except Exception as exc:  # timeout, connection gone: the next check will do
            log.warning("channel check on %s failed (%r)", self.pbx.name, exc)
            return
        messages = reply if isinstance(reply, list) else [reply]
        if not any(m.get("Event") == "CoreShowChannelsComplete" for m in messages):
            return  # an error or a cut-off list proves nothing
        listed = frozenset(
            str(m.get("Uniqueid", "")) for m in messages if m.get("Event") == "CoreShowChannel"
        )
        self._events.put_nowait(_ChannelCheck(listed))

    # -- the one consumer ----------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            event = await self._events.get()
            try:
                changes = self._apply(event)
            except Exception:
                # A model bug must not stop the board; the event is logged for a replay.
                log.exception("AMI event could not be applied: %r", event)
                continue
            self._hub.publish_changes(changes.calls)
            if self._journal is not None:
                self._journal.record(changes.calls)
            self._waits.record(changes.calls)
            if self._dialer is not None:
                self._dialer.on_calls(changes.calls)
            if changes.calls or changes.presence:
                self._publish_waits()
            # After the model: the board's actions are confirmed by what the model shows.
            if event is _RESYNC:
                self._synced = False
                self.desk.reset()
            elif event is _SYNCED:
                self._synced = True
            else:
                self.desk.on_event(event)
                self._follow_announcements(event)
            self._hub.publish_presence(changes.presence)
            if self._presence_journal is not None:
                self._presence_journal.record(changes.presence, self._clock())
            for change in changes.presence:
                if isinstance(change, ExtensionChanged) and self.connected:
                    for pause in presence_pauses(change.extension):
                        self._spawn(self._pause(pause))
                    if self._dialer is not None and change.extension.device == "idle":
                        self._dialer.wake()

    async def _pause(self, pause: PauseChange) -> None:
        """Carry out what presence asks of a queue member (presence_pauses); the PBX's
        QueueMemberPause then shows it on the board. A failure is logged: the next
        presence change asks again."""
        action = {
            "Action": "QueuePause",
            "Queue": pause.queue,
            "Interface": pause.interface,
            "Paused": "true" if pause.paused else "false",
        }
        if pause.reason:
            action["Reason"] = pause.reason
        try:
            reply = await self.send_action(action)
        except PBXUnavailable as exc:
            log.warning("%s: %s not paused for presence: %s", self.pbx.name, pause, exc)
            return
        if reply.get("Response") != "Success":
            log.warning("%s: %s refused: %s", self.pbx.name, action, reply.get("Message"))

    def _follow_announcements(self, event: Mapping[str, str]) -> None:
        kind = event.get("Event", "")
        if kind in _RING_STARTS or kind in _RING_ENDS:
            self._announcements.ringing(event.get("Linkedid", ""), kind in _RING_STARTS)
        for spy in self._announcer.on_event(event):
            self._spawn(self._announcer.stop(spy))
        if self._dialer is not None:
            self._dialer.on_event(event)

    async def _announce_forever(self) -> None:
        while True:
            await asyncio.sleep(ANNOUNCE_TICK_S)
            if self.connected:
                self._announce_due()

    def _announce_due(self) -> None:
        """Start the announcements due now (switchboard.core.calls.announcements)."""
        now = self._clock()
        members = answering_members(self.presence.extensions.values())
        due = self._announcements.due(
            self.model.snapshot(),
            lambda call: self._waits.estimate(call, members, now, self._callbacks_ahead(call)),
            now,
            self._callbacks_ahead,
        )
        for one in due:
            channel = self.model.channels.get(one.call.linked_id)
            if channel is not None:
                self._spawn(self._announcer.announce(one, channel.name, channel.unique_id))

    def _callbacks_ahead(self, call: Call) -> int:
        """Callbacks waiting their turn ahead of ``call``: they count in its place."""
        if self._dialer is None:
            return 0
        joined = call.queued_at if call.queued_at is not None else call.started_at
        return self._dialer.callbacks_ahead(call.queue, joined)

    async def call_back_now(self, callback_id: int, extension: str) -> bool:
        """Dial waiting callback ``callback_id`` now, ringing ``extension`` first; False
        when it is not waiting any more. Raises PBXUnavailable when this PBX is not
        connected or dials no callbacks."""
        if self._dialer is None or not self.connected:
            raise PBXUnavailable(f"{self.pbx.name} dials no callbacks now")
        return await self._dialer.call_now(callback_id, extension)

    async def call_number(self, extension: str, e164: str, item_id: int, label: str) -> str:
        """A worklist call-back: ``extension``'s phone rings (its display shows
        ``label``), then ``e164`` is dialled through the phones' own context, as if the
        receptionist had dialled it. The channel id carries the item
        (switchboard.core.worklist.WORKLIST_CALL_PREFIX), so the journal links the call to
        it. Returns at once; raises PBXUnavailable when the PBX is not connected."""
        if not self.connected:
            raise PBXUnavailable(f"{self.pbx.name} is not connected")
        channel_id = f"{WORKLIST_CALL_PREFIX}{item_id}-{secrets.token_hex(3)}"
        action = {
            "Action": "Originate",
            "ActionID": channel_id,
            "ChannelId": channel_id,
            "Channel": f"PJSIP/{extension}",
            "Context": "phones",
            "Exten": e164,
            "Priority": "1",
            "Async": "true",
            "Timeout": str(WORKLIST_RING_S * 1000),
            "CallerID": f'"{label}" <{extension}>',
        }
        self._spawn(self._originate(action))
        return channel_id

    async def _originate(self, action: Mapping[str, str]) -> None:
        try:
            reply = await self.send_action(action, WORKLIST_RING_S + 10.0)
        except PBXUnavailable as exc:
            log.warning("%s not dialled: %s", action["ChannelId"], exc)
            return
        if reply.get("Response") != "Success":
            log.info("%s: the phone did not answer (%s)", action["ChannelId"], reply.get("Message"))

    def callers_ahead(self, queue: str, joined_at: float) -> int:
        """The live callers waiting in ``queue`` who joined before ``joined_at``."""
        return sum(
            1
            for call in self.model.snapshot()
            if call.state is CallState.QUEUED
            and call.queue == queue
            and (call.queued_at if call.queued_at is not None else call.started_at) < joined_at
        )

    def callback_minutes(self, queue: str, joined_at: float) -> int | None:
        """About how many minutes until a callback that joined ``queue`` at ``joined_at``
        is dialled: the wait of a live caller with the same callers ahead."""
        now = self._clock()
        ahead = self.callers_ahead(queue, joined_at)
        members = answering_members(self.presence.extensions.values())
        if self._dialer is not None:
            ahead += self._dialer.callbacks_ahead(queue, joined_at)
        estimate = self._waits.estimate_at(queue, ahead, members, now)
        if estimate is None:
            return None
        return announced_minutes(estimate, self._waits.settings)[0]

    def _current_waits(self) -> list[dict[str, Any]]:
        members = answering_members(self.presence.extensions.values())
        return self._waits.estimates(self.model.snapshot(), members, self._clock())

    def _publish_waits(self) -> None:
        """The board's "about 3 min" beside each waiting caller, when it changed."""
        shown = self._current_waits()
        if shown != self._waits_shown:
            self._waits_shown = shown
            self._hub.publish({"type": "waits", "pbx": self.pbx.name, "waits": shown})

    def _apply(self, event: Mapping[str, str]) -> StateChanges:
        if isinstance(event, _ChannelCheck):
            if event.listed is None:
                return self.state.check_channels(self._clock())
            dropped, changes = self.state.drop_unlisted(event.listed, self._clock())
            if dropped:
                log.warning(
                    "%s no longer has %s: taken off the boards (its Hangup never came)",
                    self.pbx.name,
                    ", ".join(c.name or c.unique_id for c in dropped),
                )
            return changes
        if event is _RESYNC:
            self.state.reset()
            self._hub.publish({"type": "resync", "pbx": self.pbx.name})
            return StateChanges()
        if event is _SYNCED:
            return StateChanges()
        return self.state.apply(event, self._clock())

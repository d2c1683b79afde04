"""Fan-out of live state to connected boards: a snapshot on connect, then deltas.

Each board has a bounded queue; a board that cannot keep up is dropped (it reconnects
and gets a fresh snapshot) rather than slowing every other board down.

Messages (JSON, every one with ``"v": 1``):

* ``snapshot``: ``calls``, ``pbx`` ([{name, connected}]) and ``extensions`` (every
  extension as :meth:`ami_bridge.presence.Extension.to_json` shapes it: ``pbx``,
  ``extension``, ``name``, ``device`` idle/ringing/in_use/on_hold/unavailable/unknown,
  ``presence`` (Asterisk's value), ``dnd``, ``note``, ``until``, ``talking_with``,
  ``talking_since``, ``queues`` [{queue, paused, reason}], ``shown`` (the merged state
  the board shows: available/dnd/away/in_use/ringing/on_hold/unavailable));
* ``call`` / ``call_ended`` with ``call``; ``pbx`` with ``pbx``; ``resync`` with
  ``pbx`` (forget that PBX's calls and extensions: its lists follow as deltas);
* ``extension`` with ``extension`` (added or changed) and ``extension_removed``.

The hub also knows how to reach each PBX (``add_action_sender``), so the board's APIs
can send AMI actions without ever holding AMI credentials, and each PBX's call desk
(``add_call_desk``, ami_bridge/call_desk.py: answer, transfer, park, hang up), which
adds ``claims`` to the snapshot and the ``claim`` and ``action`` messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from switchboard.core.calls.model import CallChanged, CallEnded, Change
from switchboard.core.calls.presence import ExtensionChanged, PresenceChange

if TYPE_CHECKING:
    from ami_bridge.call_desk import CallDesk

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
Message = dict[str, Any]
# Sends one AMI action to a PBX and returns its reply's headers.
ActionSender = Callable[[Mapping[str, str]], Awaitable[dict[str, str]]]


class SubscriptionDropped(Exception):
    """The board fell too far behind; it must reconnect for a fresh snapshot."""


class Outgoing:
    """A published message and its JSON text, encoded once for every board."""

    __slots__ = ("_text", "message")

    def __init__(self, message: Message) -> None:
        self.message = message
        self._text: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = json.dumps(self.message, separators=(",", ":"))
        return self._text


class Subscription:
    def __init__(self, hub: BoardHub, size: int) -> None:
        self._hub = hub
        self._queue: asyncio.Queue[Outgoing] = asyncio.Queue(maxsize=size)
        self.dropped = False

    def offer(self, outgoing: Outgoing) -> bool:
        try:
            self._queue.put_nowait(outgoing)
        except asyncio.QueueFull:
            self.dropped = True
            return False
        return True

    async def next(self) -> Message:
        return (await self._next()).message

    async def next_text(self) -> str:
        """The next message as JSON text, shared with every other board (encoded once)."""
        return (await self._next()).text

    async def _next(self) -> Outgoing:
        if self.dropped:
            raise SubscriptionDropped
        return await self._queue.get()

    def close(self) -> None:
        self._hub.unsubscribe(self)


class BoardHub:
    def __init__(self, queue_size: int = 512) -> None:
        self._queue_size = queue_size
        self._subscribers: set[Subscription] = set()
        self._snapshot_sources: list[Callable[[], Message]] = []
        self._action_senders: dict[str, ActionSender] = {}
        self._call_desks: dict[str, CallDesk] = {}

    def add_action_sender(self, pbx: str, send: ActionSender) -> None:
        self._action_senders[pbx] = send

    def action_sender(self, pbx: str) -> ActionSender | None:
        """How to send an AMI action to ``pbx``; None for a PBX nobody registered."""
        return self._action_senders.get(pbx)

    def add_call_desk(self, pbx: str, desk: CallDesk) -> None:
        self._call_desks[pbx] = desk

    def call_desk(self, pbx: str) -> CallDesk | None:
        """The board's call control on ``pbx``; None for a PBX nobody registered."""
        return self._call_desks.get(pbx)

    def add_snapshot_source(self, source: Callable[[], Message]) -> None:
        """``source`` returns a partial snapshot, e.g. {"calls": [...]}; parts are merged."""
        self._snapshot_sources.append(source)

    def snapshot(self) -> Message:
        message: Message = {
            "v": PROTOCOL_VERSION,
            "type": "snapshot",
            "calls": [],
            "pbx": [],
            "extensions": [],
        }
        for source in self._snapshot_sources:
            for key, value in source().items():
                message.setdefault(key, []).extend(value)
        message["calls"].sort(key=lambda call: call["started_at"])
        return message

    def subscribe(self) -> tuple[Message, Subscription]:
        """The current snapshot and a subscription to every change after it."""
        subscription = Subscription(self, self._queue_size)
        self._subscribers.add(subscription)
        return self.snapshot(), subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, message: Message) -> None:
        outgoing = Outgoing({"v": PROTOCOL_VERSION, **message})
        for subscription in list(self._subscribers):
            if not subscription.offer(outgoing):
                log.warning("dropping a board that fell %d messages behind", self._queue_size)
                self._subscribers.discard(subscription)

    def publish_changes(self, changes: list[Change]) -> None:
        for change in changes:
            if isinstance(change, CallChanged):
                self.publish({"type": "call", "call": change.call.to_json()})
            elif isinstance(change, CallEnded):
                self.publish({"type": "call_ended", "call": change.call.to_json()})

    def publish_presence(self, changes: list[PresenceChange]) -> None:
        for change in changes:
            kind = "extension" if isinstance(change, ExtensionChanged) else "extension_removed"
            self.publish({"type": kind, "extension": change.extension.to_json()})

"""Fan-out of live state to connected boards: a snapshot on connect, then deltas.

Each board has a bounded queue; a board that cannot keep up is dropped (it reconnects
and gets a fresh snapshot) rather than slowing every other board down.

Messages (JSON, every one with ``"v": 1``):

* ``snapshot``: ``calls``, ``pbx`` ([{name, connected}]) and ``extensions`` (every
  extension as :meth:`switchboard.core.calls.presence.Extension.to_json` shapes it: ``pbx``,
  ``extension``, ``name``, ``device`` idle/ringing/in_use/on_hold/unavailable/unknown,
  ``presence`` (Asterisk's value), ``dnd``, ``note``, ``until``, ``talking_with``,
  ``talking_since``, ``queues`` [{queue, paused, reason}], ``shown`` (the merged state
  the board shows: available/dnd/away/in_use/ringing/on_hold/unavailable));
* ``call`` / ``call_ended`` with ``call``; ``pbx`` with ``pbx``; ``resync`` with
  ``pbx`` (forget that PBX's calls and extensions: its lists follow as deltas);
* ``extension`` with ``extension`` (added or changed) and ``extension_removed``.

Each PBX's call desk (ami_bridge/call_desk.py: answer, transfer, park, hang up) adds
``claims`` to the snapshot and publishes the ``claim`` and ``action`` messages.

The hub only fans out: what the snapshot holds comes from its snapshot sources, what
follows from whoever publishes. How to act on a PBX is not here but in the registry of
PBXs (:mod:`switchboard.board.pbxs`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from switchboard.core.calls.model import CallChanged, CallEnded, Change
from switchboard.core.calls.presence import ExtensionChanged, PresenceChange

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
Message = dict[str, Any]


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
    """The boards of this process: each subscribes (:meth:`subscribe`) and gets every
    message published after its snapshot, in order."""

    def __init__(self, queue_size: int = 512) -> None:
        self._queue_size = queue_size
        self._subscribers: set[Subscription] = set()
        self._snapshot_sources: list[Callable[[], Message]] = []

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

"""Waiting callers hear their place and wait without leaving the queue (issue 13).

For each announcement :class:`switchboard.core.calls.announcements.Announcements` says is
due, an AMI ``Originate`` of a Local channel into extensions.conf
``[switchboard-announce]``: its first half whispers into the caller's channel
(``ChanSpy(caller,qwE)``), its second plays the prompts in the caller's language. The
caller never leaves ``Queue()``: their place and join time stay as they are, and a member
who comes free is rung at once, whatever is playing. When the caller is connected to a
member or leaves the queue, the announcement still playing is hung up: it would talk over
the conversation. (dialplans/README.md weighs this against app_queue's own announcements
and a Queue() loop.)
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping

from switchboard.core.calls.announcements import Due
from switchboard.core.calls.channels import ANNOUNCEMENT_CONTEXT

log = logging.getLogger(__name__)

SendAction = Callable[[Mapping[str, str]], Awaitable[Mapping[str, str]]]

# What a caller's channel name and unique id may look like to be put into an Originate:
# Asterisk's own names ("PJSIP/trunk-0000002a") and ids ("1795392506.19"). Anything else
# is not announced to (it cannot come from Asterisk, and must not reach the dialplan).
_CHANNEL_NAME = re.compile(r"[A-Za-z0-9_.@/:+-]{1,128}")
_UNIQUE_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# The languages the prompts are in (CHANNEL(language) values Asterisk may report).
_LANGUAGE = re.compile(r"[a-z]{2}(?:_[A-Za-z]{2})?")
# The events that end what a caller is hearing: connected to a member, out of the queue.
_ENDS = frozenset({"AgentConnect", "QueueCallerLeave", "QueueCallerAbandon", "Hangup"})
# An Originate answered "Success" is queued, not yet a channel: a Hangup may come too early.
_STOP_ATTEMPTS = 4
_STOP_RETRY_S = 0.25


class WaitAnnouncer:
    """Plays announcements to waiting callers through ``send_action`` (the bridge's AMI)
    and stops them when they must not go on. ``on_event`` must see every AMI event."""

    def __init__(
        self,
        send_action: SendAction,
        *,
        context: str = ANNOUNCEMENT_CONTEXT,
        offer_queues: frozenset[str] = frozenset(),
        offer_from_minutes: int = 0,
    ) -> None:
        self._send = send_action
        self._context = context
        # "Press 1 to be called back" with a wait of this many minutes or more, in these
        # queues (0: never said; the key works anyway).
        self._offer_queues = offer_queues
        self._offer_from = offer_from_minutes
        # Caller's channel unique id -> the announcements playing to it (their ;1 ids).
        self._playing: dict[str, set[str]] = {}
        self._stopping: set[str] = set()

    def sizes(self) -> dict[str, int]:
        return {"playing": sum(len(v) for v in self._playing.values())}

    def playing_to(self, caller_unique_id: str) -> frozenset[str]:
        return frozenset(self._playing.get(caller_unique_id, ()))

    async def announce(self, due: Due, channel_name: str, unique_id: str) -> None:
        """Let the caller on channel ``channel_name`` (``unique_id``) hear ``due``.

        A failure (the PBX gone, the caller gone) is logged and loses nothing but this
        announcement: the next comes a minute later."""
        if not _CHANNEL_NAME.fullmatch(channel_name) or not _UNIQUE_ID.fullmatch(unique_id):
            log.warning("not announcing to an unexpected channel %r (%r)", channel_name, unique_id)
            return
        language = await self._language_of(channel_name)
        said = due.said
        variables = {
            "SB_ANNOUNCE_TO": channel_name,
            "SB_ANNOUNCE_FOR": unique_id,
            "SB_ANNOUNCE_LANGUAGE": language,
            "SB_ANNOUNCE_POSITION": "" if said.position is None else str(said.position),
            "SB_ANNOUNCE_POSITION_MORE": "yes" if said.more_than_positions else "",
            "SB_ANNOUNCE_MINUTES": "" if said.minutes is None else str(said.minutes),
            "SB_ANNOUNCE_MINUTES_MORE": "yes" if said.more_than_minutes else "",
            "SB_ANNOUNCE_OFFER": "yes" if self._offers(due) else "",
        }
        spy = f"sb-announce-{uuid.uuid4().hex}"
        action = {
            "Action": "Originate",
            "Channel": f"Local/say@{self._context}",
            "Context": self._context,
            "Exten": "spy",
            "Priority": "1",
            "Async": "true",
            "ChannelId": spy,
            "OtherChannelId": f"{spy}-say",
            # Every value is ours or checked above: none holds a comma.
            "Variable": ",".join(f"{k}={v}" for k, v in variables.items()),
        }
        self._playing.setdefault(unique_id, set()).add(spy)
        try:
            reply = await self._send(action)
        except Exception as exc:  # the PBX went away: this announcement is lost
            log.warning("announcement to %s not started: %s", channel_name, exc)
            reply = {"Response": "Error"}
        if reply.get("Response") != "Success":
            self._forget(unique_id, spy)

    def _offers(self, due: Due) -> bool:
        minutes = due.said.minutes
        return (
            self._offer_from > 0
            and due.call.queue in self._offer_queues
            and minutes is not None
            and (minutes >= self._offer_from or due.said.more_than_minutes)
        )

    async def _language_of(self, channel_name: str) -> str:
        """The caller's CHANNEL(language), set by the dialplan from recognition; "en"
        (Asterisk's own default) when it cannot be read."""
        try:
            reply = await self._send(
                {"Action": "Getvar", "Channel": channel_name, "Variable": "CHANNEL(language)"}
            )
        except Exception:
            return "en"
        value = reply.get("Value", "")
        return value if _LANGUAGE.fullmatch(value) else "en"

    def on_event(self, event: Mapping[str, str]) -> list[str]:
        """Follow the announcements' ends; return the ones to hang up now (a caller
        connected or out of the queue), for :meth:`stop`."""
        kind = event.get("Event", "")
        if kind not in _ENDS:
            return []
        unique_id = event.get("Uniqueid", "")
        if kind == "Hangup":
            # An announcement's own end (its ;1 channel), or the caller's: ChanSpy's E
            # option ends it with the caller.
            for caller, spies in list(self._playing.items()):
                spies.discard(unique_id)
                if not spies or caller == unique_id:
                    del self._playing[caller]
            self._stopping.discard(unique_id)
            return []
        return [s for s in self._playing.get(unique_id, ()) if s not in self._stopping]

    async def stop(self, spy: str) -> None:
        """Hang up announcement ``spy`` (its Hangup event then forgets it). One that was
        only just originated may not exist yet: asked again, a few times, while it is
        still counted as playing."""
        self._stopping.add(spy)
        for attempt in range(_STOP_ATTEMPTS):
            try:
                reply = await self._send({"Action": "Hangup", "Channel": spy})
            except Exception as exc:
                log.warning("announcement %s not stopped: %s", spy, exc)
                break
            if reply.get("Response") == "Success" or not self._is_playing(spy):
                return
            if attempt + 1 < _STOP_ATTEMPTS:
                await asyncio.sleep(_STOP_RETRY_S)
        self._stopping.discard(spy)

    def _is_playing(self, spy: str) -> bool:
        return any(spy in spies for spies in self._playing.values())

    def _forget(self, unique_id: str, spy: str) -> None:
        spies = self._playing.get(unique_id)
        if spies is not None:
            spies.discard(spy)
            if not spies:
                del self._playing[unique_id]

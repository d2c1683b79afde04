"""The board's call control for one PBX, at the edges: sends what the pure call control
(switchboard/core/calls/control.py) plans over the bridge's AMI connection, feeds it the
replies, events and a clock, and tells every board who is acting on which call and how
it ended.

Messages to the boards (besides the snapshot's ``claims``):

* ``claim``: a receptionist started an action on a call (:meth:`Claim.to_json`);
* ``action``: how it went: ``result`` confirmed / failed / progress (an attended
  transfer's consultation began), with ``code`` and ``values`` for the text. Confirmed
  and failed end the claim.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from switchboard.board.hub import BoardHub, Message
from switchboard.board.pbxs import ActionSender, PBXUnavailable
from switchboard.core.calls.control import (
    PHONES_CONTEXT,
    Act,
    ActionOutcome,
    Actor,
    CallControl,
    Claim,
    Refusal,
    check_target,
)
from switchboard.core.calls.model import PBXModel

log = logging.getLogger(__name__)

TICK_S = 0.5
# Atxfer works by playing the features.conf keys into the receptionist's channel; one
# sent while the last consultation is still being wound down is silently lost (seen in
# the sandbox within a second of a cancel). A new one waits this long after it.
ATXFER_SETTLE_S = 2.0


class CallDesk:
    """Call control on the PBX named ``pbx``: plans on ``model`` (the bridge's live call
    model), sends with ``send``, tells every board through ``hub``."""

    def __init__(
        self,
        pbx: str,
        model: PBXModel,
        send: ActionSender,
        hub: BoardHub,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pbx = pbx
        self.control = CallControl(pbx)
        self._model = model
        self._send = send
        self._hub = hub
        self._clock = clock
        self._ticker: asyncio.Task[None] | None = None
        self._atxfer_ended: dict[str, float] = {}  # call id -> when its last one ended
        hub.add_snapshot_source(lambda: {"claims": self.control.snapshot()})

    async def command(
        self, act: Act, call_id: str, actor: Actor, target: str = ""
    ) -> Claim | Refusal:
        """Plan and send ``act``; the claim once the PBX accepted it, else why not."""
        if act in (Act.BLIND, Act.ATTENDED) and check_target(target):
            # A transfer to an extension the phones cannot dial hangs the caller up
            # (Asterisk reports it a success): ask the dialplan first.
            unknown = await self._unknown_target(target)
            if unknown is not None:
                return unknown
        plan = self.control.plan(act, call_id, actor, self._model, self._clock(), target)
        if isinstance(plan, Refusal):
            return plan
        self._hub.publish({"type": "claim", **plan.claim.to_json()})
        self._start_ticker()
        if act is Act.ATTENDED:
            ended = self._atxfer_ended.pop(call_id, None)
            if ended is not None and self._clock() - ended < ATXFER_SETTLE_S:
                await asyncio.sleep(ATXFER_SETTLE_S - (self._clock() - ended))
        try:
            reply = await self._send(plan.action)
        except PBXUnavailable as exc:  # not connected, or the connection lost mid-action
            log.warning("%s on %s not sent: %s", plan.action.get("Action"), self.pbx, exc)
            self._publish(self.control.on_reply(plan.claim, False, str(exc)))
            return Refusal("unavailable")
        ok = reply.get("Response", "").lower() == "success"
        message = reply.get("Message", "")
        self._publish(self.control.on_reply(plan.claim, ok, message))
        if not ok:
            return Refusal("refused", {"message": message})
        return plan.claim

    async def _unknown_target(self, target: str) -> Refusal | None:
        try:
            reply = await self._send(
                {"Action": "ShowDialPlan", "Context": PHONES_CONTEXT, "Extension": target}
            )
        except PBXUnavailable as exc:
            log.warning("could not look up %s on %s: %s", target, self.pbx, exc)
            return Refusal("unavailable")
        if reply.get("Response", "").lower() == "error":
            return Refusal("unknown_target", {"target": target})
        return None

    def on_event(self, event: Mapping[str, str]) -> None:
        """Every AMI event, after the bridge's model applied it."""
        try:
            self._publish(self.control.on_event(event, self._model))
        except Exception:
            log.exception("call control could not judge event %r", event)

    def reset(self) -> None:
        """The PBX is being resynchronised: pending actions cannot be confirmed."""
        self._publish(self.control.reset())

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)

    def _start_ticker(self) -> None:
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick(), name=f"call-desk-{self.pbx}")

    async def _tick(self) -> None:
        while self.control.claims:
            await asyncio.sleep(TICK_S)
            self._publish(self.control.on_tick(self._clock()))

    def _publish(self, outcomes: list[ActionOutcome]) -> None:
        for outcome in outcomes:
            if outcome.claim.act is Act.ATTENDED and outcome.ends_claim:
                self._atxfer_ended[outcome.claim.call_id] = self._clock()
            self._hub.publish(outcome_message(outcome))
            log.info(
                "call control %s %s by %s on %s: %s %s",
                outcome.claim.act.value,
                outcome.claim.target,
                outcome.claim.actor.username,
                outcome.claim.call_id,
                outcome.result,
                outcome.code,
            )


def outcome_message(outcome: ActionOutcome) -> Message:
    """The ``action`` message that tells every board how ``outcome``'s action went."""
    message: dict[str, Any] = {
        "type": "action",
        **outcome.claim.to_json(),
        "result": outcome.result,
        "code": outcome.code,
        "values": {"name": outcome.claim.actor.name, **outcome.values},
    }
    return message

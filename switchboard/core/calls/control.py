"""Call control from the board, as a pure core: which AMI action a board command becomes,
who may act on a call (one receptionist at a time), and when the PBX has done it.

No I/O here. The caller of this module (``ami_bridge.call_desk``) sends the planned
AMI action, feeds the reply, every AMI event (after the live model applied it) and a
clock tick back in, and shows the outcomes on every board.

A *claim* is held on a call from the moment an action is planned until the events that
follow confirm it, the PBX refuses it, or nothing confirms it within the action's
timeout. While a call is claimed every other command on it is refused, naming who holds
it. An attended transfer keeps its claim through the consultation, until the caller is
with the target (completed) or back with the receptionist (cancelled, or not answered).

Texts are not made here: outcomes and refusals carry a ``code`` and ``values``; the
board's side turns them into English or Dutch (and a refusal's code into an HTTP status).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum

from switchboard.core.calls.channels import extension_of
from switchboard.core.calls.model import CallState, Channel, Event, PBXModel

#: The dialplan context the board sends a caller to, to ring the receptionist's phone
#: with it (dialplans/extensions.conf [board-deliver]).
DELIVER_CONTEXT = "board-deliver"
#: Where transfer targets are dialled: what the internal phones can dial themselves.
PHONES_CONTEXT = "phones"
#: Where a waiting or parked caller is sent to a target (on to PHONES_CONTEXT).
TRANSFER_CONTEXT = "board-transfer"
# Internal extensions, parking spaces, outside numbers (0..., +...) as a phone dials them.
TARGET = re.compile(r"\+?[0-9]{2,20}")

#: Seconds within which the events must confirm an action, else it counts as failed.
#: Answering waits for a person to pick up a ringing phone (the dialplan rings it for
#: SWITCHBOARD_RING_TIMEOUT = 30 s and then reports why it did not answer).
TIMEOUTS_S = {
    "answer": 45.0,
    "retrieve": 45.0,
    "blind": 10.0,
    "attended": 10.0,  # until the consultation starts; then as long as it takes
    "park": 10.0,
    "hangup": 10.0,
}


class Act(Enum):
    ANSWER = "answer"
    BLIND = "blind"
    ATTENDED = "attended"
    COMPLETE = "complete"  # the attended transfer: put the caller through
    CANCEL = "cancel"  # the attended transfer: back to the caller
    PARK = "park"
    RETRIEVE = "retrieve"
    HANGUP = "hangup"


@dataclass(frozen=True)
class Actor:
    """A logged-in board user; ``extension`` is their own phone ("" if none)."""

    username: str
    name: str
    role: str  # "receptionist" or "admin"
    extension: str = ""

    @property
    def admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Refusal:
    """A command that was not sent: why (``code``: "ended", "claimed_park", "not_yours",
    ...), with the ``values`` its text names."""

    code: str
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    call_id: str
    linked_id: str
    act: Act
    actor: Actor
    target: str  # extension (answer, retrieve: the actor's) or transfer target
    started_at: float
    deadline: float | None
    leg: str = ""  # unique id of the channel acting for the board user, if any
    before: frozenset[str] = frozenset()  # channels of the call when it was planned
    consulting: bool = False  # attended: the receptionist talks to the target
    finishing: Act | None = None  # attended: COMPLETE or CANCEL was sent

    def to_json(self) -> dict[str, str]:
        return {
            "call_id": self.call_id,
            "action": self.act.value,
            "by": self.actor.name,
            "username": self.actor.username,
            "target": self.target,
            "consulting": "yes" if self.consulting else "",
        }


@dataclass(frozen=True)
class Plan:
    """AMI action to send for a command; the claim is held from now on."""

    action: dict[str, str]
    claim: Claim


@dataclass(frozen=True)
class ActionOutcome:
    """How a claimed action went, as the board shows it: ``result`` is "confirmed",
    "failed" or "progress" (an attended transfer's consultation began)."""

    claim: Claim
    result: str
    code: str
    values: Mapping[str, str] = field(default_factory=dict)

    @property
    def ends_claim(self) -> bool:
        return self.result != "progress"


def check_target(target: str) -> bool:
    return bool(TARGET.fullmatch(target))


@dataclass
class CallControl:
    """The claims on one PBX's calls, and the rules that govern them."""

    pbx: str
    claims: dict[str, Claim] = field(default_factory=dict)  # by call id

    # -- commands ------------------------------------------------------------------------

    def plan(
        self, act: Act, call_id: str, actor: Actor, model: PBXModel, now: float, target: str = ""
    ) -> Plan | Refusal:
        refusal = self._check(act, actor, target)
        if refusal is not None:
            return refusal
        linked_id = call_id.removeprefix(f"{self.pbx}:")
        caller = model.channels.get(linked_id)
        if linked_id == call_id or linked_id not in model.calls or caller is None:
            return Refusal("ended")
        held = self.claims.get(call_id)
        if act in (Act.COMPLETE, Act.CANCEL):
            return self._finish(act, held, actor, model)
        if held is not None:
            return Refusal(f"claimed_{held.act.value}", {"name": held.actor.name})
        peers = _bridged_with(model, caller)
        mine = [c for c in peers if extension_of(c.name) == actor.extension]
        leg = mine[0] if actor.extension and mine else None
        if leg is None and actor.admin and act in (Act.BLIND, Act.PARK, Act.HANGUP) and peers:
            leg = peers[0]  # an admin acts for the colleague on the call
        state = model.calls[linked_id].state
        parked = state is CallState.PARKED
        waiting = state in (CallState.RINGING, CallState.QUEUED)
        action: dict[str, str]
        if act is Act.ANSWER:
            if not waiting:
                return Refusal("parked" if parked else "already_answered")
            target = actor.extension
            action = _redirect(caller, DELIVER_CONTEXT, target)
        elif act is Act.RETRIEVE:
            if not parked:
                return Refusal("not_parked")
            target = actor.extension
            action = _redirect(caller, DELIVER_CONTEXT, target)
        elif act is Act.BLIND:
            if leg is not None:
                action = {
                    "Action": "BlindTransfer",
                    "Channel": leg.name,
                    "Context": PHONES_CONTEXT,
                    "Exten": target,
                }
            elif waiting or parked:  # send the caller straight there
                action = _redirect(caller, TRANSFER_CONTEXT, target)
            else:
                return Refusal("not_yours")
        elif act is Act.ATTENDED:
            if leg is None or extension_of(leg.name) != actor.extension:
                return Refusal("answer_first")
            action = {
                "Action": "Atxfer",
                "Channel": leg.name,
                "Context": PHONES_CONTEXT,
                "Exten": target,
            }
        elif act is Act.PARK:
            if leg is None:
                return Refusal("not_yours" if peers else "answer_first")
            action = {"Action": "Park", "Channel": caller.name, "TimeoutChannel": leg.name}
        else:  # HANGUP: a waiting or parked caller, your own call, or (admins) any call
            if leg is None and not (waiting or parked or actor.admin):
                return Refusal("not_yours")
            action = {"Action": "Hangup", "Channel": caller.name, "Cause": "16"}
        claim = Claim(
            call_id=call_id,
            linked_id=linked_id,
            act=act,
            actor=actor,
            target=target,
            started_at=now,
            deadline=now + TIMEOUTS_S[act.value],
            leg=leg.unique_id if leg else "",
            before=frozenset(c.unique_id for c in _members(model, linked_id)),
        )
        self.claims[call_id] = claim
        return Plan(action, claim)

    @staticmethod
    def _check(act: Act, actor: Actor, target: str) -> Refusal | None:
        if act in (Act.ANSWER, Act.RETRIEVE, Act.ATTENDED) and not actor.extension:
            return Refusal("no_extension")
        if act in (Act.BLIND, Act.ATTENDED):
            if not check_target(target):
                return Refusal("bad_target", {"target": target[:30]})
            if target == actor.extension:
                return Refusal("own_extension", {"target": target})
        return None

    def _finish(
        self, act: Act, held: Claim | None, actor: Actor, model: PBXModel
    ) -> Plan | Refusal:
        if held is None or held.act is not Act.ATTENDED:
            return Refusal("no_transfer")
        if held.actor.username != actor.username:
            return Refusal(f"claimed_{held.act.value}", {"name": held.actor.name})
        leg = model.channels.get(held.leg)
        if not held.consulting or held.finishing is not None or leg is None:
            return Refusal("no_transfer")
        # Hanging up the receptionist's consultation leg completes the transfer
        # (features.conf: atxferdropcall = no); hanging up the colleague's side brings
        # the receptionist back to the caller, with no keys played into their channel
        # (CancelAtxfer plays the atxferabort keys; it is the fallback).
        consulted = [
            c for c in model.channels.values() if c.bridge_id == leg.bridge_id != "" and c != leg
        ]
        if act is Act.COMPLETE:
            action = {"Action": "Hangup", "Channel": leg.name, "Cause": "16"}
        elif consulted:
            action = {"Action": "Hangup", "Channel": consulted[0].name, "Cause": "16"}
        else:
            action = {"Action": "CancelAtxfer", "Channel": leg.name}
        claim = replace(held, finishing=act)
        self.claims[held.call_id] = claim
        return Plan(action, claim)

    # -- what the PBX says ---------------------------------------------------------------

    def on_reply(self, claim: Claim, ok: bool, message: str) -> list[ActionOutcome]:
        """The AMI reply to ``claim``'s action (``ok`` is Response: Success)."""
        if ok or self.claims.get(claim.call_id) != claim:
            return []
        if claim.finishing is not None:
            # Completing or cancelling failed: the consultation goes on.
            self.claims[claim.call_id] = replace(claim, finishing=None)
            return [ActionOutcome(claim, "progress", "refused", {"message": message})]
        del self.claims[claim.call_id]
        return [ActionOutcome(claim, "failed", "refused", {"message": message})]

    def on_event(self, event: Event, model: PBXModel) -> list[ActionOutcome]:
        """An AMI event, after the live model applied it."""
        outcomes: list[ActionOutcome] = []
        for claim in list(self.claims.values()):
            outcome = self._judge(claim, event, model)
            if outcome is None:
                continue
            if outcome.ends_claim:
                del self.claims[claim.call_id]
            else:
                self.claims[claim.call_id] = outcome.claim
            outcomes.append(outcome)
        return outcomes

    def on_tick(self, now: float) -> list[ActionOutcome]:
        """Claims nothing confirmed in time fail."""
        expired = [c for c in self.claims.values() if c.deadline is not None and now > c.deadline]
        for claim in expired:
            del self.claims[claim.call_id]
        return [
            ActionOutcome(c, "failed", "timeout", {"seconds": f"{TIMEOUTS_S[c.act.value]:.0f}"})
            for c in expired
        ]

    def reset(self) -> list[ActionOutcome]:
        """The connection to the PBX was lost: nothing pending can be confirmed any more."""
        outcomes = [ActionOutcome(c, "failed", "disconnected") for c in self.claims.values()]
        self.claims.clear()
        return outcomes

    def _judge(self, claim: Claim, event: Event, model: PBXModel) -> ActionOutcome | None:
        """The claim's outcome if ``event`` (and the model after it) decides it."""
        caller = model.channels.get(claim.linked_id)
        call = model.calls.get(claim.linked_id)
        if call is None or caller is None:
            if claim.act is Act.HANGUP:
                return ActionOutcome(claim, "confirmed", "hangup_done")
            return ActionOutcome(claim, "failed", "ended")
        peers = {extension_of(c.name) for c in _bridged_with(model, caller)}
        act = claim.act
        if act in (Act.ANSWER, Act.RETRIEVE):
            if claim.target in peers:
                return ActionOutcome(
                    claim, "confirmed", f"{act.value}_done", {"extension": claim.target}
                )
            if (
                event.get("UserEvent") == "SwitchboardDeliver"
                and event.get("Linkedid") == claim.linked_id
            ):
                status = event.get("DialStatus", "")
                return ActionOutcome(
                    claim, "failed", "not_taken", {"extension": claim.target, "status": status}
                )
        elif act is Act.BLIND:
            rang = any(
                extension_of(c.name) == claim.target and c.unique_id not in claim.before
                for c in _members(model, claim.linked_id)
            )
            leg_gone = claim.leg == "" or extension_of(_name(model, claim.leg)) not in peers
            if rang and leg_gone:
                return ActionOutcome(claim, "confirmed", "blind_done", {"target": claim.target})
        elif act is Act.PARK:
            if call.state is CallState.PARKED:
                return ActionOutcome(claim, "confirmed", "park_done", {"space": call.parked_space})
        elif act is Act.ATTENDED:
            return self._judge_attended(claim, model, caller, peers)
        return None

    def _judge_attended(
        self, claim: Claim, model: PBXModel, caller: Channel, peers: set[str]
    ) -> ActionOutcome | None:
        leg = model.channels.get(claim.leg)
        leg_with_caller = leg is not None and leg.bridge_id == caller.bridge_id != ""
        values = {"target": claim.target}
        if claim.target in peers and not leg_with_caller:
            return ActionOutcome(claim, "confirmed", "attended_done", values)
        if not claim.consulting:
            if leg is not None and not leg_with_caller:
                consulting = replace(claim, consulting=True, deadline=None)
                return ActionOutcome(consulting, "progress", "consulting", values)
            return None
        if leg_with_caller:
            code = "cancel_done" if claim.finishing is Act.CANCEL else "target_no_answer"
            return ActionOutcome(
                claim, "confirmed" if code == "cancel_done" else "failed", code, values
            )
        if leg is None and claim.target not in peers and claim.finishing is not Act.COMPLETE:
            # The receptionist hung up while the target still rang: the caller now rings
            # the target (features.conf atxferdropcall = no), as a blind transfer would.
            return ActionOutcome(claim, "confirmed", "attended_done", values)
        return None

    def snapshot(self) -> list[dict[str, str]]:
        return [claim.to_json() for claim in self.claims.values()]


def _members(model: PBXModel, linked_id: str) -> list[Channel]:
    return [c for c in model.channels.values() if c.linked_id == linked_id]


def _bridged_with(model: PBXModel, caller: Channel) -> list[Channel]:
    """The channels in the caller's bridge, real phones before Local helper channels."""
    if not caller.bridge_id:
        return []
    peers = [
        c
        for c in model.channels.values()
        if c.bridge_id == caller.bridge_id and c.unique_id != caller.unique_id
    ]
    return sorted(peers, key=lambda c: c.name.startswith("Local/"))


def _name(model: PBXModel, unique_id: str) -> str:
    channel = model.channels.get(unique_id)
    return channel.name if channel else ""


def _redirect(caller: Channel, context: str, exten: str) -> dict[str, str]:
    return {
        "Action": "Redirect",
        "Channel": caller.name,
        "Context": context,
        "Exten": exten,
        "Priority": "1",
    }

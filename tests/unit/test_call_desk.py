"""The call desk's edges: what the boards are told, and how AMI replies and a missing PBX
become refusals. The AMI connection is a stand-in here; the real one is proven in
tests/integration/test_call_control_sandbox.py."""

from __future__ import annotations

from collections.abc import Mapping

from ami_bridge.call_desk import CallDesk
from switchboard.board.hub import BoardHub
from switchboard.board.pbxs import PBXUnavailable
from switchboard.core.calls.control import Act, Actor, Claim, Refusal
from switchboard.core.calls.model import PBXModel
from tests.unit.test_call_control import WAITING, WITH_ANNA, ev, model_after

ANNA = Actor("anna", "Anna", "receptionist", "200")


class FakePBX:
    def __init__(self, replies: dict[str, dict[str, str]]) -> None:
        self.replies = replies
        self.sent: list[dict[str, str]] = []

    async def send(self, action: Mapping[str, str]) -> dict[str, str]:
        self.sent.append(dict(action))
        reply = self.replies.get(action["Action"])
        if reply is None:
            raise PBXUnavailable("not connected")
        return reply


def desk_for(model: PBXModel, pbx: FakePBX) -> tuple[CallDesk, list[dict[str, object]]]:
    hub = BoardHub()
    published: list[dict[str, object]] = []
    hub.publish = published.append  # type: ignore[method-assign]
    return CallDesk("pbx", model, pbx.send, hub, clock=lambda: 5.0), published


OK = {"Response": "Success", "Message": "ok"}
LISTED = {"Event": "ShowDialPlanComplete", "ListItems": "3"}


async def test_an_accepted_action_is_claimed_then_confirmed_on_every_board() -> None:
    model = model_after(WITH_ANNA)
    pbx = FakePBX({"ShowDialPlan": LISTED, "BlindTransfer": OK})
    desk, published = desk_for(model, pbx)
    result = await desk.command(Act.BLIND, "pbx:1.1", ANNA, "201")
    assert isinstance(result, Claim)
    assert [a["Action"] for a in pbx.sent] == ["ShowDialPlan", "BlindTransfer"]
    assert published[0]["type"] == "claim" and published[0]["by"] == "Anna"
    for event in [
        ev("BridgeLeave", "1.2", "1.1", "PJSIP/200-00000002", BridgeUniqueid="b1"),
        ev("Hangup", "1.2", "1.1", "PJSIP/200-00000002"),
        ev("Newchannel", "1.4", "1.1", "PJSIP/201-00000004"),
    ]:
        model.apply(event, now=6.0)
        desk.on_event(event)
    last = published[-1]
    assert (last["type"], last["result"], last["code"]) == ("action", "confirmed", "blind_done")
    assert last["values"] == {"name": "Anna", "target": "201"}
    await desk.close()


async def test_a_target_the_phones_cannot_dial_is_refused_before_anything_happens() -> None:
    pbx = FakePBX({"ShowDialPlan": {"Response": "Error", "Message": "Did not find"}})
    desk, published = desk_for(model_after(WITH_ANNA), pbx)
    result = await desk.command(Act.BLIND, "pbx:1.1", ANNA, "299")
    assert result == Refusal("unknown_target", {"target": "299"})
    assert [a["Action"] for a in pbx.sent] == ["ShowDialPlan"] and published == []


async def test_a_refusing_or_missing_pbx_fails_the_action_plainly_and_frees_the_call() -> None:
    refusing = FakePBX({"Redirect": {"Response": "Error", "Message": "Channel does not exist"}})
    desk, published = desk_for(model_after(WAITING), refusing)
    result = await desk.command(Act.ANSWER, "pbx:1.1", ANNA)
    assert result == Refusal("refused", {"message": "Channel does not exist"})
    assert [m["type"] for m in published] == ["claim", "action"]
    assert published[-1]["result"] == "failed" and desk.control.claims == {}

    desk, published = desk_for(model_after(WAITING), FakePBX({}))
    assert await desk.command(Act.ANSWER, "pbx:1.1", ANNA) == Refusal("unavailable")
    assert published[-1]["code"] == "refused" and desk.control.claims == {}

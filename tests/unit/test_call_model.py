"""The live call model, fed AMI events as Asterisk 22 sends them."""

import pytest

from switchboard.core.calls.model import (
    HUNG_UP_REMEMBERED,
    CallChanged,
    CallEnded,
    CallState,
    Event,
    PBXModel,
)
from switchboard.core.calls.presence import PresenceChange
from switchboard.core.calls.state import PBXState


def channel(event: str, uid: str, linked: str, name: str, **extra: str) -> dict[str, str]:
    return {
        "Event": event,
        "Uniqueid": uid,
        "Linkedid": linked,
        "Channel": name,
        "CallerIDNum": extra.pop("num", "0612345678"),
        "CallerIDName": extra.pop("cname", "<unknown>"),
        "ChannelStateDesc": extra.pop("state", "Ring"),
        **extra,
    }


def inbound_call_answered_by_operator() -> list[dict[str, str]]:
    caller = ("1.1", "1.1", "PJSIP/trunk-00000001")
    operator = ("1.2", "1.1", "PJSIP/100-00000002")
    return [
        channel("Newchannel", *caller),
        channel("NewCallerid", *caller, cname="Jansen - Bakkerij"),
        channel("QueueCallerJoin", *caller, cname="Jansen - Bakkerij", Queue="switchboard"),
        channel("Newchannel", *operator, num="100", state="Down"),
        channel("QueueCallerLeave", *caller, cname="Jansen - Bakkerij", Queue="switchboard"),
        channel("BridgeEnter", *operator, num="100", state="Up", BridgeUniqueid="b1"),
        channel("BridgeEnter", *caller, cname="Jansen - Bakkerij", state="Up", BridgeUniqueid="b1"),
        channel("BridgeLeave", *caller, cname="Jansen - Bakkerij", state="Up", BridgeUniqueid="b1"),
        channel("Hangup", *caller, cname="Jansen - Bakkerij", state="Up"),
        channel("BridgeLeave", *operator, num="100", state="Up", BridgeUniqueid="b1"),
        channel("Hangup", *operator, num="100", state="Up"),
    ]


def test_a_caller_shows_with_recognised_name_then_queue_then_conversation_then_gone() -> None:
    model = PBXModel("pbx1")
    seen = []
    for t, event in enumerate(inbound_call_answered_by_operator()):
        seen.extend((t, change) for change in model.apply(event, now=100.0 + t))
    states = [(change.call.state, change.call.caller_name) for _, change in seen]
    assert states[0] == (CallState.RINGING, "")
    assert (CallState.RINGING, "Jansen - Bakkerij") in states
    assert (CallState.QUEUED, "Jansen - Bakkerij") in states
    talking = [c.call for _, c in seen if c.call.state is CallState.TALKING]
    assert talking and talking[0].talking_with == "100" and talking[0].answered_at == 106.0
    last = seen[-1][1]
    assert isinstance(last, CallEnded)
    # Ended when the caller hung up (t=8), not when the last leg went (t=10).
    assert last.call.ended_at == 108.0 and last.call.started_at == 100.0
    assert model.snapshot() == []


def test_one_call_per_linkedid_however_many_channels() -> None:
    model = PBXModel("pbx1")
    for event in inbound_call_answered_by_operator()[:6]:
        model.apply(event, now=1.0)
    assert [call.linked_id for call in model.snapshot()] == ["1.1"]


def test_unrelated_events_and_events_without_uniqueid_change_nothing() -> None:
    model = PBXModel("pbx1")
    assert model.apply({"Event": "FullyBooted"}, now=1.0) == []
    assert model.apply({"Event": "Newchannel"}, now=1.0) == []
    assert model.apply({"Event": "Hangup", "Uniqueid": "never-seen"}, now=1.0) == []
    assert model.snapshot() == []


def test_attaching_mid_call_every_suffix_of_a_call_is_accepted() -> None:
    events = inbound_call_answered_by_operator()
    for start in range(len(events)):
        model = PBXModel("pbx1")
        for event in events[start:]:
            model.apply(event, now=5.0)
        assert model.snapshot() == [], f"call left behind when attaching at event {start}"


def test_resync_ignores_channels_that_hung_up_meanwhile() -> None:
    model = PBXModel("pbx1")
    model.reset()
    model.apply(channel("Hangup", "9.9", "9.9", "PJSIP/trunk-9"), now=1.0)
    stale = channel("CoreShowChannel", "9.9", "9.9", "PJSIP/trunk-9")
    assert model.apply(stale, now=1.0) == []
    assert model.snapshot() == []


def test_resync_rebuilds_a_call_from_the_channel_list() -> None:
    model = PBXModel("pbx1")
    changes = model.apply(
        channel("CoreShowChannel", "7.1", "7.1", "PJSIP/trunk-7", cname="De Vries"), now=3.0
    )
    assert isinstance(changes[0], CallChanged)
    assert changes[0].call.caller_name == "De Vries"


def test_a_callers_own_name_is_shown_harmless_before_recognition() -> None:
    model = PBXModel("pbx1")
    hostile = channel("Newchannel", "5.1", "5.1", "PJSIP/trunk-5", cname='Eve\\" <b>\nEXEC')
    (change,) = model.apply(hostile, now=1.0)
    assert change.call.caller_name == "Eve b EXEC"


def test_the_recognition_confidence_reaches_the_call() -> None:
    model = PBXModel("pbx1")
    model.apply(channel("Newchannel", "6.1", "6.1", "PJSIP/trunk-6"), now=1.0)
    event = channel("UserEvent", "6.1", "6.1", "PJSIP/trunk-6")
    event |= {"UserEvent": "SwitchboardRecognition", "Confidence": "unverified", "ContactId": "42"}
    (change,) = model.apply(event, now=2.0)
    assert change.call.confidence == "unverified"
    assert change.call.contact_id == "42"


def test_the_call_keeps_its_caller_when_the_caller_leg_hangs_up_first() -> None:
    model = PBXModel("pbx1")
    events = inbound_call_answered_by_operator()
    for event in events[:9]:  # up to and including the caller's Hangup
        changes = model.apply(event, now=1.0)
    for change in changes:
        assert change.call.caller_number == "0612345678"
        assert change.call.caller_name == "Jansen - Bakkerij"


def test_the_call_ends_when_the_caller_hangs_up_even_if_a_phone_still_rings() -> None:
    model = PBXModel("pbx1")
    caller = ("3.1", "3.1", "PJSIP/trunk-3")
    ringing_phone = ("3.2", "3.1", "PJSIP/100-3")
    model.apply(channel("Newchannel", *caller), now=1.0)
    model.apply(channel("Newchannel", *ringing_phone, num="100", state="Ringing"), now=2.0)
    (ended,) = model.apply(channel("Hangup", *caller), now=3.0)
    assert isinstance(ended, CallEnded) and ended.call.caller_number == "0612345678"
    assert model.snapshot() == []
    # The ringing leg's own events afterwards do not bring the call back.
    assert model.apply(channel("Newstate", *ringing_phone, num="100", state="Down"), now=4.0) == []
    assert model.apply(channel("Hangup", *ringing_phone, num="100"), now=5.0) == []
    assert model.snapshot() == [] and not model.channels


def test_a_call_rebuilt_after_reconnect_keeps_its_age_and_its_queue() -> None:
    model = PBXModel("pbx1")
    listed = channel("CoreShowChannel", "8.1", "8.1", "PJSIP/trunk-8", Duration="00:01:05")
    model.apply(listed, now=1000.0)
    queued = channel("QueueEntry", "8.1", "8.1", "PJSIP/trunk-8", Queue="switchboard")
    model.apply(queued, now=1000.0)
    (call,) = model.snapshot()
    assert call.started_at == 935.0
    assert call.state is CallState.QUEUED and call.queue == "switchboard"


def test_withheld_callers_have_neither_name_nor_number_to_show() -> None:
    model = PBXModel("pbx1")
    event = channel("Newchannel", "4.1", "4.1", "PJSIP/trunk-4", num="anonymous", cname="unknown")
    (change,) = model.apply(event, now=1.0)
    assert change.call.caller_number == "" and change.call.caller_name == ""


# -- transfers, parking, outcomes ------------------------------------------------------


def answered_call(model: PBXModel) -> None:
    """Caller 1.1 in the queue, answered by the operator (100) in bridge b1."""
    for t, event in enumerate(inbound_call_answered_by_operator()[:7]):
        model.apply(event, now=100.0 + t)


def test_a_blind_transfer_names_who_transferred_to_whom() -> None:
    model = PBXModel("pbx1")
    answered_call(model)
    event = {
        "Event": "BlindTransfer",
        "Result": "Success",
        "TransfererChannel": "PJSIP/100-00000002",
        "TransfererCallerIDNum": "100",
        "TransfererUniqueid": "1.2",
        "TransfereeUniqueid": "1.1",
        "TransfereeLinkedid": "1.1",
        "Extension": "201",
    }
    (change,) = model.apply(event, now=110.0)
    assert change.call.to_json()["transfers"] == [
        {"kind": "blind", "by": "100", "to": "201", "at": 110.0, "failed": "", "then": ""}
    ]
    # 201 answers: talking with 201 since then, answered (by 100) long before.
    model.apply(channel("BridgeLeave", "1.1", "1.1", "PJSIP/trunk-00000001"), now=110.0)
    for uid, name in (("1.3", "PJSIP/201-00000003"), ("1.1", "PJSIP/trunk-00000001")):
        model.apply(channel("BridgeEnter", uid, "1.1", name, BridgeUniqueid="b2"), now=112.0)
    model.apply(channel("Newstate", "1.1", "1.1", "PJSIP/trunk-00000001", state="Up"), 113.0)
    talking = model.calls["1.1"]
    assert (talking.talking_with, talking.talking_since, talking.answered_at) == ("201", 112, 106)
    (ended,) = model.apply(channel("Hangup", "1.1", "1.1", "PJSIP/trunk-00000001"), now=120.0)
    assert ended.call.outcome == "transferred" and ended.call.answered_by == "100"


def test_a_failed_transfer_or_one_for_an_unknown_call_changes_nothing() -> None:
    model = PBXModel("pbx1")
    answered_call(model)
    failed = {"Event": "BlindTransfer", "Result": "Fail", "TransfereeLinkedid": "1.1"}
    stranger = {"Event": "AttendedTransfer", "Result": "Success", "TransfereeLinkedid": "9.9"}
    assert model.apply(failed, now=110.0) == [] and model.apply(stranger, now=110.0) == []
    assert model.calls["1.1"].transfers == ()


def test_the_answered_call_alone_in_its_bridge_is_on_hold() -> None:
    # Attended transfer: the operator leaves the caller's bridge to ask 201 first.
    model = PBXModel("pbx1")
    answered_call(model)
    leave = channel("BridgeLeave", "1.2", "1.1", "PJSIP/100-00000002", num="100", state="Up")
    (change,) = model.apply(leave | {"BridgeUniqueid": "b1"}, now=110.0)
    assert change.call.state is CallState.HELD and change.call.talking_with == ""


def parked(space: str = "701") -> dict[str, str]:
    return {
        "Event": "ParkedCall",
        "ParkeeUniqueid": "1.1",
        "ParkeeLinkedid": "1.1",
        "ParkerDialString": "PJSIP/100",
        "ParkingSpace": space,
    }


def park(model: PBXModel, now: float) -> list[CallChanged | CallEnded]:
    """As Asterisk does it: ParkedCall, then the caller moves to the lot's holding bridge."""
    changes = model.apply(parked(), now=now)
    caller = ("1.1", "1.1", "PJSIP/trunk-00000001")
    model.apply(channel("BridgeLeave", *caller, BridgeUniqueid="b1"), now=now)
    lot = channel("BridgeEnter", *caller, BridgeUniqueid="lot", BridgeTechnology="holding_bridge")
    model.apply(lot, now=now)
    return changes


def test_a_caller_who_gives_up_while_parked_ended_parked() -> None:
    model = PBXModel("pbx1")
    answered_call(model)
    (change,) = park(model, now=110.0)
    assert change.call.state is CallState.PARKED
    assert model.calls["1.1"].state is CallState.PARKED
    assert (change.call.parked_space, change.call.parked_by) == ("701", "100")
    model.apply(
        {"Event": "ParkedCallGiveUp", "ParkeeUniqueid": "1.1", "ParkeeLinkedid": "1.1"}, 130
    )
    (ended,) = model.apply(channel("Hangup", "1.1", "1.1", "PJSIP/trunk-00000001"), now=130.0)
    assert ended.call.outcome == "parked" and ended.call.picked_up_by == ""


def test_a_parked_call_back_with_the_operator_after_the_timeout_was_simply_answered() -> None:
    model = PBXModel("pbx1")
    answered_call(model)
    park(model, now=110.0)
    timeout = {"Event": "ParkedCallTimeOut", "ParkeeUniqueid": "1.1", "ParkeeLinkedid": "1.1"}
    (change,) = model.apply(timeout, now=170.0)
    assert change.call.state is not CallState.PARKED
    # The parking lot rings the operator again, who answers.
    back = channel("Newchannel", "1.5", "1.1", "PJSIP/100-00000005", num="100", state="Down")
    model.apply(back, now=171.0)
    for uid, name in (("1.5", "PJSIP/100-00000005"), ("1.1", "PJSIP/trunk-00000001")):
        model.apply(channel("BridgeEnter", uid, "1.1", name, BridgeUniqueid="b5"), now=172.0)
    assert model.calls["1.1"].picked_up_by == "100"
    (ended,) = model.apply(channel("Hangup", "1.1", "1.1", "PJSIP/trunk-00000001"), now=180.0)
    assert ended.call.outcome == "answered"


def test_a_parked_call_nobody_took_back_ended_parked() -> None:
    # The parking timed out, rang the operator, and the caller hung up meanwhile.
    model = PBXModel("pbx1")
    answered_call(model)
    park(model, now=110.0)
    timeout = {"Event": "ParkedCallTimeOut", "ParkeeUniqueid": "1.1", "ParkeeLinkedid": "1.1"}
    model.apply(timeout, now=170.0)
    (ended,) = model.apply(channel("Hangup", "1.1", "1.1", "PJSIP/trunk-00000001"), now=175.0)
    assert ended.call.outcome == "parked"


def test_callers_parked_side_by_side_do_not_talk_with_each_other() -> None:
    model = PBXModel("pbx1")
    for uid in ("5.1", "6.1"):
        lot = channel("BridgeEnter", uid, uid, f"PJSIP/trunk-{uid}", BridgeUniqueid="lot")
        model.apply(lot | {"BridgeTechnology": "holding_bridge"}, now=1.0)
    assert all(c.state is not CallState.TALKING for c in model.snapshot())


def test_a_phone_whose_channel_joins_another_call_ends_its_own_as_merged() -> None:
    # Phone 201 dials 701 to pick up a parked call; bridging gives its channel the
    # parked call's linked id.
    model = PBXModel("pbx1")
    answered_call(model)
    model.apply(channel("Newchannel", "2.1", "2.1", "PJSIP/201-3", num="201", Exten="701"), 111)
    assert model.calls["2.1"].dialled == "701"
    enter = channel("BridgeEnter", "2.1", "1.1", "PJSIP/201-3", num="201", BridgeUniqueid="b9")
    changes = model.apply(enter, now=112.0)
    (merged,) = [c for c in changes if isinstance(c, CallEnded)]
    assert merged.call.outcome == "merged" and merged.call.merged_into == "1.1"
    assert "2.1" not in model.calls


def internal_call() -> list[dict[str, str]]:
    return [
        channel("Newchannel", "3.1", "3.1", "PJSIP/200-1", num="200", Exten="201"),
        channel("Newchannel", "3.2", "3.1", "PJSIP/201-2", num="201", state="Down"),
    ]


def test_a_busy_phone_makes_a_missed_call() -> None:
    model = PBXModel("pbx1")
    for event in internal_call():
        model.apply(event, now=1.0)
    model.apply(channel("DialEnd", "3.1", "3.1", "PJSIP/200-1", num="200", DialStatus="BUSY"), 1.1)
    model.apply(channel("Hangup", "3.2", "3.1", "PJSIP/201-2", num="201"), now=1.2)
    (ended,) = model.apply(channel("Hangup", "3.1", "3.1", "PJSIP/200-1", num="200"), now=1.3)
    assert (ended.call.outcome, ended.call.unanswered_reason) == ("missed", "busy")


def test_a_caller_who_hangs_up_while_it_rings_abandoned_the_call() -> None:
    model = PBXModel("pbx1")
    for event in internal_call():
        model.apply(event, now=1.0)
    model.apply(channel("HangupRequest", "3.1", "3.1", "PJSIP/200-1", num="200"), now=5.0)
    (ended,) = model.apply(channel("Hangup", "3.1", "3.1", "PJSIP/200-1", num="200"), now=5.0)
    assert ended.call.outcome == "abandoned"


def test_a_caller_whose_dial_is_cancelled_abandoned_the_call_without_a_hangup_request() -> None:
    # Issue 12, item 7: recordings that lack HangupRequest (filtered, or an older
    # Asterisk) still say so in the caller's DialEnd: DialStatus CANCEL.
    model = PBXModel("pbx1")
    for event in internal_call():
        model.apply(event, now=1.0)
    cancel = channel("DialEnd", "3.1", "3.1", "PJSIP/200-1", num="200", DialStatus="CANCEL")
    model.apply(cancel, now=5.0)
    model.apply(channel("Hangup", "3.2", "3.1", "PJSIP/201-2", num="201"), now=5.0)
    (ended,) = model.apply(channel("Hangup", "3.1", "3.1", "PJSIP/200-1", num="200"), now=5.0)
    assert (ended.call.outcome, ended.call.unanswered_reason) == ("abandoned", "")


def test_a_cancelled_ring_of_the_phone_that_lost_to_another_is_no_abandon() -> None:
    # A ring group: 201 and 202 ring, 202 answers, Asterisk cancels 201's ring with a
    # DialEnd CANCEL on the caller's channel. The call was answered all the same.
    model = PBXModel("pbx1")
    for event in internal_call():
        model.apply(event, now=1.0)
    model.apply(
        channel("DialEnd", "3.1", "3.1", "PJSIP/200-1", num="200", DialStatus="CANCEL"), 2.0
    )
    for event in (
        channel("BridgeEnter", "3.1", "3.1", "PJSIP/200-1", num="200", BridgeUniqueid="b"),
        channel("BridgeEnter", "3.2", "3.1", "PJSIP/201-2", num="201", BridgeUniqueid="b"),
    ):
        model.apply(event, now=2.0)
    model.apply(channel("Hangup", "3.2", "3.1", "PJSIP/201-2", num="201"), now=9.0)
    (ended,) = model.apply(channel("Hangup", "3.1", "3.1", "PJSIP/200-1", num="200"), now=9.0)
    assert ended.call.answered_at == 2.0 and ended.call.outcome != "abandoned"


def test_a_resync_keeps_what_was_known_and_ends_calls_no_longer_listed() -> None:
    model = PBXModel("pbx1")
    answered_call(model)  # answered at 106 by 100
    for event in internal_call():
        model.apply(event, now=107.0)
    model.reset()
    still_up = [
        channel("CoreShowChannel", "1.1", "1.1", "PJSIP/trunk-00000001", BridgeId="b1"),
        channel("CoreShowChannel", "1.2", "1.1", "PJSIP/100-2", num="100", BridgeId="b1"),
    ]
    for event in still_up:
        model.apply(event | {"Duration": "00:00:50"}, now=150.0)
    call = model.calls["1.1"]
    assert (call.started_at, call.answered_at, call.answered_by) == (100.0, 106.0, "100")
    assert call.via_queue == "switchboard" and call.state is CallState.TALKING
    (ended,) = model.apply({"Event": "CoreShowChannelsComplete", "EventList": "Complete"}, 150.0)
    assert ended.call.linked_id == "3.1" and ended.call.ended_at == 150.0
    assert ended.call.outcome == "missed"
    assert [c.linked_id for c in model.snapshot()] == ["1.1"]


def test_parties_are_named_as_the_receptionist_knows_them() -> None:
    model = PBXModel("pbx1")
    caller = ("4.1", "4.1", "PJSIP/201-1")
    model.apply(channel("BridgeEnter", *caller, num="201", BridgeUniqueid="b4"), now=1.0)
    trunk = channel("BridgeEnter", "4.2", "4.1", "PJSIP/trunk-2", BridgeUniqueid="b4")
    (change,) = model.apply(trunk, now=2.0)
    assert change.call.talking_with == "0612345678"  # the number at the other end
    local = channel("BridgeEnter", "4.3", "4.1", "Local/203@phones-00000001;1", num="100")
    model.apply(local | {"BridgeUniqueid": "b4"}, now=3.0)
    assert model.calls["4.1"].talking_with == "0612345678, 203"


def test_a_long_running_model_keeps_nothing_of_calls_that_are_over() -> None:
    # The bridge runs for months: ended calls and hung-up channels must not pile up.
    model = PBXModel("pbx1")
    for round_ in range(3):
        for t, event in enumerate(inbound_call_answered_by_operator()):
            ids = {k: f"{round_}-{v}" for k, v in event.items() if k in {"Uniqueid", "Linkedid"}}
            model.apply(event | ids, now=float(t))

    def leftovers() -> dict[str, int]:
        return {k: n for k, n in model.sizes().items() if n and k != "hung_up"}

    assert not leftovers()
    model.reset()
    model.apply(channel("Hangup", "9.9", "9.9", "PJSIP/trunk-9"), now=1.0)
    model.apply({"Event": "CoreShowChannelsComplete"}, now=1.0)
    assert not leftovers()
    # Hung-up channels are remembered (against late events), but only the latest ones.
    for n in range(HUNG_UP_REMEMBERED + 10):
        model.apply(channel("Hangup", f"h.{n}", f"h.{n}", "PJSIP/trunk-x"), now=1.0)
    assert len(model._hung_up) == HUNG_UP_REMEMBERED
    assert f"h.{HUNG_UP_REMEMBERED + 9}" in model._hung_up and "h.0" not in model._hung_up


def test_a_parked_call_is_still_parked_after_a_resync() -> None:
    model = PBXModel("pbx1")
    answered_call(model)
    park(model, now=110.0)
    model.reset()
    # The channel list shows the lot's holding bridge, with another parked caller in it.
    for uid in ("1.1", "7.1"):
        listed = channel("CoreShowChannel", uid, uid, f"PJSIP/trunk-{uid}", BridgeId="lot")
        model.apply(listed, now=120.0)
    model.apply({"Event": "CoreShowChannelsComplete"}, now=120.0)
    call = model.calls["1.1"]
    assert call.state is CallState.PARKED and call.talking_with == ""
    (ended,) = model.apply(channel("Hangup", "1.1", "1.1", "PJSIP/trunk-1.1"), now=130.0)
    assert ended.call.outcome == "parked"


def test_a_call_first_seen_in_a_parking_lot_is_parked_not_talking() -> None:
    # The service (re)starts while two callers wait in the lot's holding bridge: the
    # channel list cannot tell, the ParkedCalls list that follows does.
    model = PBXModel("pbx1")
    model.reset()
    for uid in ("5.1", "6.1"):
        listed = channel("CoreShowChannel", uid, uid, f"PJSIP/trunk-{uid}", BridgeId="lot")
        model.apply(listed, now=100.0)
    model.apply({"Event": "CoreShowChannelsComplete"}, now=100.0)
    for uid, space in (("5.1", "701"), ("6.1", "702")):
        listed = parked(space) | {"ParkeeUniqueid": uid, "ParkeeLinkedid": uid}
        model.apply(listed | {"ParkingDuration": "30", "ActionID": "a1"}, now=100.0)
    assert [(c.state, c.parked_space, c.parked_at, c.answered_by) for c in model.snapshot()] == [
        (CallState.PARKED, "701", 70.0, "100"),
        (CallState.PARKED, "702", 70.0, "100"),
    ]


def test_waiting_callers_know_their_place_and_a_vip_goes_first() -> None:
    model = PBXModel("pbx1")

    def places() -> dict[str, int]:
        return {c.linked_id: c.queue_position for c in model.snapshot() if c.queue_position}

    def join(uid: str, position: str, queue: str = "switchboard") -> None:
        model.apply(channel("Newchannel", uid, uid, f"PJSIP/trunk-{uid}"), now=1.0)
        model.apply(
            channel(
                "QueueCallerJoin", uid, uid, f"PJSIP/trunk-{uid}", Queue=queue, Position=position
            ),
            now=1.0,
        )

    join("a", "1")
    join("b", "2")
    join("other", "1", queue="sales")  # another queue's places are its own
    join("vip", "1")  # QUEUE_PRIO 10: in front of everybody already waiting
    assert places() == {"vip": 1, "a": 2, "b": 3, "other": 1}

    changes = model.apply(
        channel("QueueCallerLeave", "a", "a", "PJSIP/trunk-a", Queue="switchboard", Position="2"),
        now=2.0,
    )
    assert places() == {"vip": 1, "b": 2, "other": 1}
    # The boards hear of b's new place too, though Asterisk sent nothing about b.
    assert {c.call.linked_id for c in changes} == {"a", "b"}

    # A caller who gives up: Abandon then Leave (with its place), the rest move up.
    model.apply(
        channel(
            "QueueCallerAbandon", "vip", "vip", "PJSIP/trunk-vip", Queue="switchboard", Position="1"
        ),
        now=3.0,
    )
    model.apply(
        channel(
            "QueueCallerLeave", "vip", "vip", "PJSIP/trunk-vip", Queue="switchboard", Position="1"
        ),
        now=3.0,
    )
    assert places() == {"b": 1, "other": 1}


def test_a_resync_takes_each_place_from_the_queue_s_own_list() -> None:
    model = PBXModel("pbx1")
    for uid, position in (("x", "2"), ("y", "1")):
        model.apply(
            channel(
                "QueueEntry", uid, uid, f"PJSIP/trunk-{uid}", Queue="switchboard", Position=position
            ),
            now=1.0,
        )
    assert {c.linked_id: c.queue_position for c in model.snapshot()} == {"x": 2, "y": 1}
    junk = channel("QueueCallerJoin", "z", "z", "PJSIP/trunk-z", Queue="switchboard", Position="x1")
    model.apply(junk, now=1.0)  # an unreadable place is no place, and moves nobody
    assert {c.linked_id: c.queue_position for c in model.snapshot()} == {"x": 2, "y": 1, "z": 0}


def test_an_event_about_a_channel_that_hung_up_brings_no_ghost_call_back() -> None:
    # Seen in the sandbox: a caller hangs up while the queue rings 100. Asterisk hangs up
    # 100's leg, then the caller's, and only then sends 100's last NewConnectedLine.
    caller = ("1.1", "1.1", "PJSIP/trunk-00000001")
    ringing = ("1.2", "1.1", "PJSIP/100-00000002")
    events = [
        channel("Newchannel", *caller),
        channel("QueueCallerJoin", *caller, Queue="switchboard"),
        channel("Newchannel", *ringing, num="100", cname="Operator", state="Down"),
        channel("Hangup", *ringing, num="100", cname="Operator", state="Ringing"),
        channel("Hangup", *caller),
        channel("NewConnectedLine", *ringing, num="100", cname="Operator", state="Ringing"),
        channel("QueueCallerLeave", *caller, Queue="switchboard"),
    ]
    model = PBXModel("pbx1")
    changes = [change for event in events for change in model.apply(event, now=1.0)]
    assert model.snapshot() == []  # the board shows no call ringing for "Operator"
    # The journal hears of one call only, the caller's, ended.
    assert {change.call.caller_number for change in changes} == {"0612345678"}
    assert isinstance(changes[-1], CallEnded)


def test_a_channel_the_pbx_no_longer_lists_is_dropped_with_its_call() -> None:
    # Whatever slipped through (a lost Hangup), the periodic look at the PBX's channel
    # list takes a call off the boards once Asterisk no longer has its channels.
    model = PBXModel("pbx1")
    model.apply(channel("Newchannel", "1.1", "1.1", "PJSIP/trunk-1"), now=1.0)
    model.apply(channel("Newchannel", "2.1", "2.1", "PJSIP/trunk-2", num="0687654321"), now=1.0)
    model.check_channels()
    # A call that starts while the list is on its way is not in it, and stays.
    model.apply(channel("Newchannel", "3.1", "3.1", "PJSIP/trunk-3", num="0611111111"), now=2.0)
    dropped, changes = model.drop_unlisted({"2.1"}, now=3.0)
    assert [c.name for c in dropped] == ["PJSIP/trunk-1"]
    assert [(type(c), c.call.caller_number, c.call.ended_at) for c in changes] == [
        (CallEnded, "0612345678", 3.0)
    ]
    assert [c.caller_number for c in model.snapshot()] == ["0687654321", "0611111111"]
    # Its Hangup, should it come after all, changes nothing.
    assert model.apply(channel("Hangup", "1.1", "1.1", "PJSIP/trunk-1"), now=4.0) == []


def test_a_channel_list_asked_for_before_a_reconnect_drops_nothing() -> None:
    model = PBXModel("pbx1")
    model.apply(channel("Newchannel", "1.1", "1.1", "PJSIP/trunk-1"), now=1.0)
    model.check_channels()
    model.reset()  # the resync's own channel list decides now
    model.apply(channel("CoreShowChannel", "1.1", "1.1", "PJSIP/trunk-1"), now=2.0)
    model.apply({"Event": "CoreShowChannelsComplete"}, now=2.0)
    assert model.drop_unlisted(set(), now=3.0) == ([], [])
    assert [c.caller_number for c in model.snapshot()] == ["0612345678"]


def test_a_presence_failure_does_not_cost_the_calls_changes(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The board's call line and the journal row come from the call model: a bug in the
    presence model on the same event must not lose them."""
    state = PBXState("p")

    def broken(event: Event) -> list[PresenceChange]:
        raise RuntimeError("presence bug")

    monkeypatch.setattr(state.presence, "apply", broken)
    first = inbound_call_answered_by_operator()[0]
    changes = state.apply(first, now=1.0)
    assert [type(c) for c in changes.calls] == [CallChanged]
    assert changes.presence == []
    assert "presence could not apply" in caplog.text


def test_calls_whose_last_leg_moves_to_another_call_leave_nothing_behind() -> None:
    # Issue 12, item 9: A calls B, A hangs up while B's leg lives on and is bridged into
    # another call (Asterisk gives it that call's older linked id), then hangs up there.
    # Over many such transfers with fresh ids, the model must hold nothing of them.
    model = PBXModel("pbx1")
    for n in range(2000):
        a, b, c = f"{n}.1", f"{n}.2", f"{n}.3"
        events = [
            channel("Newchannel", a, a, f"PJSIP/trunk-{n}a"),
            channel("Newchannel", b, a, f"PJSIP/201-{n}b", num="201"),
            channel("BridgeEnter", a, a, f"PJSIP/trunk-{n}a", BridgeUniqueid=f"x{n}"),
            channel("BridgeEnter", b, a, f"PJSIP/201-{n}b", num="201", BridgeUniqueid=f"x{n}"),
            channel("HangupRequest", a, a, f"PJSIP/trunk-{n}a"),
            channel("Hangup", a, a, f"PJSIP/trunk-{n}a"),
            channel("Newchannel", c, c, f"PJSIP/202-{n}c", num="202"),
            channel("BridgeEnter", c, c, f"PJSIP/202-{n}c", num="202", BridgeUniqueid=f"y{n}"),
            channel("BridgeEnter", b, c, f"PJSIP/201-{n}b", num="201", BridgeUniqueid=f"y{n}"),
            channel("Hangup", b, c, f"PJSIP/201-{n}b", num="201"),
            channel("Hangup", c, c, f"PJSIP/202-{n}c", num="202"),
        ]
        for event in events:
            model.apply(event, now=float(n))
    sizes = model.sizes()
    assert sizes.pop("hung_up") <= HUNG_UP_REMEMBERED
    assert set(sizes.values()) == {0}, sizes


def test_a_conversation_the_caller_handed_on_stays_on_the_board_until_it_ends() -> None:
    # Issue 12, item 3: 200 calls 201, puts 201 through to 202 and hangs up; 201 and
    # 202 talk on under 200's linked id. The call ends with the last of them.
    model = PBXModel("pbx1")
    a, b, c = (
        ("5.1", "5.1", "PJSIP/200-1"),
        ("5.2", "5.1", "PJSIP/201-2"),
        ("5.3", "5.1", "PJSIP/202-3"),
    )
    for event in (
        channel("Newchannel", *a, num="200"),
        channel("Newchannel", *b, num="201", state="Down"),
        channel("BridgeEnter", *a, num="200", state="Up", BridgeUniqueid="b1"),
        channel("BridgeEnter", *b, num="201", state="Up", BridgeUniqueid="b1"),
        channel("Newchannel", *c, num="202", state="Down"),
        channel("BridgeLeave", *a, num="200", state="Up", BridgeUniqueid="b1"),
        channel("BridgeEnter", *c, num="202", state="Up", BridgeUniqueid="b1"),
    ):
        model.apply(event, now=1.0)
    model.apply(channel("Hangup", *a, num="200"), now=2.0)
    call = model.calls["5.1"]  # still on the board
    assert call.state is CallState.TALKING and call.caller_number == "200"
    model.apply(channel("Hangup", *b, num="201"), now=30.0)
    (ended,) = model.apply(channel("Hangup", *c, num="202"), now=30.0)
    assert ended.call.ended_at == 30.0
    sizes = model.sizes()
    del sizes["hung_up"]
    assert set(sizes.values()) == {0}, sizes

"""The live call model, fed AMI events as Asterisk 22 sends them."""

from ami_bridge.model import CallChanged, CallEnded, CallState, PBXModel


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

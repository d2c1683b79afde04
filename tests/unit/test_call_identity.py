"""Issue 12: the call a receptionist sees survives other dialplans' ways: Local channels
and their optimisation, re-linking, failed transfers, phones named by account.

Each test starts from a real sandbox recording (tests/fixtures/ami) and changes only
what the case needs; the recordings' own stories are in test_replay.py.
"""

from __future__ import annotations

from pathlib import Path

from ami_bridge.replay import read_recording, replay
from switchboard.core.calls.model import CallChanged, CallEnded, CallState, PBXModel

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"
Events = list[dict[str, str]]


def events_of(name: str) -> Events:
    return read_recording((FIXTURES / f"{name}.ami").read_bytes()).events


def dropped_after_busy(events: Events) -> Events:
    """blind_transfer_busy as a dialplan without our not-taken recall plays it: the
    caller is hung up right after the busy target, and nobody takes the call."""
    busy = next(i for i, e in enumerate(events) if e.get("DialStatus") == "BUSY")
    before = {e.get("Uniqueid") for e in events[:busy]}
    tail = [e for e in events[busy + 1 :] if e.get("Event") == "Hangup" and e["Uniqueid"] in before]
    return [*events[: busy + 1], *tail]


def test_a_local_channel_optimised_away_is_one_conversation_without_a_flicker() -> None:
    # Item 10: when Asterisk swaps the Local channel for the phone that answered, the
    # caller is alone in the bridge for a moment. The board must not show that.
    for name in ("ring_group", "queue_local_member"):
        events = events_of(name)
        assert any(e.get("Event") == "LocalOptimizationBegin" for e in events), name
        model, seen = PBXModel("x"), []
        for event in events:
            if event.get("Event") == "HangupRequest" and event.get("Uniqueid") == event.get(
                "Linkedid"
            ):
                break  # the caller hangs up: from here on, the call is ending
            for change in model.apply(event, 0.0):
                if isinstance(change, CallChanged) and change.call.answered_at is not None:
                    seen.append((change.call.state, change.call.talking_with))
        assert seen and set(seen) == {(CallState.TALKING, "203")}, (name, seen)


def test_a_failed_transfer_that_nobody_takes_after_is_a_failed_transfer() -> None:
    (call,) = list(replay(dropped_after_busy(events_of("blind_transfer_busy"))))
    assert call["outcome"] == "transfer failed"
    assert [(t["to"], t["failed"], t["then"]) for t in call["transfers"]] == [("202", "busy", "")]


def test_an_attended_transfer_is_filed_on_the_callers_call_after_asterisk_re_linked_it() -> None:
    # Item 4: bridging gives channels the oldest linked id, so by the time the
    # AttendedTransfer comes, the caller's channel may carry another, older call's.
    events = events_of("attended_transfer")
    transfer = next(i for i, e in enumerate(events) if e.get("Event") == "AttendedTransfer")
    anna = events[transfer]["TransfereeUniqueid"]
    older = "1700000000.1"
    colleague = {
        "Event": "Newchannel",
        "Channel": "PJSIP/202-000000aa",
        "Uniqueid": older,
        "Linkedid": older,
        "CallerIDNum": "202",
        "ChannelStateDesc": "Up",
    }
    relinked = {"Event": "NewConnectedLine", "Uniqueid": anna, "Linkedid": older}
    calls = list(replay([colleague, *events[:transfer], relinked, *events[transfer:]]))
    by_caller = {c["caller_number"]: c for c in calls}
    assert [(t["by"], t["to"]) for t in by_caller["0612345678"]["transfers"]] == [("100", "201")]
    assert by_caller["202"]["transfers"] == []


def test_a_phone_named_by_its_account_is_shown_by_its_extension() -> None:
    # Many providers name endpoints by account ("PJSIP/acct-7f3a-0000002b"); the
    # receptionist knows the phone by the extension its caller ID carries.
    events = [
        {k: v.replace("PJSIP/201-", "PJSIP/acct-7f3a-") for k, v in e.items()}
        for e in events_of("simple_call")
    ]
    assert any("PJSIP/acct-7f3a-" in e.get("Channel", "") for e in events)
    (call,) = list(replay(events))
    assert call["answered_by"] == "201"


def test_a_caller_who_handed_the_call_on_sees_the_conversation_go_on() -> None:
    # Item 3, from the caller's side: after 200 transfers 201 to 202 and is gone, the
    # call shows the conversation that goes on until its last hang-up.
    model, talking, ended = PBXModel("x"), [], []
    for event in events_of("caller_blind_transfer"):
        for change in model.apply(event, 0.0):
            if isinstance(change, CallEnded):
                ended.append(change.call)
            elif change.call.state is CallState.TALKING:
                talking.append(change.call.talking_with)
    assert talking[0] == "201" and talking[-1] == "201, 202"
    (call,) = ended
    assert call.caller_number == "200" and call.outcome == "transferred"
    assert all(size == 0 for name, size in model.sizes().items() if name != "hung_up")


def test_a_leg_whose_hang_up_we_never_saw_is_let_go_with_its_call() -> None:
    # Attached just after a ringing leg's Hangup: Asterisk's late NewConnectedLine
    # about it is all we see of it. When the caller hangs up, nothing may stay behind
    # (the bridge runs for months).
    model = PBXModel("x")
    late = {
        "Event": "NewConnectedLine",
        "Uniqueid": "1795389576.630",
        "Linkedid": "1795389576.629",
        "Channel": "PJSIP/100-00000276",
        "CallerIDNum": "100",
    }
    model.apply(late, 1.0)
    model.apply(
        {"Event": "Hangup", "Uniqueid": "1795389576.629", "Linkedid": "1795389576.629"}, 2.0
    )
    assert {k: n for k, n in model.sizes().items() if n} == {"hung_up": 2}
    assert model.apply({**late, "Event": "Hangup"}, 3.0) == []

"""Call control's pure core: board commands to AMI actions, claims, and confirmation by
the events that follow (shaped as the sandbox Asterisk 22 sends them)."""

from __future__ import annotations

import pytest

from switchboard.core.calls.control import (
    TIMEOUTS_S,
    Act,
    Actor,
    CallControl,
    Plan,
    Refusal,
)
from switchboard.core.calls.model import PBXModel
from switchboard_ui.calls_api import http_status

CALLER = ("1.1", "1.1", "PJSIP/trunk-00000001")
ANNA = Actor("anna", "Anna", "receptionist", "200")
BOB = Actor("bob", "Bob", "receptionist", "203")
ADMIN = Actor("root", "Admin", "admin", "")
CALL = "pbx:1.1"


def ev(event: str, uid: str, linked: str, name: str, **extra: str) -> dict[str, str]:
    return {"Event": event, "Uniqueid": uid, "Linkedid": linked, "Channel": name, **extra}


def leg(ext: str, uid: str) -> tuple[str, str, str]:
    return (uid, "1.1", f"PJSIP/{ext}-0000000{uid[-1]}")


WAITING = [
    ev("Newchannel", *CALLER, ChannelStateDesc="Ring"),
    ev("QueueCallerJoin", *CALLER, Queue="switchboard"),
]
WITH_ANNA = [
    *WAITING,
    ev("QueueCallerLeave", *CALLER, Queue="switchboard"),
    ev("Newchannel", *leg("200", "1.2")),
    ev("BridgeEnter", *leg("200", "1.2"), BridgeUniqueid="b1"),
    ev("BridgeEnter", *CALLER, BridgeUniqueid="b1"),
]
WITH_COLLEAGUE = [
    *WAITING,
    ev("QueueCallerLeave", *CALLER, Queue="switchboard"),
    ev("Newchannel", *leg("201", "1.3")),
    ev("BridgeEnter", *leg("201", "1.3"), BridgeUniqueid="b1"),
    ev("BridgeEnter", *CALLER, BridgeUniqueid="b1"),
]
PARKED = [
    *WITH_ANNA,
    {"Event": "ParkedCall", "ParkeeUniqueid": "1.1", "ParkeeLinkedid": "1.1",
     "ParkeeChannel": CALLER[2], "ParkingSpace": "701", "ParkerDialString": "PJSIP/200"},
    ev("BridgeLeave", *CALLER, BridgeUniqueid="b1"),
    ev("BridgeEnter", *CALLER, BridgeUniqueid="parking"),
    ev("BridgeLeave", *leg("200", "1.2"), BridgeUniqueid="b1"),
    ev("Hangup", *leg("200", "1.2"), Cause="16"),
]  # fmt: skip


def model_after(events: list[dict[str, str]]) -> PBXModel:
    model = PBXModel("pbx")
    for event in events:
        model.apply(event, now=1.0)
    return model


def feed(control: CallControl, model: PBXModel, events: list[dict[str, str]]) -> list[str]:
    """Apply events to the model, then to call control; "result code" per outcome."""
    seen = []
    for event in events:
        model.apply(event, now=2.0)
        seen += [f"{o.result} {o.code}" for o in control.on_event(event, model)]
    return seen


@pytest.mark.parametrize(
    ("state", "act", "actor", "target", "expected"),
    [
        # A waiting caller: rung onto your own phone, or sent straight to a colleague.
        (WAITING, Act.ANSWER, ANNA, "", "Redirect board-deliver 200"),
        (WAITING, Act.ANSWER, ADMIN, "", "no_extension 422"),
        (WAITING, Act.BLIND, ANNA, "201", "Redirect board-transfer 201"),
        (WAITING, Act.ATTENDED, ANNA, "201", "answer_first 422"),
        (WAITING, Act.PARK, ANNA, "", "answer_first 422"),
        (WAITING, Act.HANGUP, ANNA, "", "Hangup PJSIP/trunk-00000001"),
        (WAITING, Act.RETRIEVE, ANNA, "", "not_parked 422"),
        (WAITING, Act.COMPLETE, ANNA, "", "no_transfer 422"),
        # Your own call: transfers and parking act on your leg.
        (WITH_ANNA, Act.ANSWER, ANNA, "", "already_answered 422"),
        (WITH_ANNA, Act.BLIND, ANNA, "201", "BlindTransfer PJSIP/200-00000002 201"),
        (WITH_ANNA, Act.BLIND, ANNA, "0612345678", "BlindTransfer PJSIP/200-00000002 0612345678"),
        (WITH_ANNA, Act.ATTENDED, ANNA, "202", "Atxfer PJSIP/200-00000002 202"),
        (WITH_ANNA, Act.PARK, ANNA, "", "Park PJSIP/trunk-00000001 PJSIP/200-00000002"),
        (WITH_ANNA, Act.HANGUP, ANNA, "", "Hangup PJSIP/trunk-00000001"),
        (WITH_ANNA, Act.BLIND, ANNA, "200", "own_extension 422"),
        (WITH_ANNA, Act.BLIND, ANNA, "201; Hangup", "bad_target 400"),
        (WITH_ANNA, Act.BLIND, ANNA, "", "bad_target 400"),
        # A colleague's call: hands off, unless you are an admin (then on their leg).
        (WITH_COLLEAGUE, Act.BLIND, ANNA, "202", "not_yours 403"),
        (WITH_COLLEAGUE, Act.PARK, ANNA, "", "not_yours 403"),
        (WITH_COLLEAGUE, Act.HANGUP, ANNA, "", "not_yours 403"),
        (WITH_COLLEAGUE, Act.BLIND, ADMIN, "202", "BlindTransfer PJSIP/201-00000003 202"),
        (WITH_COLLEAGUE, Act.PARK, ADMIN, "", "Park PJSIP/trunk-00000001 PJSIP/201-00000003"),
        (WITH_COLLEAGUE, Act.HANGUP, ADMIN, "", "Hangup PJSIP/trunk-00000001"),
        (WITH_COLLEAGUE, Act.ATTENDED, ADMIN, "202", "no_extension 422"),
        # A parked call: taken back onto your phone, or sent on from its space.
        (PARKED, Act.RETRIEVE, BOB, "", "Redirect board-deliver 203"),
        (PARKED, Act.ANSWER, BOB, "", "parked 422"),
        (PARKED, Act.BLIND, BOB, "201", "Redirect board-transfer 201"),
        (PARKED, Act.HANGUP, BOB, "", "Hangup PJSIP/trunk-00000001"),
    ],
)
def test_what_a_board_command_becomes(
    state: list[dict[str, str]], act: Act, actor: Actor, target: str, expected: str
) -> None:
    plan = CallControl("pbx").plan(act, CALL, actor, model_after(state), 5.0, target)
    if isinstance(plan, Refusal):
        # (The board answers a refusal with the HTTP status its code maps to.)
        assert f"{plan.code} {http_status(plan)}" == expected
        return
    action = plan.action
    shown = [action["Action"], action["Channel"]]
    if action["Action"] == "Redirect":
        shown = [action["Action"], action["Context"], action["Exten"]]
    elif action["Action"] in {"BlindTransfer", "Atxfer"}:
        shown.append(action["Exten"])
        assert action["Context"] == "phones"
    elif action["Action"] == "Park":
        shown.append(action["TimeoutChannel"])
    assert " ".join(shown) == expected


def test_a_call_that_ended_or_never_was_is_refused_plainly() -> None:
    ended = model_after([*WAITING, ev("Hangup", *CALLER, Cause="16")])
    for call_id in (CALL, "pbx:9.9", "other:1.1", "1.1"):
        refusal = CallControl("pbx").plan(Act.ANSWER, call_id, ANNA, ended, 5.0)
        assert isinstance(refusal, Refusal) and (refusal.code, http_status(refusal)) == (
            "ended",
            404,
        )


def test_a_second_receptionist_is_refused_naming_the_first_until_the_claim_ends() -> None:
    control, model = CallControl("pbx"), model_after(WAITING)
    assert isinstance(control.plan(Act.ANSWER, CALL, ANNA, model, 5.0), Plan)
    for act, target in ((Act.ANSWER, ""), (Act.HANGUP, ""), (Act.BLIND, "201")):
        second = control.plan(act, CALL, BOB, model, 6.0, target)
        assert isinstance(second, Refusal)
        assert (second.code, http_status(second), second.values) == (
            "claimed_answer",
            409,
            {"name": "Anna"},
        )
    # Anna's phone took the call: the claim ends, and Bob sees it answered.
    assert feed(control, model, WITH_ANNA[3:]) == ["confirmed answer_done"]
    refusal = control.plan(Act.ANSWER, CALL, BOB, model, 7.0)
    assert isinstance(refusal, Refusal) and refusal.code == "already_answered"


def test_answer_fails_when_the_phone_does_not_take_the_call_and_the_caller_waits_again() -> None:
    control, model = CallControl("pbx"), model_after(WAITING)
    control.plan(Act.ANSWER, CALL, ANNA, model, 5.0)
    deliver = ev("UserEvent", *CALLER, UserEvent="SwitchboardDeliver", DialStatus="NOANSWER")
    assert feed(control, model, [deliver]) == ["failed not_taken"]
    assert control.claims == {}


@pytest.mark.parametrize(
    ("start", "act", "target", "events", "expected"),
    [
        (
            WITH_ANNA,
            Act.BLIND,
            "201",
            [
                ev("BridgeLeave", *leg("200", "1.2"), BridgeUniqueid="b1"),
                ev("BridgeLeave", *CALLER, BridgeUniqueid="b1"),
                ev("Hangup", *leg("200", "1.2"), Cause="16"),
                ev("Newchannel", *leg("201", "1.4"), ChannelStateDesc="Down"),
            ],
            ["confirmed blind_done"],
        ),
        (
            WITH_ANNA,
            Act.PARK,
            "",
            PARKED[len(WITH_ANNA) :],
            ["confirmed park_done"],
        ),
        (
            WITH_ANNA,
            Act.HANGUP,
            "",
            [ev("Hangup", *CALLER, Cause="16")],
            ["confirmed hangup_done"],
        ),
        (
            WITH_ANNA,
            Act.BLIND,
            "201",
            [ev("Hangup", *CALLER, Cause="16")],
            ["failed ended"],
        ),
    ],
)
def test_actions_are_confirmed_by_the_events_that_follow(
    start: list[dict[str, str]],
    act: Act,
    target: str,
    events: list[dict[str, str]],
    expected: list[str],
) -> None:
    control, model = CallControl("pbx"), model_after(start)
    assert isinstance(control.plan(act, CALL, ANNA, model, 5.0, target), Plan)
    assert feed(control, model, events) == expected
    assert control.claims == {}


ATXFER_CONSULT = [
    ev("BridgeLeave", *leg("200", "1.2"), BridgeUniqueid="b1"),
    ev("Newchannel", "1.5", "1.1", "Local/202@phones-00000001;1"),
    ev("BridgeEnter", "1.5", "1.1", "Local/202@phones-00000001;1", BridgeUniqueid="c1"),
    ev("BridgeEnter", *leg("200", "1.2"), BridgeUniqueid="c1"),
]
ATXFER_COMPLETED = [
    ev("BridgeLeave", *leg("200", "1.2"), BridgeUniqueid="c1"),
    ev("BridgeLeave", "1.5", "1.1", "Local/202@phones-00000001;1", BridgeUniqueid="c1"),
    ev("BridgeEnter", "1.5", "1.1", "Local/202@phones-00000001;1", BridgeUniqueid="b1"),
    ev("Hangup", *leg("200", "1.2"), Cause="16"),
]
ATXFER_BACK = [
    ev("BridgeLeave", *leg("200", "1.2"), BridgeUniqueid="c1"),
    ev("BridgeEnter", *leg("200", "1.2"), BridgeUniqueid="b1"),
    ev("Hangup", "1.5", "1.1", "Local/202@phones-00000001;1", Cause="16"),
]


@pytest.mark.parametrize(
    ("finish", "events", "expected"),
    [
        (Act.COMPLETE, ATXFER_COMPLETED, ["confirmed attended_done"]),
        (Act.CANCEL, ATXFER_BACK, ["confirmed cancel_done"]),
        (None, ATXFER_BACK, ["failed target_no_answer"]),  # 202 did not answer in time
        (None, ATXFER_COMPLETED, ["confirmed attended_done"]),  # hung up on the phone
    ],
)
def test_an_attended_transfer_holds_its_claim_through_the_consultation(
    finish: Act | None, events: list[dict[str, str]], expected: list[str]
) -> None:
    control, model = CallControl("pbx"), model_after(WITH_ANNA)
    plan = control.plan(Act.ATTENDED, CALL, ANNA, model, 5.0, "202")
    assert isinstance(plan, Plan) and plan.action["Action"] == "Atxfer"
    # Too early to complete: the consultation has not begun.
    early = control.plan(Act.COMPLETE, CALL, ANNA, model, 5.0)
    assert isinstance(early, Refusal) and early.code == "no_transfer"
    assert feed(control, model, ATXFER_CONSULT) == ["progress consulting"]
    # Consulting takes as long as it takes, and nobody else may touch the call.
    assert control.on_tick(5.0 + 10 * TIMEOUTS_S["attended"]) == []
    other = control.plan(Act.COMPLETE, CALL, BOB, model, 6.0)
    assert isinstance(other, Refusal) and other.values == {"name": "Anna"}
    if finish is not None:
        sent = control.plan(finish, CALL, ANNA, model, 7.0)
        assert isinstance(sent, Plan)
        assert sent.action == (
            {"Action": "Hangup", "Channel": "PJSIP/200-00000002", "Cause": "16"}
            if finish is Act.COMPLETE
            else {"Action": "Hangup", "Channel": "Local/202@phones-00000001;1", "Cause": "16"}
        )
    assert feed(control, model, events) == expected
    assert control.claims == {}


def test_a_refused_action_or_one_nothing_confirms_fails_and_frees_the_call() -> None:
    control, model = CallControl("pbx"), model_after(WITH_ANNA)
    plan = control.plan(Act.BLIND, CALL, ANNA, model, 5.0, "209")
    assert isinstance(plan, Plan)
    [outcome] = control.on_reply(plan.claim, False, "No such channel")
    assert (outcome.result, outcome.code, outcome.values) == (
        "failed",
        "refused",
        {"message": "No such channel"},
    )
    plan = control.plan(Act.PARK, CALL, ANNA, model, 10.0)
    assert isinstance(plan, Plan)
    assert control.on_reply(plan.claim, True, "Park successful") == []
    assert control.on_tick(10.0 + TIMEOUTS_S["park"] - 1) == []
    [late] = control.on_tick(10.0 + TIMEOUTS_S["park"] + 1)
    assert (late.result, late.code) == ("failed", "timeout")
    assert control.claims == {}


def test_losing_the_pbx_fails_every_pending_action() -> None:
    control, model = CallControl("pbx"), model_after(WAITING)
    control.plan(Act.ANSWER, CALL, ANNA, model, 5.0)
    assert [o.code for o in control.reset()] == ["disconnected"]
    assert control.snapshot() == []

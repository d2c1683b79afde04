"""The board's expected wait beside each waiting caller (issue 13, part 1): handle times
learnt from the calls the model ends (a real recording), members from presence."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ami_bridge.replay import read_recording, replay_changes
from switchboard.core.calls.model import Call, CallState
from switchboard.core.calls.presence import Extension, QueueMembership
from switchboard.core.calls.state import PBXState
from switchboard.core.calls.waits import WaitBoard, answering_members

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"


def learnt_from(name: str) -> WaitBoard:
    board = WaitBoard()
    events = read_recording((FIXTURES / name).read_bytes()).events
    board.record(replay_changes(PBXState("x"), events))
    return board


def waiting(position: int, queue: str = "switchboard") -> Call:
    return Call(
        call_id=f"x:{position}",
        pbx="x",
        linked_id=str(position),
        caller_number="0612345678",
        caller_name="",
        state=CallState.QUEUED,
        started_at=0.0,
        queue=queue,
        queue_position=position,
    )


def test_members_who_can_answer_are_those_not_paused_with_a_phone_online() -> None:
    def ext(number: str, device: str, paused: bool) -> Extension:
        return Extension("x", number, device=device, queues=(QueueMembership("q", paused),))

    people = [ext("100", "idle", False), ext("101", "in_use", False), ext("102", "idle", True)]
    people.append(ext("103", "unavailable", False))
    assert answering_members(people) == {"q": 2}


def test_a_waiting_caller_gets_an_estimate_once_the_queue_has_a_history() -> None:
    board = learnt_from("queue_answered.ami")  # the operator answered, talked 3 s
    end = 1_795_392_000.0 + 10**6  # (any moment: the fallback's last wait never expires)
    (first, second) = board.estimates([waiting(1), waiting(2)], {"switchboard": 1}, end)
    assert first["call_id"] == "x:1" and first["minutes"] >= 1 and not first["more_than"]
    assert second["minutes"] >= first["minutes"]  # further back never waits less
    # Nobody who can answer, or a queue without history: nothing is said.
    assert board.estimates([waiting(1)], {"switchboard": 0}, end) == []
    assert board.estimates([waiting(1, queue="sales")], {"sales": 1}, end) == []
    # Not waiting in a queue (ringing, talking): no estimate.
    assert board.estimates([replace(waiting(1), state=CallState.RINGING)], {}, end) == []


def test_calls_that_ended_leave_nothing_behind() -> None:
    board = learnt_from("queue_answered.ami")
    assert board.sizes() == {"queues": 1, "answered": 0}

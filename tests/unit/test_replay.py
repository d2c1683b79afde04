"""Replaying real AMI recordings from the sandbox Asterisk 22 (tests/fixtures/ami)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from ami_bridge.replay import ReplayError, read_recording, replay

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"
RECORDINGS = sorted(FIXTURES.glob("*.ami"))


def records(name: str) -> list[dict[str, object]]:
    return list(replay(read_recording((FIXTURES / name).read_bytes()).events))


def test_a_queue_call_answered_by_the_operator() -> None:
    (call,) = records("queue_answered.ami")
    assert call["caller_number"] == "0612345678"
    assert call["answered_by"] == "100"
    assert call["open"] is False
    started, answered, ended = call["started_at"], call["answered_at"], call["ended_at"]
    assert isinstance(started, float) and isinstance(answered, float) and isinstance(ended, float)
    # Times come from the recording's own Timestamp headers: the operator phone answers
    # after about a second, the caller hangs up about three seconds after that.
    assert 0.5 < answered - started < 5 and 1 < ended - answered < 6


def test_a_caller_who_gives_up_in_the_queue_was_never_answered() -> None:
    (call,) = records("queue_abandoned.ami")
    assert call["caller_number"] == "0687654321"
    assert call["answered_at"] is None and call["answered_by"] == ""


def test_every_recording_has_its_expected_outcome() -> None:
    assert RECORDINGS and all(p.with_suffix(".expected.json").exists() for p in RECORDINGS)


def _check(name: str, want: dict[str, object], got: dict[str, object]) -> None:
    """The facts NAME.expected.json lists for one call, with times as [low, high]."""
    started = got["started_at"]
    assert isinstance(started, float)
    for key, value in want.items():
        if key in {"duration_s", "answered_after_s"}:
            assert isinstance(value, list)
            low, high = (float(v) for v in value)
            moment = got["ended_at" if key == "duration_s" else "answered_at"]
            assert isinstance(moment, float), f"{name}: no {key}"
            assert low <= moment - started <= high, f"{name}: {key} {moment - started:.1f}"
        elif key == "fallback":
            steps = got["fallback"]
            assert isinstance(steps, list)
            assert [s["step"] for s in steps] == value, name
        elif key == "transfers":
            transfers = got["transfers"]
            assert isinstance(transfers, list)
            who = [{k: v for k, v in t.items() if k != "at"} for t in transfers]
            # A transfer listed without "failed" and "then" succeeded.
            assert isinstance(value, list)
            assert who == [{"failed": "", "then": "", **t} for t in value], name
        else:
            assert got[key] == value, f"{name}: {key} is {got[key]!r}, expected {value!r}"


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_a_recording_replays_to_the_facts_a_receptionist_expects(path: Path) -> None:
    # Who called, who answered, transferred to whom, parked and picked up by whom, how
    # it ended, roughly how long: NAME.expected.json, next to the recording.
    expected = json.loads(path.with_suffix(".expected.json").read_text(encoding="utf-8"))
    calls = records(path.name)
    assert len(calls) == len(expected["calls"]), [c["caller_number"] for c in calls]
    for want, got in zip(expected["calls"], calls, strict=True):
        assert got["open"] is False and got["state"] == "ended"
        _check(path.stem, want, got)


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_every_suffix_of_a_recording_replays_without_error(path: Path) -> None:
    # The bridge may attach to a PBX at any moment, mid-call.
    events = read_recording(path.read_bytes()).events
    assert len(events) > 10
    for start in range(len(events)):
        for record in replay(events[start:]):
            assert record["type"] == "call"


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_events_in_any_order_with_some_lost_never_break_the_model(path: Path) -> None:
    events = read_recording(path.read_bytes()).events
    rng = random.Random(path.stem)
    for _ in range(30):
        mixed = [e for e in events if rng.random() > 0.2]
        rng.shuffle(mixed)
        for record in replay(mixed):
            assert record["type"] == "call"


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_a_late_event_about_a_channel_that_hung_up_changes_nothing(path: Path) -> None:
    # Asterisk sends some events about a channel after its Hangup (a ringing leg's last
    # NewConnectedLine, a queue's QueueCallerLeave): repeated after the end of the
    # recording, none may bring a call back or change how one is told.
    events = read_recording(path.read_bytes()).events
    hung_up = {e["Uniqueid"] for e in events if e.get("Event") == "Hangup"}
    about_them = [e for e in events if e.get("Uniqueid") in hung_up and e["Event"] != "Hangup"]
    assert about_them
    expected = list(replay(events))
    for late in random.Random(path.stem).sample(about_them, min(40, len(about_them))):
        assert list(replay([*events, late])) == expected, late["Event"]


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_the_json_form_of_a_recording_replays_the_same(path: Path) -> None:
    wire = read_recording(path.read_bytes())
    as_json = read_recording(json.dumps(wire.events).encode())
    assert list(replay(as_json.events)) == list(replay(wire.events))


def test_an_unreadable_frame_is_reported_and_the_rest_still_counts() -> None:
    data = (FIXTURES / "queue_abandoned.ami").read_bytes()
    broken = data.replace(b"\r\n\r\nEvent: ", b"\r\n\r\ngarbage without a colon\r\n\r\nEvent: ", 1)
    recording = read_recording(broken)
    assert len(recording.problems) == 1 and "no Event or Response header" in recording.problems[0]
    assert recording.problems[0].startswith("frame ")
    assert len(list(replay(recording.events))) == 1


def test_json_that_is_not_an_array_of_events_is_refused_clearly() -> None:
    with pytest.raises(ReplayError, match="array of event objects"):
        read_recording(b'{"Event": "Newchannel"}')
    recording = read_recording(b'[{"Event": "Hangup", "Uniqueid": 5}, "x"]')
    assert len(recording.problems) == 2 and recording.events == []


def test_the_replay_command_prints_json_lines_and_exit_codes(tmp_path: Path) -> None:
    def run(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "switchboard.cli", "replay", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    good = run(FIXTURES / "queue_answered.ami")
    assert good.returncode == 0
    lines = [json.loads(line) for line in good.stdout.splitlines()]
    assert [line["answered_by"] for line in lines if line["type"] == "call"] == ["100"]
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    refused = run(bad)
    assert refused.returncode == 2 and "not valid JSON" in refused.stderr


def _without_times(want: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in want.items() if k not in {"duration_s", "answered_after_s"}}


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_a_recording_without_timestamps_tells_the_same_story(path: Path) -> None:
    # Asterisk's default is timestampevents=no: most recordings an admin brings have no
    # Timestamp header. Then the order of the events is the clock, every event at one
    # moment, and an answer at that moment is an answer all the same.
    expected = json.loads(path.with_suffix(".expected.json").read_text(encoding="utf-8"))
    events = [
        {k: v for k, v in event.items() if k != "Timestamp"}
        for event in read_recording(path.read_bytes()).events
    ]
    calls = list(replay(events))
    assert len(calls) == len(expected["calls"])
    for want, got in zip(expected["calls"], calls, strict=True):
        assert got["open"] is False and got["state"] == "ended"
        if "answered_after_s" in want:
            assert got["answered_at"] is not None, path.stem
        _check(path.stem, _without_times(want), got)


def test_an_attended_transfer_without_transferee_headers_names_only_the_target() -> None:
    # Issue 12, item 5: older Asterisk versions (and some filters) send AttendedTransfer
    # without the Transferee*/TransferTarget* headers. The caller is not a target.
    events = [
        {k: v for k, v in e.items() if not k.startswith(("Transferee", "TransferTarget"))}
        if e.get("Event") == "AttendedTransfer"
        else e
        for e in read_recording((FIXTURES / "attended_transfer.ami").read_bytes()).events
    ]
    (call,) = list(replay(events))
    assert [(t["kind"], t["by"], t["to"]) for t in call["transfers"]] == [
        ("attended", "100", "201")
    ]

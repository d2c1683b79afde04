"""The presence timeline of real sandbox recordings (tests/fixtures/ami), as
`switchboard replay` prints it."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from ami_bridge.replay import presence_timeline, read_recording

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"
RECORDINGS = sorted(FIXTURES.glob("*.ami"))


def timeline(name: str) -> list[dict[str, object]]:
    return list(presence_timeline(read_recording((FIXTURES / name).read_bytes()).events))


def idle_states(records: list[dict[str, object]], ext: str) -> list[object]:
    """What the board shows for ``ext`` while its phone is idle, each change once."""
    shown: list[object] = []
    for record in records:
        if record["extension"] == ext and record["device"] == "idle":
            if not shown or shown[-1] != record["shown"]:
                shown.append(record["shown"])
    return shown


@pytest.mark.parametrize(
    "path", [p for p in RECORDINGS if "presence" in json.loads(
        p.with_suffix(".expected.json").read_text(encoding="utf-8"))], ids=lambda p: p.stem
)  # fmt: skip
def test_a_recording_replays_to_the_expected_presence(path: Path) -> None:
    expected = json.loads(path.with_suffix(".expected.json").read_text(encoding="utf-8"))
    records = timeline(path.name)
    assert all(r["type"] == "presence" for r in records)
    for ext, shown in expected["presence"].items():
        assert idle_states(records, ext) == shown, ext


def test_dnd_from_the_phone_keeps_its_badge_while_the_phone_is_in_use() -> None:
    records = [r for r in timeline("dnd_toggle.ami") if r["extension"] == "201"]
    assert any(r["shown"] == "in_use" and r["dnd"] is True for r in records)
    times = [r["at"] for r in records]
    assert times == sorted(times)


def test_a_phone_in_a_call_shows_with_whom() -> None:
    records = timeline("queue_answered.ami")
    talking = [r for r in records if r["extension"] == "100" and r["talking_with"]]
    assert talking and talking[0]["talking_with"] == "Anna"
    assert talking[0]["shown"] == "in_use"
    last = [r for r in records if r["extension"] == "100"][-1]
    assert (last["shown"], last["talking_with"]) == ("available", "")


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_any_order_and_any_loss_of_events_never_breaks_presence(path: Path) -> None:
    events = read_recording(path.read_bytes()).events
    rng = random.Random(path.stem)
    for _ in range(20):
        mixed = [e for e in events if rng.random() > 0.2]
        rng.shuffle(mixed)
        for record in presence_timeline(mixed):
            assert record["type"] == "presence"


def test_the_replay_command_prints_the_presence_timeline() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "switchboard.cli", "replay", str(FIXTURES / "dnd_toggle.ami")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["type"] for line in lines[:2]] == ["call", "call"]
    presence = [line for line in lines if line["type"] == "presence"]
    assert idle_states(presence, "201") == ["available", "dnd", "available"]

"""An admin's YAML scenario: read with clear errors, judged by what a call really did."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.scenarios import (
    Executed,
    Expect,
    Observed,
    ScenarioError,
    failures,
    load,
    read_executed,
)
from tests.conftest import REPO

LOG = (
    "[2026-12-01 23:28:25.385] VERBOSE[25405][C-00000001] pbx.c: Executing "
    '[0201234567@from-trunk:1] Set("PJSIP/trunk-00000000", "__SWITCHBOARD_DID=0201234567")'
    " in new stack\n"
    "[2026-12-01 23:28:25.386] VERBOSE[25405][C-00000001] pbx.c: -- something else\n"
    "[2026-12-01 23:28:26.386] VERBOSE[25405][C-00000001] pbx.c: Executing "
    '[s@switchboard-closed:3] Playback("PJSIP/trunk-00000000", "switchboard/closed") in new'
    " stack\n"
)


def test_the_shipped_scenarios_read() -> None:
    names = [load(p).name for p in sorted((REPO / "dialplans/scenarios").glob("*.yaml"))]
    assert len(names) >= 3


def test_dialplan_steps_are_read_from_asterisks_log() -> None:
    assert read_executed(LOG) == [
        Executed(
            "from-trunk", "0201234567", 1, "Set", "__SWITCHBOARD_DID=0201234567",
            "PJSIP/trunk-00000000",
        ),
        Executed(
            "switchboard-closed", "s", 3, "Playback", "switchboard/closed",
            "PJSIP/trunk-00000000",
        ),
    ]  # fmt: skip


def test_failures_say_what_was_expected_and_what_happened() -> None:
    observed = Observed(
        channel="PJSIP/trunk-00000000",
        steps=read_executed(LOG),
        rang=["100"],
        fallback=["goodbye"],
    )
    expect = Expect(
        hears=("switchboard/closed",), rings=("201",), never_rings=("100",),
        fallback=("voicemail",), queued=True, ends_in="VoiceMail",
    )  # fmt: skip

    assert failures(expect, observed) == [
        "rings 201; rang ['100']",
        "never rings 100; it rang",
        "queued: True; was False",
        "fallback ['voicemail']; was ['goodbye']",
        "ends in VoiceMail; ended in Playback",
    ]
    assert failures(Expect(hears=("switchboard/closed",)), observed) == []
    assert failures(Expect(), Observed()) == ["the call never reached the dialplan"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("- a list", "a scenario is a mapping"),
        ("caller: {name: x}\nexpect: {queued: true}", "caller: needs number:"),
        ("caller: {number: '1', stay_s: 3}\nexpect: {queued: true}", "unknown caller.stay_s"),
        ("caller: {number: '1'}\nphones: {'10a': answers}\nexpect: {queued: true}", "phones:"),
        ("caller: {number: '1', stays_s: -1}\nexpect: {queued: true}", "caller.stays_s"),
        ("caller: {number: '1', stays_s: 1e9}\nexpect: {queued: true}", "caller.stays_s"),
        ("caller: {number: '1'}", "expect: says what must happen"),
        ("caller: {number: '1'}\nexpect: {heard: [x]}", "unknown expect.heard"),
        ("caller: {number: '1'}\nkeys: [5]\nexpect: {queued: true}", "keys:"),
        ("caller: [unclosed", "while parsing"),
        ("\x00\x01binary", "unacceptable character"),
    ],
)
def test_a_bad_scenario_file_is_refused_with_its_reason(
    tmp_path: Path, text: str, error: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ScenarioError) as refused:
        load(path)

    assert str(refused.value).startswith(f"{path}: ")
    assert error in str(refused.value)

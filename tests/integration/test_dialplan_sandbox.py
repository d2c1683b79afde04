"""The dialplan tools against real calls: the shipped YAML scenarios pass on the sandbox
Asterisk with SIPp, one fails as it should when the dialplan is broken on purpose, and
``switchboard dialplan trace`` walks the same steps, to the same end, as Asterisk does
for a real call with the same number at the same moment (its own log of every step)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from devtools.sandbox import Sandbox
from devtools.scenarios import CloseLine, Runner, closing_by_override, load
from tests.conftest import REPO, free_port, service_config
from tests.sandbox_ami import DIRECTORY_REFRESH_S, Asterisk

pytestmark = pytest.mark.integration

SCENARIOS = sorted((REPO / "dialplans/scenarios").glob("*.yaml"))
CLOSED_STEPS_PRIORITY = 8  # [switchboard-closed] s,8: Set(SB_FALLBACK_STEPS=...)


def closer(db: asyncpg.Pool) -> CloseLine:
    return closing_by_override(db, "reception")


@pytest.fixture
async def runner(asterisk: Asterisk, sandbox: Sandbox, db: asyncpg.Pool) -> Runner:
    return Runner(sandbox.settings, asterisk.manager, sandbox.cli, closer(db))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
async def test_the_shipped_scenarios_pass_on_the_sandbox(runner: Runner, path: Path) -> None:
    result = await runner.run(load(path))

    assert result.passed, f"{path.name}: {result.failures}"


@pytest.fixture
def broken_closed_route(sandbox: Sandbox) -> Iterator[None]:
    """An admin's typo in the closed flow: the step 'voicemial' does not exist, so the
    chain says goodbye instead. 'dialplan reload' puts the shipped files back."""
    sandbox.cli(
        f"dialplan add extension s,{CLOSED_STEPS_PRIORITY},"
        "Set(SB_FALLBACK_STEPS=voicemial,goodbye) into switchboard-closed replace"
    )
    try:
        yield
    finally:
        sandbox.cli("dialplan reload")


@pytest.mark.usefixtures("broken_closed_route")
async def test_a_scenario_fails_when_the_dialplan_is_broken(runner: Runner) -> None:
    result = await runner.run(load(REPO / "dialplans/scenarios/closed.yaml"))

    assert not result.passed
    assert "fallback ['voicemail']; was ['goodbye']" in result.failures
    # Said goodbye instead: the caller hangs up in its Playback or at its Hangup.
    assert any(f.startswith("ends in VoiceMail; ended in ") for f in result.failures)


def traced(config: Path, sandbox: Sandbox, number: str, *options: str) -> dict[str, object]:
    """``switchboard dialplan trace --json`` of the sandbox's installed dialplan."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "switchboard.cli",
            "-c",
            str(config),
            "dialplan",
            "trace",
            "--directory",
            str(sandbox.root / "etc/asterisk"),
            "--did",
            "0201234567",
            "--cid",
            number,
            "--json",
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, object] = json.loads(completed.stdout)
    return result


@pytest.mark.parametrize(
    ("scenario", "closed", "options"),
    [
        ("answered.yaml", False, ()),
        ("closed.yaml", True, ("--hangs-up-in", "VoiceMail")),
    ],
)
async def test_the_trace_walks_the_steps_asterisk_walks(
    runner: Runner,
    sandbox: Sandbox,
    db: asyncpg.Pool,
    postgres_dsn: str,
    tmp_path: Path,
    scenario: str,
    closed: bool,
    options: tuple[str, ...],
) -> None:
    config = tmp_path / "switchboard.toml"
    config.write_text(service_config(postgres_dsn, free_port(), sandbox.settings))
    # A number of its own: one the scenario test called before would be a returning
    # caller, who rings the receptionist of last time first.
    call = dataclasses.replace(
        load(REPO / "dialplans/scenarios" / scenario), number=f"0613{secrets.randbelow(10**6):06}"
    )
    reopen = await closer(db)() if closed else None
    try:
        trace = traced(config, sandbox, call.number, *options)
        result = await runner.run(dataclasses.replace(call, closed=False))
    finally:
        if reopen is not None:
            await reopen()

    assert result.passed, result.failures
    real = [(s.context, s.extension, s.priority, s.application) for s in result.observed.steps]
    steps = trace["steps"]
    assert isinstance(steps, list)
    walked = [(s["context"], s["extension"], s["priority"], s["application"]) for s in steps]
    assert walked == real
    end = "answered in queue switchboard" if not closed else "the caller hangs up in VoiceMail"
    assert trace["end"] == end


async def test_the_trace_knows_a_returning_caller_as_the_service_does(
    runner: Runner, sandbox: Sandbox, postgres_dsn: str, tmp_path: Path
) -> None:
    """A caller the receptionist at 100 helped calls again: the service sends them to 100
    first (its phone free). The trace says so from the journal, and the real call does."""
    config = tmp_path / "switchboard.toml"
    config.write_text(service_config(postgres_dsn, free_port(), sandbox.settings))
    first = dataclasses.replace(
        load(REPO / "dialplans/scenarios/answered.yaml"),
        number=f"0614{secrets.randbelow(10**6):06}",
    )
    assert (await runner.run(first)).passed
    await asyncio.sleep(DIRECTORY_REFRESH_S)

    trace = traced(config, sandbox, first.number)
    again = await runner.run(first)

    steps = trace["steps"]
    assert isinstance(steps, list)
    walked = [(s["context"], s["extension"], s["priority"], s["application"]) for s in steps]
    real = [(s.context, s.extension, s.priority, s.application) for s in again.observed.steps]
    assert walked == real
    assert trace["end"] == "answered by PJSIP/100"
    assert again.observed.answered_by == "100" and not again.observed.queued

"""Which opening hours a call is under, what the dialplan is told, `switchboard hours
show`, and the `hours` FastAGI route's decision (issue 13, part 2)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pbx_agi.fastagi.server import FastAGIServer
from pbx_agi.hours_route import HoursRoute
from switchboard.config import ConfigError, load_config
from switchboard.core.opening import Hours, check_claims, dialplan_variables, hours_for, hours_table
from switchboard.core.schedule import Override, parse_schedule
from tests.unit.test_fastagi import FakeAsterisk, agi_headers

OFFICE = {"monday": "08:30-17:30", "tuesday": "08:30-17:30", "holidays": "NL"}


def hours(name: str = "reception", **applies: tuple[str, ...]) -> Hours:
    return Hours(parse_schedule(name, OFFICE), **applies)


def test_a_did_of_its_own_beats_the_queue_and_no_schedule_is_always_open() -> None:
    reception = hours(queues=("switchboard",))
    support = hours("support", dids=("+31201234599",))
    book = [reception, support]
    assert hours_for(book, "switchboard", "0201234567") is reception
    assert hours_for(book, "switchboard", "31201234599") is support
    assert hours_for(book, "sales", "") is None
    assert dialplan_variables(None, None) == {"SB_OPEN": "yes", "SB_HOURS": ""}


def test_a_queue_claimed_by_two_schedules_is_a_configuration_error_naming_both() -> None:
    problems = check_claims(
        [hours(queues=("switchboard",)), hours("late", queues=("switchboard",))]
    )
    assert problems == ["hours.late: queue 'switchboard' is already under hours.reception"]


def test_the_config_reads_hours_and_names_every_bad_key(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        '[services]\nami = false\n[hours.reception]\nqueues = ["switchboard"]\n'
        'monday = "08:30-17:30"\n'
    )
    (reception,) = load_config(good, environ={}).hours
    assert reception.queues == ("switchboard",) and reception.name == "reception"
    bad = tmp_path / "bad.toml"
    bad.write_text(
        "[services]\nami = false\n[hours.reception]\nqueues = [1]\n"
        'monday = "8:30-25:00"\ntimezone = "Europe/Amsterdan"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(bad, environ={})
    text = str(caught.value)
    assert "hours.reception.queues" in text and "monday" in text and "timezone" in text


def test_closed_tells_where_the_caller_goes_and_when_we_open_again() -> None:
    reception = hours(queues=("switchboard",))
    koningsdag = datetime(2026, 4, 27, 10, 0, tzinfo=reception.schedule.timezone)
    variables = dialplan_variables(reception, reception.schedule.state_at(koningsdag))
    tuesday = datetime(2026, 4, 28, 8, 30, tzinfo=reception.schedule.timezone)
    assert variables == {
        "SB_OPEN": "no",
        "SB_HOURS": "reception",
        "SB_CLOSED_ROUTE": "voicemail",
        "SB_REOPENS": str(int(tuesday.timestamp())),
        # As the caller hears it: Tuesday (1) at 8 30.
        "SB_REOPENS_DAY": "1",
        "SB_REOPENS_HOUR": "8",
        "SB_REOPENS_MINUTE": "30",
    }


def test_the_route_takes_the_override_and_never_closes_for_its_own_failure() -> None:
    reception = hours(queues=("switchboard",))
    monday_ten = datetime(2026, 12, 7, 10, 0, tzinfo=reception.schedule.timezone)
    meeting = Override(False, "staff meeting", monday_ten + timedelta(hours=1), "anna", monday_ten)

    async def overridden(_schedule: str, _now: datetime) -> Override | None:
        return meeting

    async def broken(_schedule: str, _now: datetime) -> Override | None:
        raise OSError("database down")

    async def slow(_schedule: str, _now: datetime) -> Override | None:
        await asyncio.sleep(5)
        return meeting

    def route(lookup: object) -> HoursRoute:
        return HoursRoute([reception], lookup, budget_s=0.05, clock=lambda: monday_ten)  # type: ignore[arg-type]

    async def ask(lookup: object, queue: str = "switchboard") -> str:
        return (await route(lookup).variables(queue, ""))["SB_OPEN"]

    assert asyncio.run(ask(overridden)) == "no"
    assert asyncio.run(ask(broken)) == "yes"  # the weekly hours: open on Monday at ten
    assert asyncio.run(ask(slow)) == "yes"
    # Hostile dialplan arguments are just names that match no schedule: open.
    assert asyncio.run(ask(overridden, queue="x" * 10_000)) == "yes"


def test_hours_show_lists_openings_closings_and_the_clock_change() -> None:
    reception = hours(queues=("switchboard",))
    lines = hours_table(reception, datetime(2026, 3, 27, 12, 0, tzinfo=UTC), days=4)
    # Closed from Friday (no hours) to Monday; the clocks change on Sunday night.
    assert [" ".join(line.split()) for line in lines] == [
        "Sun 2026-03-29 03:00 CEST clocks go forward an hour",
        "Mon 2026-03-30 08:30 CEST open weekly hours",
        "Mon 2026-03-30 17:30 CEST closed weekly hours, callers to voicemail",
        "Tue 2026-03-31 08:30 CEST open weekly hours",
    ]


def test_the_hours_show_command(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text(
        '[services]\nami = false\n[hours.reception]\nqueues = ["switchboard"]\n'
        'monday = "08:30-17:30"\n'
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "switchboard.cli", "-c", str(config), "hours", "show", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    shown = run()
    assert shown.returncode == 0 and "[hours.reception] (queue switchboard" in shown.stdout
    assert shown.stdout.count("open    weekly hours") == 2  # two Mondays in 14 days
    unknown = run("sales")
    assert unknown.returncode == 2 and "no [hours.sales] (known: reception)" in unknown.stderr


@pytest.mark.parametrize(
    "arguments",
    [
        {},  # no arguments at all
        {"agi_arg_1": "switchboard\x00\x1b[2J", "agi_arg_2": "+31'; DROP TABLE calls"},
        {"agi_arg_1": "q" * 4000, "agi_arg_2": "9" * 4000},
        {"agi_arg_1": "switchboard", "agi_arg_2": '"\\\n'},
    ],
)
async def test_the_hours_route_over_fastagi_answers_hostile_arguments_with_one_clean_mset(
    server: FastAGIServer, arguments: dict[str, str]
) -> None:
    # The dialplan passes QUEUE and DID; whatever arrives, the route answers with one
    # EXEC MSet of its own variables (open, or the schedule's closed facts) and the
    # connection ends cleanly.
    reception = hours(queues=("switchboard",))
    monday_ten = datetime(2026, 12, 7, 10, 0, tzinfo=reception.schedule.timezone)

    async def none(_schedule: str, _now: datetime) -> Override | None:
        return None

    server.add_route("hours", HoursRoute([reception], none, budget_s=0.1, clock=lambda: monday_ten))
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers("hours", **arguments))
    command = await asterisk.reader.readline()
    await asterisk.reply("200 result=0\n")
    assert await asterisk.read_to_eof() == b""
    assert command.startswith(b'EXEC "MSet" ') and command.count(b"\n") == 1
    assert b"SB_OPEN=yes" in command
    assert b"DROP" not in command and b"\x1b" not in command

"""Issue 13, part 2: a schedule fed by an iCalendar file. `start_services` follows the
calendar (switchboard.calendar_feed) and the FastAGI hours route sees its closures at
once; a calendar that cannot be read closes nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pbx_agi.hours_route import HoursRoute
from switchboard.config import load_config
from switchboard.service import start_services

pytestmark = pytest.mark.integration

ALWAYS = "\n".join(
    f'{day} = "00:00-24:00"'
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
)


def config_file(tmp_path: Path, dsn: str, ical: Path) -> Path:
    path = tmp_path / "switchboard.toml"
    path.write_text(
        f"""
[services]
ami = false
fastagi = false
web = false

[database]
dsn = "{dsn}"
data_dir = "{tmp_path}"

[hours.reception]
queues = ["switchboard"]
{ALWAYS}
ical = {{source = "{ical}", route = "voicemail"}}
"""
    )
    return path


def event(start: datetime, end: datetime) -> str:
    stamp = "%Y%m%dT%H%M%SZ"
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:outing@test\r\nDTSTAMP:{start:{stamp}}\r\nDTSTART:{start:{stamp}}\r\n"
        f"DTEND:{end:{stamp}}\r\nSUMMARY:Company outing\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


async def test_a_calendar_closure_closes_the_line_and_an_unreadable_one_closes_nothing(
    tmp_path: Path, postgres_dsn: str
) -> None:
    now = datetime.now(UTC)
    ical = tmp_path / "closures.ics"
    ical.write_text(event(now - timedelta(hours=1), now + timedelta(hours=2)))
    services = await start_services(load_config(config_file(tmp_path, postgres_dsn, ical)))
    try:
        for _ in range(50):  # the first refresh runs in a worker thread at the start
            (reception,) = services.hours
            if reception.schedule.calendar_closures:
                break
            await asyncio.sleep(0.1)
        route = HoursRoute.from_pool(services.hours, services.database.pool, budget_s=1.0)
        told = await route.variables("switchboard", "")
        assert told["SB_OPEN"] == "no" and told["SB_CLOSED_ROUTE"] == "voicemail"
    finally:
        await services.close()

    ical.write_text("this is not a calendar")
    (tmp_path / "hours-reception.ics").unlink()  # and no last good copy to fall back on
    services = await start_services(load_config(config_file(tmp_path, postgres_dsn, ical)))
    try:
        route = HoursRoute.from_pool(services.hours, services.database.pool, budget_s=1.0)
        assert (await route.variables("switchboard", ""))["SB_OPEN"] == "yes"
    finally:
        await services.close()

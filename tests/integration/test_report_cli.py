"""`switchboard report` prints the report page's numbers from the command line (issue 15):
the same assembly (switchboard.board.figures), as a table or as the page's CSV; a report
that cannot be made says why and exits 2."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from switchboard.cli import main
from switchboard.core.calls.model import CallOutcome
from switchboard.store.calls import write_call
from tests.integration.test_worklist_db import stranger

pytestmark = pytest.mark.integration
ZONE = ZoneInfo("Europe/Amsterdam")


def config(tmp_path: Path, dsn: str) -> Path:
    path = tmp_path / "switchboard.toml"
    path.write_text(f'[services]\nami = false\n\n[database]\ndsn = "{dsn}"\n')
    return path


def test_the_command_line_prints_the_pages_numbers(
    postgres_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = f"cli{random.randrange(10**9)}"
    at = datetime(2026, 6, 2, 9, 10, tzinfo=ZONE).timestamp()

    async def journal() -> None:
        pool = await asyncpg.create_pool(postgres_dsn, min_size=1, max_size=2)
        try:
            for answered_after in (8.0, 40.0):
                await write_call(
                    pool,
                    stranger(
                        queued_at=at,
                        answered_after=answered_after,
                        ended_after=90,
                        outcome=CallOutcome.ANSWERED,
                        queue=queue,
                    ),
                    "NL",
                )
            await write_call(
                pool,
                stranger(
                    queued_at=at + 30,
                    ended_after=45,
                    outcome=CallOutcome.ABANDONED,
                    queue=queue,
                ),
                "NL",
            )
        finally:
            await pool.close()

    asyncio.run(journal())
    path = config(tmp_path, postgres_dsn)
    asked = ["-c", str(path), "report", "--from", "2026-06-02", "--to", "2026-06-03"]
    assert main([*asked, "--interval", "hour", "--queue", queue, "--csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split(",")[:4] == ["start", "arrivals", "answered", "answered_in_time"]
    nine = next(line for line in lines if line.startswith("2026-06-02T09:00:00+02:00"))
    assert nine.split(",")[1:8] == ["3", "2", "1", "1", "0", "0", "0.3333"]
    assert lines[-1].startswith("total,3,2,1,1,0,0,0.3333")
    assert main([*asked, "--queue", queue]) == 0
    table = capsys.readouterr().out
    assert "answered within 15 s, target 80%" in table
    assert "33.3%" in table.splitlines()[-2]  # the total row


@pytest.mark.parametrize(
    "bad",
    [
        ["--from", "2026-13-01"],
        ["--from", "2026-12-02", "--to", "2026-12-01"],
        ["--from", "0001-01-01"],
    ],
)
def test_a_report_that_cannot_be_made_says_why(
    postgres_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: list[str]
) -> None:
    assert main(["-c", str(config(tmp_path, postgres_dsn)), "report", *bad]) == 2
    assert capsys.readouterr().err.startswith("switchboard report: ")

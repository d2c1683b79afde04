"""Issue 14, exactly once whatever fails: a second switchboard process (as a site runs
one on a second host: same PostgreSQL, same Asterisk) dials the back office's callbacks
and is killed with SIGKILL in the middle of one. The session's switchboard, the other
instance, finds the lease run out, holds it against Asterisk's live channels, and
follows the call to its end: the callback is done, and Asterisk saw its member rung
once. Restarted, the killed instance dials nothing again."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from devtools.sandbox import Sandbox
from devtools.sipp import start_phone
from switchboard.store import callbacks
from tests.conftest import (
    RunningSwitchboard,
    free_port,
    start_switchboard,
    stop_switchboard,
    wait_until_live,
)
from tests.sandbox_ami import Asterisk, collect, until

pytestmark = pytest.mark.integration

E164 = "+31612000601"


def second_instance_config(dsn: str, sandbox: Sandbox, web_port: int) -> str:
    settings = sandbox.settings
    return f"""
[services]
fastagi = false

[web]
port = {web_port}

[database]
dsn = "{dsn}"

[pbx.sandbox]
port = {settings.ami_port}
username = "{settings.ami_username}"
secret = "{settings.ami_secret}"

[callbacks]
queues = ["support"]
lease_s = 5
"""


@pytest.fixture
def second_instance(
    sandbox: Sandbox, postgres_dsn: str, tmp_path: Path, switchboard: RunningSwitchboard
) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Starts (and at the end stops) `switchboard run` processes of the second host."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        web_port = free_port()
        config = tmp_path / f"second-{len(started)}.toml"
        config.write_text(second_instance_config(postgres_dsn, sandbox, web_port))
        log_path = tmp_path / f"second-{len(started)}.log"
        process = start_switchboard(config, log_path)
        started.append(process)
        wait_until_live(f"http://127.0.0.1:{web_port}", process, log_path)
        return process

    yield start
    for process in started:
        stop_switchboard(process)


async def test_a_dialler_killed_mid_callback_leaves_it_dialled_once_and_done(
    asterisk: Asterisk, db: asyncpg.Pool, second_instance: Callable[[], subprocess.Popen[bytes]]
) -> None:
    await db.execute("DELETE FROM callbacks WHERE e164 = $1", E164)
    events = collect(asterisk)
    member = start_phone("202", answer_after_s=0.3)
    # The caller's phone: answers, presses 1 until heard, talks 15 s and hangs up.
    provider = start_phone(
        "0", answer_after_s=0.5, hang_up_after_s=15, keys=[(3.0, "1")] + [(1.5, "1")] * 5
    )
    try:
        second = second_instance()
        now = time.time()
        stored, _ = await callbacks.request(
            db,
            pbx="sandbox",
            queue="support",
            e164=E164,
            source="board",
            joined_at=datetime.fromtimestamp(now - 120, UTC),
            not_before=datetime.fromtimestamp(now - 120, UTC),
        )
        await until(
            lambda: db.fetchval(
                "SELECT 1 FROM callbacks WHERE id = $1 AND state = 'connected'", stored.id
            ),
            60,
            "the caller connected by the second instance",
        )
        second.send_signal(signal.SIGKILL)
        second.wait(10)
        done = await until(
            lambda: db.fetchrow(
                "SELECT state, lease_owner FROM callbacks WHERE id = $1 AND state = 'done'",
                stored.id,
            ),
            60,
            "the callback done by the surviving instance",
        )
        assert done["lease_owner"] is None
        # The killed instance comes back: nothing is dialled again.
        second_instance()
        await asyncio.sleep(5)
    finally:
        member.stop()
        provider.stop()
    rung = {
        e["Uniqueid"]
        for e in events
        if e.get("Event") == "Newchannel"
        and e.get("Uniqueid", "").startswith("sb-callback-")
        and e["Uniqueid"].split("-")[2] == str(stored.id)
    }
    assert rung == {f"sb-callback-{stored.id}-1"}, rung
    assert await db.fetchval("SELECT state FROM callbacks WHERE id = $1", stored.id) == "done"
    attempts = await db.fetch(
        "SELECT attempt, result FROM callback_attempts WHERE callback_id = $1", stored.id
    )
    assert [tuple(a) for a in attempts] == [(1, "reached")]

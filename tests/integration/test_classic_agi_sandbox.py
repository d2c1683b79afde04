"""The classic AGI script inside the sandbox Asterisk, reached by real SIPp calls.

The dialplan tries FastAGI first; with nothing listening there it runs
``agi-bin/switchboard-agi-recognize`` (the sandbox's wrapper around the Python that ran
``sandbox up``, bind-mounted into the chroot). These tests point the dialplan's
``SWITCHBOARD_FASTAGI`` at a port of their own for their duration, so they do not depend
on whether another test's switchboard service holds the sandbox's usual 14573.

The test PostgreSQL only listens on a Unix socket outside the chroot; a small TCP
proxy on 127.0.0.1 makes it reachable from inside, as a networked database would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import select
import socket
import socketserver
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest
from psycopg.conninfo import conninfo_to_dict

from devtools import sipp
from devtools.sandbox import FASTAGI_HOST, Sandbox
from pbx_agi.caller_directory import CallerDirectory
from pbx_agi.fastagi.server import FastAGIServer
from pbx_agi.recognise_route import RecogniseRoute
from switchboard.store.contacts import add_contact
from tests.conftest import wait_for

pytestmark = pytest.mark.integration

#: Numbers of this module only: the sandbox and its channel list are shared.
FASTAGI_CALLER = "0645490001"
CLASSIC_CALLER = "0645490002"
UNREACHABLE_CALLER = "0645490003"


# --------------------------------------------------------------------- helpers


def queued_channel(box: Sandbox, number: str, timeout: float = 15.0) -> str:
    """The trunk channel of the call from ``number`` once it runs Queue(switchboard)."""
    found: list[str] = []

    def in_queue() -> bool:
        for line in box.cli("core show channels concise").splitlines():
            fields = line.split("!")
            if (
                len(fields) > 7
                and fields[0].startswith("PJSIP/trunk-")
                and fields[7] == number
                and fields[5] == "Queue"
            ):
                found.append(fields[0])
                return True
        return False

    wait_for(in_queue, timeout, f"the call from {number} to wait in the queue")
    return found[-1]


def channel_facts(box: Sandbox, channel: str) -> dict[str, str]:
    """CALLERID(name), AGISTATUS and every SB_* variable of a live channel."""
    out = box.cli(f"core show channel {channel}")
    name = re.search(r"^\s*Caller ID Name:\s*(.*)$", out, re.MULTILINE)
    facts = {"CALLERID(name)": name.group(1).strip() if name else ""}
    for match in re.finditer(r"^\s*((?:SB_|AGISTATUS)\w*)=(.*)$", out, re.MULTILINE):
        facts[match.group(1)] = match.group(2).strip()
    return facts


def agi_latency_ms(box: Sandbox, channel: str, script: str) -> float:
    """Milliseconds from Asterisk starting AGI(``script``...) on ``channel`` to the next step,
    from messages.log (its timestamps have milliseconds)."""
    stamp = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\]")
    started: datetime | None = None
    for line in box.settings.messages_log.read_text(errors="replace").splitlines():
        if f'("{channel}"' not in line or "Executing [" not in line:
            continue
        match = stamp.match(line)
        if match is None:
            continue
        at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f")
        # (Recognition's step: the dialplan asks the hours route first.)
        if started is None and f'AGI("{channel}", "{script}' in line and "recognize" in line:
            started = at
        elif started is not None:
            return (at - started).total_seconds() * 1000
    raise AssertionError(f"no AGI({script}) step for {channel} in messages.log")


@contextlib.contextmanager
def fastagi_global(box: Sandbox, port: int) -> Iterator[None]:
    """Point the dialplan's SWITCHBOARD_FASTAGI at ``port`` during the block."""
    box.cli(f"dialplan set global SWITCHBOARD_FASTAGI agi://{FASTAGI_HOST}:{port}")
    try:
        yield
    finally:
        box.cli(f"dialplan set global SWITCHBOARD_FASTAGI {box.settings.fastagi_url}")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind((FASTAGI_HOST, 0))
        return int(sock.getsockname()[1])


class _Pipe(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server = self.server
        assert isinstance(server, _UnixProxy)
        with socket.socket(socket.AF_UNIX) as upstream:
            upstream.connect(server.target)
            peers = {self.request: upstream, upstream: self.request}
            while True:
                readable, _, _ = select.select(list(peers), [], [], 30)
                if not readable:
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)


class _UnixProxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, target: str) -> None:
        self.target = target
        super().__init__((FASTAGI_HOST, 0), _Pipe)


@pytest.fixture(scope="module")
def tcp_dsn(postgres_dsn: str) -> Iterator[str]:
    """A DSN for the test PostgreSQL that works from inside the chroot (TCP on loopback)."""
    params = conninfo_to_dict(postgres_dsn)
    socket_path = Path(str(params["host"])) / f".s.PGSQL.{params.get('port') or 5432}"
    proxy = _UnixProxy(str(socket_path))
    thread = threading.Thread(target=proxy.serve_forever, name="pg-proxy", daemon=True)
    thread.start()
    try:
        port = proxy.server_address[1]
        yield f"postgresql://{params.get('user') or 'postgres'}@127.0.0.1:{port}/{params['dbname']}"
    finally:
        proxy.shutdown()
        proxy.server_close()


def classic_config(dsn: str) -> str:
    # What an admin writes into /etc/switchboard/switchboard.toml. The budget only
    # bounds the database lookup, not Python's start.
    return (
        f'[fastagi]\nbudget_ms = 1000\n\n[database]\ndsn = "{dsn}"\n\n'
        '[phone]\ndefault_region = "NL"\n'
    )


async def call_and_read(box: Sandbox, number: str, name: str) -> tuple[str, dict[str, str]]:
    """Place a call, wait until it queues, return its channel and facts, hang up."""
    call = sipp.place_call(number, name, duration_s=5)
    try:
        channel = await asyncio.to_thread(queued_channel, box, number)
        facts = await asyncio.to_thread(channel_facts, box, channel)
    finally:
        call.stop()
    return channel, facts


# ----------------------------------------------------------------------- tests


async def test_classic_script_recognises_like_fastagi_when_the_service_is_down(
    sandbox: Sandbox, db: asyncpg.Pool, tcp_dsn: str
) -> None:
    # One contact, two numbers: one call is recognised by FastAGI, the other by the
    # classic script, and Asterisk must end up with the same facts on both channels.
    contact_id = await add_contact(
        db, "Marieke Visser", [FASTAGI_CALLER, CLASSIC_CALLER], company="Visser & Zn", vip=True
    )
    directory = CallerDirectory(db)
    await directory.reload()
    route = RecogniseRoute.from_directory(directory, db, region="NL", budget_s=1.0)

    async with FastAGIServer({"recognize": route}) as server:
        await server.start(FASTAGI_HOST, 0)
        with fastagi_global(sandbox, server.port):
            fast_channel, by_fastagi = await call_and_read(sandbox, FASTAGI_CALLER, "Caller A")

    await asyncio.to_thread(sandbox.configure_classic_agi, classic_config(tcp_dsn))
    try:
        with fastagi_global(sandbox, closed_port()):
            classic_channel, by_classic = await call_and_read(sandbox, CLASSIC_CALLER, "Caller B")
    finally:
        await asyncio.to_thread(sandbox.configure_classic_agi, None)

    assert by_classic["AGISTATUS"] == "SUCCESS"
    assert by_classic["CALLERID(name)"] == "Marieke Visser - Visser & Zn"
    assert by_classic["SB_RECOGNISED"] == "yes"
    assert by_classic["SB_CONTACT_ID"] == str(contact_id)
    assert by_classic["SB_CALLER_E164"] == "+31645490002"
    assert by_classic["SB_QUEUE_PRIORITY"] == "10"
    assert by_fastagi["SB_CALLER_E164"] == "+31645490001"
    # (SB_QUEUE_SINCE is the dialplan's own: when each call joined the queue.)
    own = {"SB_CALLER_E164", "SB_QUEUE_SINCE"}
    same = {k: v for k, v in by_classic.items() if k not in own}
    assert same == {k: v for k, v in by_fastagi.items() if k not in own}
    assert len(same) == 17  # CALLERID(name), AGISTATUS and the 15 other SB_* variables

    log = sandbox.settings.messages_log.read_text(errors="replace")
    assert f"Recognition service unavailable for {CLASSIC_CALLER}" in log
    fast_ms = agi_latency_ms(sandbox, fast_channel, "agi://")
    classic_ms = agi_latency_ms(sandbox, classic_channel, "switchboard-agi-recognize")
    print(f"\nrecognition per call: FastAGI {fast_ms:.0f} ms, classic AGI {classic_ms:.0f} ms")
    assert classic_ms < 4000  # well inside SWITCHBOARD_AGI_TIMEOUT (5 s), Python start included


async def test_with_both_recognitions_down_the_call_still_queues(sandbox: Sandbox) -> None:
    # The classic script is configured, but its database is not there either.
    dsn = f"postgresql://nobody@127.0.0.1:{closed_port()}/switchboard"
    await asyncio.to_thread(sandbox.configure_classic_agi, classic_config(dsn))
    try:
        with fastagi_global(sandbox, closed_port()):
            _, facts = await call_and_read(sandbox, UNREACHABLE_CALLER, 'Jan "de" Vries')
    finally:
        await asyncio.to_thread(sandbox.configure_classic_agi, None)
    assert facts["AGISTATUS"] == "FAILURE"  # the script's exit code 1 reached Asterisk
    # It still said "not recognised", as the FastAGI route does without its database.
    assert facts["SB_RECOGNISED"] == "no"
    assert facts["SB_CALLER_E164"] == "+31645490003"
    assert facts["CALLERID(name)"] == "Jan de Vries"
    log = sandbox.settings.messages_log.read_text(errors="replace")
    assert (
        f"Recognition failed for {UNREACHABLE_CALLER} (classic AGI script: AGISTATUS=FAILURE)"
        in log
    )
    # Its one line on stderr is on Asterisk's console.
    console = sandbox.settings.console_log.read_text(errors="replace")
    assert re.search(
        r"switchboard-agi-recognize\[\d+\]: PJSIP/trunk-\S+: recognition of \+31645490003 "
        r"failed \(.*Connection refused.*\); call goes on unrecognised",
        console,
    )

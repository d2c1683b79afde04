"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hypothesis import settings

from pbx_agi.fastagi.server import FastAGIServer

# No property test fails for being slow: a timing is a bench's business, never a test's
# (the first example of test_numbers once took 436 ms, loading phonenumbers' metadata
# while the deployment test ran beside it: a flaky failure, not a defect).
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")


@pytest.fixture
async def server() -> AsyncIterator[FastAGIServer]:
    """A FastAGI server on a free port of 127.0.0.1, with no routes yet."""
    srv = FastAGIServer(header_timeout=2.0, command_timeout=2.0)
    await srv.start("127.0.0.1", 0)
    try:
        yield srv
    finally:
        await srv.close(grace=1.0)

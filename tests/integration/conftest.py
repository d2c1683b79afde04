"""Fixtures for tests against the sandbox Asterisk (see switchboard.sandbox)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from switchboard.sandbox import Sandbox, SandboxSettings


@pytest.fixture(scope="session")
def sandbox_settings() -> SandboxSettings:
    return SandboxSettings.from_env()


@pytest.fixture(scope="session")
def sandbox(sandbox_settings: SandboxSettings) -> Iterator[Sandbox]:
    """The sandbox Asterisk, up and fully booted, once per test session.

    The first run builds the root with debootstrap (about a minute).  At the
    end of the session the sandbox is stopped again only if this session
    started it; one that was already running is left running.
    """
    if os.geteuid() != 0:
        pytest.skip("the sandbox Asterisk needs root (chroot, mount)")
    if shutil.which("sipp") is None:
        pytest.skip("sipp not found: apt-get install sip-tester")
    box = Sandbox(sandbox_settings)
    was_running = box.status().running
    box.up()
    yield box
    if not was_running:
        box.down()

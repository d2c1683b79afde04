"""Ctrl-C on the demo leaves the machine as it was: the sandbox Asterisk it started
goes down with it; one that was already running (tests, another demo) stays up."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from devtools import demo
from devtools.sandbox import SandboxStatus


class FakeSandbox:
    running_before: ClassVar[bool] = False
    calls: ClassVar[list[str]] = []

    def __init__(self, _settings: object) -> None:
        pass

    def status(self) -> SandboxStatus:
        return SandboxStatus(True, type(self).running_before, None, None)

    def up(self) -> None:
        self.calls.append("up")

    def down(self) -> None:
        self.calls.append("down")


def interrupted(_coroutine: Any) -> None:
    _coroutine.close()
    raise KeyboardInterrupt


@pytest.mark.parametrize(("running_before", "expected"), [(False, ["up", "down"]), (True, ["up"])])
def test_ctrl_c_stops_the_sandbox_only_if_the_demo_started_it(
    monkeypatch: pytest.MonkeyPatch, running_before: bool, expected: list[str]
) -> None:
    FakeSandbox.running_before = running_before
    FakeSandbox.calls = []
    monkeypatch.setattr(demo, "Sandbox", FakeSandbox)
    monkeypatch.setattr(demo.asyncio, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        demo.main(port=0, calls_every_s=1.0)
    assert FakeSandbox.calls == expected

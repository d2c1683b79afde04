"""``switchboard dialplan check`` finds each class of mistake, on the line it is on.

Each directory under ``tests/fixtures/dialplans/`` is the small clean dialplan there
(``clean/``) with one mistake made on purpose; the broken line says which findings it
must give (``; expect: RULE-ID``). The check loads the files into a throwaway Asterisk
(the sandbox root's binary, never the running sandbox) and must report exactly those
findings: the marked lines, nothing else. The shipped ``dialplans/`` has none.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.sandbox import Sandbox
from switchboard.dialplan.check import run_check
from switchboard.dialplan.rules import RULES
from tests.conftest import REPO

pytestmark = pytest.mark.integration

FIXTURES = REPO / "tests/fixtures/dialplans"
BROKEN = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name != "clean")
_EXPECT = re.compile(r"expect:((?:\s+SB-[A-Z-]+)+)")


def fixture_directory(name: str, tmp_path: Path) -> Path:
    """The clean dialplan with ``name``'s files over it."""
    directory = tmp_path / name
    shutil.copytree(FIXTURES / "clean", directory)
    for path in (FIXTURES / name).iterdir():
        shutil.copy(path, directory / path.name)
    return directory


def expected(directory: Path) -> set[tuple[str, int, str]]:
    marks = set()
    for path in directory.iterdir():
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = _EXPECT.search(line)
            if match and not line.lstrip().startswith(";"):
                marks |= {(path.name, number, rule) for rule in match.group(1).split()}
    return marks


def switchboard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "switchboard.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_rule_has_its_broken_dialplan() -> None:
    covered = {rule for name in BROKEN for _file, _line, rule in expected(FIXTURES / name)}
    assert set(RULES) <= covered


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_dialplan_gives_exactly_its_findings(name: str, tmp_path: Path) -> None:
    directory = fixture_directory(name, tmp_path)

    report = run_check(directory)

    found = {(f.file, f.line, f.rule) for f in report.findings}
    assert found == expected(directory), "\n".join(map(str, report.findings))


def test_the_clean_fixture_and_the_shipped_dialplan_pass(tmp_path: Path) -> None:
    assert run_check(FIXTURES / "clean").findings == []
    shipped = switchboard("dialplan", "check", str(REPO / "dialplans"))
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr
    assert "0 findings (Asterisk 22" in shipped.stderr


def test_findings_read_as_file_line_rule_message_and_as_json(tmp_path: Path) -> None:
    directory = fixture_directory("goto-target", tmp_path)

    text = switchboard("dialplan", "check", str(directory))
    as_json = switchboard("dialplan", "check", "--json", str(directory))

    assert text.returncode == as_json.returncode == 1
    assert text.stdout.splitlines() == [
        "extensions.conf:11: SB-GOTO-TARGET Goto: no context 'inbund'"
    ]
    assert json.loads(as_json.stdout) == [
        {
            "file": "extensions.conf",
            "line": 11,
            "rule": "SB-GOTO-TARGET",
            "message": "Goto: no context 'inbund'",
        }
    ]


def test_a_directory_that_cannot_be_checked_exits_2(tmp_path: Path) -> None:
    missing = switchboard("dialplan", "check", str(tmp_path / "nowhere"))
    empty = switchboard("dialplan", "check", str(tmp_path))

    assert (missing.returncode, empty.returncode) == (2, 2)
    assert "not a directory" in missing.stderr
    assert "no extensions.conf" in empty.stderr


def test_the_throwaway_asterisk_leaves_the_running_sandbox_alone(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """Checking a dialplan while the sandbox runs: the sandbox keeps its dialplan and
    its control socket (the throwaway instance has its own run directory)."""
    directory = fixture_directory("goto-target", tmp_path)
    before = sandbox.cli("dialplan show switchboard-inbound")

    run_check(directory)

    assert sandbox.cli("dialplan show switchboard-inbound") == before

"""A short run of the office-day bench (issue 17): a few callers through both arms, on
the sandbox Asterisk with SIPp. It asserts only that both arms ran and that every call
and every caller is accounted for in both, never a figure or a timing (the bench's
figures are recorded in bench/README.md, not asserted).

It runs apart from the rest of the suite (``scripts/test`` runs it before the
integration tests, beside the deployment test): the suite's own switchboard service
holds the sandbox's FastAGI port and would serve its callers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.office_day, pytest.mark.timeout(600)]


def test_both_arms_run_and_every_caller_is_accounted_for(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench/office_day.py"),
            "--smoke",
            "--json",
            str(out),
            "--chart",
            str(tmp_path / "chart.png"),
        ],
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
        cwd=REPO,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    figures = json.loads(out.read_text())
    for arm in ("plain", "product"):
        assert figures[arm]["calls"] >= figures[arm]["callers"] > 0, figures[arm]
        assert figures["accounted"][arm], figures
    assert (tmp_path / "chart.png").stat().st_size > 0

"""The wheel is the product alone, and runs without the checkout.

Built from the repository as a packager would (``pip wheel .``), it holds the four
packages with their migrations, templates and scripts, and none of the developer tools,
tests or benches. Installed into a folder of its own (``pip install --target``) and run
from elsewhere, it starts ``switchboard run`` against the sandbox Asterisk as against
an admin's own PBX, and the board's health says every PBX is connected.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from devtools.sandbox import Sandbox
from tests.conftest import REPO, free_port, service_config, wait_until_live

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("switchboard-*.whl")
    return built


def test_the_wheel_holds_the_product_and_nothing_of_the_checkout(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.endswith(".dist-info/")}
    assert {"switchboard", "pbx_agi", "ami_bridge", "switchboard_ui"} <= tops
    assert not {n for n in names if n.startswith(("devtools/", "tests/", "bench/", "scripts/"))}
    assert "switchboard/store/migrations/0001_initial.sql" in names
    assert "switchboard_ui/templates/board.html" in names
    assert "switchboard_ui/static/board.js" in names


def test_the_installed_wheel_runs_against_an_outside_asterisk(
    wheel: Path, sandbox: Sandbox, postgres_dsn: str, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), wheel],
        check=True,
        capture_output=True,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env["PYTHONPATH"] = str(site)
    where = subprocess.run(
        [sys.executable, "-c", "import switchboard.service as s, importlib.util as u;"
         " print(s.__file__); print(u.find_spec('devtools'))"],
        cwd=tmp_path, env=env, check=True, capture_output=True, text=True,
    ).stdout.split("\n")  # fmt: skip
    assert where[0].startswith(str(site)) and where[1] == "None"

    web_port = free_port()
    config = tmp_path / "switchboard.toml"
    config.write_text(
        service_config(
            postgres_dsn, web_port, sandbox.settings, fastagi_port=free_port(), pbx="outside"
        )
    )
    log_path = tmp_path / "switchboard.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "switchboard.cli", "-c", str(config), "run"],
            cwd=tmp_path,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_live(f"http://127.0.0.1:{web_port}", process, log_path)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)

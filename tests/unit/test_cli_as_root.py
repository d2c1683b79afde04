"""An admin's command run as root never takes the service's embedded PostgreSQL over.

As root, the embedded PostgreSQL library makes a system user of its own and hands the data
directory to it: the service user could no longer start its database (issue 16). The
command refuses before it touches anything, and says how to run it instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from switchboard.cli import main

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

NOBODY = 65534


def config_with_data_dir(tmp_path: Path, data_dir: Path) -> Path:
    config = tmp_path / "switchboard.toml"
    config.write_text(
        f'[database]\ndata_dir = "{data_dir}"\n\n'
        '[pbx.main]\nhost = "127.0.0.1"\nusername = "switchboard"\nsecret = "s"\n',
        encoding="utf-8",
    )
    return config


@pytest.mark.parametrize("command", [["migrate"], ["user-add", "lotte"], ["run"]])
def test_a_data_directory_of_the_service_user_is_refused_to_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    data_dir = tmp_path / "pgdata"
    data_dir.mkdir()
    os.chown(data_dir, NOBODY, NOBODY)
    before = sorted(p.name for p in data_dir.iterdir())

    status = main(["-c", str(config_with_data_dir(tmp_path, data_dir)), *command])

    assert status == 2
    error = capsys.readouterr().err
    assert f"{data_dir} belongs to user nobody" in error
    assert "runuser -u nobody -- switchboard" in error
    assert data_dir.stat().st_uid == NOBODY
    assert sorted(p.name for p in data_dir.iterdir()) == before


def test_a_data_directory_not_made_yet_is_judged_by_its_parent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)

    status = main(["-c", str(config_with_data_dir(tmp_path, home / "pgdata")), "migrate"])

    assert status == 2
    assert f"{home} belongs to user nobody" in capsys.readouterr().err
    assert not (home / "pgdata").exists()

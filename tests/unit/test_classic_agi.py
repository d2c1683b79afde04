"""The classic AGI script without a database: its AGI conversation, its configuration
and its time budget. (Against a real PostgreSQL: tests/integration/test_classic_agi_db.py.)

``main()`` is driven as Asterisk drives it: the environment block and the replies on
stdin, the commands read back from stdout.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from devtools.sandbox import classic_agi_mounts
from pbx_agi import classic_agi
from pbx_agi.agi_protocol import AGIHeaderIncomplete, AGIHeaderTooLarge
from tests.asterisk_model import variables_set

REPO = Path(__file__).resolve().parents[2]
CALLER = {
    "agi_request": "switchboard-agi-recognize",
    "agi_channel": "PJSIP/trunk-00000001",
    "agi_uniqueid": "1700000000.1",
    "agi_callerid": "0612345678",
    "agi_calleridname": "Jan de Vries",
    "agi_arg_1": "0201234567",
}
OK = "200 result=1"


@dataclass
class Conversation:
    code: int
    commands: list[str]
    stderr: str
    elapsed_s: float


def environment_block(env: Mapping[str, str]) -> bytes:
    return "".join(f"{key}: {value}\n" for key, value in env.items()).encode() + b"\n"


Converse = Callable[..., Conversation]


@pytest.fixture
def converse(monkeypatch: pytest.MonkeyPatch) -> Iterator[Converse]:
    """Run ``main(argv)`` with ``env`` (a mapping or raw bytes) and ``replies`` on stdin."""
    for name in list(os.environ):
        if name.startswith("SWITCHBOARD_"):
            monkeypatch.delenv(name)
    previous_sighup = signal.getsignal(signal.SIGHUP)  # pyst2 installs its own

    def run(
        argv: Sequence[str],
        env: Mapping[str, str] | bytes = CALLER,
        replies: Sequence[str] = (OK,) * 40,
    ) -> Conversation:
        block = env if isinstance(env, bytes) else environment_block(env)
        stdin = block + "".join(f"{r}\n" for r in replies).encode()
        out = io.BytesIO()
        stdout = io.TextIOWrapper(out, encoding="ascii")  # main() must switch it to UTF-8
        stderr = io.StringIO()
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        monkeypatch.setattr(sys, "stdout", stdout)
        monkeypatch.setattr(sys, "stderr", stderr)
        started = time.monotonic()
        code = classic_agi.main(list(argv))
        elapsed = time.monotonic() - started
        stdout.flush()
        lines = out.getvalue().decode("utf-8").split("\n")
        assert lines[-1] == "", "every command ends with a newline"
        return Conversation(code, lines[:-1], stderr.getvalue(), elapsed)

    yield run
    signal.signal(signal.SIGHUP, previous_sighup)


def config_file(tmp_path: Path, dsn: str, *, budget_ms: int = 200) -> str:
    path = tmp_path / "switchboard.toml"
    path.write_text(f'[fastagi]\nbudget_ms = {budget_ms}\n\n[database]\ndsn = "{dsn}"\n')
    return str(path)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


UNRECOGNISED_WITHHELD = {
    "SB_RECOGNISED": "no",
    "SB_CONFIDENCE": "unknown",
    "SB_CALLER_E164": "",
    "SB_NUMBER_KIND": "withheld",
    "SB_CONTACT_ID": "",
    "SB_CONTACT_NAME": "",
    "SB_COMPANY": "",
    "SB_VIP": "0",
    "SB_LANGUAGE": "",
    "SB_REPEAT_CALLER": "no",
    "SB_RECENT_CALLS": "0",
    "SB_LAST_HANDLED_BY": "",
    "SB_MISSED_CALL": "no",
    "SB_QUEUE_PRIORITY": "0",
    "SB_PREFERRED_EXTENSION": "",
    "SB_ROUTE_REASON": "first call",
}


def one_mset(commands: list[str]) -> bool:
    """Everything in one round trip, as the FastAGI route sends it."""
    return len(commands) == 1 and commands[0].startswith('EXEC "MSet" ')


# ----------------------------------------------------------------- the conversation


def test_a_withheld_caller_is_answered_without_asking_the_database(
    converse: Converse, tmp_path: Path
) -> None:
    # The DSN points nowhere: a withheld number is never looked up, so that is fine.
    config = config_file(tmp_path, f"postgresql://nobody@127.0.0.1:{closed_port()}/x")
    env = {**CALLER, "agi_callerid": "anonymous", "agi_calleridname": "unknown"}
    result = converse(["-c", config, "0201234567"], env)
    assert result.code == 0
    assert variables_set(result.commands) == UNRECOGNISED_WITHHELD
    assert one_mset(result.commands)
    assert result.stderr == ""


def test_caller_name_bytes_that_are_not_utf8_do_not_stop_recognition(
    converse: Converse, tmp_path: Path
) -> None:
    config = config_file(tmp_path, "postgresql://nobody@127.0.0.1:1/x")
    env = environment_block({**CALLER, "agi_callerid": "anonymous"}).replace(
        b"Jan de Vries", b"J\xfcrgen \xe2\x80\x94 M\xc3\xbcller"
    )
    result = converse(["-c", config], env)
    assert result.code == 0
    # As the FastAGI server reads it: undecodable bytes become U+FFFD, the rest stays.
    assert variables_set(result.commands) == {
        "CALLERID(name)": "J\ufffdrgen \u2014 M\u00fcller",
        **UNRECOGNISED_WITHHELD,
    }
    assert one_mset(result.commands)


def test_a_line_smuggled_into_the_environment_cannot_change_the_caller(
    converse: Converse, tmp_path: Path
) -> None:
    # Should a name ever carry a line break, its second line must not override the
    # real agi_callerid sent before it (pyst2 alone lets the last one win).
    config = config_file(tmp_path, "postgresql://nobody@127.0.0.1:1/x")
    env = environment_block({**CALLER, "agi_callerid": "anonymous"}).replace(
        b"agi_calleridname: Jan de Vries\n",
        b"agi_calleridname: Mallory\nagi_callerid: 0612345678\n",
    )
    result = converse(["-c", config], env)
    assert result.code == 0
    assert variables_set(result.commands)["SB_NUMBER_KIND"] == "withheld"


def test_asterisk_refusing_a_command_is_a_failure_in_one_line(
    converse: Converse, tmp_path: Path
) -> None:
    config = config_file(tmp_path, "postgresql://nobody@127.0.0.1:1/x")
    env = {**CALLER, "agi_callerid": "anonymous"}
    result = converse(["-c", config], env, replies=["200 result=-1"])
    assert result.code == 1
    assert len(result.commands) == 1  # stopped at the refused one
    assert result.stderr.count("\n") == 1
    assert "Asterisk refused a command" in result.stderr


def test_a_caller_who_hangs_up_ends_the_script_quietly(converse: Converse, tmp_path: Path) -> None:
    config = config_file(tmp_path, "postgresql://nobody@127.0.0.1:1/x")
    env = {**CALLER, "agi_callerid": "anonymous"}
    # Asterisk answers commands on a dead channel with 511; or stdin just ends.
    dead = converse(["-c", config], env, replies=["511 Command Not Permitted"])
    assert (dead.code, len(dead.commands), dead.stderr) == (0, 1, "")
    gone = converse(["-c", config], env, replies=[])
    assert (gone.code, len(gone.commands), gone.stderr) == (0, 1, "")


def test_without_an_environment_block_nothing_is_sent(converse: Converse, tmp_path: Path) -> None:
    result = converse(["-c", config_file(tmp_path, "postgresql://x@127.0.0.1:1/x")], b"agi_")
    assert result.code == 1
    assert result.commands == []
    assert "no AGI conversation" in result.stderr


def test_the_environment_block_is_bounded() -> None:
    with pytest.raises(AGIHeaderTooLarge):
        classic_agi.read_environment(io.BytesIO(b"agi_x: y\n" * 10_000))
    with pytest.raises(AGIHeaderTooLarge):
        classic_agi.read_environment(io.BytesIO(b"agi_x: " + b"y" * 100_000 + b"\n\n"))
    with pytest.raises(AGIHeaderIncomplete):
        classic_agi.read_environment(io.BytesIO(b"agi_channel: PJSIP/x\n"))
    env = classic_agi.read_environment(io.BytesIO(environment_block(CALLER) + b"200 result=1\n"))
    assert env.caller_id == "0612345678"
    assert env.unique_id == "1700000000.1"


# -------------------------------------------------------------------- configuration


def test_without_a_dsn_it_says_so_and_sets_nothing(converse: Converse, tmp_path: Path) -> None:
    path = tmp_path / "switchboard.toml"
    path.write_text("[fastagi]\nbudget_ms = 200\n")  # no [pbx]: not needed here either
    result = converse(["-c", str(path)])
    assert result.code == 2
    assert result.commands == []
    assert result.stderr.count("\n") == 1
    assert "database.dsn: must be set" in result.stderr
    assert "PJSIP/trunk-00000001" in result.stderr


def test_config_comes_from_switchboard_config_and_env_overrides(
    converse: Converse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "switchboard.toml"
    path.write_text('[fastagi]\nbudget_ms = "lots"\n')
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(path))
    result = converse([])
    assert result.code == 2
    assert "fastagi.budget_ms: expected a whole number" in result.stderr
    monkeypatch.setenv("SWITCHBOARD_FASTAGI__BUDGET_MS", "300")
    monkeypatch.setenv("SWITCHBOARD_DATABASE__DSN", "postgresql://x@127.0.0.1:1/x")
    result = converse([], {**CALLER, "agi_callerid": "anonymous"})
    assert result.code == 0


def test_a_missing_config_file_is_one_line(converse: Converse, tmp_path: Path) -> None:
    result = converse(["-c", str(tmp_path / "absent.toml")])
    assert result.code == 2
    assert result.stderr.count("\n") == 1
    assert "absent.toml does not exist" in result.stderr


def test_the_budget_becomes_statement_timeout_and_connect_timeout() -> None:
    dsn = "postgresql://sb@db.example:5433/switchboard?options=-c%20search_path%3Dsb"
    params = conninfo_to_dict(classic_agi.connection_string(dsn, 200))
    assert params["options"] == "-c search_path=sb -c statement_timeout=200"
    # libpq counts whole seconds and no less than 2; the budget itself is kept by a
    # deadline in lookup() (see the tests below).
    assert params["connect_timeout"] == "2"
    assert params["application_name"] == "switchboard-agi-recognize"
    assert (params["host"], params["port"], params["dbname"]) == (
        "db.example",
        "5433",
        "switchboard",
    )
    assert conninfo_to_dict(classic_agi.connection_string(dsn, 4500))["connect_timeout"] == "5"


# ------------------------------------------------------------------------- budget


def test_a_database_that_never_answers_costs_no_more_than_the_budget(
    converse: Converse, tmp_path: Path
) -> None:
    # Accepts the TCP connection (the kernel does, from the backlog), never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        config = config_file(tmp_path, f"postgresql://nobody@127.0.0.1:{port}/x", budget_ms=300)
        result = converse(["-c", config])
    assert result.code == 1
    assert 0.3 <= result.elapsed_s < 1.0
    # The call goes on unrecognised, exactly as with the FastAGI route.
    assert variables_set(result.commands)["CALLERID(name)"] == "Jan de Vries"
    assert variables_set(result.commands)["SB_RECOGNISED"] == "no"
    assert variables_set(result.commands)["SB_CALLER_E164"] == "+31612345678"
    assert one_mset(result.commands)
    assert result.stderr.count("\n") == 1
    assert "no answer from PostgreSQL within 300 ms" in result.stderr


def test_a_closed_port_exits_non_zero_at_once_with_one_clear_line(tmp_path: Path) -> None:
    """As Asterisk runs it: a process of its own, the real console script."""
    config = config_file(tmp_path, f"postgresql://nobody@127.0.0.1:{closed_port()}/x")
    script = Path(sys.executable).parent / "switchboard-agi-recognize"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "pbx_agi.classic_agi"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    started = time.monotonic()
    result = subprocess.run(
        [*command, "-c", config, "0201234567"],
        input=environment_block(CALLER) + f"{OK}\n".encode() * 40,
        capture_output=True,
        env=env,
        cwd=REPO,
        timeout=30,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert stderr.count("\n") == 1, stderr  # no traceback, no pyst2 chatter
    assert "recognition of +31612345678 failed" in stderr
    assert "Connection refused" in stderr
    assert "call goes on unrecognised" in stderr
    sent = result.stdout.decode().splitlines()
    assert variables_set(sent)["SB_RECOGNISED"] == "no"  # the call goes on unrecognised
    assert one_mset(sent)
    # Python's start-up and imports are most of this; the refusal itself is instant.
    assert elapsed < 5, elapsed


# ------------------------------------------------------------ in the sandbox's chroot


def test_the_sandbox_mounts_the_python_that_runs_the_script(tmp_path: Path) -> None:
    # A virtualenv inside the checkout, made from a Python installed on its own (pyenv).
    assert classic_agi_mounts(
        executable=Path("/work/main/.venv/bin/python"),
        prefix=Path("/work/main/.venv"),
        base_prefix=Path("/root/.pyenv/versions/3.11.7"),
        source=Path("/work/main"),
    ) == [Path("/work/main"), Path("/root/.pyenv/versions/3.11.7")]
    # Made from Debian's python3: never /usr itself, which the root has its own of,
    # but the standard library and the binary its bin/python links to.
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to("/usr/bin/python3.11")
    mounts = classic_agi_mounts(
        executable=venv / "bin" / "python",
        prefix=venv,
        base_prefix=Path("/usr"),
        source=Path("/srv/switchboard"),
    )
    assert Path("/usr") not in mounts
    assert {venv, Path("/srv/switchboard"), Path("/usr/bin/python3.11")} <= set(mounts)
    assert Path(sysconfig.get_paths()["stdlib"]) in mounts

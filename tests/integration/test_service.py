"""`switchboard run` and the database layer against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from switchboard.config import DatabaseConfig
from switchboard.store.database import migrate, open_database
from tests.asterisk_model import variables_set
from tests.conftest import free_port

pytestmark = pytest.mark.integration


def test_migrations_are_applied_once_and_then_nothing_is_pending(postgres_dsn: str) -> None:
    # The session fixture migrated already: a second run finds nothing to do.
    assert migrate(postgres_dsn) == []


async def test_the_schema_refuses_numbers_that_are_not_e164(db: asyncpg.Pool) -> None:
    contact_id = await db.fetchval("INSERT INTO contacts (name) VALUES ('Test') RETURNING id")
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(
            "INSERT INTO contact_numbers (contact_id, e164) VALUES ($1, '0612345678')", contact_id
        )


async def test_with_no_dsn_an_embedded_postgres_is_started_and_migrated(
    pg_workdir: Path,
) -> None:
    database = await open_database(DatabaseConfig(dsn="", data_dir=pg_workdir / "pgdata"))
    try:
        tables = {
            row["tablename"]
            for row in await database.pool.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        }
        assert {"contacts", "contact_numbers", "calls", "board_users"} <= tables
    finally:
        await database.close()


def test_a_bad_config_stops_the_start_with_the_key_and_value_named(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[web]\nport = "eighty"\n[pbx.main]\nsecret = "x"\n')
    result = subprocess.run(
        [sys.executable, "-m", "switchboard.cli", "-c", str(config), "run"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "web.port" in result.stderr and "'eighty'" in result.stderr
    assert "Traceback" not in result.stderr


async def test_sigterm_lets_a_call_in_recognition_finish(postgres_dsn: str, tmp_path: Path) -> None:
    """A FastAGI session accepted before SIGTERM gets all its answers before the exit."""
    port = free_port()
    config = tmp_path / "agi-only.toml"
    config.write_text(
        f"[services]\nami = false\nweb = false\n[fastagi]\nport = {port}\n"
        f'[database]\ndsn = "{postgres_dsn}"\n'
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "switchboard.cli",
        "-c",
        str(config),
        "run",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(100):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("switchboard run never listened for FastAGI")
        writer.write(b"agi_network_script: recognize\nagi_callerid: 0612345678\n\n")
        first = await asyncio.wait_for(reader.readline(), 10)
        assert first.startswith((b"SET VARIABLE", b"EXEC"))
        process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)  # the shutdown is under way while the call still talks
        commands = [first]
        while True:
            writer.write(b"200 result=1\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), 10)
            if not line:
                break
            commands.append(line)
        assert "SB_CONFIDENCE" in variables_set(c.decode() for c in commands)
        assert len(commands) == 1  # the one MSet, finished after SIGTERM
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _cli(postgres_dsn: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")},
        "SWITCHBOARD_DATABASE__DSN": postgres_dsn,
        "SWITCHBOARD_SERVICES__AMI": "false",
    }
    return subprocess.run(
        [sys.executable, "-m", "switchboard.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


async def test_contacts_added_from_the_command_line_are_recognised(
    postgres_dsn: str, db: asyncpg.Pool
) -> None:
    result = _cli(postgres_dsn, "contact-add", "Bram Peeters", "0031 6 4433 2211", "--vip")
    assert result.returncode == 0, result.stderr
    row = await db.fetchrow(
        "SELECT c.name, c.vip FROM contacts c JOIN contact_numbers n ON n.contact_id = c.id"
        " WHERE n.e164 = '+31644332211'"
    )
    assert row is not None and row["name"] == "Bram Peeters" and row["vip"]


def test_a_garbage_number_is_refused_with_a_clear_message(postgres_dsn: str) -> None:
    result = _cli(postgres_dsn, "contact-add", "Nobody", "not-a-number")
    assert result.returncode == 2
    assert "'not-a-number' is not a usable phone number" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_short_password_is_refused_with_a_clear_message(postgres_dsn: str) -> None:
    result = _cli(postgres_dsn, "user-add", "kim", stdin="short\n")
    assert result.returncode == 2
    assert "password: at least 8 characters" in result.stderr

"""The classic AGI script against a real PostgreSQL: exact command lines, and the same
lines as the FastAGI route ``recognize`` for the same caller and the same database.

``main()`` is driven as Asterisk drives it (environment and replies on stdin, commands
read from stdout). Numbers are unique to this module: the tables are shared by the
whole test session.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from pbx_agi import classic_agi
from pbx_agi.caller_directory import CallerDirectory
from pbx_agi.fastagi.server import FastAGIServer
from pbx_agi.recognise_route import RecogniseRoute
from switchboard.store import contacts
from switchboard.store.contacts import add_contact
from tests.asterisk_model import variables_set

pytestmark = pytest.mark.integration

UNIQUE_ID = "1700000123.42"
OK = "200 result=1"


def caller(number: str, name: str) -> dict[str, str]:
    return {
        "agi_request": "switchboard-agi-recognize",
        "agi_channel": "PJSIP/trunk-0000002a",
        "agi_language": "nl",
        "agi_type": "PJSIP",
        "agi_uniqueid": UNIQUE_ID,
        "agi_callerid": number,
        "agi_calleridname": name,
        "agi_context": "switchboard-inbound",
        "agi_arg_1": "0201234567",
    }


def environment_block(env: Mapping[str, str]) -> bytes:
    return "".join(f"{key}: {value}\n" for key, value in env.items()).encode() + b"\n"


@dataclass
class Conversation:
    code: int
    commands: list[str]
    stderr: str


Classic = Callable[[Mapping[str, str]], Conversation]


@pytest.fixture
def classic(
    postgres_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Classic]:
    """One call through ``classic_agi.main()`` against the test database."""
    for name in list(os.environ):
        if name.startswith("SWITCHBOARD_"):
            monkeypatch.delenv(name)
    config = tmp_path / "switchboard.toml"
    # A generous budget: this is about what is sent, the budget has its own tests.
    config.write_text(f'[fastagi]\nbudget_ms = 2000\n\n[database]\ndsn = "{postgres_dsn}"\n')
    previous_sighup = signal.getsignal(signal.SIGHUP)  # pyst2 installs its own

    def run(env: Mapping[str, str]) -> Conversation:
        out = io.BytesIO()
        stdout = io.TextIOWrapper(out)
        stderr = io.StringIO()
        stdin = environment_block(env) + f"{OK}\n".encode() * 40
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        monkeypatch.setattr(sys, "stdout", stdout)
        monkeypatch.setattr(sys, "stderr", stderr)
        code = classic_agi.main(["-c", str(config), "0201234567"])
        stdout.flush()
        return Conversation(code, out.getvalue().decode().splitlines(), stderr.getvalue())

    yield run
    signal.signal(signal.SIGHUP, previous_sighup)


async def fastagi_commands(route: RecogniseRoute, env: Mapping[str, str]) -> list[str]:
    """The command lines the FastAGI route sends for ``env``, as Asterisk receives them."""
    async with FastAGIServer({"recognize": route}) as server:
        await server.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        network = {"agi_network": "yes", "agi_network_script": "recognize", **env}
        network["agi_request"] = f"agi://127.0.0.1:{server.port}/recognize"
        writer.write(environment_block(network))
        commands = []
        while line := await asyncio.wait_for(reader.readline(), 5):
            commands.append(line.decode().rstrip("\n"))
            writer.write(f"{OK}\n".encode())
            await writer.drain()
        writer.close()
        return commands


async def journal_call(
    db: asyncpg.Pool, e164: str, *, ago: timedelta, answered_by: str | None, linked_id: str = ""
) -> None:
    started = datetime.now(UTC) - ago
    await db.execute(
        "INSERT INTO calls (pbx, linked_id, caller_number, caller_e164, started_at,"
        " answered_at, answered_by) VALUES ('classic', $1, $2, $2, $3, $4, $5)",
        linked_id or uuid.uuid4().hex,
        e164,
        started,
        started if answered_by else None,
        answered_by,
    )


async def test_a_known_caller_gets_exactly_these_commands(
    db: asyncpg.Pool, classic: Classic
) -> None:
    contact_id = await add_contact(
        db, "Anna de Vries", ["06 4571 0001"], company="Bakkerij Jansen", vip=True, language="en"
    )
    await db.execute(
        "UPDATE contact_numbers SET verified_at = now() - interval '10 days' WHERE contact_id = $1",
        contact_id,
    )
    result = classic(caller("0645710001", 'Jan \\"de\\" Vries'))
    assert result.code == 0
    assert result.stderr == ""
    assert variables_set(result.commands) == {
        "CALLERID(name)": "Anna de Vries - Bakkerij Jansen",
        "SB_RECOGNISED": "yes",
        "SB_CONFIDENCE": "verified",
        "SB_CALLER_E164": "+31645710001",
        "SB_NUMBER_KIND": "public",
        "SB_CONTACT_ID": str(contact_id),
        "SB_CONTACT_NAME": "Anna de Vries",
        "SB_COMPANY": "Bakkerij Jansen",
        "SB_VIP": "1",
        "SB_LANGUAGE": "en",
        "SB_REPEAT_CALLER": "no",
        "SB_RECENT_CALLS": "0",
        "SB_LAST_HANDLED_BY": "",
        "SB_MISSED_CALL": "no",
        "SB_QUEUE_PRIORITY": "10",
        "SB_PREFERRED_EXTENSION": "",
        "SB_ROUTE_REASON": "VIP",
    }
    assert len(result.commands) == 1  # every variable in one MSet
    assert variables_set(result.commands)["SB_CONTACT_ID"] == str(contact_id)


async def test_a_hostile_caller_name_stays_one_harmless_argument(
    db: asyncpg.Pool, classic: Classic
) -> None:
    # What PJSIP hands over for a display name full of quotes, escapes and AGI syntax.
    name = 'Evil\\" "SET VARIABLE" "SB_VIP" "1\\" \\\\; EXEC Dial PJSIP/100 `id` $(id)'
    result = classic(caller("0645710002", name))
    assert result.code == 0
    # Quotes and backslashes gone, whitespace folded, cut to 40 characters.
    assert variables_set(result.commands)["CALLERID(name)"] == (
        "Evil SET VARIABLE SB_VIP 1 EXEC Dial PJS"
    )
    assert variables_set(result.commands)["SB_VIP"] == "0"
    assert all(line.startswith(("SET VARIABLE ", "EXEC ")) for line in result.commands)
    assert len(variables_set(result.commands)) == 17  # CALLERID(name) and the 16 SB_*


async def test_a_hostile_contact_name_in_the_database_is_made_harmless(
    db: asyncpg.Pool, classic: Classic
) -> None:
    await add_contact(db, 'Bad "Actor"\\ <sip:x>; \u202eevil', ["0645710003"], company="A\nB")
    result = classic(caller("0645710003", "whoever"))
    assert result.code == 0
    assert variables_set(result.commands)["CALLERID(name)"] == "Bad Actor sip:x evil - A B"
    assert variables_set(result.commands)["SB_CONTACT_NAME"] == "Bad Actor sip:x evil"
    assert variables_set(result.commands)["SB_COMPANY"] == "A B"


# ------------------------------------------------------- the same as the FastAGI route


async def _both_routes(db: asyncpg.Pool, classic: Classic, env: Mapping[str, str]) -> list[str]:
    directory = CallerDirectory(db)
    await directory.reload()
    route = RecogniseRoute.from_directory(directory, db, region="NL", budget_s=2.0)
    over_fastagi = await fastagi_commands(route, env)
    result = classic(env)
    assert result.code == 0, result.stderr
    assert result.commands == over_fastagi
    return result.commands


async def test_same_commands_as_fastagi_for_a_caller_with_history(
    db: asyncpg.Pool, classic: Classic
) -> None:
    contact_id = await add_contact(db, "Piet Smit", ["0645710011"], company="Smit BV", vip=True)
    await db.execute(
        "UPDATE contact_numbers SET verified_at = now() - interval '400 days'"
        " WHERE contact_id = $1",
        contact_id,
    )
    e164 = "+31645710011"
    # This call itself (already journalled by the AMI bridge): never counts.
    await journal_call(db, e164, ago=timedelta(seconds=1), answered_by=None, linked_id=UNIQUE_ID)
    await journal_call(db, e164, ago=timedelta(hours=2), answered_by=None)
    await journal_call(db, e164, ago=timedelta(days=10), answered_by=None)
    # Outside the caller directory's 30-day window: both routes must ignore it.
    await journal_call(db, e164, ago=timedelta(days=31), answered_by="207")
    commands = await _both_routes(db, classic, caller("0645710011", "Piet"))
    assert variables_set(commands)["SB_CONFIDENCE"] == "unverified"
    assert variables_set(commands)["SB_RECENT_CALLS"] == "1"
    assert variables_set(commands)["SB_MISSED_CALL"] == "yes"
    assert variables_set(commands)["SB_LAST_HANDLED_BY"] == ""
    assert variables_set(commands)["SB_QUEUE_PRIORITY"] == "10"


async def test_same_commands_as_fastagi_for_a_returning_caller(
    db: asyncpg.Pool, classic: Classic
) -> None:
    await add_contact(db, "Kees Bos", ["0645710012"])
    e164 = "+31645710012"
    await journal_call(db, e164, ago=timedelta(hours=30), answered_by="204")
    await journal_call(db, e164, ago=timedelta(days=3), answered_by=None)
    commands = await _both_routes(db, classic, caller("0645710012", "Kees"))
    assert variables_set(commands)["SB_PREFERRED_EXTENSION"] == "204"
    assert variables_set(commands)["SB_REPEAT_CALLER"] == "no"  # 30 h: outside 24 h


async def test_same_commands_as_fastagi_for_a_shared_number(
    db: asyncpg.Pool, classic: Classic
) -> None:
    await add_contact(db, "Receptie", ["0645710021"], company="Gemeente Zwolle")
    await add_contact(db, "Wethouder", ["0645710021"], company="Gemeente Zwolle")
    commands = await _both_routes(db, classic, caller("0645710021", "GEM ZWOLLE"))
    assert variables_set(commands)["CALLERID(name)"] == "Gemeente Zwolle"
    assert variables_set(commands)["SB_CONFIDENCE"] == "shared"


@pytest.mark.parametrize(
    ("number", "name"),
    [
        ("0645710099", "Onbekende Beller"),  # public, not in the database
        ("anonymous", "unknown"),  # withheld
        ("201", "Phone 201"),  # internal
        ("06-4571-0001; drop table", "x"),  # garbage
    ],
)
async def test_same_commands_as_fastagi_for_callers_we_do_not_know(
    db: asyncpg.Pool, classic: Classic, number: str, name: str
) -> None:
    commands = await _both_routes(db, classic, caller(number, name))
    assert variables_set(commands)["SB_RECOGNISED"] == "no"


def test_classic_script_reads_the_database_through_the_shared_query() -> None:
    assert classic_agi.FIND_BY_NUMBER_SQL is contacts.FIND_BY_NUMBER_SQL

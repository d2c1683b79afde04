"""The recognize route against a real FastAGI socket, with the database replaced by
lookups that are fast, slow or broken."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from pbx_agi.agi_protocol import parse_environment
from pbx_agi.fastagi.server import FastAGIServer
from pbx_agi.recognise_route import RecogniseRoute
from switchboard.core.contacts import ContactMatch
from switchboard.core.recognition import CallerFacts
from tests.asterisk_model import variables_set

ANNA = ContactMatch(7, "Anna de Vries", "Bakkerij", True, "nl", datetime.now(UTC))


async def play_asterisk(port: int, caller_id: str, caller_name: str) -> dict[str, str]:
    """Act as Asterisk: send the AGI environment, answer every command, and return the
    channel variables those commands set, plus the last command under "LAST"."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    header = (
        "agi_network: yes\nagi_network_script: recognize\nagi_channel: PJSIP/trunk-1\n"
        f"agi_callerid: {caller_id}\nagi_calleridname: {caller_name}\n\n"
    )
    writer.write(header.encode())
    commands = []
    while line := await reader.readline():
        commands.append(line.decode().rstrip("\n"))
        writer.write(b"200 result=1\n")
        await writer.drain()
    writer.close()
    return variables_set(commands) | {"LAST": commands[-1]}


async def recognise_call(route: RecogniseRoute, caller_id: str, caller_name: str) -> dict[str, str]:
    """One call through a real FastAGI server running ``route``."""
    async with FastAGIServer({"recognize": route}) as server:
        await server.start("127.0.0.1", 0)
        return await play_asterisk(server.port, caller_id, caller_name)


async def test_a_known_caller_gets_name_and_variables() -> None:
    async def lookup(e164: str) -> CallerFacts:
        return CallerFacts((ANNA,)) if e164 == "+31612345678" else CallerFacts()

    variables = await recognise_call(
        RecogniseRoute(lookup, region="NL", budget_s=0.2), "0612345678", "whatever"
    )
    assert variables["CALLERID(name)"] == "Anna de Vries - Bakkerij"
    assert variables["SB_RECOGNISED"] == "yes"
    assert variables["SB_CONFIDENCE"] == "verified"
    assert variables["SB_VIP"] == "1"
    assert variables["SB_CALLER_E164"] == "+31612345678"
    assert variables["SB_CONTACT_ID"] == "7"
    assert variables["LAST"].startswith('EXEC "MSet" ')  # the only command


async def test_a_slow_database_costs_the_caller_no_more_than_the_budget() -> None:
    async def slow(_e164: str) -> CallerFacts:
        await asyncio.sleep(5)
        return CallerFacts((ANNA,))

    started = time.monotonic()
    variables = await recognise_call(
        RecogniseRoute(slow, region="NL", budget_s=0.1), "0612345678", "Caller"
    )
    assert time.monotonic() - started < 2  # far below the 5 s the lookup would take
    assert variables["SB_RECOGNISED"] == "no"
    assert variables["SB_CONFIDENCE"] == "unknown"
    assert variables["CALLERID(name)"] == "Caller"


async def test_a_database_that_is_down_leaves_the_call_unrecognised() -> None:
    async def down(_e164: str) -> CallerFacts:
        raise ConnectionRefusedError("connection refused")

    variables = await recognise_call(
        RecogniseRoute(down, region="NL", budget_s=0.2), "0612345678", "Caller"
    )
    assert variables["SB_RECOGNISED"] == "no"


async def test_withheld_numbers_are_never_looked_up() -> None:
    looked_up: list[str] = []

    async def lookup(e164: str) -> CallerFacts:
        looked_up.append(e164)
        return CallerFacts((ANNA,))

    variables = await recognise_call(
        RecogniseRoute(lookup, region="NL", budget_s=0.2), "anonymous", ""
    )
    assert looked_up == []
    assert variables["SB_NUMBER_KIND"] == "withheld"


async def test_an_answer_at_hand_is_sent_without_a_task_and_is_the_same_answer() -> None:
    facts = {"+31612345678": CallerFacts((ANNA,))}

    async def lookup(e164: str) -> CallerFacts:
        return facts.get(e164, CallerFacts())

    def at_hand(e164: str) -> CallerFacts | None:
        return facts.get(e164, CallerFacts())

    planned = RecogniseRoute(lookup, region="NL", budget_s=0.2, instant=at_hand)
    asked = RecogniseRoute(lookup, region="NL", budget_s=0.2)
    for caller in ("0612345678", "0687654321", "anonymous", "12"):
        env = parse_environment(f"agi_callerid: {caller}\nagi_calleridname: X\n\n".encode())
        assert planned.plan(env) is not None, caller
        assert await recognise_call(planned, caller, "X") == await recognise_call(
            asked, caller, "X"
        )


def test_a_number_not_at_hand_is_left_to_the_lookup_with_its_budget() -> None:
    async def lookup(_e164: str) -> CallerFacts:
        return CallerFacts((ANNA,))

    loading = RecogniseRoute(lookup, region="NL", budget_s=0.2, instant=lambda _e164: None)
    known = parse_environment(b"agi_callerid: 0612345678\n\n")
    withheld = parse_environment(b"agi_callerid: anonymous\n\n")
    assert loading.plan(known) is None  # the task path asks the database, within budget
    assert loading.plan(withheld) is not None  # nothing to look up: answered at once

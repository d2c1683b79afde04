"""The FastAGI ``callback`` route (issue 14) with the real PostgreSQL: what the caller is
told, and hostile arguments (the number and the join time come from the caller's side)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from pbx_agi.callback_route import CallbackRoute
from pbx_agi.fastagi.server import FastAGIServer
from pbx_agi.hours_route import HoursRoute
from switchboard.core.callbacks import NumberPolicy
from switchboard.core.opening import Hours
from switchboard.core.schedule import Override, parse_schedule
from switchboard.store import callbacks
from tests.unit.test_fastagi import FakeAsterisk, agi_headers

pytestmark = pytest.mark.integration

# Tuesday 1 December 2026, 18:00 in Amsterdam: closed, open again Wednesday 8:30.
EVENING = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)


def route(db: asyncpg.Pool, **extra: object) -> CallbackRoute:
    return CallbackRoute(db, pbx="sandbox", policy=NumberPolicy(), **extra)  # type: ignore[arg-type]


def test_the_number_is_read_back_as_the_caller_writes_it(db: asyncpg.Pool) -> None:
    assert route(db).check("+31612345678") == {
        "SB_CALLBACK_STATUS": "ok",
        "SB_CALLBACK_SAY": "0612345678",
    }
    assert route(db).check("09001234567")["SB_CALLBACK_STATUS"] == "refused"
    for hostile in ("", "anonymous", "1; DROP TABLE callbacks", "+" + "9" * 60, "\x00\r\n", "*#*#"):
        assert route(db).check(hostile) == {"SB_CALLBACK_STATUS": "invalid", "SB_CALLBACK_SAY": ""}


async def test_a_request_keeps_the_join_time_and_a_second_one_merges(db: asyncpg.Pool) -> None:
    queue = f"cb-{uuid.uuid4().hex[:10]}"
    joined = int((datetime.now(UTC) - timedelta(minutes=4)).timestamp())
    told = await route(db, minutes=lambda _q, _at: 6).request(
        queue, "0612000301", str(joined), "en"
    )
    assert told == {
        "SB_CALLBACK_STATUS": "ok",
        "SB_CALLBACK_MERGED": "",
        "SB_CALLBACK_MINUTES": "6",
    }
    # Two more ask later. The first asks again: told its place, the first callback,
    # behind the one live caller who joined before it; the last: behind two callbacks.
    for e164 in ("+31612000303", "+31612000304"):
        assert "SB_CALLBACK_PLACE" not in await route(db).request(queue, e164, "", "nl")
    again = await route(db, callers_ahead=lambda _q, at: 1 if at == joined else 0).request(
        queue, "+31612000301", "", "nl"
    )
    assert again["SB_CALLBACK_MERGED"] == "yes" and again["SB_CALLBACK_PLACE"] == "2"
    last = await route(db, callers_ahead=lambda _q, _at: 0).request(queue, "+31612000304", "", "nl")
    assert last["SB_CALLBACK_PLACE"] == "3"
    row = await db.fetchrow(
        "SELECT joined_at, language, requests FROM callbacks"
        " WHERE queue = $1 AND e164 = '+31612000301'",
        queue,
    )
    assert int(row["joined_at"].timestamp()) == joined and row["language"] == "en"
    assert row["requests"] == 2


@pytest.mark.parametrize(
    ("queue", "since"),
    [
        ("bad queue; --", "1"),  # refused by the store: not stored, back to the queue
        ("cb-{}", "99999999999"),  # a join time in the future: now
        ("cb-{}", "-5"),
        ("cb-{}", "x" * 64),
    ],
)
async def test_hostile_arguments_are_stored_sanely_or_not_at_all(
    db: asyncpg.Pool, queue: str, since: str
) -> None:
    name = queue.format(uuid.uuid4().hex[:10])
    told = await route(db).request(name, "0612000302", since, "xx")
    if "bad" in name:
        assert told["SB_CALLBACK_STATUS"] == "failed"
        return
    assert told["SB_CALLBACK_STATUS"] == "ok"
    row = await db.fetchrow("SELECT joined_at, language FROM callbacks WHERE queue = $1", name)
    assert row["joined_at"] <= datetime.now(UTC) and row["language"] == "nl"


async def test_closed_the_callback_is_dialled_from_the_next_opening(db: asyncpg.Pool) -> None:
    queue = f"cb-{uuid.uuid4().hex[:10]}"
    weekdays = {d: "08:30-17:30" for d in ("monday", "tuesday", "wednesday", "thursday", "friday")}
    hours = Hours(parse_schedule("cb", weekdays), queues=(queue,))

    async def no_override(_name: str, _now: datetime) -> Override | None:
        return None

    clock = lambda: EVENING  # noqa: E731
    told = await route(
        db, hours=HoursRoute([hours], no_override, budget_s=1, clock=clock), clock=clock
    ).request(queue, "0612000303", "", "nl")
    assert (told["SB_CALLBACK_FROM_DAY"], told["SB_CALLBACK_FROM_HOUR"]) == ("2", "8")
    assert told["SB_CALLBACK_FROM_MINUTE"] == "30"
    not_before = await db.fetchval("SELECT not_before FROM callbacks WHERE queue = $1", queue)
    assert not_before == datetime(2026, 12, 2, 7, 30, tzinfo=UTC)


@pytest.fixture
async def server() -> AsyncIterator[FastAGIServer]:
    running = FastAGIServer()
    await running.start("127.0.0.1", 0)
    yield running
    await running.close()


@pytest.mark.parametrize(
    "arguments",
    [
        {},  # no arguments at all
        {"agi_arg_1": "request"},
        {"agi_arg_1": "check", "agi_arg_2": "switchboard", "agi_arg_3": "06\x00\x1b[2J"},
        {"agi_arg_1": "request", "agi_arg_2": "q" * 4000, "agi_arg_3": "9" * 4000},
        {
            "agi_arg_1": "request",
            "agi_arg_2": "switchboard",
            "agi_arg_3": "'; DROP TABLE x",
            "agi_arg_4": "-1",
        },
        {"agi_arg_1": "x" * 100, "agi_arg_2": '"\\\n'},
        {"agi_arg_1": "accepted", "agi_arg_2": "1; DROP TABLE callbacks", "agi_arg_3": "\x00"},
        {"agi_arg_1": "accepted", "agi_arg_2": "9" * 4000, "agi_arg_3": "-1"},
    ],
)
async def test_the_callback_route_over_fastagi_answers_hostile_arguments_with_one_clean_mset(
    server: FastAGIServer, db: asyncpg.Pool, arguments: dict[str, str]
) -> None:
    # What comes from the caller's side (the number typed, a join time) is checked;
    # whatever arrives, one EXEC MSet of the route's own variables, nothing stored,
    # and the connection ends cleanly.
    before = await db.fetchval("SELECT count(*) FROM callbacks")
    server.add_route("callback", route(db))
    asterisk = await FakeAsterisk.connect(server.port)
    await asterisk.send(agi_headers("callback", **arguments))
    command = await asterisk.reader.readline()
    if command.startswith(b"GET VARIABLE"):
        await asterisk.reply("200 result=1 (nl)\n")
        command = await asterisk.reader.readline()
    await asterisk.reply("200 result=0\n")
    assert await asterisk.read_to_eof() == b""
    assert command.startswith(b'EXEC "MSet" ') and command.count(b"\n") == 1
    assert b"SB_CALLBACK_STATUS=invalid" in command
    assert b"DROP" not in command and b"\x1b" not in command
    assert await db.fetchval("SELECT count(*) FROM callbacks") == before


async def test_accepted_connects_only_the_attempt_being_dialled(db: asyncpg.Pool) -> None:
    """The dialplan says "accepted" itself: the attempt dialling becomes connected, once;
    another attempt, a finished callback or a hostile id changes nothing."""
    queue, now = f"cb-{uuid.uuid4().hex[:10]}", datetime.now(UTC)
    stored, _ = await callbacks.request(
        db,
        pbx="sandbox",
        queue=queue,
        e164="+31612000309",
        source="queue",
        joined_at=now,
        not_before=now,
    )
    assert (await route(db).accepted(str(stored.id), "1"))["SB_CALLBACK_STATUS"] == "invalid"
    (taken,) = await callbacks.claim(
        db,
        pbx="sandbox",
        queue=queue,
        owner="a",
        members=["201"],
        now=now,
        lease=timedelta(seconds=30),
    )
    assert (await route(db).accepted(str(taken.id), "2"))["SB_CALLBACK_STATUS"] == "invalid"
    for hostile in ("", "0", "1; --", "9" * 40, "-1", "1\r\n"):
        assert (await route(db).accepted(hostile, "1"))["SB_CALLBACK_STATUS"] == "invalid"
        assert (await route(db).accepted(str(taken.id), hostile))["SB_CALLBACK_STATUS"] == "invalid"
    assert (await route(db).accepted(str(taken.id), "1")) == {"SB_CALLBACK_STATUS": "ok"}
    assert (await route(db).accepted(str(taken.id), "1"))["SB_CALLBACK_STATUS"] == "invalid"
    assert await db.fetchval("SELECT state FROM callbacks WHERE id = $1", taken.id) == "connected"


async def test_asked_near_closing_with_a_wait_past_it_the_callback_moves_to_the_next_opening(
    db: asyncpg.Pool,
) -> None:
    queue = f"cb-{uuid.uuid4().hex[:10]}"
    weekdays = {d: "08:30-17:30" for d in ("monday", "tuesday", "wednesday", "thursday", "friday")}
    hours = Hours(parse_schedule("cb", weekdays), queues=(queue,))

    async def no_override(_name: str, _now: datetime) -> Override | None:
        return None

    clock = lambda: datetime(2026, 12, 1, 16, 10, tzinfo=UTC)  # noqa: E731  (17:10 there)
    opening = HoursRoute([hours], no_override, budget_s=1, clock=clock)
    soon = await route(db, hours=opening, clock=clock, minutes=lambda _q, _at: 5).request(
        queue, "0612000305", "", "nl"
    )
    assert soon["SB_CALLBACK_MINUTES"] == "5" and "SB_CALLBACK_FROM_DAY" not in soon
    late = await route(db, hours=opening, clock=clock, minutes=lambda _q, _at: 25).request(
        queue, "0612000306", "", "nl"
    )
    assert (late["SB_CALLBACK_FROM_DAY"], late["SB_CALLBACK_FROM_HOUR"]) == ("2", "8")
    assert "SB_CALLBACK_MINUTES" not in late
    not_before = dict(
        await db.fetch("SELECT e164, not_before FROM callbacks WHERE queue = $1", queue)
    )
    assert not_before["+31612000305"] == clock()
    assert not_before["+31612000306"] == datetime(2026, 12, 2, 7, 30, tzinfo=UTC)

"""The public "call me back" page (issue 14) in-process against the real PostgreSQL:
the request lands in the list with source web; forms from elsewhere, bots, floods and
hostile fields get a clear answer and store nothing."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from switchboard.board.hub import BoardHub
from switchboard.core.opening import Hours
from switchboard.core.schedule import parse_schedule
from switchboard_ui import public_callback
from switchboard_ui.app import create_app

pytestmark = pytest.mark.integration

WEEKDAYS = {d: "08:30-17:30" for d in ("monday", "tuesday", "wednesday", "thursday", "friday")}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
async def page(
    db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[TestClient, Clock]]:
    clock = Clock()
    monkeypatch.setattr(public_callback, "clock", clock)
    hours = Hours(parse_schedule("reception", WEEKDAYS), queues=("switchboard",))
    app = create_app(db, BoardHub(), hours=[hours])
    async with TestClient(TestServer(app)) as client:
        yield client, clock


async def fill(client: TestClient, clock: Clock, **fields: str) -> Any:
    """Open the form, take 10 s to fill it in, send it."""
    form = await client.get("/callback")
    assert form.status == 200
    token = re.search(r'name="token" value="([^"]+)"', await form.text())
    assert token is not None
    clock.now += 10
    data = {"token": token.group(1), "name": "", "subject": "", "after": "", **fields}
    return await client.post("/callback", data=data, allow_redirects=False)


def number() -> str:
    return f"061{uuid.uuid4().int % 10**7:07d}"


async def test_a_request_from_the_website_lands_in_the_list(
    page: tuple[TestClient, Clock], db: asyncpg.Pool
) -> None:
    client, clock = page
    mine = number()
    reply = await fill(client, clock, number=mine, name="Eva de Wit", subject="offerte")
    assert reply.status == 303 and reply.headers["Location"] == "/callback/thanks"
    row = await db.fetchrow(
        "SELECT source, name, subject, queue, state FROM callbacks WHERE e164 = $1",
        "+31" + mine[1:],
    )
    assert dict(row) == {
        "source": "web",
        "name": "Eva de Wit",
        "subject": "offerte",
        "queue": "switchboard",
        "state": "waiting",
    }
    thanks = await client.get("/callback/thanks")
    assert "We will call you back" in await thanks.text()


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"number": "0900 1234567"}, "a premium-rate number"),
        ({"number": "hello"}, "not a phone number we can call"),
        ({"number": ""}, "the number to call you back on"),
        ({"number": "0612345678", "website": "http://spam.example"}, "too quick"),
        ({"number": "0612345678", "name": "x" * 500}, "at most 120 characters"),
        ({"number": "0612345678", "after": "25:00"}, "a time like 14:00"),
        ({"number": "0612345678", "after": "'; DROP TABLE callbacks; --"}, "a time like 14:00"),
        ({"number": "0612345678", "subject": "a\x1bb"}, "characters it cannot hold"),
        ({"number": "0612345678", "after": "23:00"}, "we are closed then"),
    ],
)
async def test_a_refused_form_says_why_and_stores_nothing(
    page: tuple[TestClient, Clock], db: asyncpg.Pool, fields: dict[str, str], said: str
) -> None:
    client, clock = page
    before = await db.fetchval("SELECT count(*) FROM callbacks WHERE source = 'web'")
    reply = await fill(client, clock, **fields)
    assert reply.status == 422
    assert said in await reply.text()
    assert await db.fetchval("SELECT count(*) FROM callbacks WHERE source = 'web'") == before


async def test_a_form_from_elsewhere_or_sent_too_quickly_is_refused(
    page: tuple[TestClient, Clock],
) -> None:
    client, clock = page
    form = await client.get("/callback")
    token = re.search(r'name="token" value="([^"]+)"', await form.text())
    assert token is not None
    # At once, like a script.
    quick = await client.post("/callback", data={"token": token.group(1), "number": number()})
    assert quick.status == 422 and "too quick" in await quick.text()
    # Without the cookie (a page on another site cannot send it), or a forged token.
    client.session.cookie_jar.clear()
    clock.now += 10
    stolen = await client.post("/callback", data={"token": token.group(1), "number": number()})
    assert stolen.status == 422 and "expired" in await stolen.text()
    forged = await client.post("/callback", data={"token": "1.2.3", "number": number()})
    assert forged.status == 422
    # An hour and more later.
    reply = await client.get("/callback")
    token = re.search(r'name="token" value="([^"]+)"', await reply.text())
    assert token is not None
    clock.now += 3700
    late = await client.post("/callback", data={"token": token.group(1), "number": number()})
    assert late.status == 422 and "expired" in await late.text()


async def test_floods_are_throttled_per_number_and_per_source(
    page: tuple[TestClient, Clock],
) -> None:
    client, clock = page
    same = number()
    statuses = [(await fill(client, clock, number=same)).status for _ in range(4)]
    # Three a day for one number (a second request merges, and still counts).
    assert statuses == [303, 303, 303, 429]
    # Five an hour from one address, whatever the numbers.
    more = [(await fill(client, clock, number=number())).status for _ in range(2)]
    assert more[-1] == 429
    clock.now += 3600
    assert (await fill(client, clock, number=number())).status == 303

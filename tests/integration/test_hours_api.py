"""POST /api/hours/override and friends refuse what they must, clearly, and change
nothing then; what they accept is kept with who did it (issue 13, part 2)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from switchboard.board.hub import BoardHub
from switchboard.core.opening import Hours
from switchboard.core.schedule import parse_schedule
from switchboard.store.hours_overrides import current_override, override_log
from switchboard.store.users import create_user
from switchboard_ui.app import create_app
from tests.conftest import BOARD_PASSWORD, log_in

pytestmark = pytest.mark.integration

OFFICE = Hours(parse_schedule("reception", {"monday": "08:30-17:30"}), queues=("switchboard",))


@pytest.fixture
async def client(db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    await db.execute("DELETE FROM hours_overrides WHERE schedule = 'reception'")
    await create_user(db, "sanne", BOARD_PASSWORD, role="receptionist", display_name="Sanne")
    app = create_app(db, BoardHub(), hours=[OFFICE])
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def post(client: TestClient, path: str, body: Any, csrf: str | None) -> tuple[int, Any]:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    response = await client.post(path, json=body, headers=headers)
    return response.status, await response.json()


CLOSE = {"name": "reception", "open": False, "reason": "staff meeting", "until": "23:59"}


async def test_a_session_and_its_csrf_token_are_needed(client: TestClient) -> None:
    assert (await post(client, "/api/hours/override", CLOSE, None))[0] == 401
    assert (await client.get("/api/hours")).status == 401
    await log_in(client)
    assert (await post(client, "/api/hours/override", CLOSE, None))[0] == 403


async def test_close_now_is_kept_with_who_and_why_and_can_be_ended(
    client: TestClient, db: asyncpg.Pool
) -> None:
    csrf = await log_in(client)
    status, reply = await post(client, "/api/hours/override", CLOSE, csrf)
    assert status == 200 and reply["open"] is False
    override = await current_override(db, "reception", datetime.now(UTC))
    assert override is not None and (override.by, override.reason) == ("sanne", "staff meeting")
    listed = (await (await client.get("/api/hours")).json())["hours"]
    assert listed[0]["override"]["by"] == "sanne" and listed[0]["open"] is False
    assert (await post(client, "/api/hours/override/end", {"name": "reception"}, csrf))[0] == 200
    assert await current_override(db, "reception", datetime.now(UTC)) is None
    (logged,) = await override_log(db, "reception")
    assert logged.ended_early_by == "sanne"
    # Nothing more to end: said so.
    assert (await post(client, "/api/hours/override/end", {"name": "reception"}, csrf))[0] == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ([CLOSE], 400),
        ({**CLOSE, "name": "elsewhere"}, 404),
        ({**CLOSE, "name": {"$gt": ""}}, 404),
        ({**CLOSE, "open": "false"}, 422),
        ({**CLOSE, "until": "25:00"}, 422),
        ({**CLOSE, "until": "14:00; DROP TABLE hours_overrides"}, 422),
        ({**CLOSE, "until": 1400}, 422),
        ({**CLOSE, "reason": "x" * 10_000}, 422),
        ({**CLOSE, "reason": "meeting\r\nAction: Originate"}, 422),
        ({**CLOSE, "reason": ["a"]}, 422),
    ],
)
async def test_hostile_input_is_refused_clearly_and_changes_nothing(
    client: TestClient, db: asyncpg.Pool, body: Any, status: int
) -> None:
    csrf = await log_in(client)
    got, reply = await post(client, "/api/hours/override", body, csrf)
    assert got == status, reply
    assert "error" in reply or "errors" in reply
    assert await override_log(db, "reception") == []

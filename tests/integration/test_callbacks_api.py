"""The board's callback API (issue 14) in-process against the real PostgreSQL: schedule,
reschedule, call back now, cancel; and hostile bodies get a clear 4xx."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from switchboard.store import callbacks
from switchboard.store.users import create_user
from tests.conftest import BOARD_PASSWORD, log_in

pytestmark = pytest.mark.integration


async def post(client: TestClient, csrf: str, url: str, body: Any) -> tuple[int, Any]:
    reply = await client.post(url, json=body, headers={"X-CSRF-Token": csrf})
    return reply.status, await reply.json()


async def test_schedule_reschedule_and_cancel_from_the_board(
    board_client: TestClient, db: asyncpg.Pool
) -> None:
    csrf = await log_in(board_client)
    await db.execute("DELETE FROM callbacks WHERE e164 = '+31612000801'")
    status, made = await post(
        board_client, csrf, "/api/callbacks", {"number": "0612000801", "name": "Kees"}
    )
    assert status == 201
    status, again = await post(board_client, csrf, "/api/callbacks", {"number": "+31 6 12000801"})
    assert (status, again["id"], again["merged"]) == (200, made["id"], True)
    status, later = await post(
        board_client, csrf, "/api/callbacks/reschedule", {"id": made["id"], "after": "14:00"}
    )
    assert status == 200
    not_before = await db.fetchval("SELECT not_before FROM callbacks WHERE id = $1", made["id"])
    assert not_before > datetime.now(UTC)
    assert not_before == datetime.fromisoformat(later["not_before"])
    # Sanne has no phone on the board: she cannot call back from it.
    status, said = await post(board_client, csrf, "/api/callbacks/now", {"id": made["id"]})
    assert status == 409 and "no phone" in said["error"]
    assert (
        await post(
            board_client, csrf, "/api/callbacks/cancel", {"id": made["id"], "reason": "e-mail"}
        )
    )[0] == 200
    assert (await post(board_client, csrf, "/api/callbacks/cancel", {"id": made["id"]}))[0] == 404
    listed = await (await board_client.get("/api/callbacks")).json()
    (mine,) = [c for c in listed["callbacks"] if c["id"] == made["id"]]
    assert mine["state"] == "cancelled" and mine["source"] == "board"


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/callbacks", {"number": "0900 1234567"}),
        ("/api/callbacks", {"number": ["0612000802"]}),
        ("/api/callbacks", {"number": "0612000802", "name": "x" * 1000}),
        ("/api/callbacks", {"number": "0612000802", "queue": "bad queue; --"}),
        ("/api/callbacks/cancel", {"id": "1"}),
        ("/api/callbacks/cancel", {"id": True}),
        ("/api/callbacks/cancel", {"id": 2**70}),
        ("/api/callbacks/cancel", {"id": 1, "reason": {"x": 1}}),
        ("/api/callbacks/now", {"id": -3}),
        ("/api/callbacks/reschedule", {"id": 1, "after": "25:99"}),
        ("/api/callbacks/reschedule", {"id": 1}),
    ],
)
async def test_hostile_bodies_are_refused_with_the_field(
    board_client: TestClient, url: str, body: Any
) -> None:
    csrf = await log_in(board_client)
    status, said = await post(board_client, csrf, url, body)
    assert status == 422, said
    assert said["errors"]


async def test_a_callback_not_in_line_is_a_404(board_client: TestClient) -> None:
    csrf = await log_in(board_client)
    for url, body in (
        ("/api/callbacks/cancel", {"id": 2**61}),
        ("/api/callbacks/now", {"id": 2**61}),
        ("/api/callbacks/reschedule", {"id": 2**61, "after": "09:00"}),
    ):
        status, _ = await post(board_client, csrf, url, body)
        assert status in (404, 409), (url, status)


async def test_a_callback_being_dialled_is_claimed_by_whoever_dials_it(
    board_client: TestClient, db: asyncpg.Pool
) -> None:
    """Lotte (201) is calling a callback back: Sanne's call now, later and cancel on it are
    refused with her name, and the list says who dials it."""
    await create_user(
        db, "lotte", BOARD_PASSWORD, role="receptionist", display_name="Lotte", extension="201"
    )
    await create_user(
        db, "sanne", BOARD_PASSWORD, role="receptionist", display_name="Sanne", extension="202"
    )
    csrf = await log_in(board_client)
    pbx, now = f"api-{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    ids = []
    for e164, member in (("+31612000811", "201"), ("+31612000812", "209")):
        stored, _ = await callbacks.request(
            db,
            pbx=pbx,
            queue="switchboard",
            e164=e164,
            source="queue",
            joined_at=now,
            not_before=now,
        )
        taken = await callbacks.claim_one(
            db, stored.id, owner="x", member=member, now=now, lease=timedelta(seconds=60)
        )
        assert taken is not None
        ids.append(stored.id)
    for url, body in (
        ("/api/callbacks/now", {"id": ids[0]}),
        ("/api/callbacks/cancel", {"id": ids[0], "reason": ""}),
        ("/api/callbacks/reschedule", {"id": ids[0], "after": "15:00"}),
    ):
        assert await post(board_client, csrf, url, body) == (
            409,
            {"error": "Lotte is calling this back."},
        ), url
    assert await post(board_client, csrf, "/api/callbacks/now", {"id": ids[1]}) == (
        409,
        {"error": "Extension 209 is calling this back."},
    )
    listed = await (await board_client.get("/api/callbacks")).json()
    shown = {c["id"]: (c["state"], c["member"], c["member_name"]) for c in listed["callbacks"]}
    assert shown[ids[0]] == ("dialling", "201", "Lotte")
    assert shown[ids[1]] == ("dialling", "209", "")
    assert await db.fetchval("SELECT state FROM callbacks WHERE id = $1", ids[0]) == "dialling"

"""The worklist's and the report's API in-process against the real PostgreSQL: the list,
claims between two receptionists (the second is refused with the first's name), the
outcome; the report's JSON and CSV; and hostile requests get a clear 4xx, never a 500."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from switchboard.board.hub import BoardHub
from switchboard.core.calls.model import CallOutcome
from switchboard.store.calls import write_call
from switchboard.store.users import create_user
from switchboard_ui.app import create_app
from tests.conftest import BOARD_PASSWORD, log_in
from tests.integration.test_worklist_db import (
    board_call_back,
    call,
    e164_of,
    fresh_mobile,
    hung_up_withheld,
    stranger,
    uid,
)

pytestmark = pytest.mark.integration


async def post(client: TestClient, csrf: str, url: str, body: Any) -> tuple[int, Any]:
    reply = await client.post(url, json=body, headers={"X-CSRF-Token": csrf})
    return reply.status, await reply.json()


async def lotte(db: asyncpg.Pool) -> tuple[TestClient, str]:
    """A second receptionist on a board of her own (as on another service instance)."""
    await create_user(db, "lotte", BOARD_PASSWORD, role="receptionist", display_name="Lotte")
    client = TestClient(TestServer(create_app(db, BoardHub())))
    await client.start_server()
    await client.post("/login", data={"username": "lotte", "password": BOARD_PASSWORD})
    text = await (await client.get("/board")).text()
    marker = 'name="csrf-token" content="'
    start = text.index(marker) + len(marker)
    return client, text[start : text.index('"', start)]


async def test_claim_refused_naming_the_holder_then_the_outcome_closes_it(
    board_client: TestClient, db: asyncpg.Pool
) -> None:
    csrf = await log_in(board_client)
    # (Another test may have given her a phone.)
    await db.execute("UPDATE board_users SET extension = NULL WHERE username = 'sanne'")
    national = fresh_mobile()
    t0 = datetime.now(UTC).timestamp() - 300
    missed = call(
        uid(), national, queued_at=t0, ended_after=35, outcome=CallOutcome.ABANDONED, place=2
    )
    await write_call(db, missed, "NL")
    listed = await (await board_client.get("/api/worklist")).json()
    (item,) = [i for i in listed["items"] if i["e164"] == e164_of(national)]
    assert item["number"] == f"06 {national[2:]}"
    assert (item["attempts"], item["history"][0]["place"], item["history"][0]["short"]) == (
        1,
        2,
        False,
    )
    status, _ = await post(board_client, csrf, "/api/worklist/claim", {"id": item["id"]})
    assert status == 200
    other, other_csrf = await lotte(db)
    try:
        status, said = await post(other, other_csrf, "/api/worklist/claim", {"id": item["id"]})
        assert (status, said["error"]) == (409, "Sanne is calling back.")
        seen = await (await other.get("/api/worklist")).json()
        (held,) = [i for i in seen["items"] if i["id"] == item["id"]]
        assert (held["holder_name"], held["mine"]) == ("Sanne", False)
        status, _ = await post(
            other, other_csrf, "/api/worklist/outcome", {"id": item["id"], "outcome": "helped"}
        )
        assert status == 409
    finally:
        await other.close()
    # Sanne has no phone on the board: calling back from it is refused, the item stays hers.
    status, said = await post(board_client, csrf, "/api/worklist/call", {"id": item["id"]})
    assert status == 409 and "no phone" in said["error"]
    status, _ = await post(
        board_client,
        csrf,
        "/api/worklist/outcome",
        {"id": item["id"], "outcome": "helped", "note": "invoice sent"},
    )
    assert status == 200
    listed = await (await board_client.get("/api/worklist")).json()
    (closed,) = [i for i in listed["items"] if i["id"] == item["id"]]
    assert (closed["state"], closed["resolved_how"], closed["note"]) == (
        "resolved",
        "helped",
        "invoice sent",
    )


async def test_the_waiting_callers_row_counts_their_calls_today(
    board_client: TestClient, db: asyncpg.Pool
) -> None:
    await log_in(board_client)
    national = fresh_mobile()
    # Three calls in the last minutes, all today (even just after midnight).
    midnight = datetime.now(ZoneInfo("Europe/Amsterdam")).replace(hour=0, minute=0, second=0)
    t0 = max(datetime.now(UTC).timestamp() - 200, midnight.timestamp() + 3)
    for n in range(2):
        await write_call(
            db,
            call(
                uid(),
                national,
                queued_at=t0 + n * 60,
                ended_after=20,
                outcome=CallOutcome.ABANDONED,
            ),
            "NL",
        )
    now = call(uid(), national, queued_at=t0 + 180, ended_after=1, outcome="")
    await write_call(db, now, "NL")
    said = await (
        await board_client.get(f"/api/worklist/today?number={national}&call=test:{now.linked_id}")
    ).json()
    assert said == {"earlier": 2, "missed": 2}


async def test_the_report_json_and_csv_say_the_same(
    board_client: TestClient, db: asyncpg.Pool
) -> None:
    await log_in(board_client)
    queue = f"rep{random.randrange(10**9)}"
    at = datetime(2026, 5, 4, 10, 0, tzinfo=UTC).timestamp()
    await write_call(
        db,
        stranger(
            queued_at=at,
            answered_after=8,
            ended_after=60,
            outcome=CallOutcome.ANSWERED,
            queue=queue,
        ),
        "NL",
    )
    await write_call(
        db,
        stranger(
            queued_at=at + 5,
            ended_after=40,
            outcome=CallOutcome.ABANDONED,
            queue=queue,
        ),
        "NL",
    )
    query = f"from=2026-05-04&to=2026-05-05&interval=hour&queue={queue}"
    data = await (await board_client.get(f"/api/report?{query}")).json()
    assert len(data["rows"]) == 24 and data["timezone"] == "Europe/Amsterdam"
    noon = [r for r in data["rows"] if r["arrivals"]]
    assert [
        (r["start"], r["answered_in_time"], r["abandoned"], r["service_level"]) for r in noon
    ] == [("2026-05-04T12:00:00+02:00", 1, 1, 0.5)]
    reply = await board_client.get(f"/api/report.csv?{query}")
    assert reply.headers["Content-Type"].startswith("text/csv")
    lines = (await reply.text()).splitlines()
    assert lines[0].startswith("start,arrivals,answered,answered_in_time")
    assert lines[13].startswith("2026-05-04T12:00:00+02:00,2,1,1,1,0,0,0.5,0.5")
    assert lines[-1].startswith("total,2,1,1,1,0,0,0.5,0.5")
    today = await (await board_client.get("/api/figures/today")).json()
    assert {"service_level", "standing", "open_items", "answer_within_s"} <= today.keys()


@pytest.mark.parametrize(
    "url",
    [
        "/api/report?from=2026-13-01&to=2026-12-02",
        "/api/report?from=2026-12-02&to=2026-12-01",
        "/api/report?from=2016-01-01&to=2026-01-01&interval=15min",
        "/api/report?from=2026-12-01&to=2026-12-02&interval=decade",
        "/api/report?from=2026-12-01&to=2026-12-02&queue=%07bell",
        "/api/report.csv?from=&to=",
        "/api/figures/today?queue=" + "q" * 500,
        "/api/report?from=0001-01-01&to=0001-01-02&interval=hour",
        "/api/report?from=9999-12-30&to=9999-12-31",
        "/api/report?from=12/01/2026&to=2026-12-02",
    ],
)
async def test_a_bad_report_request_is_a_422(board_client: TestClient, url: str) -> None:
    await log_in(board_client)
    reply = await board_client.get(url)
    assert reply.status == 422
    assert (await reply.json())["errors"]


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/worklist/claim", {"id": "1"}),
        ("/api/worklist/claim", {"id": True}),
        ("/api/worklist/claim", {"id": 2**70}),
        ("/api/worklist/release", {"id": None}),
        ("/api/worklist/call", {"id": [1]}),
        ("/api/worklist/call", {"id": "1; DROP TABLE worklist_items"}),
        ("/api/worklist/outcome", {"id": 1, "outcome": "reached'; --"}),
        ("/api/worklist/outcome", {"id": 1, "outcome": "helped", "note": {"a": 1}}),
        ("/api/worklist/outcome", {"id": 1, "outcome": "helped", "note": "x" * 3000}),
    ],
)
async def test_a_hostile_worklist_body_is_refused_clearly(
    board_client: TestClient, url: str, body: Any
) -> None:
    csrf = await log_in(board_client)
    status, said = await post(board_client, csrf, url, body)
    assert status == 422 and said["errors"]


async def test_the_worklist_needs_a_session_and_a_csrf_token(board_client: TestClient) -> None:
    assert (await board_client.get("/api/worklist")).status == 401
    assert (await board_client.get("/api/report?from=2026-12-01&to=2026-12-02")).status == 401
    await log_in(board_client)
    assert (await board_client.post("/api/worklist/claim", json={"id": 1})).status == 403
    for item_id in (1, 2**40):
        status = (
            await board_client.post(
                "/api/worklist/claim", json={"id": item_id}, headers={"X-CSRF-Token": "wrong"}
            )
        ).status
        assert status == 403


async def test_a_withheld_callers_item_is_only_seen_and_a_numbers_never_just_seen(
    board_client: TestClient, db: asyncpg.Pool
) -> None:
    csrf = await log_in(board_client)
    queue = f"w{random.randrange(10**9)}"
    t0 = datetime.now(UTC).timestamp() - 300
    await hung_up_withheld(db, queue, t0)
    national = fresh_mobile()
    await write_call(
        db,
        call(
            uid(),
            national,
            queued_at=t0,
            ended_after=20,
            outcome=CallOutcome.ABANDONED,
            queue=queue,
        ),
        "NL",
    )
    listed = (await (await board_client.get("/api/worklist")).json())["items"]
    withheld = next(i for i in listed if i["queue"] == queue and i["withheld"])
    numbered = next(i for i in listed if i["queue"] == queue and not i["withheld"])
    for item in (withheld, numbered):
        assert (await post(board_client, csrf, "/api/worklist/claim", {"id": item["id"]}))[0] == 200
    assert (
        await post(
            board_client, csrf, "/api/worklist/outcome", {"id": withheld["id"], "outcome": "helped"}
        )
    )[0] == 422
    assert (
        await post(
            board_client, csrf, "/api/worklist/outcome", {"id": numbered["id"], "outcome": "seen"}
        )
    )[0] == 422
    assert (
        await post(
            board_client, csrf, "/api/worklist/outcome", {"id": withheld["id"], "outcome": "seen"}
        )
    )[0] == 200
    # With a phone of her own, still nothing to dial: the number is withheld.
    await db.execute("UPDATE board_users SET extension = '209' WHERE username = 'sanne'")
    try:
        status, said = await post(board_client, csrf, "/api/worklist/call", {"id": withheld["id"]})
    finally:
        await db.execute("UPDATE board_users SET extension = NULL WHERE username = 'sanne'")
    assert (status, said["error"]) == (422, "a withheld number cannot be called back")


@pytest.mark.parametrize(
    "query",
    [
        "number=<script>alert(1)</script>",
        "number=" + "9" * 5000,
        "number=0612345678&call=%00%ff",
        "",
    ],
)
async def test_a_hostile_repeat_caller_question_is_answered_plainly(
    board_client: TestClient, query: str
) -> None:
    await log_in(board_client)
    reply = await board_client.get(f"/api/worklist/today?{query}")
    assert reply.status in (200, 400)
    if reply.status == 200:
        assert set(await reply.json()) == {"earlier", "missed"}


async def test_a_board_call_back_that_met_a_voicemail_is_said_so_and_opens_again(
    board_client: TestClient, db: asyncpg.Pool
) -> None:
    csrf = await log_in(board_client)
    national = fresh_mobile()
    t0 = datetime.now(UTC).timestamp() - 600
    await write_call(
        db, call(uid(), national, queued_at=t0, ended_after=30, outcome=CallOutcome.MISSED), "NL"
    )
    listed = (await (await board_client.get("/api/worklist")).json())["items"]
    (item,) = [i for i in listed if i["e164"] == e164_of(national)]
    assert (await post(board_client, csrf, "/api/worklist/claim", {"id": item["id"]}))[0] == 200
    await board_call_back(db, item["id"], "209", t0 + 205, 25)  # a voicemail greeting
    listed = (await (await board_client.get("/api/worklist")).json())["items"]
    (resolved,) = [i for i in listed if i["id"] == item["id"]]
    assert (resolved["state"], resolved["own_call"], resolved["mine"]) == ("resolved", True, True)
    status, _ = await post(
        board_client,
        csrf,
        "/api/worklist/outcome",
        {"id": item["id"], "outcome": "voicemail", "note": "left a message"},
    )
    assert status == 200
    listed = (await (await board_client.get("/api/worklist")).json())["items"]
    (reopened,) = [i for i in listed if i["id"] == item["id"]]
    assert (reopened["state"], reopened["outcome"], reopened["claimed_by"]) == (
        "open",
        "voicemail",
        None,
    )


async def test_the_report_takes_any_queue_name_the_journal_keeps(
    board_client: TestClient, db: asyncpg.Pool
) -> None:
    await log_in(board_client)
    # A name is a bind parameter, never SQL: this one is just a queue with no calls.
    odd = await board_client.get(
        "/api/report",
        params={"from": "2026-05-06", "to": "2026-05-07", "queue": "x';drop table calls;--"},
    )
    assert odd.status == 200 and (await odd.json())["total"]["arrivals"] == 0
    assert await db.fetchval("SELECT count(*) FROM calls") > 0
    at = datetime(2026, 5, 6, 10, 0, tzinfo=UTC).timestamp()
    queue = f"Sales Team {random.randrange(10**6)}"
    await write_call(
        db,
        stranger(
            queued_at=at,
            answered_after=5,
            ended_after=60,
            outcome=CallOutcome.ANSWERED,
            queue=queue,
        ),
        "NL",
    )
    reply = await board_client.get(
        "/api/report", params={"from": "2026-05-06", "to": "2026-05-07", "queue": queue}
    )
    assert reply.status == 200
    assert (await reply.json())["total"]["answered"] == 1


async def test_why_a_report_cannot_be_made_is_said_in_the_boards_language(
    board_client: TestClient,
) -> None:
    await log_in(board_client)
    await board_client.get("/language?lang=nl&next=/board")
    reply = await board_client.get("/api/report?from=2026-12-02&to=2026-12-01")
    assert (await reply.json())["errors"]["to"] == "de einddatum moet na de begindatum liggen"

"""POST /api/queues/members and GET /api/queues: who answers a queue, changed from the
board. The app runs in-process against the real PostgreSQL (sessions, CSRF, the
queue_members table); the PBX side is a fake AMI that answers as Asterisk 22 does. The
real Asterisk restart is proven in tests/browser/test_queue_membership_board.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from ami_bridge.queue_membership import QueueMembers
from switchboard.board.pbxs import PBXUnavailable
from switchboard.core.calls.control import Act, Actor, Claim, Refusal
from switchboard.core.calls.presence import Extension
from switchboard_ui.keys import PBXS
from tests.conftest import log_in

pytestmark = pytest.mark.integration


class FakeAMI:
    """Answers queue actions as Asterisk does; ``up`` False: the PBX is gone."""

    def __init__(self) -> None:
        self.up = True
        self.sent: list[dict[str, str]] = []

    async def __call__(self, action: Mapping[str, str]) -> dict[str, str]:
        if not self.up:
            raise PBXUnavailable("main is not connected")
        self.sent.append(dict(action))
        messages = {
            "QueueAdd": "Added interface to queue",
            "QueuePause": "Interface paused successfully",
            "QueueRemove": "Removed interface from queue",
        }
        return {"Response": "Success", "Message": messages.get(action["Action"], "")}


class FakePBX:
    def __init__(self, queues: QueueMembers) -> None:
        self.name = "main"
        self.queues = queues

    def extension(self, number: str) -> Extension | None:
        return None

    async def command(
        self, act: Act, call_id: str, actor: Actor, target: str = ""
    ) -> Claim | Refusal:
        return Refusal("unavailable")

    async def set_presence(self, extension: str, status: str, until: str, note: str) -> None:
        raise PBXUnavailable("not here")


@pytest.fixture
async def ami(board_client: TestClient, db: asyncpg.Pool) -> FakeAMI:
    await db.execute("DELETE FROM queue_members WHERE pbx = 'main'")
    fake = FakeAMI()
    board_client.server.app[PBXS].add(FakePBX(QueueMembers("main", fake, db)))
    return fake


async def post(client: TestClient, body: Any, csrf: str | None) -> tuple[int, Any]:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    response = await client.post("/api/queues/members", json=body, headers=headers)
    return response.status, await response.json()


JOIN = {"action": "join", "queue": "switchboard", "interface": "PJSIP/207", "member_name": "Eva"}


async def test_a_session_and_its_csrf_token_are_needed(
    board_client: TestClient, ami: FakeAMI
) -> None:
    assert (await post(board_client, JOIN, None))[0] == 401
    assert (await board_client.get("/api/queues")).status == 401
    await log_in(board_client)
    assert (await post(board_client, JOIN, None))[0] == 403
    assert ami.sent == []


async def test_join_pause_leave_and_the_list_in_between(
    board_client: TestClient, ami: FakeAMI
) -> None:
    csrf = await log_in(board_client)
    assert (await post(board_client, JOIN, csrf))[0] == 200
    pause = {**JOIN, "action": "pause", "reason": "lunch"}
    status, reply = await post(board_client, pause, csrf)
    assert status == 200 and reply["member"]["pause_reason"] == "lunch"
    listed = await (await board_client.get("/api/queues")).json()
    assert [(m["interface"], m["paused"], m["updated_by"]) for m in listed["members"]] == [
        ("PJSIP/207", True, "sanne")
    ]
    assert (await post(board_client, {**JOIN, "action": "leave"}, csrf))[0] == 200
    assert (await (await board_client.get("/api/queues")).json())["members"] == []
    assert [a["Action"] for a in ami.sent] == ["QueueAdd", "QueuePause", "QueueRemove"]


async def test_a_pbx_that_is_gone_gets_the_join_later_and_keeps_the_member_on_a_leave(
    board_client: TestClient, ami: FakeAMI
) -> None:
    csrf = await log_in(board_client)
    ami.up = False
    status, reply = await post(board_client, JOIN, csrf)
    assert status == 202 and reply["confirmed"] is False
    assert (await post(board_client, {**JOIN, "action": "leave"}, csrf))[0] == 503
    listed = await (await board_client.get("/api/queues")).json()
    assert [m["interface"] for m in listed["members"]] == ["PJSIP/207"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ([1, 2], 400),
        ("join", 400),
        ({**JOIN, "action": "drop table"}, 422),
        ({**JOIN, "action": None}, 422),
        ({**JOIN, "queue": "a" * 10_000}, 422),
        ({**JOIN, "queue": "switch\nboard"}, 422),
        ({**JOIN, "queue": 7}, 422),
        ({**JOIN, "interface": "PJSIP/../../etc"}, 422),
        ({**JOIN, "interface": "Local/201"}, 422),
        ({**JOIN, "interface": "SIP/201;evil=1"}, 422),
        ({**JOIN, "interface": ["PJSIP/201"]}, 422),
        ({**JOIN, "member_name": {"$ne": 1}}, 422),
        ({**JOIN, "member_name": "x" * 500}, 422),
        ({**JOIN, "action": "pause", "reason": "lunch\r\nAction: Originate"}, 422),
        ({**JOIN, "action": "pause", "reason": "é" * 80}, 422),
        ({**JOIN, "pbx": "elsewhere"}, 404),
        ({**JOIN, "pbx": ["main"]}, 404),
        ({**JOIN, "action": "leave"}, 404),  # not a member
    ],
)
async def test_hostile_input_is_refused_clearly_and_changes_nothing(
    board_client: TestClient, ami: FakeAMI, db: asyncpg.Pool, body: Any, status: int
) -> None:
    csrf = await log_in(board_client)
    got, reply = await post(board_client, body, csrf)
    assert got == status, reply
    assert "error" in reply or "errors" in reply
    assert ami.sent == []
    assert await db.fetchval("SELECT count(*) FROM queue_members WHERE pbx = 'main'") == 0

"""POST /api/presence refuses what it must, with a clear answer, and changes nothing then.

The board app runs in-process against the real PostgreSQL (sessions, CSRF); setting a
presence on the real sandbox Asterisk is proven in test_presence_sandbox.py."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from switchboard.board.pbxs import PBXRefused, PBXUnavailable
from switchboard.core.calls.control import Act, Actor, Claim, Refusal
from switchboard.core.calls.presence import Extension
from switchboard_ui.keys import PBXS
from tests.conftest import log_in

pytestmark = pytest.mark.integration


class FakePBX:
    """A PBX with one extension whose presence cannot be set: it is gone, or refuses."""

    def __init__(self, name: str, ext: str, error: Exception) -> None:
        self.name = name
        self._extension = Extension(pbx=name, extension=ext)
        self._error = error

    def extension(self, number: str) -> Extension | None:
        return self._extension if number == self._extension.extension else None

    async def command(
        self, act: Act, call_id: str, actor: Actor, target: str = ""
    ) -> Claim | Refusal:
        return Refusal("unavailable")

    async def set_presence(self, extension: str, status: str, until: str, note: str) -> None:
        raise self._error


def _on_board(client: TestClient, ext: str) -> None:
    """An extension on the board, on a PBX that is not connected."""
    client.server.app[PBXS].add(FakePBX("gone", ext, PBXUnavailable("gone is not connected")))


async def _post(client: TestClient, body: Any, csrf: str | None) -> tuple[int, Any]:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    response = await client.post("/api/presence", json=body, headers=headers)
    return response.status, await response.json()


async def test_a_session_and_its_csrf_token_are_needed(board_client: TestClient) -> None:
    body = {"extension": "201", "status": "dnd"}
    assert (await _post(board_client, body, None))[0] == 401
    await log_in(board_client)
    assert (await _post(board_client, body, None))[0] == 403
    assert (await _post(board_client, body, "wrong"))[0] == 403


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"extension": "20a", "status": "dnd"}, {"extension"}),
        ({"extension": "1" * 11, "status": "dnd"}, {"extension"}),
        ({"extension": 201, "status": "lunch"}, {"extension", "status"}),
        ({"extension": "201", "status": "away", "note": "x" * 61}, {"note"}),
        ({"extension": "201", "status": "away", "note": "a\nEvent: x"}, {"note"}),
        ({"extension": "201", "status": "away", "note": 5}, {"note"}),
        ({"extension": "201", "status": "away", "until": "13.30"}, {"until"}),
        ({"extension": "201", "status": "away", "until": "24:00"}, {"until"}),
        ({"extension": "201", "status": "dnd", "pbx": ["x"]}, {"pbx"}),
    ],
)
async def test_a_bad_field_is_named(
    board_client: TestClient, body: dict[str, Any], fields: set[str]
) -> None:
    csrf = await log_in(board_client)
    status, data = await _post(board_client, body, csrf)
    assert status == 422 and set(data["errors"]) == fields


async def test_not_json_unknown_extension_and_a_pbx_that_is_gone(board_client: TestClient) -> None:
    csrf = await log_in(board_client)
    response = await board_client.post("/api/presence", data="nope", headers={"X-CSRF-Token": csrf})
    assert response.status == 400
    assert (await _post(board_client, ["201"], csrf))[0] == 400
    status, data = await _post(board_client, {"extension": "201", "status": "dnd"}, csrf)
    assert status == 404 and "not on the board" in data["error"]
    _on_board(board_client, "201")
    status, data = await _post(board_client, {"extension": "201", "status": "dnd"}, csrf)
    assert status == 503 and "gone" in data["error"]


async def test_a_pbx_that_refuses_is_a_502_with_its_reason(board_client: TestClient) -> None:
    csrf = await log_in(board_client)
    board_client.server.app[PBXS].add(FakePBX("main", "202", PBXRefused("No such variable")))
    status, data = await _post(board_client, {"extension": "202", "status": "dnd"}, csrf)
    assert status == 502 and "No such variable" in data["error"]
    status, data = await _post(
        board_client, {"extension": "202", "status": "dnd", "pbx": "x"}, csrf
    )
    assert status == 404

"""The board's HTTP surface against a real PostgreSQL: every bad request gets a clear
answer and nothing is let through without a session."""

from __future__ import annotations

import re

import asyncpg
import pytest
from aiohttp import WSMsgType, WSServerHandshakeError
from aiohttp.test_utils import TestClient

from switchboard.store.contacts import add_contact
from switchboard_ui.session import SESSION_COOKIE
from switchboard_ui.session_sockets import SESSION_ENDED
from tests.conftest import BOARD_PASSWORD, log_in

pytestmark = pytest.mark.integration


async def test_the_board_sends_strangers_to_the_login_page(board_client: TestClient) -> None:
    response = await board_client.get("/board", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login"


async def test_a_wrong_password_is_refused_plainly(board_client: TestClient) -> None:
    response = await board_client.post("/login", data={"username": "sanne", "password": "nope"})
    assert response.status == 401
    assert "Wrong username or password." in await response.text()
    assert SESSION_COOKIE not in response.cookies


async def test_the_session_cookie_is_http_only_and_same_site(board_client: TestClient) -> None:
    response = await board_client.post(
        "/login", data={"username": "sanne", "password": BOARD_PASSWORD}, allow_redirects=False
    )
    cookie = response.cookies[SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    board = await board_client.get("/board")
    assert board.status == 200 and "Sanne" in await board.text()


async def test_the_live_feed_needs_a_session(board_client: TestClient) -> None:
    # Opened and closed at once, with the code board.js turns into the login page.
    socket = await board_client.ws_connect("/ws")
    message = await socket.receive(timeout=5)
    assert message.type is WSMsgType.CLOSE and message.data == SESSION_ENDED


async def test_the_live_feed_starts_with_a_versioned_snapshot(board_client: TestClient) -> None:
    await log_in(board_client)
    socket = await board_client.ws_connect("/ws")
    first = await socket.receive_json(timeout=5)
    assert first["v"] == 1 and first["type"] == "snapshot" and first["calls"] == []
    await socket.close()


async def test_a_websocket_from_another_site_is_refused(board_client: TestClient) -> None:
    await log_in(board_client)
    with pytest.raises(WSServerHandshakeError) as refused:
        await board_client.ws_connect("/ws", headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403


async def test_log_out_needs_the_csrf_token(board_client: TestClient) -> None:
    await log_in(board_client)
    response = await board_client.post("/logout", data={"csrf_token": "forged"})
    assert response.status == 403
    assert (await board_client.get("/board", allow_redirects=False)).status == 200


async def test_an_oversized_request_is_refused_without_harm(board_client: TestClient) -> None:
    response = await board_client.post("/login", data={"username": "x" * 100_000, "password": "y"})
    assert response.status == 413


async def test_the_caller_card_needs_a_session(board_client: TestClient) -> None:
    response = await board_client.get("/api/caller", params={"number": "0612345678"})
    assert response.status == 401


async def test_the_caller_card_shows_contact_explanation_and_history(
    board_client: TestClient, db: asyncpg.Pool
) -> None:
    contact_id = await add_contact(db, "Noor Visser", ["0645460001"], company="Visser & Zn")
    await db.execute(
        "UPDATE contact_numbers SET verified_at = now() - interval '400 days'"
        " WHERE contact_id = $1",
        contact_id,
    )
    await db.execute(
        "INSERT INTO calls (pbx, linked_id, caller_number, caller_e164, started_at, answered_at,"
        " answered_by, ended_at) VALUES ('p', 'card-1', '0645460001', '+31645460001',"
        " now() - interval '2 hours', now() - interval '2 hours', '201', now() - interval '1 hour')"
    )
    await log_in(board_client)
    card = await (await board_client.get("/api/caller", params={"number": "06-45460001"})).json()
    assert card["contacts"][0]["name"] == "Noor Visser"
    assert card["explanation"] == (
        "Recognised by number, last verified 13 months ago: verify the address."
    )
    assert card["history"][0]["outcome"] == "answered by 201"


async def test_a_note_is_saved_on_the_call_with_the_csrf_token_only(
    board_client: TestClient, db: asyncpg.Pool
) -> None:
    await db.execute(
        "INSERT INTO calls (pbx, linked_id, caller_number, started_at)"
        " VALUES ('p', 'note-1', '0612', now())"
    )
    token = await log_in(board_client)
    payload = {"call_id": "p:note-1", "note": "Belt terug over factuur"}
    note_url = "/api/calls/note"
    forged = await board_client.post(note_url, json=payload, headers={"X-CSRF-Token": "x"})
    assert forged.status == 403
    saved = await board_client.post(note_url, json=payload, headers={"X-CSRF-Token": token})
    assert saved.status == 200
    assert await db.fetchval("SELECT note FROM calls WHERE linked_id = 'note-1'") == payload["note"]
    missing = await board_client.post(
        "/api/calls/note", json={"call_id": "p:nope", "note": "x"}, headers={"X-CSRF-Token": token}
    )
    assert missing.status == 404
    garbage = await board_client.post(
        "/api/calls/note", data=b"not json", headers={"X-CSRF-Token": token}
    )
    assert garbage.status == 400 and "JSON" in (await garbage.json())["error"]


async def test_a_cross_site_write_of_any_method_is_refused(board_client: TestClient) -> None:
    await log_in(board_client)
    evil = {"Origin": "https://evil.example"}
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = await board_client.request(method, "/api/contacts/1", headers=evil, json={})
        assert response.status == 403, method


def _api_routes(client: TestClient) -> list[tuple[str, str]]:
    """Every JSON API route of the board, with 1 for each path parameter."""
    routes = []
    for route in client.server.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/") and route.method != "HEAD":
            routes.append((route.method, re.sub(r"\{[^}]+\}", "1", path)))
    return routes


async def test_every_api_refuses_a_stranger_in_their_language(board_client: TestClient) -> None:
    dutch = {"Accept-Language": "nl"}
    routes = _api_routes(board_client)
    assert len(routes) > 10
    for method, path in routes:
        response = await board_client.request(method, path, headers=dutch, json={})
        assert response.status == 401, (method, path)
        assert (await response.json())["error"] == "log eerst in", (method, path)


async def test_every_api_write_needs_the_csrf_token_in_their_language(
    board_client: TestClient,
) -> None:
    await log_in(board_client)
    forged = {"Accept-Language": "nl", "X-CSRF-Token": "forged"}
    writes = [(m, p) for m, p in _api_routes(board_client) if m != "GET"]
    assert len(writes) > 5
    for method, path in writes:
        response = await board_client.request(method, path, headers=forged, json={})
        assert response.status == 403, (method, path)
        error = (await response.json())["error"]
        assert error == "het CSRF-token ontbreekt of klopt niet", (method, path)


async def test_log_out_without_a_session_goes_to_the_login_page(board_client: TestClient) -> None:
    response = await board_client.post("/logout", data={"csrf_token": "x"}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login"

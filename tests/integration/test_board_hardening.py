"""The board against an attacker on the network (issue 10): guessing passwords, a socket
outliving its session, redirects, headers, health, a proxy's origin; against the real
PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient, TestServer

from switchboard.board.hub import BoardHub
from switchboard.store import users
from switchboard.store.users import create_user
from switchboard_ui import session_sockets
from switchboard_ui.app import create_app
from switchboard_ui.login_throttle import FREE_FAILURES_PER_USER
from switchboard_ui.response_headers import CONTENT_SECURITY_POLICY
from switchboard_ui.session_sockets import SESSION_ENDED
from tests.conftest import BOARD_PASSWORD, log_in

pytestmark = pytest.mark.integration


async def _wrong_login(client: TestClient, username: str = "sanne") -> int:
    response = await client.post("/login", data={"username": username, "password": "wrong!"})
    return response.status


async def test_guessing_a_password_is_slowed_down_even_for_the_right_one(
    board_client: TestClient,
) -> None:
    for _ in range(FREE_FAILURES_PER_USER + 1):
        assert await _wrong_login(board_client) == 401
    response = await board_client.post(
        "/login", data={"username": "sanne", "password": BOARD_PASSWORD}, allow_redirects=False
    )
    assert response.status == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert "try again in" in await response.text()


async def test_a_throttled_login_is_logged_for_the_admin(
    board_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(FREE_FAILURES_PER_USER + 1):
        await _wrong_login(board_client)
    assert any("login throttled: user 'sanne'" in r.getMessage() for r in caplog.records)


async def test_password_checks_leave_the_event_loop_free(board_client: TestClient) -> None:
    """Many logins at once must not hold the loop that answers callers: the loop's worst
    lateness stays a small part of one argon2 check (measured here, on this machine)."""
    started = time.perf_counter()
    await _wrong_login(board_client, "nobody-1")
    one_login = time.perf_counter() - started

    lateness = 0.0
    stop = False

    async def ticker() -> None:
        nonlocal lateness
        while not stop:
            before = time.perf_counter()
            await asyncio.sleep(0.002)
            lateness = max(lateness, time.perf_counter() - before - 0.002)

    tick = asyncio.create_task(ticker())
    await asyncio.gather(*(_wrong_login(board_client, f"nobody-{i}") for i in range(2, 10)))
    stop = True
    await tick
    # On the loop, 8 checks would hold it for about 8 * one_login.
    assert lateness < one_login / 2, (lateness, one_login)


async def _live_board(client: TestClient) -> tuple[str, ClientWebSocketResponse]:
    """Log in and open the live feed; the CSRF token and the socket, past its snapshot."""
    token = await log_in(client)
    socket = await client.ws_connect("/ws")
    assert (await socket.receive_json(timeout=5))["type"] == "snapshot"
    return token, socket


async def _assert_ended(socket: ClientWebSocketResponse) -> None:
    message = await socket.receive(timeout=5)
    assert message.type is WSMsgType.CLOSE and message.data == SESSION_ENDED


async def test_logging_out_closes_the_board_socket(board_client: TestClient) -> None:
    token, socket = await _live_board(board_client)
    await board_client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    await _assert_ended(socket)


@pytest.fixture
async def quick_checks(
    db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[TestClient]:
    """The board with its sessions checked, and expired rows purged, every 0.1 s."""
    monkeypatch.setattr(users, "SESSION_CHECK_S", 0.1)
    monkeypatch.setattr(session_sockets, "PURGE_EVERY_S", 0.1)
    await create_user(db, "sanne", BOARD_PASSWORD, role="receptionist", display_name="Sanne")
    async with TestClient(TestServer(create_app(db, BoardHub()))) as client:
        yield client


async def test_an_expired_session_closes_its_socket_and_its_row_is_purged(
    quick_checks: TestClient, db: asyncpg.Pool
) -> None:
    _, socket = await _live_board(quick_checks)
    await db.execute(
        "UPDATE board_sessions SET expires_at = now() - interval '1 second'"
        " WHERE username = 'sanne'"
    )
    await _assert_ended(socket)
    for _ in range(50):
        if not await db.fetchval("SELECT count(*) FROM board_sessions WHERE username = 'sanne'"):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the expired session's row was never deleted")


async def test_a_password_change_closes_every_board_of_that_user(
    quick_checks: TestClient, db: asyncpg.Pool
) -> None:
    _, socket = await _live_board(quick_checks)
    await create_user(db, "sanne", "a new password!", role="receptionist")
    await _assert_ended(socket)
    board = await quick_checks.get("/board", allow_redirects=False)
    assert board.status == 303 and board.headers["Location"] == "/login"


@pytest.mark.parametrize(
    "target", ["/%09/evil.example", "/%5Cevil.example", "//evil.example", "https://evil.example"]
)
async def test_the_language_switch_never_redirects_off_the_site(
    board_client: TestClient, target: str
) -> None:
    response = await board_client.get(f"/language?lang=nl&next={target}", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/board"


@pytest.mark.parametrize("path", ["/login", "/board", "/api/calls/me", "/nope", "/healthz"])
async def test_every_answer_carries_the_security_headers(
    board_client: TestClient, path: str
) -> None:
    response = await board_client.get(path, allow_redirects=False)
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Server"] == "switchboard"


async def test_the_boards_scripts_may_be_cached(board_client: TestClient) -> None:
    response = await board_client.get("/static/board.js")
    assert response.status == 200 and "Cache-Control" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_health_tells_a_stranger_only_ok_or_degraded(
    board_client: TestClient, db: asyncpg.Pool
) -> None:
    stranger = await board_client.get("/healthz")
    assert await stranger.json() == {"status": "ok"}
    await log_in(board_client)
    receptionist = await (await board_client.get("/healthz")).json()
    assert receptionist == {"status": "ok"}
    await create_user(db, "sanne", BOARD_PASSWORD, role="admin", display_name="Sanne")
    await log_in(board_client)
    admin = await (await board_client.get("/healthz")).json()
    assert admin == {"status": "ok", "pbx": [], "boards": 0}


async def test_behind_a_proxy_the_public_origin_is_the_one_checked(db: asyncpg.Pool) -> None:
    await create_user(db, "sanne", BOARD_PASSWORD, role="receptionist", display_name="Sanne")
    app = create_app(db, BoardHub(), public_origin="https://board.example")
    async with TestClient(TestServer(app)) as client:
        token = await log_in(client)
        headers = {"X-CSRF-Token": token}
        ours = await client.post(
            "/api/calls/note",
            json={"call_id": "p:none", "note": "x"},
            headers={**headers, "Origin": "https://board.example"},
        )
        assert ours.status == 404  # past the origin check: no such call
        direct = await client.post(
            "/api/calls/note",
            json={"call_id": "p:none", "note": "x"},
            headers={**headers, "Origin": str(client.make_url("")).rstrip("/")},
        )
        assert direct.status == 403

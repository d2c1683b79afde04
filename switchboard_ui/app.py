"""The receptionists' board: login, the live page, and its websocket feed."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import asyncpg
import jinja2
from aiohttp import WSCloseCode, WSMsgType, web

from switchboard.board.caller_card import caller_card
from switchboard.board.hub import BoardHub, Subscription, SubscriptionDropped
from switchboard.store.calls import save_note
from switchboard_ui import auth, i18n
from switchboard_ui.login_throttle import LoginThrottle
from switchboard_ui.request_guard import input_guard
from switchboard_ui.response_headers import add_security_headers
from switchboard_ui.session_sockets import SessionSockets, close_ended

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
SESSION_COOKIE = "sb_session"
POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool", asyncpg.Pool)
HUB: web.AppKey[BoardHub] = web.AppKey("hub", BoardHub)
SECURE_COOKIES: web.AppKey[bool] = web.AppKey("secure_cookies", bool)
SOCKETS: web.AppKey[SessionSockets] = web.AppKey("sockets", SessionSockets)
REGION: web.AppKey[str] = web.AppKey("region", str)
PUBLIC_ORIGIN: web.AppKey[str] = web.AppKey("public_origin", str)
LOGIN_THROTTLE: web.AppKey[LoginThrottle] = web.AppKey("login_throttle", LoginThrottle)
PASSWORDS: web.AppKey[auth.PasswordChecker] = web.AppKey("passwords", auth.PasswordChecker)
MAX_NOTE = 2000
# A board that sends nothing and answers no ping for this long is gone.
WS_HEARTBEAT_S = 15.0


def create_app(
    pool: asyncpg.Pool,
    hub: BoardHub,
    *,
    secure_cookies: bool = False,
    region: str = "NL",
    public_origin: str = "",
    login_throttle: LoginThrottle | None = None,
) -> web.Application:
    """The board. ``public_origin`` is the origin browsers see (``https://board.example``)
    when a proxy sits in front; empty: the request's own scheme and host."""
    app = web.Application(client_max_size=64 * 1024, middlewares=[_same_origin_only, input_guard])
    app[POOL] = pool
    app[HUB] = hub
    app[SECURE_COOKIES] = secure_cookies
    app[SOCKETS] = SessionSockets()
    app[REGION] = region
    app[PUBLIC_ORIGIN] = public_origin
    app[LOGIN_THROTTLE] = login_throttle or LoginThrottle()
    app[PASSWORDS] = auth.PasswordChecker()
    app.on_response_prepare.append(add_security_headers)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        context_processors=[i18n.template_context],
    )
    app.router.add_get("/", _to_board)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_get("/language", i18n.choose_language)
    app.router.add_get("/board", board_page)
    app.router.add_get("/ws", board_socket)
    app.router.add_get("/healthz", health)
    app.router.add_get("/api/caller", caller_card_api)
    app.router.add_post("/api/calls/note", call_note_api)
    # Imported here: contacts_api builds on this module's keys and session helper.
    from switchboard_ui.calls_api import add_call_routes
    from switchboard_ui.contacts_api import add_contact_routes
    from switchboard_ui.presence_api import add_presence_routes

    add_contact_routes(app)
    add_call_routes(app)
    add_presence_routes(app)
    app.router.add_static("/static", HERE / "static")
    app.on_startup.append(_check_sessions)
    app.on_shutdown.append(_close_sockets)
    return app


@web.middleware
async def _same_origin_only(request: web.Request, handler: Any) -> web.StreamResponse:
    """Refuse state-changing requests and websockets opened from another site."""
    origin = request.headers.get("Origin")
    changes_state = request.method not in {"GET", "HEAD", "OPTIONS"}
    if (changes_state or request.path == "/ws") and origin is not None:
        expected = request.app[PUBLIC_ORIGIN] or f"{request.scheme}://{request.host}"
        if origin != expected:
            return web.Response(status=403, text=f"cross-site request refused (Origin {origin})")
    response: web.StreamResponse = await handler(request)
    return response


async def _to_board(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/board")


async def current_session(request: web.Request) -> auth.BoardSession | None:
    return await auth.session_for(request.app[POOL], request.cookies.get(SESSION_COOKIE))


async def login_page(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("login.html", request, {"error": None})


def _login_refused(request: web.Request, status: int, error: str) -> web.Response:
    response = aiohttp_jinja2.render_template("login.html", request, {"error": error})
    response.set_status(status)
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip().lower()[:64]
    password = str(form.get("password", ""))[:1024]
    throttle, source = request.app[LOGIN_THROTTLE], request.remote or ""
    t = i18n.translator(i18n.language_of(request))
    if wait := throttle.retry_after(username, source):
        response = _login_refused(
            request, 429, t("Too many failed logins: try again in {seconds} s.", seconds=str(wait))
        )
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        token = (
            await auth.log_in(request.app[POOL], request.app[PASSWORDS], username, password)
            if username
            else None
        )
    except auth.PasswordChecksBusy:
        response = _login_refused(request, 429, t("Too many logins at once: try again."))
        response.headers["Retry-After"] = "1"
        return response
    if token is None:
        for lockout in throttle.failed(username, source):
            # One line per lock (not per try): the line an admin's alert watches for.
            log.warning(
                "login throttled: %s %r locked for %.0f s after %d failed logins",
                lockout.kind,
                lockout.key,
                lockout.seconds,
                lockout.failures,
            )
        return _login_refused(request, 401, t("Wrong username or password."))
    throttle.succeeded(username)
    response = web.HTTPSeeOther("/board")
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=request.app[SECURE_COOKIES],
        max_age=int(auth.SESSION_LIFETIME.total_seconds()),
    )
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    session = await current_session(request)
    form = await request.post()
    if session is None or form.get("csrf_token") != session.csrf_token:
        return web.Response(status=403, text="log-out refused: missing or wrong CSRF token")
    await auth.log_out(request.app[POOL], session)
    await request.app[SOCKETS].end(session.token_digest, "logged out")
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE)
    raise response


async def logged_in_page(request: web.Request, template: str) -> web.StreamResponse:
    """``template`` for a logged-in user; anyone else goes to the login page."""
    session = await current_session(request)
    if session is None:
        raise web.HTTPSeeOther("/login")
    return aiohttp_jinja2.render_template(template, request, {"session": session})


async def board_page(request: web.Request) -> web.StreamResponse:
    return await logged_in_page(request, "board.html")


async def caller_card_api(request: web.Request) -> web.Response:
    if await current_session(request) is None:
        return web.json_response({"error": "log in first"}, status=401)
    number = request.query.get("number", "")
    if not number or len(number) > 64:
        return web.json_response({"error": "give ?number= (at most 64 characters)"}, status=400)
    card = await caller_card(
        request.app[POOL],
        number,
        region=request.app[REGION],
        now=datetime.now(UTC),
        t=i18n.translator(i18n.language_of(request)),
    )
    return web.json_response(card)


async def call_note_api(request: web.Request) -> web.Response:
    session = await current_session(request)
    if session is None:
        return web.json_response({"error": "log in first"}, status=401)
    if request.headers.get("X-CSRF-Token") != session.csrf_token:
        return web.json_response({"error": "missing or wrong CSRF token"}, status=403)
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "the body must be JSON"}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"error": "the body must be a JSON object"}, status=400)
    call_id, note = body.get("call_id"), body.get("note")
    if not isinstance(call_id, str) or not isinstance(note, str) or len(note) > MAX_NOTE:
        return web.json_response(
            {"error": f"give call_id and note (text, at most {MAX_NOTE} characters)"}, status=400
        )
    if not await save_note(request.app[POOL], call_id, note):
        return web.json_response({"error": f"no call {call_id!r} in the journal"}, status=404)
    return web.json_response({"saved": True})


async def health(request: web.Request) -> web.Response:
    """ "ok" (200) when every PBX is connected, else "degraded" (503); which PBX and how
    many boards only for an admin: a stranger learns nothing about the site."""
    hub = request.app[HUB]
    pbx = hub.snapshot()["pbx"]
    status = "ok" if all(p["connected"] for p in pbx) else "degraded"
    body: dict[str, object] = {"status": status}
    session = await current_session(request)
    if session is not None and session.role == "admin":
        body.update(pbx=pbx, boards=hub.subscriber_count)
    return web.json_response(body, status=200 if status == "ok" else 503)


async def board_socket(request: web.Request) -> web.StreamResponse:
    session = await current_session(request)
    # No permessage-deflate: boards sit on the LAN, and each compressed socket keeps
    # about 230 KiB of zlib state (bench/board_memory.py).
    socket = web.WebSocketResponse(heartbeat=WS_HEARTBEAT_S, max_msg_size=16 * 1024, compress=False)
    await socket.prepare(request)
    if session is None:
        # Opened, then closed with a code the page can read (an HTTP 401 before the
        # upgrade reaches a browser's script only as 1006, "try again"): board.js goes
        # to the login page.
        await close_ended(socket, "log in first")
        return socket
    request.app[SOCKETS].add(session, socket)
    snapshot, subscription = request.app[HUB].subscribe()
    # Only the text is kept: the snapshot's objects (every extension) must not live as
    # long as the connection.
    first = json.dumps(snapshot, separators=(",", ":"))
    del snapshot
    sender = asyncio.create_task(_send_updates(socket, first, subscription))
    del first
    try:
        # The board sends nothing yet; reading keeps pings/pongs and close frames flowing.
        async for message in socket:
            if message.type == WSMsgType.ERROR:
                break
    finally:
        subscription.close()
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        request.app[SOCKETS].discard(session, socket)
    return socket


async def _send_updates(
    socket: web.WebSocketResponse, first: str, subscription: Subscription
) -> None:
    try:
        await socket.send_str(first)
        del first
        while True:
            # Encoded once by the hub and shared by every board.
            await socket.send_str(await subscription.next_text())
    except SubscriptionDropped:
        await socket.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"fell behind; reconnect")
    except ConnectionResetError:
        pass


async def _check_sessions(app: web.Application) -> None:
    app[SOCKETS].start(app[POOL])


async def _close_sockets(app: web.Application) -> None:
    await app[SOCKETS].stop()
    await app[SOCKETS].close_all(WSCloseCode.GOING_AWAY, b"server shutting down")

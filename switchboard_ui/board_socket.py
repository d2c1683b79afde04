"""GET /ws: the live board's feed, a snapshot and then every update the hub publishes.

A stranger's socket is opened and at once closed with
:data:`~switchboard_ui.session_sockets.SESSION_ENDED` (an HTTP 401 before the upgrade
reaches a browser's script only as 1006, "try again"), which board.js turns into the
login page. A logged-in board's socket belongs to its session and closes when the
session ends (:mod:`switchboard_ui.session_sockets`); a board too slow to keep up is
closed with 1013 "try again later" and reconnects.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import WSCloseCode, WSMsgType, web

from switchboard.board.hub import Subscription, SubscriptionDropped
from switchboard_ui.keys import HUB, POOL, SOCKETS
from switchboard_ui.session import current_session
from switchboard_ui.session_sockets import close_ended

# A board that sends nothing and answers no ping for this long is gone.
WS_HEARTBEAT_S = 15.0
MAX_MESSAGE_BYTES = 16 * 1024


def add_board_socket_routes(app: web.Application) -> None:
    """The /ws route, and the session check that runs while the app does."""
    app.router.add_get("/ws", board_socket)
    app.on_startup.append(_check_sessions)
    app.on_shutdown.append(_close_sockets)


async def board_socket(request: web.Request) -> web.StreamResponse:
    session = await current_session(request)
    # No permessage-deflate: boards sit on the LAN, and each compressed socket keeps
    # about 230 KiB of zlib state (bench/board_memory.py).
    socket = web.WebSocketResponse(
        heartbeat=WS_HEARTBEAT_S, max_msg_size=MAX_MESSAGE_BYTES, compress=False
    )
    await socket.prepare(request)
    if session is None:
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

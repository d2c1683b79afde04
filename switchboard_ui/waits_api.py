"""How often the waits announced to callers were overrun today (issue 13), for the board.

    GET /api/waits/today    {"announced": 17, "overrun": 2}

``announced``: calls answered since midnight (in the time zone of the first opening
hours configured, else the server's) that were told a wait; ``overrun``: those who
waited longer than they were last told (from their first moment in a queue;
store.calls keeps both). Needs a board
session (401).
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from switchboard.store.calls import announced_waits
from switchboard.store.users import BoardSession
from switchboard_ui.keys import HOURS, POOL
from switchboard_ui.session import require_session


def add_waits_routes(app: web.Application) -> None:
    app.router.add_get("/api/waits/today", waits_today_api)


@require_session
async def waits_today_api(request: web.Request, session: BoardSession) -> web.Response:
    book = request.app[HOURS]
    first = next(iter(book), None)
    now = datetime.now(first.schedule.timezone) if first else datetime.now().astimezone()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    announced, overrun = await announced_waits(request.app[POOL], midnight)
    return web.json_response({"announced": announced, "overrun": overrun})

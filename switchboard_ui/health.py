"""GET /healthz: whether the service can do its job, for a load balancer or a monitor.

"ok" (200) when every PBX is connected, else "degraded" (503). Which PBX and how many
boards only for a logged-in admin: a stranger learns nothing about the site.
"""

from __future__ import annotations

from aiohttp import web

from switchboard_ui.keys import HUB
from switchboard_ui.session import current_session


def add_health_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", health)


async def health(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    pbx = hub.snapshot()["pbx"]
    status = "ok" if all(p["connected"] for p in pbx) else "degraded"
    body: dict[str, object] = {"status": status}
    session = await current_session(request)
    if session is not None and session.role == "admin":
        body.update(pbx=pbx, boards=hub.subscriber_count)
    return web.json_response(body, status=200 if status == "ok" else 503)

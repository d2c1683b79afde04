"""The security headers every response of the board carries, error pages included.

Set in ``on_response_prepare``, so a response made anywhere (a handler, a middleware,
aiohttp's own 404 or 413, the static files) gets them the same way.
"""

from __future__ import annotations

from aiohttp import web

#: The board loads only its own scripts, styles and websocket, and is never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
    "object-src 'none'"
)
#: No product version: it only helps somebody looking for a known hole.
SERVER = "switchboard"
_ALWAYS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Server": SERVER,
}
# The board's scripts and styles may be cached; pages and data carry names, numbers
# and CSRF tokens, which a shared or back-button cache must never hold.
_CACHEABLE_PREFIX = "/static/"


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(_ALWAYS)
    if not request.path.startswith(_CACHEABLE_PREFIX):
        response.headers["Cache-Control"] = "no-store"

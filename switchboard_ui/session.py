"""Who is asking: the board session a request carries, and the one gate in front of every
handler that needs it.

A handler that needs a logged-in user is decorated with :func:`require_session`; one
that changes something also needs the session's CSRF token, and is decorated with
:func:`require_csrf` instead. Either way the handler is called as
``handler(request, session)`` and never sees a stranger. A stranger is refused in the
request's language (:mod:`switchboard_ui.refusals`): the JSON API answers 401
``{"error": ...}`` and a page sends the browser to ``/login``; a wrong or missing CSRF
token is a 403. The API sends the token in the ``X-CSRF-Token`` header, a page's form
in its ``csrf_token`` field (and only there: a header never logs anybody out).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from switchboard.store.users import BoardSession, session_for
from switchboard_ui.i18n import marked as t
from switchboard_ui.keys import POOL
from switchboard_ui.refusals import is_api, refusal

SESSION_COOKIE = "sb_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
LOGIN_PAGE = "/login"

LOG_IN_FIRST = t("log in first")
WRONG_CSRF = t("missing or wrong CSRF token")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SessionHandler = Callable[[web.Request, BoardSession], Awaitable[web.StreamResponse]]


async def current_session(request: web.Request) -> BoardSession | None:
    """The live session of the request's cookie, else None (never raises for a bad one)."""
    return await session_for(request.app[POOL], request.cookies.get(SESSION_COOKIE))


def require_session(handler: SessionHandler) -> Handler:
    """``handler`` for a logged-in user only (see the module docstring)."""
    return _gate(handler, csrf=False)


def require_csrf(handler: SessionHandler) -> Handler:
    """``handler`` for a logged-in user who also sent the session's CSRF token."""
    return _gate(handler, csrf=True)


def _gate(handler: SessionHandler, *, csrf: bool) -> Handler:
    @functools.wraps(handler)
    async def gated(request: web.Request) -> web.StreamResponse:
        session = await current_session(request)
        if session is None:
            if not is_api(request):
                raise web.HTTPSeeOther(LOGIN_PAGE)
            return refusal(request, 401, LOG_IN_FIRST)
        if csrf and await _csrf_token_sent(request) != session.csrf_token:
            return refusal(request, 403, WRONG_CSRF)
        return await handler(request, session)

    return gated


async def _csrf_token_sent(request: web.Request) -> str | None:
    if is_api(request):
        return request.headers.get(CSRF_HEADER)
    token = (await request.post()).get(CSRF_FIELD)
    return token if isinstance(token, str) else None

"""The board's pages: logging in and out, the live board, contacts, and the language.

    GET  /           to /board
    GET  /login      the login form;  POST /login  log in (303 to /board, a session cookie)
    POST /logout     with the form's csrf_token: end the session and its boards' sockets
    GET  /board      the live board;  GET /contacts  the contacts page (else to /login)
    GET  /language   ?lang=nl&next=/board: remember the language, go back to the page

A failed login is the login form again, with 401 (wrong name or password) or 429 and
``Retry-After`` (throttled, or too many password checks at once), in the user's language.
"""

from __future__ import annotations

import logging

import aiohttp_jinja2
from aiohttp import web

from switchboard.store.users import (
    SESSION_LIFETIME,
    BoardSession,
    PasswordChecksBusy,
    log_in,
    log_out,
)
from switchboard_ui import i18n
from switchboard_ui.i18n import marked as t
from switchboard_ui.keys import (
    LOGIN_THROTTLE,
    PASSWORDS,
    POOL,
    SECURE_COOKIES,
    SOCKETS,
    TIMEZONE,
)
from switchboard_ui.redirects import DEFAULT_PAGE, same_site_path
from switchboard_ui.session import (
    LOGIN_PAGE,
    SESSION_COOKIE,
    Handler,
    require_csrf,
    require_session,
)

log = logging.getLogger(__name__)

MAX_USERNAME = 64
MAX_PASSWORD = 1024
#: A chosen language is kept for about a year (400 days: the most browsers keep a cookie).
LANGUAGE_MAX_AGE_S = 400 * 24 * 3600

THROTTLED = t("Too many failed logins: try again in {seconds} s.")
CHECKS_BUSY = t("Too many logins at once: try again.")
WRONG_LOGIN = t("Wrong username or password.")


def add_page_routes(app: web.Application) -> None:
    app.router.add_get("/", to_board)
    app.router.add_get(LOGIN_PAGE, login_page)
    app.router.add_post(LOGIN_PAGE, login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_get("/language", choose_language)
    app.router.add_get(DEFAULT_PAGE, _logged_in_page("board.html"))
    app.router.add_get("/contacts", _logged_in_page("contacts.html"))


async def to_board(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(DEFAULT_PAGE)


def _logged_in_page(template: str) -> Handler:
    """A handler that renders ``template`` for a logged-in user (given as ``session``)."""

    @require_session
    async def page(request: web.Request, session: BoardSession) -> web.StreamResponse:
        context = {"session": session, "timezone": request.app[TIMEZONE].key}
        return aiohttp_jinja2.render_template(template, request, context)

    return page


async def login_page(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("login.html", request, {"error": None})


def _login_refused(
    request: web.Request,
    status: int,
    error: str,
    *,
    retry_after_s: int | None = None,
    **values: str,
) -> web.Response:
    """The login form again with ``error`` (English, translated here and filled in)."""
    message = i18n.translate(i18n.language_of(request), error, **values)
    response = aiohttp_jinja2.render_template("login.html", request, {"error": message})
    response.set_status(status)
    if retry_after_s is not None:
        response.headers["Retry-After"] = str(retry_after_s)
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip().lower()[:MAX_USERNAME]
    password = str(form.get("password", ""))[:MAX_PASSWORD]
    throttle, source = request.app[LOGIN_THROTTLE], request.remote or ""
    if wait := throttle.retry_after(username, source):
        return _login_refused(request, 429, THROTTLED, retry_after_s=wait, seconds=str(wait))
    try:
        token = (
            await log_in(request.app[POOL], request.app[PASSWORDS], username, password)
            if username
            else None
        )
    except PasswordChecksBusy:
        return _login_refused(request, 429, CHECKS_BUSY, retry_after_s=1)
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
        return _login_refused(request, 401, WRONG_LOGIN)
    throttle.succeeded(username)
    response = web.HTTPSeeOther(DEFAULT_PAGE)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=request.app[SECURE_COOKIES],
        max_age=int(SESSION_LIFETIME.total_seconds()),
    )
    raise response


@require_csrf
async def logout(request: web.Request, session: BoardSession) -> web.StreamResponse:
    await log_out(request.app[POOL], session)
    await request.app[SOCKETS].end(session.token_digest, "logged out")
    response = web.HTTPSeeOther(LOGIN_PAGE)
    response.del_cookie(SESSION_COOKIE)
    raise response


async def choose_language(request: web.Request) -> web.StreamResponse:
    """Remember the chosen language (a cookie), then go back to the page ``next`` names."""
    language = request.query.get("lang", "")
    if language not in i18n.LANGUAGES:
        # English on purpose: only a hand-made address gets here, never the page's links.
        unknown = f"unknown language {language!r}; use one of {i18n.LANGUAGES}"
        raise web.HTTPBadRequest(text=unknown)
    # Only paths on this site: never an open redirect.
    response = web.HTTPSeeOther(same_site_path(request.query.get("next", "")))
    response.set_cookie(
        i18n.LANGUAGE_COOKIE,
        language,
        max_age=LANGUAGE_MAX_AGE_S,
        samesite="Strict",
        httponly=True,
    )
    raise response

"""The public "call me back" page a company links from its website (issue 14).

    GET  /callback     the form (name, number, subject, "after" a time of day)
    POST /callback     the request: 303 to /callback/thanks, or the form again with the
                       error (422), or 429 when asked too often

No login. Against other sites posting for a visitor: a signed form token sent back in
the form and in a SameSite=Strict cookie, and the board's Origin check (only this site's
pages may post). Against bots, without a third party: a hidden field people never fill
in, a minimum time to fill the form in, and a maximum age (switchboard.core.web_callback).
Throttled per source address (an IPv6 /64 as one) and per number, counting the
requests the list already holds, so every instance of the service counts the same
ones. The number is checked with phonenumbers and the site's policy (no premium rate);
"after 14:00" must fall in the opening hours of the queue, and the request then waits
in line from that moment. It lands in the same list as the queue's requests, source
"web".
"""

from __future__ import annotations

import logging
import secrets
import time as clock
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from switchboard.core.callbacks import NumberPolicy, check_number
from switchboard.core.web_callback import (
    WebCallbackError,
    check_token,
    first_moment_after,
    issue_token,
    parse_form,
)
from switchboard.store import callbacks
from switchboard_ui import i18n
from switchboard_ui.i18n import marked as t
from switchboard_ui.keys import HOURS, HUB, PBXS, POOL, REGION, SECURE_COOKIES
from switchboard_ui.login_throttle import source_key

log = logging.getLogger(__name__)

COOKIE = "sb_callback_form"
QUEUE = "switchboard"
#: Requests per source address per hour, and per number per day (merges count too).
PER_SOURCE_PER_HOUR = 5
PER_NUMBER_PER_DAY = 3
MAX_SOURCES = 10_000
TOO_OFTEN = t("Too many requests; please call us or try again later.")
CLOSED_THEN = t("we are closed then; please choose another time")
_SECRET: web.AppKey[bytes] = web.AppKey("callback_form_secret", bytes)
_SOURCES: web.AppKey[OrderedDict[str, list[float]]] = web.AppKey("callback_sources", OrderedDict)
#: The refusals the page shows, marked for the Dutch catalogue
#: (switchboard.core.web_callback and check_number say them in English).
REFUSALS = (
    t("the form has expired; please fill it in again"),
    t("that was too quick; please try again"),
    t("the form holds characters it cannot hold"),
    t("at most 120 characters"),
    t("at most 200 characters"),
    t("the number to call you back on"),
    t("a time like 14:00"),
    t("not a phone number we can call"),
    t("a premium-rate number"),
    t("a number the site does not call"),
    t("an international number"),
)


def add_public_callback_routes(app: web.Application) -> None:
    # Per process: a form issued by one instance is sent back to it (behind a load
    # balancer, keep a visitor on one host; a form from another asks to be filled again).
    app[_SECRET] = secrets.token_bytes(32)
    app[_SOURCES] = OrderedDict()
    app.router.add_get("/callback", form_page)
    app.router.add_post("/callback", request_page)
    app.router.add_get("/callback/thanks", thanks_page)


def _form(
    request: web.Request, status: int, error: str = "", values: dict[str, str] | None = None
) -> web.Response:
    token = issue_token(request.app[_SECRET], clock.time())
    response = aiohttp_jinja2.render_template(
        "public_callback.html",
        request,
        {"token": token, "error": error, "values": values or {}},
        status=status,
    )
    response.set_cookie(
        COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="Strict",
        secure=request.app[SECURE_COOKIES],
        path="/callback",
    )
    return response


async def form_page(request: web.Request) -> web.Response:
    return _form(request, 200)


async def thanks_page(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("public_callback_thanks.html", request, {})


def _too_often(request: web.Request, now: float) -> bool:
    """Count this request for its source; True past PER_SOURCE_PER_HOUR in an hour."""
    sources = request.app[_SOURCES]
    key = source_key(request.remote or "")
    recent = [at for at in sources.pop(key, []) if at > now - 3600]
    recent.append(now)
    sources[key] = recent
    while len(sources) > MAX_SOURCES:
        sources.popitem(last=False)
    return len(recent) > PER_SOURCE_PER_HOUR


async def request_page(request: web.Request) -> web.Response:
    now = clock.time()
    tr = i18n.request_translator(request)
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    values = {k: form.get(k, "")[:200] for k in ("name", "number", "subject", "after")}
    if _too_often(request, now):
        return web.Response(status=429, text=tr(TOO_OFTEN), headers={"Retry-After": "3600"})
    try:
        check_token(
            request.app[_SECRET], form.get("token", ""), request.cookies.get(COOKIE, ""), now
        )
        asked = parse_form(form)
    except WebCallbackError as exc:
        return _form(request, 422, tr(exc.message), values)
    checked = check_number(asked.number, NumberPolicy(region=request.app[REGION]))
    if checked.status != "ok":
        return _form(request, 422, tr(checked.reason), values)
    pool = request.app[POOL]
    if await callbacks.requests_within(pool, checked.e164, "web", timedelta(days=1)) >= (
        PER_NUMBER_PER_DAY
    ):
        return web.Response(status=429, text=tr(TOO_OFTEN), headers={"Retry-After": "86400"})
    when = await _when(request, asked.after)
    if when is None:
        return _form(request, 422, tr(CLOSED_THEN), values)
    pbxs = [pbx.name for pbx in request.app[PBXS]]
    await callbacks.request(
        pool,
        pbx=pbxs[0] if pbxs else "main",
        queue=QUEUE,
        e164=checked.e164,
        source="web",
        # It joins the line at the moment it may be called: callers who called before
        # that are not overtaken.
        joined_at=when,
        not_before=when,
        name=asked.name,
        subject=asked.subject,
        language=i18n.language_of(request),
    )
    request.app[HUB].publish({"type": "callbacks"})
    raise web.HTTPSeeOther("/callback/thanks")


async def _when(request: web.Request, after: Any) -> datetime | None:
    """From when it may be dialled: now, or the next moment at ``after``, which must fall
    in the queue's opening hours (None when it does not)."""
    now = datetime.now(UTC)
    book = request.app[HOURS]
    hours = next((h for h in book if QUEUE in h.queues), None)
    zone = hours.schedule.timezone if hours else ZoneInfo("Europe/Amsterdam")
    moment = first_moment_after(after, now, zone)
    if hours is not None and after is not None and not hours.schedule.state_at(moment).open:
        return None
    return moment

"""Opening hours on the board: "open until 17:30", and close now / open now.

    GET  /api/hours                 {"hours": [{name, open, text, override}, ...]}
    POST /api/hours/override        {"name": "reception", "open": false,
                                     "reason": "staff meeting", "until": "14:00"}
    POST /api/hours/override/end    {"name": "reception"}

``until`` is a time of day in the schedule's own time zone: the next such moment (today,
or tomorrow when it has passed). Every override is kept with who made it and who ended
it early (store.hours_overrides); the FastAGI ``hours`` route reads it at every call.

Needs a board session (401), and for POST its CSRF token (403). A body that is not a
JSON object is a 400, a refused field a 422 ``{"errors": {field: message}}``, an
unknown schedule a 404, no override to end a 404.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, time, timedelta
from typing import Any

from aiohttp import web

from switchboard.core.opening import Hours
from switchboard.core.schedule import Override, describe
from switchboard.store.hours_overrides import add_override, current_override, end_override
from switchboard.store.users import BoardSession
from switchboard_ui import i18n
from switchboard_ui.i18n import marked as t
from switchboard_ui.keys import HOURS, POOL
from switchboard_ui.refusals import json_object, refusal
from switchboard_ui.session import require_csrf, require_session

MAX_REASON = 120
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
NO_SUCH_HOURS = t("no opening hours called {name}")
NO_OVERRIDE = t("{name} follows its schedule already")


def add_hours_routes(app: web.Application) -> None:
    app.router.add_get("/api/hours", hours_api)
    app.router.add_post("/api/hours/override", override_api)
    app.router.add_post("/api/hours/override/end", end_override_api)


def _find(request: web.Request, name: object) -> Hours | None:
    return next((h for h in request.app[HOURS] if h.name == name), None)


@require_session
async def hours_api(request: web.Request, session: BoardSession) -> web.Response:
    now = datetime.now(UTC)
    language = i18n.language_of(request)
    shown = []
    for hours in request.app[HOURS]:
        override = await current_override(request.app[POOL], hours.name, now)
        state = hours.schedule.state_at(now, override)
        shown.append(
            {
                "name": hours.name,
                "open": state.open,
                "text": describe(state, now, language),
                "reason": state.reason,
                "override": None
                if override is None
                else {
                    "open": override.open,
                    "reason": override.reason,
                    "by": override.by,
                    "until": override.until.isoformat(),
                },
            }
        )
    return web.json_response({"hours": shown})


def parse_override(
    body: dict[str, Any], hours: Hours, now: datetime, by: str
) -> Override | dict[str, str]:
    """The override ``by`` asks for, or the message per refused field."""
    errors: dict[str, str] = {}
    is_open, reason, until = body.get("open"), body.get("reason", ""), body.get("until")
    if not isinstance(is_open, bool):
        errors["open"] = "true or false"
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        errors["reason"] = f"at most {MAX_REASON} characters of text"
    elif any(unicodedata.category(c)[0] == "C" for c in reason):
        errors["reason"] = "one line of plain text"
    if not isinstance(until, str) or not _TIME.fullmatch(until):
        errors["until"] = "a time like 14:00"
    if errors:
        return errors
    assert isinstance(is_open, bool) and isinstance(until, str) and isinstance(reason, str)
    local = now.astimezone(hours.schedule.timezone)
    hour, minute = (int(part) for part in until.split(":"))
    ends = datetime.combine(local.date(), time(hour, minute), hours.schedule.timezone)
    if ends <= local:
        ends = datetime.combine(
            local.date() + timedelta(days=1), time(hour, minute), hours.schedule.timezone
        )
    return Override(open=is_open, reason=reason.strip(), until=ends, by=by, at=now)


async def _asked_for(request: web.Request) -> tuple[Hours, dict[str, Any]] | web.Response:
    """The schedule a POST names and its body, or the 400/404 that says why not."""
    body = await json_object(request)
    if isinstance(body, web.Response):
        return body
    hours = _find(request, body.get("name"))
    if hours is None:
        return refusal(request, 404, NO_SUCH_HOURS, name=str(body.get("name"))[:64])
    return hours, body


def _now_reply(
    request: web.Request, hours: Hours, now: datetime, override: Override | None
) -> web.Response:
    state = hours.schedule.state_at(now, override)
    text = describe(state, now, i18n.language_of(request))
    return web.json_response({"name": hours.name, "open": state.open, "text": text})


@require_csrf
async def override_api(request: web.Request, session: BoardSession) -> web.Response:
    asked = await _asked_for(request)
    if isinstance(asked, web.Response):
        return asked
    hours, body = asked
    now = datetime.now(UTC)
    override = parse_override(body, hours, now, session.username)
    if isinstance(override, dict):
        return web.json_response({"errors": override}, status=422)
    await add_override(request.app[POOL], hours.name, override)
    return _now_reply(request, hours, now, override)


@require_csrf
async def end_override_api(request: web.Request, session: BoardSession) -> web.Response:
    asked = await _asked_for(request)
    if isinstance(asked, web.Response):
        return asked
    hours, _ = asked
    now = datetime.now(UTC)
    if not await end_override(request.app[POOL], hours.name, session.username, now):
        return refusal(request, 404, NO_OVERRIDE, name=hours.name)
    return _now_reply(request, hours, now, None)

"""Callbacks on the board (issue 14): the list, and a receptionist's own requests.

    GET  /api/callbacks          {"callbacks": [{id, queue, number, name, subject, state,
                                   place, waited_s, attempts, member, member_name,
                                   result, source, requested_by, not_before}, ...]}
    POST /api/callbacks          {"queue": "switchboard", "number": "0612345678",
                                  "name": "Anna", "subject": "invoice"}
    POST /api/callbacks/cancel   {"id": 12, "reason": "reached by e-mail"}
    POST /api/callbacks/now      {"id": 12}: call back now, out of line, from the
                                 receptionist's own phone (which rings first)
    POST /api/callbacks/reschedule {"id": 12, "after": "14:00"}: not before then (the
                                 next such moment, in the opening hours' time zone)

A callback the board asks for joins the line now, as a caller who called now would
(``source`` board, ``requested_by`` the receptionist); one for a number already in line
merges into it. ``place`` counts the callbacks of the queue in line (1 = next). Every
change is announced to the open boards (``{"type": "callbacks"}``), which fetch the list
again. Needs a board session (401), and for POST its CSRF token (403); a body that is not
a JSON object is a 400, a refused field a 422 ``{"errors": {field: message}}``, a
callback no longer in line a 404, a receptionist without a phone a 409, a PBX that dials
no callbacks now a 503. A callback being dialled is claimed, as a call is, by whoever
dials it: call now, later and cancel on it are a 409 that names them ("Lotte is calling
this back."); PostgreSQL decides (switchboard.store.callbacks), across service instances.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from switchboard.board.pbxs import PBXUnavailable
from switchboard.core.callbacks import CallbackError, CallbackState, NumberPolicy, check_number
from switchboard.core.contact_form import display_number
from switchboard.core.web_callback import first_moment_after
from switchboard.store import callbacks
from switchboard.store.users import BoardSession, names_by_extension, user_extension
from switchboard_ui.i18n import marked as t
from switchboard_ui.keys import HOURS, HUB, PBXS, POOL, REGION
from switchboard_ui.refusals import json_error, json_object, refusal, row_id
from switchboard_ui.session import require_csrf, require_session

NOT_IN_LINE = t("that callback is no longer in line")
NO_PHONE = t("You have no phone on the board: ask an admin to give you an extension.")
CLAIMED = t("{name} is calling this back.")
CLAIMED_BY_PHONE = t("Extension {extension} is calling this back.")
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
MAX_TEXT = 200


def add_callback_routes(app: web.Application) -> None:
    app.router.add_get("/api/callbacks", callbacks_api)
    app.router.add_post("/api/callbacks", request_callback_api)
    app.router.add_post("/api/callbacks/cancel", cancel_callback_api)
    app.router.add_post("/api/callbacks/now", call_now_api)
    app.router.add_post("/api/callbacks/reschedule", reschedule_api)


@require_session
async def callbacks_api(request: web.Request, session: BoardSession) -> web.Response:
    now = datetime.now(UTC)
    listed = await callbacks.board_list(request.app[POOL], now - timedelta(hours=12))
    names = await names_by_extension(
        request.app[POOL], (e.callback.member for e in listed if e.callback.member)
    )
    region = request.app[REGION]
    places: dict[str, int] = {}
    shown: list[dict[str, Any]] = []
    for entry in listed:
        c = entry.callback
        place = None
        if c.state is CallbackState.WAITING:
            place = places[c.queue] = places.get(c.queue, 0) + 1
        shown.append(
            {
                "id": c.id,
                "queue": c.queue,
                "number": display_number(c.e164, region),
                "name": c.name,
                "subject": c.subject,
                "state": c.state.value,
                "place": place,
                "waited_s": max(0, int((now - c.joined_at).total_seconds())),
                "attempts": c.attempts,
                "member": c.member,
                "member_name": names.get(c.member, ""),
                "result": entry.result,
                "source": c.source,
                "requested_by": c.requested_by,
                "not_before": c.not_before.isoformat(),
            }
        )
    return web.json_response({"callbacks": shown})


def _text(body: dict[str, Any], key: str, errors: dict[str, str]) -> str:
    value = body.get(key, "")
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        errors[key] = "text of at most 200 characters"
        return ""
    return value.strip()


@require_csrf
async def request_callback_api(request: web.Request, session: BoardSession) -> web.Response:
    body = await json_object(request)
    if isinstance(body, web.Response):
        return body
    errors: dict[str, str] = {}
    queue, number = _text(body, "queue", errors) or "switchboard", _text(body, "number", errors)
    name, subject = _text(body, "name", errors), _text(body, "subject", errors)
    checked = check_number(number, NumberPolicy(region=request.app[REGION]))
    if checked.status != "ok" and "number" not in errors:
        errors["number"] = checked.reason
    pbxs = [pbx.name for pbx in request.app[PBXS]]
    if errors:
        return web.json_response({"errors": errors}, status=422)
    now = datetime.now(UTC)
    try:
        stored, merged = await callbacks.request(
            request.app[POOL],
            pbx=pbxs[0] if pbxs else "main",
            queue=queue,
            e164=checked.e164,
            source="board",
            joined_at=now,
            not_before=now,
            name=name[:120],
            subject=subject,
            requested_by=session.username,
        )
    except CallbackError as exc:
        return web.json_response({"errors": {"queue": str(exc)}}, status=422)
    request.app[HUB].publish({"type": "callbacks"})
    return web.json_response({"id": stored.id, "merged": merged}, status=200 if merged else 201)


@require_csrf
async def cancel_callback_api(request: web.Request, session: BoardSession) -> web.Response:
    body = await json_object(request)
    if isinstance(body, web.Response):
        return body
    callback_id, reason = row_id(body), body.get("reason", "")
    if callback_id is None:
        return web.json_response({"errors": {"id": "a callback id"}}, status=422)
    if not isinstance(reason, str) or len(reason) > MAX_TEXT:
        return web.json_response(
            {"errors": {"reason": "text of at most 200 characters"}}, status=422
        )
    if not await callbacks.cancel(request.app[POOL], callback_id, session.username, reason.strip()):
        return await _refused(request, await callbacks.get(request.app[POOL], callback_id))
    request.app[HUB].publish({"type": "callbacks"})
    return web.json_response({"cancelled": callback_id})


async def _refused(request: web.Request, callback: callbacks.StoredCallback | None) -> web.Response:
    """Why a callback could not be acted on: someone is dialling it (409, naming them),
    or it is no longer in line (404)."""
    if callback is None or callback.state not in (CallbackState.DIALLING, CallbackState.CONNECTED):
        return refusal(request, 404, NOT_IN_LINE)
    names = await names_by_extension(request.app[POOL], [callback.member])
    if callback.member in names:
        return refusal(request, 409, CLAIMED, name=names[callback.member])
    return refusal(request, 409, CLAIMED_BY_PHONE, extension=callback.member)


@require_csrf
async def call_now_api(request: web.Request, session: BoardSession) -> web.Response:
    body = await json_object(request)
    if isinstance(body, web.Response):
        return body
    callback_id = row_id(body)
    if callback_id is None:
        return web.json_response({"errors": {"id": "a callback id"}}, status=422)
    extension = await user_extension(request.app[POOL], session.username)
    if not extension:
        return refusal(request, 409, NO_PHONE)
    callback = await callbacks.get(request.app[POOL], callback_id)
    if callback is None or callback.state is not CallbackState.WAITING:
        return await _refused(request, callback)
    pbx = request.app[PBXS].get(callback.pbx)
    if pbx is None:
        return refusal(request, 404, NOT_IN_LINE)
    try:
        dialling = await pbx.call_back_now(callback_id, extension)
    except PBXUnavailable as exc:
        return json_error(503, str(exc))
    if not dialling:  # taken meanwhile
        return await _refused(request, await callbacks.get(request.app[POOL], callback_id))
    return web.json_response({"dialling": callback_id, "extension": extension})


@require_csrf
async def reschedule_api(request: web.Request, session: BoardSession) -> web.Response:
    body = await json_object(request)
    if isinstance(body, web.Response):
        return body
    callback_id, after = row_id(body), body.get("after")
    if callback_id is None:
        return web.json_response({"errors": {"id": "a callback id"}}, status=422)
    if not isinstance(after, str) or not _TIME.fullmatch(after):
        return web.json_response({"errors": {"after": "a time like 14:00"}}, status=422)
    book = request.app[HOURS]
    first = next(iter(book), None)
    zone = first.schedule.timezone if first else ZoneInfo("Europe/Amsterdam")
    when = first_moment_after(time(int(after[:2]), int(after[3:])), datetime.now(UTC), zone)
    if not await callbacks.reschedule(request.app[POOL], callback_id, when):
        return await _refused(request, await callbacks.get(request.app[POOL], callback_id))
    request.app[HUB].publish({"type": "callbacks"})
    return web.json_response({"not_before": when.isoformat()})

"""Callbacks on the board (issue 14): the list, and a receptionist's own requests.

    GET  /api/callbacks          {"callbacks": [{id, queue, number, name, subject, state,
                                   place, waited_s, attempts, member, result, source,
                                   requested_by, not_before}, ...]}
    POST /api/callbacks          {"queue": "switchboard", "number": "0612345678",
                                  "name": "Anna", "subject": "invoice"}
    POST /api/callbacks/cancel   {"id": 12, "reason": "reached by e-mail"}

A callback the board asks for joins the line now, as a caller who called now would
(``source`` board, ``requested_by`` the receptionist); one for a number already in line
merges into it. ``place`` counts the callbacks of the queue in line (1 = next). Every
change is announced to the open boards (``{"type": "callbacks"}``), which fetch the list
again. Needs a board session (401), and for POST its CSRF token (403); a body that is not
a JSON object is a 400, a refused field a 422 ``{"errors": {field: message}}``, a
callback no longer in line a 404.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from switchboard.core.callbacks import CallbackError, CallbackState, NumberPolicy, check_number
from switchboard.core.contact_form import display_number
from switchboard.store import callbacks
from switchboard.store.users import BoardSession
from switchboard_ui.i18n import marked as t
from switchboard_ui.keys import HUB, PBXS, POOL, REGION
from switchboard_ui.refusals import json_object, refusal
from switchboard_ui.session import require_csrf, require_session

NOT_IN_LINE = t("that callback is no longer in line")
MAX_TEXT = 200


def add_callback_routes(app: web.Application) -> None:
    app.router.add_get("/api/callbacks", callbacks_api)
    app.router.add_post("/api/callbacks", request_callback_api)
    app.router.add_post("/api/callbacks/cancel", cancel_callback_api)


@require_session
async def callbacks_api(request: web.Request, session: BoardSession) -> web.Response:
    now = datetime.now(UTC)
    listed = await callbacks.board_list(request.app[POOL], now - timedelta(hours=12))
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
                "member": entry.member,
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
    callback_id, reason = body.get("id"), body.get("reason", "")
    if not isinstance(callback_id, int) or isinstance(callback_id, bool) or callback_id < 1:
        return web.json_response({"errors": {"id": "a callback id"}}, status=422)
    if not isinstance(reason, str) or len(reason) > MAX_TEXT:
        return web.json_response(
            {"errors": {"reason": "text of at most 200 characters"}}, status=422
        )
    if callback_id > 2**62 or not await callbacks.cancel(
        request.app[POOL], callback_id, session.username, reason.strip()
    ):
        return refusal(request, 404, NOT_IN_LINE)
    request.app[HUB].publish({"type": "callbacks"})
    return web.json_response({"cancelled": callback_id})

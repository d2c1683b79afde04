"""Who answers each queue, changed from the board: join, leave, pause with a reason.

    GET  /api/queues           {"members": [{pbx, queue, interface, member_name, paused,
                                 pause_reason, updated_by, updated_at}, ...]}
    POST /api/queues/members   {"action": "join" | "leave" | "pause" | "unpause",
                                "queue": "switchboard", "interface": "PJSIP/201",
                                "member_name": "Anna", "reason": "lunch", "pbx": "main"}

The switchboard keeps the members in PostgreSQL and adds them back to the PBX after
every reconnect (ami_bridge.queue_membership), so a member added here outlives an
Asterisk restart. ``pbx`` may be left out when only one PBX keeps members.

Needs a board session (401), and for POST its CSRF token (403). A body that is not a
JSON object is a 400; a refused field a 422 ``{"errors": {field: message}}``; leaving
or pausing a queue one is not in a 404; joining again with other settings a 409; the
PBX refusing a 502; a PBX that is gone a 503 (for a leave: nothing changed). A join or
pause the PBX could not be asked about is kept and carried out when it is back: 202.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from switchboard.board.pbxs import PBXRefused, PBXUnavailable, QueueMembership
from switchboard.core.queue_membership import (
    AlreadyAMember,
    MembershipChange,
    NotAMember,
    QueueMember,
    QueueMemberError,
)
from switchboard.store.users import BoardSession
from switchboard_ui.i18n import marked as t
from switchboard_ui.keys import PBXS
from switchboard_ui.refusals import json_error, json_object, refusal
from switchboard_ui.session import require_csrf, require_session

log = logging.getLogger(__name__)

ACTIONS = ("join", "leave", "pause", "unpause")
NO_SUCH_PBX = t("no PBX {pbx} keeps queue members")
WHICH_PBX = t("several PBXs keep queue members: give pbx")
PBX_REFUSED = t("the PBX refused: {message}")


def add_queue_routes(app: web.Application) -> None:
    app.router.add_get("/api/queues", queues_api)
    app.router.add_post("/api/queues/members", change_member_api)


def member_json(member: QueueMember) -> dict[str, Any]:
    return {
        "pbx": member.pbx,
        "queue": member.queue,
        "interface": member.interface,
        "member_name": member.member_name,
        "paused": member.paused,
        "pause_reason": member.pause_reason,
        "updated_by": member.updated_by,
        "updated_at": member.updated_at.isoformat() if member.updated_at else None,
    }


def _keepers(request: web.Request) -> dict[str, QueueMembership]:
    return {pbx.name: pbx.queues for pbx in request.app[PBXS] if pbx.queues is not None}


@require_session
async def queues_api(request: web.Request, session: BoardSession) -> web.Response:
    members: list[dict[str, Any]] = []
    for queues in _keepers(request).values():
        members += [member_json(m) for m in await queues.members()]
    return web.json_response({"members": members})


@require_csrf
async def change_member_api(request: web.Request, session: BoardSession) -> web.Response:
    body = await json_object(request)
    if isinstance(body, web.Response):
        return body
    action, pbx = body.get("action"), body.get("pbx", "")
    if action not in ACTIONS:
        return web.json_response({"errors": {"action": " | ".join(ACTIONS)}}, status=422)
    keepers = _keepers(request)
    if not isinstance(pbx, str) or (pbx and pbx not in keepers) or not keepers:
        return refusal(request, 404, NO_SUCH_PBX, pbx=str(pbx)[:64])
    if not pbx and len(keepers) > 1:
        return refusal(request, 422, WHICH_PBX)
    queues = keepers[pbx] if pbx else next(iter(keepers.values()))
    try:
        change = await _apply(queues, action, body, session.username)
    except NotAMember as exc:
        return json_error(404, exc.message)
    except AlreadyAMember as exc:
        return json_error(409, exc.message)
    except QueueMemberError as exc:
        return web.json_response({"errors": {exc.field: exc.message}}, status=422)
    except PBXUnavailable as exc:
        return json_error(503, str(exc))
    except PBXRefused as exc:
        return refusal(request, 502, PBX_REFUSED, message=str(exc))
    log.info("%s: queue member %s %s", session.username, action, body.get("interface"))
    member = member_json(change.member) if change.member else None
    status = 200 if change.confirmed else 202
    return web.json_response({"member": member, "confirmed": change.confirmed}, status=status)


async def _apply(
    queues: QueueMembership, action: str, body: dict[str, Any], by: str
) -> MembershipChange:
    """The change ``action`` asks for; the store and the PBX check every field."""
    queue, interface = body.get("queue"), body.get("interface")
    if not isinstance(queue, str):
        raise QueueMemberError("queue", "a queue name")
    if not isinstance(interface, str):
        raise QueueMemberError("interface", "an interface such as PJSIP/201")
    if action == "join":
        name = body.get("member_name", "")
        if not isinstance(name, str):
            raise QueueMemberError("member_name", "text")
        return await queues.join(queue, interface, by=by, member_name=name)
    if action == "leave":
        return await queues.leave(queue, interface, by=by)
    if action == "pause":
        reason = body.get("reason", "")
        if not isinstance(reason, str):
            raise QueueMemberError("reason", "text")
        return await queues.pause(queue, interface, reason, by=by)
    return await queues.unpause(queue, interface, by=by)

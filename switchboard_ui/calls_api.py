"""Call control from the board: a JSON API over each PBX's call desk (AMI stays server-side).

    GET  /api/calls/me                  who you are on the board and your own phone
    POST /api/calls/answer              {call_id}: ring your phone with a waiting caller
    POST /api/calls/transfer            {call_id, target, mode: "blind" | "attended"}
    POST /api/calls/transfer/complete   {call_id}: put the caller through to the target
    POST /api/calls/transfer/cancel     {call_id}: back to the caller
    POST /api/calls/park                {call_id}
    POST /api/calls/retrieve            {call_id}: a parked caller onto your phone
    POST /api/calls/hangup              {call_id}

Every request needs a board session (else 401), every POST its CSRF token (else 403):
:mod:`switchboard_ui.session`.
An accepted command is answered 202 with its claim; what follows (confirmed, failed)
reaches every board as ``action`` messages. A refusal carries ``code``, ``values`` and
``error``, the text in the user's language: 400 bad input, 403 not your call, 404 the
call ended, 409 another receptionist is acting on it (named), 422 not possible in the
call's state, 502 the PBX refused, 503 the PBX is not connected.

What a receptionist may do: answer or hang up a waiting call, take back a parked one,
and transfer, park or hang up a call they are on. An admin may also transfer, park or
hang up a colleague's call (acting on the colleague's leg).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from switchboard.core.calls.control import Act, Actor, Refusal
from switchboard.store.users import BoardSession, user_extension
from switchboard_ui import i18n
from switchboard_ui.i18n import marked as t
from switchboard_ui.keys import PBXS, POOL
from switchboard_ui.session import Handler, require_csrf, require_session

MAX_CALL_ID = 200
MAX_TARGET = 30


# Why a command was not sent; {placeholders} come from the refusal's values.
REFUSALS = {
    "ended": t("This call has ended."),
    "claimed_answer": t("{name} is answering this call."),
    "claimed_retrieve": t("{name} is taking this call back."),
    "claimed_blind": t("{name} is transferring this call."),
    "claimed_attended": t("{name} is transferring this call after asking first."),
    "claimed_park": t("{name} is parking this call."),
    "claimed_hangup": t("{name} is hanging up this call."),
    "already_answered": t("This call is already answered."),
    "parked": t("This call is parked: take it back instead."),
    "not_parked": t("This call is not parked."),
    "not_yours": t("You are not on this call: only an admin can act on a colleague's call."),
    "answer_first": t("Answer the call first: this is done from your own phone."),
    "no_extension": t("You have no phone on the board: ask an admin to give you an extension."),
    "bad_target": t("Not an extension or phone number: {target}"),
    "own_extension": t("{target} is your own phone."),
    "unknown_target": t("{target} cannot be dialled from the phones: check the number."),
    "no_transfer": t("There is no transfer of yours to finish on this call."),
    "unavailable": t("Not connected to the PBX: nothing was done."),
    "refused": t("The PBX refused: {message}"),
    "bad_request": t("Give call_id (and for a transfer target and mode) in a JSON object."),
    "bad_mode": t("A transfer is blind or attended."),
}


# The HTTP status of a refusal, by its code; any other code is 422, not possible in the
# call's state, and every "claimed_*" is 409 (another receptionist is acting on it).
STATUSES = {
    "bad_request": 400,
    "bad_mode": 400,
    "bad_target": 400,
    "not_yours": 403,
    "ended": 404,
    "refused": 502,
    "unavailable": 503,
}
CLAIMED_STATUS = 409
NOT_POSSIBLE_STATUS = 422


def http_status(refusal: Refusal) -> int:
    """The HTTP status that answers ``refusal`` (the module docstring lists them)."""
    if refusal.code.startswith("claimed_"):
        return CLAIMED_STATUS
    return STATUSES.get(refusal.code, NOT_POSSIBLE_STATUS)


def add_call_routes(app: web.Application) -> None:
    app.router.add_get("/api/calls/me", me_api)
    for path, act in (
        ("/api/calls/answer", Act.ANSWER),
        ("/api/calls/transfer/complete", Act.COMPLETE),
        ("/api/calls/transfer/cancel", Act.CANCEL),
        ("/api/calls/park", Act.PARK),
        ("/api/calls/retrieve", Act.RETRIEVE),
        ("/api/calls/hangup", Act.HANGUP),
    ):
        app.router.add_post(path, _command_handler(act))
    app.router.add_post("/api/calls/transfer", _command_handler(None))


def _command_refused(request: web.Request, refusal: Refusal) -> web.Response:
    """The answer to a command that was not sent: its code and values, and the text in
    the request's language."""
    language = i18n.language_of(request)
    values = {k: str(v) for k, v in refusal.values.items()}
    text = i18n.translate(language, REFUSALS.get(refusal.code, refusal.code), **values)
    return web.json_response(
        {"error": text, "code": refusal.code, "values": values}, status=http_status(refusal)
    )


async def _actor_of(request: web.Request, session: BoardSession) -> Actor:
    """Who acts: the session's user, with their own phone as it is now in the database
    (an admin may have changed it since they logged in)."""
    extension = await user_extension(request.app[POOL], session.username)
    return Actor(session.username, session.display_name, session.role, extension)


@require_session
async def me_api(request: web.Request, session: BoardSession) -> web.Response:
    actor = await _actor_of(request, session)
    return web.json_response(
        {
            "username": actor.username,
            "name": actor.name,
            "role": actor.role,
            "extension": actor.extension,
        }
    )


def _command_handler(fixed: Act | None) -> Handler:
    """The handler of one command: ``fixed``, or for None a transfer (blind or attended)."""

    @require_csrf
    async def handler(request: web.Request, session: BoardSession) -> web.Response:
        actor = await _actor_of(request, session)
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        command = _parse(body, fixed)
        if isinstance(command, Refusal):
            return _command_refused(request, command)
        act, call_id, target = command
        pbx = request.app[PBXS].get(call_id.partition(":")[0])
        if pbx is None:
            # No such PBX here. (The board shows calls only from the AMI bridges of its
            # own process, so [services] web and ami run together for call control.)
            return _command_refused(request, Refusal("ended"))
        result = await pbx.command(act, call_id, actor, target)
        if isinstance(result, Refusal):
            return _command_refused(request, result)
        return web.json_response({"accepted": True, "claim": result.to_json()}, status=202)

    return handler


def _parse(body: Any, fixed: Act | None) -> tuple[Act, str, str] | Refusal:
    """(act, call id, target) from a request body, or why it cannot be one."""
    bad = Refusal("bad_request")
    if not isinstance(body, dict):
        return bad
    call_id, target = body.get("call_id"), body.get("target", "")
    if not isinstance(call_id, str) or not 0 < len(call_id) <= MAX_CALL_ID:
        return bad
    if fixed is not None:
        return fixed, call_id, ""
    if not isinstance(target, str) or not target or len(target) > MAX_TARGET:
        return bad
    mode = body.get("mode", "blind")
    if mode not in ("blind", "attended"):
        return Refusal("bad_mode")
    return (Act.BLIND if mode == "blind" else Act.ATTENDED), call_id, target.strip()

"""The caller card beside a call on the board, and the receptionist's note on the call.

    GET  /api/caller?number=0612345678   who is calling: contacts, why we think so, history
    POST /api/calls/note                 {call_id, note}: the note kept with the call

Needs a board session (401), the note also its CSRF token (403). A bad number or body is
a 400, a call not in the journal a 404. Messages are in the request's language.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from switchboard.board.caller_card import caller_card
from switchboard.store.calls import save_note
from switchboard.store.users import BoardSession
from switchboard_ui import i18n
from switchboard_ui.i18n import marked as t
from switchboard_ui.keys import POOL, REGION
from switchboard_ui.refusals import json_object, refusal
from switchboard_ui.session import require_csrf, require_session

MAX_NUMBER = 64
MAX_NOTE = 2000

GIVE_NUMBER = t("give ?number= (at most {limit} characters)")
GIVE_NOTE = t("give call_id and note (text, at most {limit} characters)")
NO_SUCH_CALL = t("no call {call_id} in the journal")


def add_caller_card_routes(app: web.Application) -> None:
    app.router.add_get("/api/caller", caller_card_api)
    app.router.add_post("/api/calls/note", call_note_api)


@require_session
async def caller_card_api(request: web.Request, _session: BoardSession) -> web.Response:
    number = request.query.get("number", "")
    if not number or len(number) > MAX_NUMBER:
        return refusal(request, 400, GIVE_NUMBER, limit=str(MAX_NUMBER))
    card = await caller_card(
        request.app[POOL],
        number,
        region=request.app[REGION],
        now=datetime.now(UTC),
        t=i18n.request_translator(request),
    )
    return web.json_response(card)


@require_csrf
async def call_note_api(request: web.Request, _session: BoardSession) -> web.Response:
    body = await json_object(request)
    if isinstance(body, web.Response):
        return body
    call_id, note = body.get("call_id"), body.get("note")
    if not isinstance(call_id, str) or not isinstance(note, str) or len(note) > MAX_NOTE:
        return refusal(request, 400, GIVE_NOTE, limit=str(MAX_NOTE))
    if not await save_note(request.app[POOL], call_id, note):
        return refusal(request, 404, NO_SUCH_CALL, call_id=repr(call_id))
    return web.json_response({"saved": True})

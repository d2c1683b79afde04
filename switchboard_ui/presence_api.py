"""Receptionists set a colleague's (or their own) DND and status from the board.

    POST /api/presence   {"extension": "201", "status": "away", "note": "lunch",
                          "until": "13:30", "pbx": "main"}

``status`` is ``available``, ``dnd`` or ``away``; ``note`` (at most 60 characters, one
line) and ``until`` (HH:MM) go with ``dnd`` and ``away`` and are cleared by
``available``; ``pbx`` may be left out when there is only one. The PBX holds the state:
this sends AMI ``Setvar PRESENCE_STATE(CustomPresence:<ext>)`` (subtype = return time,
message = note, both base64 so commas are safe) and the board shows the change when
Asterisk reports it, exactly as for a phone's *76. AMI credentials stay on the server.

Needs a board session (401) and its CSRF token (403): :mod:`switchboard_ui.session`. A
body that is not a JSON object is a 400, a refused field a 422 with
``{"errors": {field: message}}``, an extension not on the board a 404, a PBX that is down
or refuses a 503 / 502. Messages are in the request's language.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from aiohttp import web

from switchboard.board.pbxs import PBXRefused, PBXUnavailable
from switchboard.core.text import one_line
from switchboard.store.users import BoardSession
from switchboard_ui import i18n
from switchboard_ui.i18n import marked as t
from switchboard_ui.keys import PBXS
from switchboard_ui.refusals import json_error, json_object, refusal
from switchboard_ui.session import require_csrf

log = logging.getLogger(__name__)

STATUSES = ("available", "dnd", "away")
MAX_NOTE = 60
_UNTIL = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
MAX_EXTENSION = 10
MAX_PBX_NAME = 64

NOT_ON_THE_BOARD = t("extension {extension} is not on the board")
ON_SEVERAL_PBXS = t("extension {extension} is on several PBXs: give pbx")
PBX_REFUSED = t("the PBX refused: {message}")
NO_REASON = t("no reason given")


def add_presence_routes(app: web.Application) -> None:
    app.router.add_post("/api/presence", set_presence_api)


def parse_presence(
    body: dict[str, Any], t: Callable[..., str] | None = None
) -> dict[str, str] | dict[str, dict[str, str]]:
    """The checked request: {extension, status, note, until, pbx}, or {"errors": {...}}
    with a message per refused field, in the language of ``t`` (English when None)."""
    t = t or i18n.translator(i18n.DEFAULT_LANGUAGE)
    errors: dict[str, str] = {}
    extension, status = body.get("extension"), body.get("status")
    note, until, pbx = body.get("note", ""), body.get("until", ""), body.get("pbx", "")
    if not (isinstance(extension, str) and extension.isascii() and extension.isdigit()):
        errors["extension"] = t("an extension number, e.g. 201")
    elif len(extension) > MAX_EXTENSION:
        errors["extension"] = t("at most {limit} digits", limit=str(MAX_EXTENSION))
    if status not in STATUSES:
        errors["status"] = t("one of {choices}", choices=", ".join(STATUSES))
    if not isinstance(note, str):
        errors["note"] = t("text")
    elif len(note) > MAX_NOTE:
        errors["note"] = t("at most {limit} characters", limit=str(MAX_NOTE))
    elif any(unicodedata.category(c)[0] == "C" for c in note):
        errors["note"] = t("one line of plain text")
    if not isinstance(until, str) or (until and not _UNTIL.fullmatch(until)):
        errors["until"] = t("a time like 13:30")
    if not isinstance(pbx, str) or len(pbx) > MAX_PBX_NAME:
        errors["pbx"] = t("a PBX name")
    if errors:
        return {"errors": errors}
    assert isinstance(extension, str) and isinstance(status, str)
    assert isinstance(note, str) and isinstance(until, str) and isinstance(pbx, str)
    keep = status != "available"
    return {
        "extension": extension,
        "status": status,
        "note": one_line(note, MAX_NOTE) if keep else "",
        "until": until if keep else "",
        "pbx": pbx,
    }


@require_csrf
async def set_presence_api(request: web.Request, session: BoardSession) -> web.Response:
    body = await json_object(request)
    if isinstance(body, web.Response):
        return body
    parsed = parse_presence(body, i18n.request_translator(request))
    if "errors" in parsed:
        return web.json_response(parsed, status=422)
    wanted: dict[str, str] = parsed  # type: ignore[assignment]
    known = request.app[PBXS].with_extension(wanted["extension"], wanted["pbx"])
    if len(known) != 1:
        why = ON_SEVERAL_PBXS if known else NOT_ON_THE_BOARD
        return refusal(request, 404, why, extension=wanted["extension"])
    pbx = known[0]
    try:
        await pbx.set_presence(
            wanted["extension"], wanted["status"], wanted["until"], wanted["note"]
        )
    except PBXUnavailable as exc:
        return json_error(503, str(exc))
    except PBXRefused as exc:
        reason = str(exc) or i18n.request_translator(request)(NO_REASON)
        return refusal(request, 502, PBX_REFUSED, message=reason)
    log.info(
        "%s set %s/%s to %s", session.username, pbx.name, wanted["extension"], wanted["status"]
    )
    return web.json_response({"extension": wanted["extension"], "status": wanted["status"]})

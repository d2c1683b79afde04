"""Receptionists set a colleague's (or their own) DND and status from the board.

    POST /api/presence   {"extension": "201", "status": "away", "note": "lunch",
                          "until": "13:30", "pbx": "main"}

``status`` is ``available``, ``dnd`` or ``away``; ``note`` (at most 60 characters, one
line) and ``until`` (HH:MM) go with ``dnd`` and ``away`` and are cleared by
``available``; ``pbx`` may be left out when there is only one. The PBX holds the state:
this sends AMI ``Setvar PRESENCE_STATE(CustomPresence:<ext>)`` (subtype = return time,
message = note, both base64 so commas are safe) and the board shows the change when
Asterisk reports it, exactly as for a phone's *76. AMI credentials stay on the server.

Needs a board session (401) and its CSRF token (403). A body that is not a JSON object
is a 400, a refused field a 422 with ``{"errors": {field: message}}``, an extension not
on the board a 404, a PBX that is down or refuses a 503 / 502.
"""

from __future__ import annotations

import base64
import logging
import re
import unicodedata
from typing import Any

from aiohttp import web

from ami_bridge.bridge import PBXUnavailable
from switchboard.core.calls.presence import one_line
from switchboard_ui.app import HUB, current_session

log = logging.getLogger(__name__)

STATUSES = ("available", "dnd", "away")
MAX_NOTE = 60
_UNTIL = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def add_presence_routes(app: web.Application) -> None:
    app.router.add_post("/api/presence", set_presence_api)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def parse_presence(body: dict[str, Any]) -> dict[str, str] | dict[str, dict[str, str]]:
    """The checked request: {extension, status, note, until, pbx}, or {"errors": {...}}."""
    errors: dict[str, str] = {}
    extension, status = body.get("extension"), body.get("status")
    note, until, pbx = body.get("note", ""), body.get("until", ""), body.get("pbx", "")
    if not (isinstance(extension, str) and extension.isascii() and extension.isdigit()):
        errors["extension"] = "an extension number, e.g. 201"
    elif len(extension) > 10:
        errors["extension"] = "at most 10 digits"
    if status not in STATUSES:
        errors["status"] = f"one of {', '.join(STATUSES)}"
    if not isinstance(note, str):
        errors["note"] = "text"
    elif len(note) > MAX_NOTE:
        errors["note"] = f"at most {MAX_NOTE} characters"
    elif any(unicodedata.category(c)[0] == "C" for c in note):
        errors["note"] = "one line of plain text"
    if not isinstance(until, str) or (until and not _UNTIL.fullmatch(until)):
        errors["until"] = "a time like 13:30"
    if not isinstance(pbx, str) or len(pbx) > 64:
        errors["pbx"] = "a PBX name"
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


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def set_presence_api(request: web.Request) -> web.Response:
    session = await current_session(request)
    if session is None:
        return _error(401, "log in first")
    if request.headers.get("X-CSRF-Token") != session.csrf_token:
        return _error(403, "missing or wrong CSRF token")
    try:
        body: Any = await request.json()
    except ValueError:
        return _error(400, "the body must be JSON")
    if not isinstance(body, dict):
        return _error(400, "the body must be a JSON object")
    parsed = parse_presence(body)
    if "errors" in parsed:
        return web.json_response(parsed, status=422)
    wanted: dict[str, str] = parsed  # type: ignore[assignment]
    hub = request.app[HUB]
    known = [
        e
        for e in hub.snapshot()["extensions"]
        if e["extension"] == wanted["extension"] and wanted["pbx"] in {"", e["pbx"]}
    ]
    if len(known) != 1:
        what = "not on the board" if not known else "on several PBXs: give pbx"
        return _error(404, f"extension {wanted['extension']} is {what}")
    pbx = known[0]["pbx"]
    send = hub.action_sender(pbx)
    if send is None:
        return _error(503, f"no connection to PBX {pbx}")
    value = f"{wanted['status']},{_b64(wanted['until'])},{_b64(wanted['note'])},e"
    try:
        reply = await send(
            {
                "Action": "Setvar",
                "Variable": f"PRESENCE_STATE(CustomPresence:{wanted['extension']})",
                "Value": value,
            }
        )
    except PBXUnavailable as exc:
        return _error(503, str(exc))
    if reply.get("Response") != "Success":
        log.warning("Setvar presence refused by %s: %r", pbx, reply)
        return _error(502, f"the PBX refused: {reply.get('Message', 'no reason given')}")
    log.info("%s set %s/%s to %s", session.username, pbx, wanted["extension"], wanted["status"])
    return web.json_response({"extension": wanted["extension"], "status": wanted["status"]})

"""The missed-call worklist on the board (issue 15).

    GET  /api/worklist           {"me": "sanne", "items": [{id, number, e164, withheld, name,
                                   queue, state, attempts, opened_at, waited_s, escalated,
                                   claimed_by, holder_name, mine, outcome, note,
                                   resolved_at, resolved_how, resolved_by, own_call,
                                   history: [{kind, at, waited_s, place, step,
                                              callback_attempts, short}]}],
                                  "short_abandon_s": 5}
    POST /api/worklist/claim     {"id": 7}: "I am calling this one back" (renews one's own)
    POST /api/worklist/release   {"id": 7}
    POST /api/worklist/call      {"id": 7}: the receptionist's phone rings, then the number
    POST /api/worklist/outcome   {"id": 7, "outcome": "helped", "note": "..."}
    GET  /api/worklist/today?number=0612345678&call=main:1733.5   {"earlier": 2, "missed": 2}:
                                 how often the number called in today before this call,
                                 and how many of those nobody answered (the waiting
                                 caller's row: "called 3 times today, missed twice")

Open items come first, the escalated ones first of all (switchboard.core.worklist:
three calls, or waiting longer than the site's limit), then the oldest; then the items
resolved in the last 12 hours, newest first. An item another receptionist holds is a 409
that names them ("Lotte is calling back."): PostgreSQL decides (switchboard.store.
worklist), across service instances. Every change is announced to the open boards
(``{"type": "worklist"}``). Needs a board session (401), and for POST its CSRF token
(403); a body that is not a JSON object is a 400, a refused field a 422.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from switchboard.board.pbxs import PBXUnavailable
from switchboard.core.contact_form import display_number
from switchboard.core.numbers import NumberKind, normalise
from switchboard.core.worklist import (
    Outcome,
    escalated,
    holder,
    list_order,
    outcome_fits,
    resolved_by_own_call,
    short_abandon,
)
from switchboard.store import worklist
from switchboard.store.calls import today_from
from switchboard.store.contacts import names_by_number
from switchboard.store.users import BoardSession, display_names, user_extension
from switchboard_ui.i18n import marked as t
from switchboard_ui.keys import ESCALATION, HUB, PBXS, POOL, REGION, THRESHOLDS, TIMEZONE
from switchboard_ui.refusals import json_error, json_object, refusal, row_id
from switchboard_ui.session import require_csrf, require_session

NOT_OPEN = t("that item is no longer open")
HELD = t("{name} is calling back.")
NO_PHONE = t("You have no phone on the board: ask an admin to give you an extension.")
NOTHING_TO_CALL = t("a withheld number cannot be called back")
NOT_YOURS = t("claim the item first")
NO_PBX = t("no PBX is connected")
RECENT = timedelta(hours=12)
MAX_NOTE = 2000


def add_worklist_routes(app: web.Application) -> None:
    app.router.add_get("/api/worklist", worklist_api)
    app.router.add_post("/api/worklist/claim", claim_api)
    app.router.add_post("/api/worklist/release", release_api)
    app.router.add_post("/api/worklist/call", call_api)
    app.router.add_post("/api/worklist/outcome", outcome_api)
    app.router.add_get("/api/worklist/today", today_api)


@require_session
async def worklist_api(request: web.Request, session: BoardSession) -> web.Response:
    pool, region, rule = request.app[POOL], request.app[REGION], request.app[ESCALATION]
    short_s = request.app[THRESHOLDS].short_abandon_s
    now = datetime.now(UTC)
    items = await worklist.board_list(pool, now - RECENT)
    names = await names_by_number(pool, (i.e164 for i in items if i.e164))
    holders = await display_names(pool, (i.claimed_by for i in items if i.claimed_by))
    shown: list[tuple[tuple[int, float], dict[str, Any]]] = []
    for item in items:
        is_open = item.state == "open"
        hot = is_open and escalated(item.attempts, item.opened_at, now, rule)
        held_by = holder(is_open, item.claimed_by, item.lapsed)
        entry = {
            "id": item.id,
            "number": display_number(item.e164, region) if item.e164 else "",
            "e164": item.e164,
            "withheld": item.e164 is None,
            "name": names.get(item.e164 or "", ""),
            "queue": item.queue_group,
            "state": item.state,
            "attempts": item.attempts,
            "opened_at": item.opened_at.isoformat(),
            "waited_s": max(0, int((now - item.opened_at).total_seconds())),
            "escalated": hot,
            "claimed_by": held_by,
            "holder_name": holders.get(held_by or "", ""),
            "mine": held_by == session.username,
            "outcome": item.outcome,
            "note": item.note,
            "resolved_at": item.resolved_at.isoformat() if item.resolved_at else None,
            "resolved_how": item.resolved_how,
            "resolved_by": item.resolved_by,
            # Resolved by this receptionist's own call-back: she still says how it went.
            "own_call": resolved_by_own_call(item.id, item.resolved_call),
            "history": [
                {
                    "kind": a.kind.value,
                    "at": a.at.isoformat(),
                    "waited_s": round(a.waited_s),
                    "place": a.place,
                    "step": a.step,
                    "callback_attempts": a.callback_attempts,
                    "short": short_abandon(a.kind, a.waited_s, short_s),
                }
                for a in item.history
            ],
        }
        shown.append((list_order(is_open, hot, item.opened_at, item.resolved_at), entry))
    shown.sort(key=lambda pair: pair[0])
    return web.json_response(
        {"me": session.username, "short_abandon_s": short_s, "items": [e for _, e in shown]}
    )


async def _claimed(
    request: web.Request, session: BoardSession, item_id: int
) -> worklist.ClaimResult | web.Response:
    """The item claimed (or renewed) for the session's user; else the refusal."""
    claimed = await worklist.claim(request.app[POOL], item_id, session.username)
    if claimed.held:
        return claimed
    if not claimed.holder:
        return refusal(request, 404, NOT_OPEN)
    names = await display_names(request.app[POOL], [claimed.holder])
    return refusal(request, 409, HELD, name=names.get(claimed.holder, claimed.holder))


async def _body_item(request: web.Request) -> int | web.Response:
    """The body's item id, or the refusal of the body."""
    body = await json_object(request)
    if isinstance(body, web.Response):
        return body
    item_id = row_id(body)
    if item_id is None:
        return web.json_response({"errors": {"id": "an item id"}}, status=422)
    return item_id


@require_csrf
async def claim_api(request: web.Request, session: BoardSession) -> web.Response:
    item_id = await _body_item(request)
    if isinstance(item_id, web.Response):
        return item_id
    claimed = await _claimed(request, session, item_id)
    if isinstance(claimed, web.Response):
        return claimed
    if claimed.new:  # (a renewal changes nothing the other boards show)
        request.app[HUB].publish({"type": "worklist"})
    return web.json_response({"claimed": item_id})


@require_csrf
async def release_api(request: web.Request, session: BoardSession) -> web.Response:
    item_id = await _body_item(request)
    if isinstance(item_id, web.Response):
        return item_id
    if not await worklist.release(request.app[POOL], item_id, session.username):
        return refusal(request, 409, NOT_YOURS)
    request.app[HUB].publish({"type": "worklist"})
    return web.json_response({"released": item_id})


@require_csrf
async def call_api(request: web.Request, session: BoardSession) -> web.Response:
    pool = request.app[POOL]
    item_id = await _body_item(request)
    if isinstance(item_id, web.Response):
        return item_id
    extension = await user_extension(pool, session.username)
    if not extension:
        return refusal(request, 409, NO_PHONE)
    item = await worklist.get(pool, item_id)
    if item is not None and item.e164 is None:
        return refusal(request, 422, NOTHING_TO_CALL)
    claimed = await _claimed(request, session, item_id)
    if isinstance(claimed, web.Response):
        return claimed
    if item is None or item.e164 is None:
        return refusal(request, 404, NOT_OPEN)
    # The PBX the receptionist's phone is on (the first, when none says so).
    registry = request.app[PBXS]
    pbx = next(iter(registry.with_extension(extension)), None) or next(iter(registry), None)
    if pbx is None:
        return refusal(request, 503, NO_PBX)
    label = display_number(item.e164, request.app[REGION])
    try:
        channel = await pbx.call_number(extension, item.e164, item_id, label)
    except PBXUnavailable as exc:
        return json_error(503, str(exc))
    await worklist.called(pool, item_id, session.username, channel)
    request.app[HUB].publish({"type": "worklist"})
    return web.json_response({"calling": item_id, "extension": extension})


@require_csrf
async def outcome_api(request: web.Request, session: BoardSession) -> web.Response:
    body = await json_object(request)
    if isinstance(body, web.Response):
        return body
    errors: dict[str, str] = {}
    item_id = row_id(body)
    if item_id is None:
        errors["id"] = "an item id"
    try:
        outcome = Outcome(body.get("outcome"))
    except ValueError:
        errors["outcome"] = "one of " + ", ".join(o.value for o in Outcome)
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        errors["note"] = "text of at most 2000 characters"
    if errors or item_id is None:
        return web.json_response({"errors": errors}, status=422)
    item = await worklist.get(request.app[POOL], item_id)
    if item is None:
        return refusal(request, 404, NOT_OPEN)
    if not outcome_fits(item.e164 is None, outcome):
        only = "seen" if item.e164 is None else "an outcome of calling back"
        return web.json_response({"errors": {"outcome": only}}, status=422)
    now = datetime.now(UTC)
    if not await worklist.record_outcome(
        request.app[POOL], item_id, session.username, outcome, note.strip(), now
    ):
        # Resolved meanwhile (and not by one's own call), or another's to record.
        return refusal(
            request,
            404 if item.state != "open" else 409,
            NOT_OPEN if item.state != "open" else NOT_YOURS,
        )
    request.app[HUB].publish({"type": "worklist"})
    return web.json_response({"recorded": item_id, "outcome": outcome.value})


@require_session
async def today_api(request: web.Request, session: BoardSession) -> web.Response:
    number = normalise(request.query.get("number", "")[:40], request.app[REGION])
    if number.kind is not NumberKind.PUBLIC or not number.e164:
        return web.json_response({"earlier": 0, "missed": 0})
    midnight = datetime.now(request.app[TIMEZONE]).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    linked_id = request.query.get("call", "").partition(":")[2][:80]
    earlier, missed = await today_from(request.app[POOL], number.e164, midnight, linked_id)
    return web.json_response({"earlier": earlier, "missed": missed})

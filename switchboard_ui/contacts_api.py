"""Contacts from the board: the /contacts page and its JSON API.

    GET  /contacts                                  the page (switchboard_ui.pages)
    GET  /api/contacts?q=TEXT                       search (name, company, e-mail, number)
    POST /api/contacts                              add a contact            -> 201
    GET  /api/contacts/{id}                         one contact with its numbers
    PUT  /api/contacts/{id}                         replace its fields and numbers
    POST /api/contacts/{id}/numbers/{number}/verify "I checked their address"

Every request needs a board session (else 401); every write also the session's CSRF
token in ``X-CSRF-Token`` (else 403): :mod:`switchboard_ui.session`. A body that is not
a JSON object is a 400, a contact the form check refuses a 422 with
``{"errors": {field: message}}``, an unknown contact or number a 404. A contact is
answered as :func:`contact_json` shapes it.
Every message is in the request's language (:func:`switchboard_ui.i18n.language_of`):
receptionists read them on the page.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from switchboard.core.contact_form import (
    MAX_QUERY_CHARS,
    ContactDraft,
    display_number,
    parse_contact_form,
)
from switchboard.core.contacts import StoredContact
from switchboard.core.numbers import NumberKind, normalise
from switchboard.store.contacts import (
    create_contact,
    get_contact,
    search_contacts,
    update_contact,
    verify_number,
)
from switchboard.store.users import BoardSession
from switchboard_ui import i18n
from switchboard_ui.i18n import marked as t
from switchboard_ui.keys import POOL, REGION
from switchboard_ui.refusals import json_object, refusal
from switchboard_ui.session import require_csrf, require_session

MAX_CONTACT_ID = 2**63 - 1  # contacts.id is a bigserial
SEARCH_LIMIT = 20

NO_SUCH_CONTACT = t("no contact {id}")
NOT_JSON = t("the body must be JSON: a contact as an object")
NOT_AN_OBJECT = t("the body must be a JSON object with the contact's fields")
QUERY_TOO_LONG = t("search for at most {limit} characters")
NOT_A_NUMBER = t("{number} is not a phone number.")
NUMBER_NOT_ON_CONTACT = t("contact {id} does not have the number {number}")


def add_contact_routes(app: web.Application) -> None:
    app.router.add_get("/api/contacts", search_api)
    app.router.add_post("/api/contacts", create_api)
    app.router.add_get("/api/contacts/{id}", get_api)
    app.router.add_put("/api/contacts/{id}", update_api)
    app.router.add_post("/api/contacts/{id}/numbers/{number}/verify", verify_api)


def _contact_id(request: web.Request) -> int | None:
    text = request.match_info["id"]
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= MAX_CONTACT_ID else None


def _contact_in_path(request: web.Request) -> int | web.Response:
    """The contact id in the request's path, or the 404 answer."""
    contact_id = _contact_id(request)
    return _not_found(request) if contact_id is None else contact_id


def _not_found(request: web.Request) -> web.Response:
    return refusal(request, 404, NO_SUCH_CONTACT, id=repr(request.match_info["id"][:40]))


async def _draft(request: web.Request) -> ContactDraft | web.Response:
    """The checked contact from the request body, or the 400/422 answer."""
    body = await json_object(request, not_json=NOT_JSON, not_an_object=NOT_AN_OBJECT)
    if isinstance(body, web.Response):
        return body
    draft = parse_contact_form(body, region=request.app[REGION], t=i18n.request_translator(request))
    if isinstance(draft, list):
        errors: dict[str, str] = {}
        for problem in draft:
            errors.setdefault(problem.field, problem.message)
        return web.json_response({"errors": errors}, status=422)
    return draft


def _days_ago(then: datetime | None, now: datetime) -> int | None:
    return None if then is None else max(0, (now - then).days)


def contact_json(contact: StoredContact, region: str, now: datetime) -> dict[str, Any]:
    return {
        "id": contact.id,
        "name": contact.name,
        "company": contact.company,
        "email": contact.email,
        "address": contact.address,
        "notes": contact.notes,
        "vip": contact.vip,
        "language": contact.language,
        "source": contact.source,
        "updated_at": contact.updated_at.isoformat(),
        "numbers": [
            {
                "e164": n.e164,
                "display": display_number(n.e164, region),
                "label": n.label,
                "verified_at": n.verified_at.isoformat() if n.verified_at else None,
                "verified_days_ago": _days_ago(n.verified_at, now),
            }
            for n in contact.numbers
        ],
    }


async def _answer_with_contact(
    request: web.Request,
    contact_id: int,
    *,
    status: int = 200,
    saved: ContactDraft | None = None,
) -> web.Response:
    """The contact as stored; after a save its numbers in the order they were typed."""
    contact = await get_contact(request.app[POOL], contact_id)
    if contact is None:
        return _not_found(request)
    if saved is not None:
        typed = {n.e164: i for i, n in enumerate(saved.numbers)}
        numbers = sorted(contact.numbers, key=lambda n: typed.get(n.e164, len(typed)))
        contact = replace(contact, numbers=tuple(numbers))
    now = datetime.now(UTC)
    return web.json_response(contact_json(contact, request.app[REGION], now), status=status)


@require_session
async def search_api(request: web.Request, _session: BoardSession) -> web.Response:
    query = request.query.get("q", "")
    if len(query) > MAX_QUERY_CHARS:
        return refusal(request, 400, QUERY_TOO_LONG, limit=str(MAX_QUERY_CHARS))
    region = request.app[REGION]
    found = await search_contacts(request.app[POOL], query, SEARCH_LIMIT, region=region)
    return web.json_response(
        {
            "contacts": [
                {
                    "id": c.id,
                    "name": c.name,
                    "company": c.company,
                    "vip": c.vip,
                    "numbers": [display_number(n, region) for n in c.numbers],
                }
                for c in found
            ]
        }
    )


@require_csrf
async def create_api(request: web.Request, _session: BoardSession) -> web.Response:
    draft = await _draft(request)
    if isinstance(draft, web.Response):
        return draft
    contact_id = await create_contact(request.app[POOL], draft)
    response = await _answer_with_contact(request, contact_id, status=201, saved=draft)
    response.headers["Location"] = f"/api/contacts/{contact_id}"
    return response


@require_session
async def get_api(request: web.Request, _session: BoardSession) -> web.Response:
    contact_id = _contact_in_path(request)
    if isinstance(contact_id, web.Response):
        return contact_id
    return await _answer_with_contact(request, contact_id)


@require_csrf
async def update_api(request: web.Request, _session: BoardSession) -> web.Response:
    contact_id = _contact_in_path(request)
    if isinstance(contact_id, web.Response):
        return contact_id
    draft = await _draft(request)
    if isinstance(draft, web.Response):
        return draft
    if not await update_contact(request.app[POOL], contact_id, draft):
        return _not_found(request)
    return await _answer_with_contact(request, contact_id, saved=draft)


@require_csrf
async def verify_api(request: web.Request, _session: BoardSession) -> web.Response:
    contact_id = _contact_in_path(request)
    if isinstance(contact_id, web.Response):
        return contact_id
    raw = request.match_info["number"]
    number = normalise(raw, request.app[REGION])
    if number.kind is not NumberKind.PUBLIC or number.e164 is None:
        return refusal(request, 404, NOT_A_NUMBER, number=repr(raw[:40]))
    if not await verify_number(request.app[POOL], contact_id, number.e164):
        if await get_contact(request.app[POOL], contact_id) is None:
            return _not_found(request)
        return refusal(request, 404, NUMBER_NOT_ON_CONTACT, id=str(contact_id), number=number.e164)
    return await _answer_with_contact(request, contact_id)

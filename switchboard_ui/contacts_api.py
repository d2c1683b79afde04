"""Contacts from the board: the /contacts page and its JSON API.

    GET  /api/contacts?q=TEXT                       search (name, company, e-mail, number)
    POST /api/contacts                              add a contact            -> 201
    GET  /api/contacts/{id}                         one contact with its numbers
    PUT  /api/contacts/{id}                         replace its fields and numbers
    POST /api/contacts/{id}/numbers/{number}/verify "I checked their address"

Every request needs a board session (else 401); every write also the session's CSRF
token in ``X-CSRF-Token`` (else 403). A body that is not a JSON object is a 400, a
contact the form check refuses a 422 with ``{"errors": {field: message}}``, an unknown
contact or number a 404. A contact is answered as :func:`contact_json` shapes it.
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
from switchboard.core.messages import Translate
from switchboard.core.numbers import NumberKind, normalise
from switchboard.store.contacts import (
    create_contact,
    get_contact,
    search_contacts,
    update_contact,
    verify_number,
)
from switchboard_ui import i18n
from switchboard_ui.app import POOL, REGION, current_session, logged_in_page

MAX_CONTACT_ID = 2**63 - 1  # contacts.id is a bigserial
SEARCH_LIMIT = 20


def add_contact_routes(app: web.Application) -> None:
    app.router.add_get("/contacts", contacts_page)
    app.router.add_get("/api/contacts", search_api)
    app.router.add_post("/api/contacts", create_api)
    app.router.add_get("/api/contacts/{id}", get_api)
    app.router.add_put("/api/contacts/{id}", update_api)
    app.router.add_post("/api/contacts/{id}/numbers/{number}/verify", verify_api)


def _translator(request: web.Request) -> Translate:
    return i18n.translator(i18n.language_of(request))


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _refusal(request: web.Request, *, write: bool) -> web.Response | None:
    """The answer to a request without a session (or, for a write, its CSRF token)."""
    t = _translator(request)
    session = await current_session(request)
    if session is None:
        return _error(401, t("log in first"))
    if write and request.headers.get("X-CSRF-Token") != session.csrf_token:
        return _error(403, t("missing or wrong CSRF token"))
    return None


def _contact_id(request: web.Request) -> int | None:
    text = request.match_info["id"]
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= MAX_CONTACT_ID else None


async def _contact_in_path(request: web.Request, *, write: bool) -> int | web.Response:
    """The contact id in the path of a logged-in request, or the 401/403/404 answer."""
    if refused := await _refusal(request, write=write):
        return refused
    contact_id = _contact_id(request)
    return _not_found(request) if contact_id is None else contact_id


def _not_found(request: web.Request) -> web.Response:
    t = _translator(request)
    return _error(404, t("no contact {id}", id=repr(request.match_info["id"][:40])))


async def _draft(request: web.Request) -> ContactDraft | web.Response:
    """The checked contact from the request body, or the 400/422 answer."""
    t = _translator(request)
    try:
        body: Any = await request.json()
    except ValueError:
        return _error(400, t("the body must be JSON: a contact as an object"))
    if not isinstance(body, dict):
        return _error(400, t("the body must be a JSON object with the contact's fields"))
    draft = parse_contact_form(body, region=request.app[REGION], t=t)
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


async def contacts_page(request: web.Request) -> web.StreamResponse:
    return await logged_in_page(request, "contacts.html")


async def search_api(request: web.Request) -> web.Response:
    if refused := await _refusal(request, write=False):
        return refused
    query = request.query.get("q", "")
    if len(query) > MAX_QUERY_CHARS:
        t = _translator(request)
        return _error(400, t("search for at most {limit} characters", limit=str(MAX_QUERY_CHARS)))
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


async def create_api(request: web.Request) -> web.Response:
    if refused := await _refusal(request, write=True):
        return refused
    draft = await _draft(request)
    if isinstance(draft, web.Response):
        return draft
    contact_id = await create_contact(request.app[POOL], draft)
    response = await _answer_with_contact(request, contact_id, status=201, saved=draft)
    response.headers["Location"] = f"/api/contacts/{contact_id}"
    return response


async def get_api(request: web.Request) -> web.Response:
    contact_id = await _contact_in_path(request, write=False)
    if isinstance(contact_id, web.Response):
        return contact_id
    return await _answer_with_contact(request, contact_id)


async def update_api(request: web.Request) -> web.Response:
    contact_id = await _contact_in_path(request, write=True)
    if isinstance(contact_id, web.Response):
        return contact_id
    draft = await _draft(request)
    if isinstance(draft, web.Response):
        return draft
    if not await update_contact(request.app[POOL], contact_id, draft):
        return _not_found(request)
    return await _answer_with_contact(request, contact_id, saved=draft)


async def verify_api(request: web.Request) -> web.Response:
    contact_id = await _contact_in_path(request, write=True)
    if isinstance(contact_id, web.Response):
        return contact_id
    t = _translator(request)
    raw = request.match_info["number"]
    number = normalise(raw, request.app[REGION])
    if number.kind is not NumberKind.PUBLIC or number.e164 is None:
        return _error(404, t("{number} is not a phone number.", number=repr(raw[:40])))
    if not await verify_number(request.app[POOL], contact_id, number.e164):
        if await get_contact(request.app[POOL], contact_id) is None:
            return _not_found(request)
        return _error(
            404,
            t(
                "contact {id} does not have the number {number}",
                id=str(contact_id),
                number=number.e164,
            ),
        )
    return await _answer_with_contact(request, contact_id)

"""How the board says no, in the request's language: JSON for the API, text for a page.

Every route under :data:`API_PREFIX` is read by the board's scripts, which show
``{"error": message}``; any other route is a page or a form a browser shows as it is.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from switchboard_ui import i18n
from switchboard_ui.i18n import marked as t

API_PREFIX = "/api/"

NOT_JSON = t("the body must be JSON")
NOT_AN_OBJECT = t("the body must be a JSON object")


def is_api(request: web.Request) -> bool:
    """Whether ``request`` is for the JSON API (its scripts read refusals as JSON)."""
    return request.path.startswith(API_PREFIX)


def json_error(status: int, message: str) -> web.Response:
    """``{"error": message}`` with ``status``; ``message`` already in the user's language."""
    return web.json_response({"error": message}, status=status)


def refusal(request: web.Request, status: int, english: str, /, **values: str) -> web.Response:
    """``english`` (a text marked for the Dutch catalogue) translated for ``request`` and
    filled in with ``values``: :func:`json_error` for the API, plain text elsewhere."""
    message = i18n.translate(i18n.language_of(request), english, **values)
    if is_api(request):
        return json_error(status, message)
    return web.Response(status=status, text=message)


async def json_object(
    request: web.Request, *, not_json: str = NOT_JSON, not_an_object: str = NOT_AN_OBJECT
) -> dict[str, Any] | web.Response:
    """The request's body as a JSON object, or the 400 that says it is not one (in the
    words ``not_json`` or ``not_an_object``, marked English texts)."""
    try:
        body: Any = await request.json()
    except ValueError:
        return refusal(request, 400, not_json)
    if not isinstance(body, dict):
        return refusal(request, 400, not_an_object)
    return body


def row_id(body: dict[str, Any], key: str = "id") -> int | None:
    """``body[key]`` when it is a row id (a whole number from 1 to 2**62; not a string,
    not true), else None: the caller answers 422 naming the field."""
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**62:
        return None
    return value

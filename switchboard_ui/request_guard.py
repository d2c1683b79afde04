"""The gates every request passes before any handler: what no handler should ever have to
think about.

:func:`same_origin_only` refuses (403) a state-changing request, or a websocket, that
another site's page opened: the browser names that site in ``Origin``.

Before any handler runs, :func:`input_guard` refuses (400, or 415 for a multipart body)
a request whose path, query, form or JSON body holds a NUL or a lone surrogate (neither
can be stored in PostgreSQL text, nor encoded as UTF-8), a form that is not UTF-8, or
JSON nested deeper than :data:`MAX_JSON_DEPTH`. So a handler that reads ``request.json()``
or ``request.post()`` only ever sees text it can store, compare and show, and hostile
input is a clear 4xx in the user's language instead of a 500.

Bodies that are not JSON at all are left to the handler, which answers its own "the
body must be JSON" in its own words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from switchboard_ui.i18n import marked as t
from switchboard_ui.keys import PUBLIC_ORIGIN
from switchboard_ui.refusals import refusal

#: Deeper than any body the board sends (a contact with its numbers is 3).
MAX_JSON_DEPTH = 32

_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")
_FORM = "application/x-www-form-urlencoded"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HostileInput(ValueError):
    """The request holds input no handler may see; ``status`` and English ``message``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


NOT_TEXT = t("The request holds a character that is not text (NUL or a broken character).")
NOT_UTF8 = t("The form is not UTF-8 text.")
TOO_DEEP = t("The request's JSON is nested too deeply.")
NO_MULTIPART = t("Send the form URL-encoded, not as multipart.")
CROSS_SITE = t("cross-site request refused (Origin {origin})")
#: Methods that only read: another site may link to them.
_READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})


def _check_texts(texts: Iterable[str]) -> None:
    for text in texts:
        if _NOT_TEXT.search(text) is not None:
            raise HostileInput(NOT_TEXT)


def check_json(value: Any, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`HostileInput` for JSON deeper than ``max_depth`` or holding a string
    (key or value) that is not text. Iterative: any depth costs no recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            _check_texts((node,))
        elif isinstance(node, dict | list):
            if depth > max_depth:
                raise HostileInput(TOO_DEEP)
            if isinstance(node, dict):
                _check_texts(node)
                children: Iterable[Any] = node.values()
            else:
                children = node
            stack.extend((child, depth + 1) for child in children)


def check_body(body: bytes, content_type: str) -> None:
    """Raise :class:`HostileInput` for a body no handler may be given."""
    if not body:
        return
    if content_type == _FORM:
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise HostileInput(NOT_UTF8) from None
        _check_texts(text for pair in pairs for text in pair)
        return
    if content_type.startswith("multipart/"):
        raise HostileInput(NO_MULTIPART, status=415)
    try:
        value = json.loads(body)
    except RecursionError:  # json's C scanner gives up far deeper than MAX_JSON_DEPTH
        raise HostileInput(TOO_DEEP) from None
    except ValueError:  # not JSON (nor UTF-8): the handler says what it wanted
        return
    check_json(value)


def check_request_line(path: str, query: Iterable[tuple[str, str]]) -> None:
    """Raise :class:`HostileInput` for a decoded path or query that is not text."""
    _check_texts((path,))
    _check_texts(text for pair in query for text in pair)


@web.middleware
async def same_origin_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse state-changing requests and websockets opened from another site."""
    origin = request.headers.get("Origin")
    if (request.method not in _READ_ONLY or request.path == "/ws") and origin is not None:
        expected = request.app[PUBLIC_ORIGIN] or f"{request.scheme}://{request.host}"
        if origin != expected:
            return refusal(request, 403, CROSS_SITE, origin=origin)
    return await handler(request)


@web.middleware
async def input_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse, in the user's language, a request :class:`HostileInput` describes."""
    try:
        check_request_line(request.path, request.query.items())
        if request.body_exists:
            check_body(await request.read(), request.content_type)
    except HostileInput as refused:
        return refusal(request, refused.status, refused.message)
    return await handler(request)

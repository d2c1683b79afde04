"""Every route of the board, logged in and not, with the hostile set: never a 500.

The set (issue 10): NUL and lone surrogates in every place a value can go (query, JSON
fields, form fields, the path), invalid UTF-8 in a form, JSON nested 5,000 deep, bodies
that are not JSON, and values of the wrong type.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from aiohttp.web import StaticResource

from tests.conftest import log_in

pytestmark = pytest.mark.integration

HOSTILE_TEXT = ["a\x00b", "\ud800", "x\udfff", "\x00", "%00", "\u202e\ufeff", "'; DROP --"]
# Every field name any handler reads, so each one meets each hostile value.
FIELDS = [
    "call_id", "note", "target", "mode", "extension", "status", "until", "pbx", "name",
    "company", "email", "address", "notes", "vip", "language", "numbers", "label", "e164",
    "username", "password", "csrf_token", "q", "number", "lang", "next",
]  # fmt: skip
JSON_BODIES: list[bytes | str] = [
    *({f: v for f in FIELDS} for v in HOSTILE_TEXT),
    {"numbers": [{"number": "\x00", "label": "\ud800"}], "name": "x"},
    {f: 1e308 for f in FIELDS},
    {f: [[[]]] for f in FIELDS},
    {f: None for f in FIELDS},
    "[" * 5000 + "]" * 5000,
    '{"a":' * 5000 + "1" + "}" * 5000,
    b"\xff\xfe\x00",
    "not json",
    "[]",
    '"just a string"',
]  # type: ignore[list-item]
FORM_BODIES = [
    b"username=\xff&password=\xfe",
    b"username=a%00b&password=x&csrf_token=%00",
    b"username=%ed%a0%80&password=%ff",
    b"username=" + b"%" * 100,
]
PATH_VALUES = ["%00", "%ED%A0%80", "%FF", "1%00", "-1", "99999999999999999999999", "..%2F.."]


def _routes(client: TestClient) -> list[tuple[str, str]]:
    routes = []
    for route in client.server.app.router.routes():
        if isinstance(route.resource, StaticResource) or route.method == "HEAD":
            continue
        routes.append((route.method, route.resource.canonical))
    return routes


def _paths(canonical: str) -> list[str]:
    if "{" not in canonical:
        return [canonical]
    paths = []
    for value in PATH_VALUES:
        path = canonical
        while "{" in path:
            start = path.index("{")
            path = path[:start] + value + path[path.index("}", start) + 1 :]
        paths.append(path)
    return paths


async def _send(client: TestClient, method: str, path: str, **kwargs: Any) -> None:
    response = await client.request(method, path, allow_redirects=False, **kwargs)
    await response.read()
    assert response.status < 500, (method, path, kwargs, response.status, await response.text())


async def _walk(client: TestClient, headers: dict[str, str]) -> int:
    sent = 0
    for method, canonical in _routes(client):
        for path in _paths(canonical):
            for text in HOSTILE_TEXT:
                await _send(client, method, path, params={f: text for f in FIELDS}, headers=headers)
                sent += 1
            if method == "GET":
                continue
            for body in JSON_BODIES:
                data = body if isinstance(body, bytes | str) else None
                await _send(
                    client,
                    method,
                    path,
                    json=None if data is not None else body,
                    data=data,
                    headers={**headers, "Content-Type": "application/json"},
                )
                sent += 1
            for form in FORM_BODIES:
                await _send(
                    client,
                    method,
                    path,
                    data=form,
                    headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
                )
                sent += 1
    return sent


async def test_no_route_answers_a_stranger_with_a_500(board_client: TestClient) -> None:
    assert await _walk(board_client, {}) > 500


async def test_no_route_answers_a_logged_in_board_with_a_500(board_client: TestClient) -> None:
    token = await log_in(board_client)
    assert await _walk(board_client, {"X-CSRF-Token": token}) > 500
    # Still logged in and working after all that.
    assert (await board_client.get("/board", allow_redirects=False)).status == 200


async def test_hostile_values_are_refused_in_the_users_language(board_client: TestClient) -> None:
    token = await log_in(board_client)
    response = await board_client.post(
        "/api/calls/note",
        json={"call_id": "p:1", "note": "a\x00b"},
        headers={"X-CSRF-Token": token, "Accept-Language": "nl"},
    )
    assert response.status == 400
    assert "geen tekst" in (await response.json())["error"]
    login = await board_client.post(
        "/login",
        data=b"username=\xff&password=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert login.status == 400 and "UTF-8" in await login.text()

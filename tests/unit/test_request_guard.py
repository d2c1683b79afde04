"""The one gate every request passes: text a handler can store, or a clear 4xx."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard_ui.redirects import same_site_path
from switchboard_ui.request_guard import (
    MAX_JSON_DEPTH,
    HostileInput,
    check_body,
    check_json,
    check_request_line,
)

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    "body",
    [
        '{"note": "a\\u0000b"}',
        '{"note": "\\ud800"}',
        '{"\\udfff": 1}',
        '[["x", {"k": ["\\u0000"]}]]',
        "[" * 5000 + "]" * 5000,
        "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1),
    ],
)
def test_json_that_is_not_text_or_too_deep_is_refused(body: str) -> None:
    with pytest.raises(HostileInput) as refused:
        check_body(body.encode(), JSON)
    assert refused.value.status == 400


def test_json_the_board_sends_passes() -> None:
    check_body(json.dumps({"name": "José 😀", "numbers": [{"e164": "+31"}]}).encode(), JSON)
    check_body(("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH).encode(), JSON)


def test_a_body_that_is_not_json_is_left_to_the_handler() -> None:
    check_body(b"\xff\xfe not json", JSON)
    check_body(b"{", "text/plain")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"username=\xff&password=x", 400),
        (b"username=%ff&password=x", 400),
        (b"username=a%00b&password=x", 400),
        (b"username=%ed%a0%80", 400),
    ],
)
def test_forms_must_be_utf8_text(body: bytes, status: int) -> None:
    with pytest.raises(HostileInput) as refused:
        check_body(body, FORM)
    assert refused.value.status == status


def test_a_multipart_body_is_refused_as_such() -> None:
    with pytest.raises(HostileInput) as refused:
        check_body(b"--x\r\n", "multipart/form-data")
    assert refused.value.status == 415


def test_a_query_or_path_with_nul_or_a_surrogate_is_refused() -> None:
    with pytest.raises(HostileInput):
        check_request_line("/api/contacts", [("q", "a\x00")])
    with pytest.raises(HostileInput):
        check_request_line("/api/contacts/\ud800", [])
    check_request_line("/api/contacts", [("q", "Müller & Zoë")])


@given(st.recursive(st.text(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)))
def test_check_json_refuses_exactly_non_text_and_over_deep_values(value: object) -> None:
    try:
        check_json(value)
        refused = False
    except HostileInput:
        refused = True
    has_bad = any("\x00" in s or any("\ud800" <= c <= "\udfff" for c in s) for s in _strings(value))
    assert refused == (has_bad or _depth(value) > MAX_JSON_DEPTH)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    return []


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\\evil.example",
        "//evil.example",
        "https://evil.example",
        "evil.example",
        "/\x00x",
        "",
    ],
)
def test_a_redirect_never_leaves_the_site(target: str) -> None:
    assert same_site_path(unquote(target)) == "/board"


def test_a_redirect_to_a_page_of_the_board_is_kept() -> None:
    assert same_site_path("/contacts?q=jansen") == "/contacts?q=jansen"

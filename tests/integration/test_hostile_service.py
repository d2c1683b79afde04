"""The running service under hostile input, while a real caller rings (issue 10).

Hypothesis drives every HTTP route of `switchboard run` (logged in, with its CSRF
token, and not) and its FastAGI port (near-miss environment blocks, junk, half blocks)
from two threads at once. Meanwhile a real SIPp call through the sandbox Asterisk
must still be recognised, no later than a quiet call plus the recognition budget,
and afterwards the service is healthy and never answered with a 500.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
from urllib.parse import quote

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.sandbox import Sandbox
from devtools.sipp import place_call
from switchboard.board.hub import BoardHub
from switchboard.config import FastAGIConfig
from switchboard.store.contacts import add_contact
from switchboard.store.users import create_user
from switchboard_ui.app import create_app
from tests.conftest import RunningSwitchboard
from tests.sandbox_ami import DIRECTORY_REFRESH_S, Asterisk

pytestmark = pytest.mark.integration

HOSTILE = st.one_of(
    st.sampled_from(["\x00", "a\x00b", "\ud800", "\udfff", "%00", "${SHELL(id)}", "'--"]),
    st.text(st.characters(exclude_categories=()), max_size=40),  # surrogates included
)
FIELDS = ["call_id", "note", "target", "mode", "extension", "status", "until", "name",
          "company", "numbers", "q", "number", "lang", "next", "username", "password"]  # fmt: skip
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | HOSTILE,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(HOSTILE, inner, max_size=4),
    max_leaves=12,
)
ENVIRONMENT = [
    ("agi_network", "yes"),
    ("agi_network_script", "recognize"),
    ("agi_request", "agi://127.0.0.1:4573/recognize"),
    ("agi_channel", "PJSIP/trunk-00000001"),
    ("agi_language", "nl"),
    ("agi_type", "PJSIP"),
    ("agi_uniqueid", "1700000000.1"),
    ("agi_version", "22.0.0"),
    ("agi_callerid", "0612345678"),
    ("agi_calleridname", "Hostile"),
    ("agi_callingpres", "0"),
    ("agi_callingani2", "0"),
    ("agi_callington", "0"),
    ("agi_callingtns", "0"),
    ("agi_dnid", "0201234567"),
    ("agi_rdnis", "unknown"),
    ("agi_context", "from-trunk"),
    ("agi_extension", "0201234567"),
    ("agi_priority", "2"),
    ("agi_enhanced", "0.0"),
    ("agi_accountcode", ""),
    ("agi_threadid", "140245091038912"),
]


def _routes() -> list[tuple[str, str]]:
    """(method, path) of every route the board serves, as `switchboard run` builds it."""
    app = create_app(None, BoardHub())  # type: ignore[arg-type]  # only its routes are read
    return sorted(
        {
            (r.method, r.resource.canonical)
            for r in app.router.routes()
            if r.method != "HEAD" and not r.resource.canonical.startswith("/static")
        }
    )


@st.composite
def near_miss_blocks(draw: st.DrawFn) -> bytes:
    lines = [f"{k}: {v}" for k, v in ENVIRONMENT]
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(lines)))
        action = draw(st.sampled_from(["malformed", "space", "drop", "cr", "repeat", "text"]))
        if action == "malformed":
            lines.insert(at, "malformed")
        elif action == "space" and at < len(lines):
            lines[at] = lines[at].replace(": ", ":  ", 1)
        elif action == "drop" and at < len(lines):
            del lines[at]
        elif action == "cr" and at < len(lines):
            lines[at] += "\r"
        elif action == "repeat":
            lines.insert(at, lines[at % len(lines)])
        else:
            lines.insert(at, draw(HOSTILE))
    block = "\n".join(lines).encode("utf-8", "surrogatepass")
    return block + draw(st.sampled_from([b"\n\n", b"\n", b"", b"\n\n200 result=1\n"]))


def _quote(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


class HostileWeb:
    def __init__(self, base_url: str, cookie: str, csrf: str) -> None:
        self.host, port = base_url.removeprefix("http://").split(":")
        self.port = int(port)
        self.cookie, self.csrf = cookie, csrf
        self.statuses: list[int] = []

    def send(self, method: str, path: str, body: bytes, content_type: str, auth: bool) -> int:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        headers = {"Content-Type": content_type}
        if auth:
            headers.update(Cookie=f"sb_session={self.cookie}", **{"X-CSRF-Token": self.csrf})
        try:
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()


def _hostile_http(web: HostileWeb, routes: list[tuple[str, str]], examples: int) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        route=st.sampled_from(routes),
        segment=HOSTILE,
        query=st.dictionaries(st.sampled_from(FIELDS), HOSTILE, max_size=4),
        body=st.one_of(
            st.dictionaries(st.sampled_from(FIELDS), JSONISH, max_size=6).map(
                lambda d: ("application/json", json.dumps(d).encode())
            ),
            st.binary(max_size=200).map(lambda b: ("application/x-www-form-urlencoded", b)),
            st.integers(1, 6000).map(lambda n: ("application/json", ("[" * n + "]" * n).encode())),
        ),
        auth=st.booleans(),
    )
    def run(
        route: tuple[str, str],
        segment: str,
        query: dict[str, str],
        body: tuple[str, bytes],
        auth: bool,
    ) -> None:
        method, canonical = route
        path = canonical
        while "{" in path:
            start = path.index("{")
            path = path[:start] + _quote(segment) + path[path.index("}", start) + 1 :]
        if query:
            path += "?" + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in query.items())
        content_type, data = body
        status = web.send(method, path, data if method != "GET" else b"", content_type, auth)
        web.statuses.append(status)
        assert status < 500, (method, path, body, status)

    run()


def _hostile_fastagi(host: str, port: int, examples: int) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(block=st.one_of(near_miss_blocks(), st.binary(max_size=500)))
    def run(block: bytes) -> None:
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(block)
            sock.settimeout(0.2)
            try:
                sock.recv(4096)
            except (TimeoutError, ConnectionError):
                pass

    run()


async def _time_to_recognition(asterisk: Asterisk, number: str) -> tuple[float, dict[str, str]]:
    started = time.monotonic()
    call = place_call(number, None, duration_s=1)
    try:
        while True:
            event = await asyncio.wait_for(asterisk.recognitions.get(), 15)
            if event.get("CallerIDNum") == number:
                return time.monotonic() - started, event
    finally:
        await asyncio.to_thread(call.wait, 30)


async def test_hostile_input_leaves_the_service_healthy_and_callers_recognised(
    asterisk: Asterisk,
    switchboard: RunningSwitchboard,
    sandbox: Sandbox,
    db: asyncpg.Pool,
) -> None:
    await create_user(db, "mallory", "a password of hers", role="receptionist")
    contact_id = await add_contact(db, "Fenna de Wit", ["0645480077"], company="De Wit BV")
    await asyncio.sleep(DIRECTORY_REFRESH_S)
    quiet, _ = await _time_to_recognition(asterisk, "0645480077")

    web = HostileWeb(switchboard.base_url, *await _log_in(switchboard.base_url))
    settings_ = sandbox.settings
    attack = asyncio.gather(
        asyncio.to_thread(_hostile_http, web, _routes(), 400),
        asyncio.to_thread(_hostile_fastagi, "127.0.0.1", settings_.fastagi_port, 300),
    )
    await asyncio.sleep(1.0)  # the attack is under way
    attacked, event = await _time_to_recognition(asterisk, "0645480077")
    await attack

    assert event["Confidence"] != "unknown" and event["ContactId"] == str(contact_id)
    budget_s = FastAGIConfig.budget_ms / 1000
    assert attacked - quiet < budget_s, (attacked, quiet)
    assert len(web.statuses) >= 400 and max(web.statuses) < 500
    assert "Traceback" not in switchboard.log()
    health = http.client.HTTPConnection(web.host, web.port, timeout=5)
    health.request("GET", "/healthz")
    assert json.loads(health.getresponse().read()) == {"status": "ok"}
    health.close()


async def _log_in(base_url: str) -> tuple[str, str]:
    """The session cookie and CSRF token of "mallory", a board user gone bad."""

    def log_in() -> tuple[str, str]:
        host, port = base_url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request(
            "POST",
            "/login",
            body=b"username=mallory&password=a+password+of+hers",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        response = connection.getresponse()
        response.read()
        cookie = response.getheader("Set-Cookie", "").split(";")[0].split("=", 1)[1]
        connection.request("GET", "/board", headers={"Cookie": f"sb_session={cookie}"})
        page = connection.getresponse().read().decode()
        marker = 'name="csrf-token" content="'
        start = page.index(marker) + len(marker)
        return cookie, page[start : page.index('"', start)]

    return await asyncio.to_thread(log_in)

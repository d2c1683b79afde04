"""The board behind a TLS-terminating reverse proxy (nginx, as Debian ships it), as an
admin sets it up with ``secure_cookies = true`` and ``public_origin``: a real browser
logs in over HTTPS, gets the live feed through the proxy's websocket, and its POSTs
pass the Origin check. Before ``public_origin`` every POST and the websocket were
refused: the service saw ``http`` where the browser said ``https``."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import async_playwright, expect

from switchboard.board.hub import BoardHub
from switchboard.store.users import create_user
from switchboard_ui.app import create_app
from switchboard_ui.session import SESSION_COOKIE
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, waiting_call
from tests.conftest import free_port, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.browser]

NGINX_CONF = """
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{}}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        '' close;
    }}
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {dir}/cert.pem;
        ssl_certificate_key {dir}/key.pem;
        location / {{
            proxy_pass http://127.0.0.1:{board_port};
            proxy_http_version 1.1;
            proxy_set_header Host $host:$server_port;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-Proto https;
        }}
    }}
}}
"""


def _self_signed(directory: Path) -> None:
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem"),
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip


@contextmanager
def _nginx(directory: Path, tls_port: int, board_port: int) -> Iterator[None]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    _self_signed(directory)
    conf = directory / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=directory, tls_port=tls_port, board_port=board_port))
    process = subprocess.Popen(
        [nginx, "-p", str(directory), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def up() -> bool:
            if process.poll() is not None:
                log = (directory / "error.log").read_text(errors="replace")
                raise AssertionError(f"nginx exited: {log}")
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", tls_port)) == 0

        wait_for(up, 10, "nginx to listen")
        yield
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
async def proxied_board(db: asyncpg.Pool, tmp_path: Path) -> AsyncIterator[tuple[str, BoardHub]]:
    """The board as a proxy's backend; the origin browsers use, and its hub."""
    hub = BoardHub()
    tls_port, board_port = free_port(), free_port()
    public = f"https://127.0.0.1:{tls_port}"
    app = create_app(db, hub, secure_cookies=True, public_origin=public)
    server = TestServer(app, host="127.0.0.1", port=board_port)
    await server.start_server()
    try:
        with _nginx(tmp_path, tls_port, board_port):
            yield public, hub
    finally:
        await server.close()


async def test_the_board_works_through_a_tls_proxy(
    db: asyncpg.Pool, proxied_board: tuple[str, BoardHub]
) -> None:
    public, hub = proxied_board
    await create_user(db, "sanne", "correct horse battery", role="receptionist")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(ignore_https_errors=True)
            page = await context.new_page()
            await page.goto(f"{public}/login")
            await page.get_by_label("Username").fill("sanne")
            await page.get_by_label("Password").fill("correct horse battery")
            await page.get_by_role("button", name="Log in").click()
            await expect(page).to_have_url(f"{public}/board")
            (cookie,) = [c for c in await context.cookies() if c["name"] == SESSION_COOKIE]
            assert cookie["secure"] and cookie["httpOnly"]

            # The live feed came through the proxy's websocket: a call shows up.
            for _ in range(100):
                if hub.subscriber_count == 1:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the board's websocket never came through the proxy")
            hub.publish({"type": "call", "call": waiting_call("+31612345678", "Anna Jansen")})
            await expect(page.locator("#waiting .call")).to_contain_text("Anna Jansen")

            # A POST from the page passes the Origin check: logging out works.
            await page.get_by_role("button", name="Log out").click()
            await expect(page).to_have_url(f"{public}/login")
            assert (
                await db.fetchval("SELECT count(*) FROM board_sessions WHERE username = 'sanne'")
                == 0
            )
        finally:
            await browser.close()

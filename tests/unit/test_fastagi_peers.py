"""Only allowed peers reach a FastAGI route: the contact directory is behind it.

Real sockets on the loopback: Linux routes all of 127.0.0.0/8 to ``lo``, so a client
can connect from 127.0.0.2 as well as from 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Sequence
from ipaddress import ip_network

import pytest

from pbx_agi.fastagi.peers import LOOPBACK_PEERS, PeerFilter, RefusalLog
from pbx_agi.fastagi.server import AGISession, FastAGIServer
from switchboard.config import Config, ConfigError, FastAGIConfig, PBXConfig
from switchboard.service import fastagi_allowed_peers

WAIT = 5.0  # a hang guard, not a performance expectation

HEADERS = (
    b"agi_network: yes\nagi_network_script: r\nagi_channel: PJSIP/trunk-00000001\n"
    b"agi_callerid: +31612345678\n\n"
)
SET_LINE = b'SET VARIABLE "CALLER" "+31612345678"\n'


class Served:
    """A route that tells whether it ran."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, session: AGISession) -> None:
        self.calls += 1
        await session.set_variable("CALLER", session.env.caller_id or "")


async def call(port: int, source: str | None = None) -> bytes:
    """Play Asterisk from ``source``: send the environment, answer the one command, and
    return all the server wrote (b"" when it closed at once, reset or not)."""
    local = (source, 0) if source else None
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=local)
    received = b""
    try:
        writer.write(HEADERS)
        await writer.drain()
        async with asyncio.timeout(WAIT):
            received = await reader.readline()
            if received:
                writer.write(b"200 result=1\n")
                received += await reader.read()
    except ConnectionError:
        pass  # abort() resets the connection
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass
    return received


@pytest.fixture
async def only_127_0_0_2() -> AsyncIterator[tuple[FastAGIServer, Served]]:
    route = Served()
    server = FastAGIServer(
        {"r": route}, header_timeout=60.0, allowed_peers=[ip_network("127.0.0.2/32")]
    )
    await server.start("127.0.0.1", 0)
    try:
        yield server, route
    finally:
        await server.close(grace=1.0)


async def test_a_peer_not_allowed_is_closed_at_once_and_no_route_runs(
    only_127_0_0_2: tuple[FastAGIServer, Served],
) -> None:
    server, route = only_127_0_0_2
    # A client that sends nothing is dropped too: within WAIT, long before the header
    # timeout (60 s), so it is the peer check that closed it.
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        async with asyncio.timeout(WAIT):
            assert await reader.read() == b""
    except ConnectionResetError:
        pass
    writer.close()
    assert await call(server.port, "127.0.0.1") == b""
    assert route.calls == 0
    metrics = server.metrics
    assert metrics.refused_peers == 2
    assert metrics.connections == 2
    assert metrics.bad_requests == metrics.unknown_routes == metrics.sessions_served == 0


async def test_an_allowed_peer_is_served(only_127_0_0_2: tuple[FastAGIServer, Served]) -> None:
    server, route = only_127_0_0_2
    assert await call(server.port, "127.0.0.2") == SET_LINE
    assert route.calls == 1
    assert server.metrics.sessions_served == 1
    assert server.metrics.refused_peers == 0


async def test_by_default_the_server_allows_this_host_only() -> None:
    route = Served()
    async with FastAGIServer({"r": route}) as server:
        assert server.allowed_peers == LOOPBACK_PEERS
        await server.start("127.0.0.1", 0)
        assert await call(server.port, "127.0.0.2") == SET_LINE  # 127.0.0.0/8
    assert route.calls == 1
    peers = PeerFilter(LOOPBACK_PEERS)
    assert peers.allows("::1")
    assert not peers.allows("192.0.2.10")
    assert not peers.allows("::2")


def test_an_ipv4_mapped_peer_is_matched_as_its_ipv4_address() -> None:
    peers = PeerFilter([ip_network("192.0.2.10"), ip_network("::ffff:198.51.100.0/120")])
    assert peers.allows("::ffff:192.0.2.10")  # a dual-stack socket's IPv4 client
    assert peers.allows("192.0.2.10")
    assert not peers.allows("::ffff:192.0.2.11")
    assert peers.allows("198.51.100.7")  # a mapped network, as the IPv4 network it is
    assert peers.networks[1] == ip_network("198.51.100.0/24")
    assert PeerFilter(LOOPBACK_PEERS).allows("::ffff:127.0.0.1")


def test_a_peer_that_is_not_an_ip_address_is_not_allowed() -> None:
    peers = PeerFilter([ip_network("0.0.0.0/0"), ip_network("::/0")])
    assert not peers.allows(None)  # no peer name (already gone, or a Unix socket)
    assert not peers.allows("")
    assert not peers.allows("localhost")


def test_an_empty_allowed_peers_is_an_error_not_a_server_that_refuses_everyone() -> None:
    with pytest.raises(ValueError, match="allowed_peers is empty"):
        FastAGIServer(allowed_peers=[])


# ---------------------------------------------------------------------------
# The log of refusals
# ---------------------------------------------------------------------------


def test_refusals_are_told_at_most_once_per_interval_with_their_count() -> None:
    refusals = RefusalLog(interval=10.0)
    first = refusals.refused("192.0.2.1", now=100.0)
    assert first is not None and "192.0.2.1" in first
    assert refusals.due is None
    # A flood within the interval: no line, but counted.
    assert [refusals.refused(f"192.0.2.{n}", now=100.0 + n / 10) for n in range(2, 52)] == [
        None
    ] * 50
    assert refusals.due == 110.0
    assert refusals.flush(now=109.9) is None
    line = refusals.flush(now=110.0)
    assert line is not None
    assert "50 FastAGI connections" in line and "latest from 192.0.2.51" in line
    assert refusals.flush(now=200.0) is None  # told once
    # The interval starts again with each line: the next refusal waits for it.
    assert refusals.refused("192.0.2.99", now=115.0) is None
    later = refusals.refused("192.0.2.100", now=120.0)
    assert later is not None
    assert "2 FastAGI connections" in later and "latest from 192.0.2.100" in later


def test_refusals_still_untold_are_told_when_the_server_closes() -> None:
    refusals = RefusalLog(interval=10.0)
    assert refusals.refused("192.0.2.1", now=0.0) is not None
    assert refusals.refused("192.0.2.2", now=1.0) is None
    assert refusals.flush(now=2.0) is None
    final = refusals.flush(now=2.0, final=True)
    assert final is not None and "192.0.2.2" in final


async def test_a_flood_of_refused_peers_makes_one_warning_then_one_with_the_count(
    only_127_0_0_2: tuple[FastAGIServer, Served], caplog: pytest.LogCaptureFixture
) -> None:
    server, route = only_127_0_0_2
    with caplog.at_level(logging.WARNING, logger="pbx_agi.fastagi"):
        for _ in range(20):
            assert await call(server.port, "127.0.0.1") == b""
        assert server.metrics.refused_peers == 20
        assert [r.getMessage() for r in caplog.records] == [
            "refused a FastAGI connection from 127.0.0.1: not an allowed peer"
        ]
        await server.close(grace=1.0)  # tells the 19 still untold, well within 10 s
    assert [r.getMessage() for r in caplog.records][1:] == [
        "refused 19 FastAGI connections from peers not allowed since the last such "
        "warning, the latest from 127.0.0.1"
    ]
    assert route.calls == 0


async def test_refusals_still_untold_are_told_when_the_interval_ends_without_another(
    only_127_0_0_2: tuple[FastAGIServer, Served], caplog: pytest.LogCaptureFixture
) -> None:
    server, _ = only_127_0_0_2
    server._refusals = RefusalLog(interval=0.2)  # instead of 10 s of waiting
    with caplog.at_level(logging.WARNING, logger="pbx_agi.fastagi"):
        for _ in range(3):
            assert await call(server.port, "127.0.0.1") == b""
        await asyncio.sleep(0.5)  # and no other connection meanwhile
        lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[1].startswith("refused 2 FastAGI connections")


# ---------------------------------------------------------------------------
# The service's default: this host and the PBX hosts, resolved at start
# ---------------------------------------------------------------------------


def with_pbx_hosts(allowed: str = "", **hosts: str) -> Config:
    """A config with a [pbx.NAME] per NAME=host, and fastagi.allowed_peers if given."""
    pbx = tuple(PBXConfig(name=name, host=host, secret="s") for name, host in hosts.items())
    peers = tuple(ip_network(p) for p in allowed.split(",")) if allowed else ()
    return Config(fastagi=FastAGIConfig(allowed_peers=peers), pbx=pbx)


async def fake_dns(host: str) -> Sequence[tuple[object, ...]]:
    table = {
        "pbx1.example": ["192.0.2.10", "2001:db8::10"],
        "pbx2.example": ["fe80::1%eth0"],
    }
    if host not in table:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, 0)) for a in table[host]]


async def test_the_default_is_this_host_and_every_pbx_host() -> None:
    config = with_pbx_hosts(main="pbx1.example", backup="pbx2.example")
    peers = await fastagi_allowed_peers(config, fake_dns)
    assert peers == (
        *LOOPBACK_PEERS,
        ip_network("192.0.2.10/32"),
        ip_network("2001:db8::10/128"),
        ip_network("fe80::1/128"),
    )


async def test_pbx_host_names_are_resolved_by_the_system_resolver() -> None:
    peers = await fastagi_allowed_peers(with_pbx_hosts(main="localhost", lab="198.51.100.7"))
    assert ip_network("198.51.100.7/32") in peers
    assert set(LOOPBACK_PEERS) <= set(peers)


async def test_a_pbx_host_that_does_not_resolve_stops_the_start_naming_its_key() -> None:
    with pytest.raises(ConfigError) as caught:
        await fastagi_allowed_peers(
            with_pbx_hosts(main="pbx1.example", backup="pbx9.example"), fake_dns
        )
    (problem,) = caught.value.problems
    assert problem.startswith("pbx.backup.host: 'pbx9.example' does not resolve")
    assert "fastagi.allowed_peers" in problem


async def test_allowed_peers_from_the_config_replace_the_default_unresolved() -> None:
    config = with_pbx_hosts(allowed="192.0.2.0/24,::1", main="pbx9.example")
    peers = await fastagi_allowed_peers(config, fake_dns)  # pbx9 is never looked up
    assert peers == (ip_network("192.0.2.0/24"), ip_network("::1/128"))

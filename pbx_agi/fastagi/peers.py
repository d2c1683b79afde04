"""Who may connect to the FastAGI port, and the log of those refused."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


#: Who may connect to a FastAGIServer given no ``allowed_peers``: this host.
LOOPBACK_PEERS: tuple[IPNetwork, ...] = (
    ipaddress.IPv4Network("127.0.0.0/8"),
    ipaddress.IPv6Network("::1/128"),
)


#: At most one warning about refused peers per this many seconds.
REFUSAL_LOG_INTERVAL = 10.0


# Hosts whose answer a PeerFilter keeps (a stranger with many addresses fills it, and
# then the others are worked out each time).
_MAX_ANSWERS = 64


def _unmapped(network: IPNetwork) -> IPNetwork:
    """An IPv4-mapped IPv6 network (within ``::ffff:0:0/96``) as the IPv4 network it is."""
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


class PeerFilter:
    """Which peers may connect: those whose address is in one of ``networks``.

    An IPv4-mapped IPv6 address (``::ffff:192.0.2.10``, as a dual-stack socket reports
    an IPv4 client) is matched as its IPv4 address, and a mapped network likewise.
    Raises ValueError for no networks at all: every connection would be refused.
    """

    __slots__ = ("_answers", "networks")

    def __init__(self, networks: Iterable[IPNetwork]) -> None:
        self.networks = tuple(dict.fromkeys(_unmapped(n) for n in networks))
        if not self.networks:
            raise ValueError("allowed_peers is empty: every connection would be refused")
        # The answer for the first few hosts seen: parsing an address costs more than
        # the rest of accepting a connection, and calls come from the same few PBXs.
        self._answers: dict[str | None, bool] = {}

    def allows(self, host: str | None) -> bool:
        """Whether ``host``, the address part of a socket's peer name, may connect.

        Anything that is not an IP address (no peer name, a Unix socket) may not."""
        answer = self._answers.get(host)
        if answer is None:
            answer = self._allows(host)
            if len(self._answers) < _MAX_ANSWERS:
                self._answers[host] = answer
        return answer

    def _allows(self, host: str | None) -> bool:
        if host is None:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)


class RefusalLog:
    """The warnings about refused peers: at most one per ``interval`` seconds.

    A stranger can connect thousands of times a second, and the log must stay readable.
    The first refusal after a quiet interval is told at once; those within the interval
    after a warning are counted and told in one line, with the latest peer, by the
    first refusal after the interval or by :meth:`flush` at its end, whichever is first.
    Pure: the caller passes the time and logs the line it gets back.
    """

    __slots__ = ("_count", "_latest", "_quiet_until", "interval")

    def __init__(self, interval: float = REFUSAL_LOG_INTERVAL) -> None:
        self.interval = interval
        self._quiet_until = -float("inf")
        self._count = 0  # refusals not told yet
        self._latest = ""

    @property
    def due(self) -> float | None:
        """When :meth:`flush` will have a line to give, or None if nothing is pending."""
        return self._quiet_until if self._count else None

    def refused(self, peer: str, now: float) -> str | None:
        """Count a refusal of ``peer`` at ``now``: the line to log now, or None."""
        self._count += 1
        self._latest = peer
        return self._line(now) if now >= self._quiet_until else None

    def flush(self, now: float, *, final: bool = False) -> str | None:
        """The line for the refusals not told yet once the interval is over, or at once
        when ``final`` (the server is closing); None when there is none to give."""
        if self._count and (final or now >= self._quiet_until):
            return self._line(now)
        return None

    def _line(self, now: float) -> str:
        count, self._count = self._count, 0
        self._quiet_until = now + self.interval
        if count == 1:
            return f"refused a FastAGI connection from {self._latest}: not an allowed peer"
        return (
            f"refused {count} FastAGI connections from peers not allowed since the last "
            f"such warning, the latest from {self._latest}"
        )

"""How often a login may be tried: per user and per source address, with growing waits.

Pure and synchronous, with the clock injected: the login handler asks before it checks
a password and reports the outcome after. Each user name and each source address
(an IPv6 address by its /64, which one host holds whole) has its own count of recent
failures. The first few are free; past them every failure locks that key for twice as
long as the last time, up to :data:`MAX_LOCK_S`. A key with no failure for
:data:`FORGET_AFTER_S` is forgotten, and at most :data:`MAX_KEYS` are kept (the
oldest go first), so somebody trying ever new names cannot grow the server's memory.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

#: Failures allowed before waits start: a user's typos, an office behind one address.
FREE_FAILURES_PER_USER = 5
FREE_FAILURES_PER_SOURCE = 20
FIRST_LOCK_S = 1.0
#: The longest wait: long enough to make guessing hopeless (at most ~300 tries a day
#: past the free ones), short enough that a receptionist locked out by somebody else's
#: guesses is back on the board within minutes.
MAX_LOCK_S = 300.0
FORGET_AFTER_S = 3600.0
MAX_KEYS = 10_000


@dataclass
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


@dataclass(frozen=True)
class Lockout:
    """A key that a failure has just locked: what an admin's alert needs."""

    kind: str  # "user" or "source"
    key: str
    failures: int
    seconds: float


def source_key(address: str) -> str:
    """The throttling key of a client address: IPv4 as is, IPv6 by its /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class LoginThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._records: OrderedDict[tuple[str, str], _Record] = OrderedDict()

    def retry_after(self, username: str, source: str) -> int:
        """Whole seconds until a login as ``username`` from ``source`` may be tried; 0: now."""
        now = self._clock()
        wait = 0.0
        for key in self._keys(username, source):
            record = self._records.get(key)
            if record is not None:
                wait = max(wait, record.locked_until - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, username: str, source: str) -> list[Lockout]:
        """Count a wrong password; the keys it locked (for the log)."""
        now = self._clock()
        self._forget(now)
        locked = []
        for key in self._keys(username, source):
            record = self._records.pop(key, None) or _Record()
            self._records[key] = record  # now the newest
            record.failures += 1
            record.last_failure = now
            free = FREE_FAILURES_PER_USER if key[0] == "user" else FREE_FAILURES_PER_SOURCE
            if record.failures > free:
                seconds = min(MAX_LOCK_S, FIRST_LOCK_S * 2 ** (record.failures - free - 1))
                record.locked_until = now + seconds
                locked.append(Lockout(key[0], key[1], record.failures, seconds))
        while len(self._records) > MAX_KEYS:
            self._records.popitem(last=False)
        return locked

    def succeeded(self, username: str) -> None:
        """The user knew their password: their own count starts again. The source's
        does not, or one's own account would reset the count for guessing others'."""
        self._records.pop(("user", username), None)

    def _keys(self, username: str, source: str) -> tuple[tuple[str, str], ...]:
        return (("user", username), ("source", source_key(source)))

    def _forget(self, now: float) -> None:
        records = self._records
        while records:
            key, record = next(iter(records.items()))
            if now - record.last_failure < FORGET_AFTER_S:
                break
            del records[key]

"""How fast a callback really starts, and what the callback list costs the dialer as it
grows (issue 14), each beside a baseline measured in the same run.

From "member free" to the member's phone ringing, on the sandbox Asterisk (it must be
up, and no other switchboard on it): the real bridge with its callback dialer runs in
this process against a fresh embedded PostgreSQL; SIPp plays phone 100, the queue
"switchboard"'s member. Each round the member is on a call while a callback waits; the
call ends (the member channel's Hangup, as Asterisk reports it to the bench) and the
bench times until the dialer's channel to the member rings (Newstate Ringing). The
baseline: the bench's own AMI Originate of the same phone, from sending it to the same
Newstate. Prints p50/p99 of both and the ratio.

The database cost:
Every second the dialer counts the callbacks ahead of each live caller
(``waiting_ahead``), reads the line as far as its free members reach (``in_line``) and
takes the ones whose turn it is (``claim``: SKIP LOCKED under a lease, then ``finish_attempt``).
In a fresh embedded PostgreSQL this times both, and the Python memory of the list read,
with OPEN open requests in the queue beside an empty queue (the baseline measured in the
same run), and prints the ratios.

    python -m devtools sandbox up        # one sandbox at a time on a machine
    scripts/bench callback_dispatch                  # 10,000 open requests
    scripts/bench callback_dispatch --open 2000 --rounds 50 --ring-rounds 10
    scripts/bench callback_dispatch --ring-rounds 0  # no sandbox: the list only
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from panoramisk import Manager

from ami_bridge.bridge import AMIBridge, event_headers
from bench.measure import embedded_postgres, percentile
from devtools.sandbox import SandboxSettings
from devtools.sipp import start_phone
from switchboard.board.hub import BoardHub
from switchboard.config import CallbacksConfig, PBXConfig
from switchboard.core.callbacks import RetryPolicy
from switchboard.store import callbacks
from switchboard.store.database import migrate

LEASE = timedelta(seconds=60)


async def fill(pool: asyncpg.Pool, queue: str, count: int) -> None:
    now = datetime.now(UTC)
    await pool.executemany(
        "INSERT INTO callbacks (pbx, queue, e164, source, joined_at, not_before)"
        " VALUES ('main', $1, $2, 'queue', $3, $3)",
        [(queue, f"+3161{i:07d}", now - timedelta(seconds=count - i)) for i in range(count)],
    )
    await pool.execute("ANALYZE callbacks")


async def one_second(
    pool: asyncpg.Pool, queue: str, *, memory: bool = False
) -> tuple[float, float, int]:
    """One dialer second as ami_bridge/callback_dialer.py spends it on a queue with three
    live callers and two free members: count the callbacks ahead of each, read the line
    as far as the members reach, take one and give it back. Seconds for the reading and
    for the taking, and (``memory``: traced, which slows it) the bytes the reading held."""
    now = datetime.now(UTC)
    if memory:
        tracemalloc.start()
    started = time.perf_counter()
    live = [now - timedelta(seconds=s) for s in (300, 120, 10)]
    await callbacks.waiting_ahead(pool, "main", queue, [*live, now])
    await callbacks.in_line(pool, "main", queue, limit=2 + len(live), due_by=now)
    read = time.perf_counter() - started
    peak = 0
    if memory:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    started = time.perf_counter()
    taken = await callbacks.claim(
        pool, pbx="main", queue=queue, owner="bench", members=["201"], now=now, lease=LEASE
    )
    for callback in taken:
        await callbacks.finish_attempt(
            pool,
            callback.id,
            "bench",
            reached=False,
            result="bench",
            now=now,
            policy=RetryPolicy(attempts=10, interval=timedelta(microseconds=1)),
        )
    claimed = time.perf_counter() - started
    return read, claimed, peak


async def measure(dsn: str, open_requests: int, rounds: int) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=4)
    try:
        await fill(pool, "full", open_requests)
        await fill(pool, "one", 1)  # the baseline: a queue with one request
        results: dict[str, list[tuple[float, float, int]]] = {"one": [], "full": []}
        for _ in range(rounds):
            for queue in ("one", "full"):
                results[queue].append(await one_second(pool, queue))
        memory = {q: (await one_second(pool, q, memory=True))[2] for q in ("one", "full")}
    finally:
        await pool.close()
    print(f"{open_requests} open requests, {rounds} dialer seconds each")
    print(f"{'':18}{'1 request':>14}{f'{open_requests} requests':>18}{'ratio':>9}")
    for index, name, unit, scale in (
        (0, "read p50", "ms", 1e3),
        (1, "claim+finish p50", "ms", 1e3),
    ):
        base = percentile([r[index] for r in results["one"]], 0.5) * scale
        full = percentile([r[index] for r in results["full"]], 0.5) * scale
        print(f"{name:18}{base:11.2f} {unit}{full:15.2f} {unit}{full / base:8.1f}x")
    for index, name in ((0, "read p99"), (1, "claim+finish p99")):
        base = percentile([r[index] for r in results["one"]], 0.99) * 1e3
        full = percentile([r[index] for r in results["full"]], 0.99) * 1e3
        print(f"{name:18}{base:11.2f} ms{full:15.2f} ms{full / base:8.1f}x")
    base_mem = memory["one"] / 1024
    full_mem = memory["full"] / 1024
    print(
        f"{'list memory peak':18}{base_mem:11.0f} kB{full_mem:15.0f} kB{full_mem / base_mem:8.1f}x"
    )


# -- from "member free" to the member's phone ringing, on the sandbox Asterisk ------------

MEMBER = "PJSIP/100"  # the sandbox queue "switchboard"'s one member


class Watch:
    """The bench's own AMI view: every event with the moment it came (perf_counter)."""

    def __init__(self, manager: Manager) -> None:
        self.events: list[tuple[float, dict[str, str]]] = []
        manager.register_event("*", self._keep)

    def _keep(self, _manager: Manager, event: Any) -> None:
        self.events.append((time.perf_counter(), event_headers(event)))

    async def first(
        self, since: float, match: Callable[[dict[str, str]], bool], timeout_s: float = 10
    ) -> tuple[float, dict[str, str]]:
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            for at, event in self.events:
                if at >= since and match(event):
                    return at, event
            await asyncio.sleep(0.001)
        raise TimeoutError("an awaited event never came")


def ringing(prefix: str) -> Callable[[dict[str, str]], bool]:
    return lambda e: (
        e.get("Event") == "Newstate"
        and e.get("ChannelStateDesc") == "Ringing"
        and e.get("Uniqueid", "").startswith(prefix)
    )


def answered(channel_id: str) -> Callable[[dict[str, str]], bool]:
    return lambda e: e.get("Uniqueid") == channel_id and e.get("ChannelStateDesc") == "Up"


def told(channel_id: str) -> Callable[[dict[str, str]], bool]:
    """The dialplan's word on the member's channel (the member answered)."""
    return lambda e: e.get("UserEvent") == "SwitchboardCallback" and e.get("Uniqueid") == channel_id


def hung_up(channel_id: str) -> Callable[[dict[str, str]], bool]:
    return lambda e: e.get("Event") == "Hangup" and e.get("Uniqueid") == channel_id


async def originate(manager: Manager, channel_id: str) -> asyncio.Future[Any]:
    """Ring the member from the bench (Async: the reply, which waits for an answer that
    may never come, is not waited for but returned)."""
    reply: asyncio.Future[Any] = asyncio.ensure_future(
        manager.send_action(
            {
                "Action": "Originate",
                "Channel": MEMBER,
                "Application": "Wait",
                "Data": "60",
                "ChannelId": channel_id,
                "Async": "true",
                "Timeout": "30000",
            }
        )
    )
    return reply


async def ring(dsn: str, rounds: int) -> None:
    """Per round: the member is on a call while a callback waits; the call ends (the
    moment is the member channel's Hangup, as Asterisk reports it) and the bench times
    until the callback dialer's channel to the member rings. The baseline, same phone,
    same run: the bench's own Originate, from sending it to the same Newstate."""
    settings = SandboxSettings.from_env()
    pool = await asyncpg.create_pool(dsn)
    bridge = AMIBridge(
        PBXConfig(
            "bench",
            port=settings.ami_port,
            username=settings.ami_username,
            secret=settings.ami_secret,
        ),
        BoardHub(),
        pool=pool,
        callbacks=CallbacksConfig(queues=("switchboard",), member_ring_s=30),
    )
    logged_in: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    manager = Manager(
        host="127.0.0.1",
        port=settings.ami_port,
        username=settings.ami_username,
        secret=settings.ami_secret,
        loop=asyncio.get_running_loop(),
        on_login=lambda _m: None if logged_in.done() else logged_in.set_result(True),
    )
    watch = Watch(manager)
    manager.connect()
    await asyncio.wait_for(logged_in, 10)
    phone = start_phone("100", answer_after_s=0.3)
    dialled: list[float] = []
    bare: list[float] = []
    replies: list[asyncio.Future[Any]] = []
    try:
        await bridge.start()
        await asyncio.sleep(5)  # connected and resynchronised: members and phones known
        if not bridge.connected:
            raise SystemExit("the bridge did not connect to the sandbox: is it up?")
        for n in range(rounds):
            bare_id = f"bench-bare-{n}"
            started = time.perf_counter()
            replies.append(await originate(manager, bare_id))
            rang, _ = await watch.first(started, ringing(bare_id))
            bare.append(rang - started)
            await asyncio.sleep(0.5)  # (answered by now)
            await asyncio.wait_for(manager.send_action({"Action": "Hangup", "Channel": bare_id}), 5)
            await watch.first(started, hung_up(bare_id))
        for n in range(rounds):
            busy = f"bench-busy-{n}"
            since = time.perf_counter()
            replies.append(await originate(manager, busy))
            await watch.first(since, answered(busy))
            now = datetime.now(UTC)
            stored, _ = await callbacks.request(
                pool,
                pbx="bench",
                queue="switchboard",
                e164=f"+316120{n:05d}",
                source="board",
                joined_at=now,
                not_before=now,
            )
            await asyncio.sleep(1.5)  # the dialer has seen it waiting, nobody free
            await asyncio.wait_for(manager.send_action({"Action": "Hangup", "Channel": busy}), 5)
            freed, _ = await watch.first(since, hung_up(busy))
            rang, event = await watch.first(freed, ringing("sb-callback-"))
            dialled.append(rang - freed)
            # The member answers and hears who it is for; the bench hangs up before the
            # caller is dialled: an attempt that did not reach the caller, back in line
            # for five minutes, and then out of the way for good.
            channel = event["Uniqueid"]
            await watch.first(rang, told(channel))
            await asyncio.wait_for(manager.send_action({"Action": "Hangup", "Channel": channel}), 5)
            await watch.first(rang, hung_up(channel))
            for _ in range(100):  # (until the dialer has put it back in line)
                if await callbacks.cancel(pool, stored.id, "bench", "bench round over"):
                    break
                await asyncio.sleep(0.05)
    finally:
        for reply in replies:
            reply.cancel()
        await bridge.close()
        manager.close()
        phone.stop()
        await pool.close()
    p50, p99 = percentile(dialled, 0.5) * 1e3, percentile(dialled, 0.99) * 1e3
    b50, b99 = percentile(bare, 0.5) * 1e3, percentile(bare, 0.99) * 1e3
    print(f"{rounds} rounds on the sandbox: member free -> ringing, beside a bare Originate")
    print(f"{'':18}{'bare Originate':>16}{'callback':>12}{'ratio':>9}")
    print(f"{'p50':18}{b50:13.1f} ms{p50:9.1f} ms{p50 / b50:8.1f}x")
    print(f"{'p99':18}{b99:13.1f} ms{p99:9.1f} ms{p99 / b99:8.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--open", type=int, default=10_000, dest="open_requests")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--ring-rounds", type=int, default=20)
    args = parser.parse_args()
    with embedded_postgres() as server:
        dsn = server.get_uri()
        migrate(dsn)
        if args.ring_rounds:
            asyncio.run(ring(dsn, args.ring_rounds))
        asyncio.run(measure(dsn, args.open_requests, args.rounds))


if __name__ == "__main__":
    main()

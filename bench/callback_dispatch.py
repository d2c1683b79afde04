"""What the callback list costs the dialer as it grows (issue 14).

Every second the dialer counts the callbacks ahead of each live caller
(``waiting_ahead``), reads the line as far as its free members reach (``in_line``) and
takes the ones whose turn it is (``claim``: SKIP LOCKED under a lease, then ``finish_attempt``).
In a fresh embedded PostgreSQL this times both, and the Python memory of the list read,
with OPEN open requests in the queue beside an empty queue (the baseline measured in the
same run), and prints the ratios.

    .venv/bin/python bench/callback_dispatch.py                  # 10,000 open requests
    .venv/bin/python bench/callback_dispatch.py --open 2000 --rounds 50

Not measured here yet: from "member free" to the member's phone ringing on the sandbox
Asterisk beside a bare Originate (issue 14 asks for it; see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from bench.measure import embedded_postgres, percentile
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--open", type=int, default=10_000, dest="open_requests")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with embedded_postgres() as server:
        dsn = server.get_uri()
        migrate(dsn)
        asyncio.run(measure(dsn, args.open_requests, args.rounds))


if __name__ == "__main__":
    main()

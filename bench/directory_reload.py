"""How long a reload of the caller directory holds the event loop that answers calls.

Loads CONTACTS contacts with three numbers each (as bench/recognition.py does) into a
fresh embedded PostgreSQL, then, in turns, while a ticker task measures how late the
event loop wakes it from a 1 ms sleep (the delay a call arriving then would get):

(a) idle: nothing else runs (the floor);
(b) at once: the same rows fetched in one query and taken in one go, the old stale
    snapshot freed at once, full garbage collections allowed (how the directory
    reloaded before it took slices);
(c) reload: ``CallerDirectory.reload()`` as the service runs it.

Prints the worst and p99 lateness of each and the ratios against the floor.

    scripts/bench directory_reload                  # 100,000 contacts
    scripts/bench directory_reload --contacts 20000 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from bench.measure import embedded_postgres, percentile
from bench.recognition import load
from pbx_agi.caller_directory import CallerDirectory, DirectorySnapshot, TuneCollectorForDirectory
from switchboard.store.calls import RECENT_CALLS_SQL
from switchboard.store.contacts import CONTACT_ROWS_SQL
from switchboard.store.database import migrate

TICK_S = 0.001


async def lateness_during(work: Callable[[], Awaitable[object]]) -> list[float]:
    """How late each 1 ms sleep of another task woke while ``work`` ran, in seconds."""
    late: list[float] = []
    done = False

    async def ticker() -> None:
        while not done:
            asked = time.perf_counter()
            await asyncio.sleep(TICK_S)
            late.append(time.perf_counter() - asked - TICK_S)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    await work()
    done = True
    await task
    return late


async def at_once(directory: CallerDirectory, pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    fresh = DirectorySnapshot(directory.snapshot.history_window)
    async with pool.acquire() as conn:
        contacts = await conn.fetch(CONTACT_ROWS_SQL.format(where=""))
        calls = await conn.fetch(RECENT_CALLS_SQL, now - fresh.history_window)
    fresh.put_contacts(contacts)
    fresh.put_calls(calls)
    directory.snapshot = fresh  # the stale one is freed here, all at once
    gc.freeze()


async def main(args: argparse.Namespace) -> None:
    with embedded_postgres() as server:
        dsn = server.get_uri()
        migrate(dsn)
        await load(dsn, args.contacts, random.Random(42))
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        directory = CallerDirectory(pool, collector=TuneCollectorForDirectory())
        await directory.reload()
        print(f"{directory.snapshot.number_count:,} numbers of {args.contacts:,} contacts")
        kinds: dict[str, Callable[[], Awaitable[object]]] = {
            "idle (floor)": lambda: asyncio.sleep(1.0),
            "at once": lambda: at_once(directory, pool),
            "reload": directory.reload,
        }
        late: dict[str, list[float]] = {name: [] for name in kinds}
        took: dict[str, float] = dict.fromkeys(kinds, 0.0)
        for _ in range(args.rounds):
            for name, work in kinds.items():
                started = time.perf_counter()
                late[name] += await lateness_during(work)
                took[name] += time.perf_counter() - started
        floor_worst = max(late["idle (floor)"]) * 1000
        floor_p99 = percentile(late["idle (floor)"], 0.99) * 1000
        for name, values in late.items():
            worst, p99 = max(values) * 1000, percentile(values, 0.99) * 1000
            print(
                f"{name:<13} {took[name] / args.rounds:5.2f} s   loop late: worst {worst:7.2f} ms"
                f" (x{worst / floor_worst:6.1f})   p99 {p99:6.2f} ms (x{p99 / floor_p99:5.1f})"
            )
        await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))

"""How much CPU per call a FastAGI route may spend, at 50 calls kept in flight, before
its p99 is 1 ms over the floor's.

The same method as ``recognition.py`` (Asterisk played by a spawned process, servers
taking turns in slices, the floor twice), but the routes are stand-ins: our FastAGI
server reading the environment and sending the recognition's one MSet line, after
spinning the CPU for 0, 10, 25 or 50 us per call. So it measures what any route's
work costs there, apart from what recognition's work is. ``--asterisk c`` plays
Asterisk's side with ``agi_client.c`` (built with cc on the spot): a thread per
channel and blocking sockets, as res_agi does, and far less CPU per call than Python.

    scripts/bench route_budget               # under a minute
    scripts/bench route_budget --asterisk c --sessions 5000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.recognition import add_asterisk_option, compare, floors, one_call, play_asterisk
from pbx_agi.agi_protocol import AGIEnvironment
from pbx_agi.fastagi.server import AGISession, FastAGIServer

# What the recognize route sends for a known caller.
MSET = (
    'EXEC "MSet" "CALLERID(name)=Contact 1,SB_CONTACT_ID=1,SB_CONTACT_NAME=Contact 1,'
    "SB_COMPANY=Company 1,SB_VIP=0,SB_LANGUAGE=nl,SB_CONFIDENCE=unverified,SB_REPEAT_CALLER=0,"
    "SB_ATTEMPTS=0,SB_LAST_HANDLED_BY=,SB_OPEN_CALLBACK=0,SB_MISSED_BEFORE=0,"
    'SB_QUEUE_PRIORITY=0,SB_PREFERRED_EXTENSION=,SB_ROUTE_REASON=first call"'
)


class SpinningRoute:
    """A planned route that spends ``micros`` of CPU per call, then sends MSET."""

    def __init__(self, micros: int) -> None:
        self._seconds = micros / 1e6

    def plan(self, env: AGIEnvironment) -> tuple[str, ...]:
        until = time.perf_counter() + self._seconds
        while time.perf_counter() < until:
            pass
        return (MSET,)

    async def __call__(self, session: AGISession) -> None:
        await session.send_command(MSET)


async def main(args: argparse.Namespace) -> None:
    side = play_asterisk(args.asterisk)
    routes: list[FastAGIServer] = []
    try:
        for micros in args.micros:
            route = FastAGIServer({"recognize": SpinningRoute(micros)})
            await route.start("127.0.0.1", 0)
            routes.append(route)
        _, script = await one_call(routes[0].port, "+31612345678")
        async with floors(script) as servers:
            for micros, route in zip(args.micros, routes, strict=True):
                servers[f"route {micros} us"] = route.port
            rng = random.Random(42)
            calls = ["+3161" + f"{rng.randrange(10_000_000):07d}" for _ in range(args.sessions)]
            for port in servers.values():  # warm-up
                await side.drive(port, calls[:200], args.concurrency)
            print(f"-- {len(calls):,} calls to each, {args.concurrency} kept in flight")
            await compare(side, servers, calls, args.concurrency, burst=False)
    finally:
        for route in routes:
            await route.close(5)
        side.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=50)
    add_asterisk_option(parser)
    parser.add_argument("--micros", type=int, nargs="+", default=[0, 10, 25, 50])
    asyncio.run(main(parser.parse_args()))

"""FastAGI round trip: our FastAGIServer against a bare asyncio floor.

A synthetic client plays Asterisk: connect, send a realistic environment
block, read one SET VARIABLE, answer ``200 result=1``, wait for the server to
close. The same client runs against

(a) FastAGIServer with one route that does one ``set_variable``, and
(b) a bare asyncio server that answers the same bytes with no parsing,
    routing or quoting: the floor.

Client and servers share one event loop and one process, so the numbers are
end-to-end CPU cost per session on this machine, not network latency.

    scripts/bench fastagi_roundtrip [--sessions 5000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import percentile
from pbx_agi.fastagi.server import AGISession, FastAGIServer

ROUTE = "recognize"
CALLER_NAME = 'José "Zoë" Müller'
HEADERS = (
    "agi_network: yes\n"
    f"agi_network_script: {ROUTE}?lang=fr\n"
    f"agi_request: agi://127.0.0.1:4573/{ROUTE}?lang=fr\n"
    "agi_channel: PJSIP/trunk-provider-0000a1b2\n"
    "agi_language: fr\n"
    "agi_type: PJSIP\n"
    "agi_uniqueid: 1700000000.4242\n"
    "agi_version: 20.5.0\n"
    "agi_callerid: +33612345678\n"
    f"agi_calleridname: {CALLER_NAME}\n"
    "agi_callingpres: 0\n"
    "agi_callingani2: 0\n"
    "agi_callington: 0\n"
    "agi_callingtns: 0\n"
    "agi_dnid: 0123456789\n"
    "agi_rdnis: unknown\n"
    "agi_context: from-trunk\n"
    "agi_extension: 0123456789\n"
    "agi_priority: 3\n"
    "agi_enhanced: 0.0\n"
    "agi_accountcode: \n"
    "agi_threadid: 140245091038912\n"
    "agi_arg_1: reception\n"
    "agi_arg_2: business-hours\n"
    "agi_arg_3: fr\n"
    "agi_arg_4: \n"
    "agi_arg_5: 1\n"
    "agi_arg_6: queue-main\n"
    "agi_arg_7: 30\n"
    "agi_arg_8: none\n"
    "\n"
).encode()
SET_LINE = b'SET VARIABLE "SWITCHBOARD_CALLER" "Jos\xc3\xa9 \\"Zo\xc3\xab\\" M\xc3\xbcller"\n'


async def one_session(port: int) -> float:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEADERS)
    await writer.drain()
    command = await reader.readline()
    if command != SET_LINE:
        raise RuntimeError(f"unexpected command {command!r}")
    writer.write(b"200 result=1\n")
    await writer.drain()
    if await reader.read() != b"":
        raise RuntimeError("server sent more than one command")
    elapsed = time.perf_counter() - started
    writer.close()
    await writer.wait_closed()
    return elapsed


async def drive(port: int, sessions: int, concurrency: int) -> tuple[list[float], float]:
    gate = asyncio.Semaphore(concurrency)

    async def guarded() -> float:
        async with gate:
            return await one_session(port)

    started = time.perf_counter()
    latencies = await asyncio.gather(*(guarded() for _ in range(sessions)))
    return list(latencies), time.perf_counter() - started


async def floor_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\n\n")
    writer.write(SET_LINE)
    await writer.drain()
    await reader.readline()
    writer.close()
    await writer.wait_closed()


async def ours_route(session: AGISession) -> None:
    await session.set_variable("SWITCHBOARD_CALLER", session.env.caller_id_name or "")


async def bench_floor(sessions: int, concurrency: int) -> tuple[list[float], float]:
    server = await asyncio.start_server(floor_handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await drive(port, min(200, sessions), concurrency)  # warm-up
        return await drive(port, sessions, concurrency)
    finally:
        server.close()
        await server.wait_closed()


async def bench_ours(sessions: int, concurrency: int) -> tuple[list[float], float]:
    server = FastAGIServer({ROUTE: ours_route})
    await server.start("127.0.0.1", 0)
    try:
        await drive(server.port, min(200, sessions), concurrency)  # warm-up
        result = await drive(server.port, sessions, concurrency)
        metrics = server.metrics
        if metrics.sessions_failed or metrics.bad_requests:
            raise RuntimeError(f"server reported failures: {metrics}")
        return result
    finally:
        await server.close(grace=5.0)


def report(name: str, latencies: list[float], elapsed: float) -> tuple[float, float]:
    p50 = percentile(latencies, 0.50) * 1000
    p99 = percentile(latencies, 0.99) * 1000
    print(
        f"{name:<14} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   "
        f"{len(latencies) / elapsed:8.0f} sessions/s"
    )
    return p50, p99


async def main(sessions: int, concurrency: int) -> None:
    print(f"{sessions} sessions, concurrency {concurrency}, Python {sys.version.split()[0]}")
    floor = await bench_floor(sessions, concurrency)
    ours = await bench_ours(sessions, concurrency)
    f50, f99 = report("floor (bare)", *floor)
    o50, o99 = report("FastAGIServer", *ours)
    print(f"{'ours/floor':<14} p50 x{o50 / f50:.2f}      p99 x{o99 / f99:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.sessions, args.concurrency))

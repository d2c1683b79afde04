"""Recognition latency with a realistic directory, beside the bare FastAGI floor.

Loads CONTACTS contacts with three numbers each into a fresh embedded PostgreSQL, starts
the real `recognize` route on the in-memory caller directory, and plays Asterisk's side
for SESSIONS calls, CONCURRENCY at a time, from known and unknown numbers. In the same
run a bare asyncio server replays the very same command lines with no parsing, lookup or
quoting (the floor). Prints p50/p99 of both, their difference, and the memory the
directory takes. Optionally (--classic N) times the classic pyst2 script per call.
With --asterisk c, agi_client.c plays Asterisk's side: a thread per channel and blocking
sockets as res_agi has, at far less CPU per call than the Python stand-in.

    scripts/bench recognition                 # 100,000 contacts, 300,000 numbers
    scripts/bench recognition --asterisk c
    scripts/bench recognition --contacts 10000 --sessions 2000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from bench.measure import embedded_postgres, percentile
from pbx_agi.caller_directory import CallerDirectory, TuneCollectorForDirectory
from pbx_agi.fastagi.server import FastAGIServer
from pbx_agi.recognise_route import RecogniseRoute
from switchboard.store.database import migrate

MOBILE_PREFIXES = ["+3161", "+3162", "+3163", "+3164", "+3165"]
SLICE = 500  # calls per turn of each server


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def make_numbers(count: int, rng: random.Random) -> list[str]:
    seen: set[str] = set()
    while len(seen) < count:
        seen.add(rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10_000_000):07d}")
    return list(seen)


async def load(dsn: str, contacts: int, rng: random.Random) -> list[str]:
    numbers = make_numbers(contacts * 3 + 1000, rng)
    known, unknown = numbers[: contacts * 3], numbers[contacts * 3 :]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "contacts",
            records=[
                (i + 1, f"Contact {i + 1}", f"Company {i % 5000}", i % 50 == 0, "nl")
                for i in range(contacts)
            ],
            columns=["id", "name", "company", "vip", "language"],
        )
        await conn.copy_records_to_table(
            "contact_numbers",
            records=[(i // 3 + 1, number) for i, number in enumerate(known)],
            columns=["contact_id", "e164"],
        )
    finally:
        await conn.close()
    return known[:5000] + unknown


def national(e164: str) -> str:
    return "0" + e164[3:]  # +316... -> 06..., as a Dutch trunk presents it


def headers(number: str) -> bytes:
    """The environment block as res_agi (Asterisk 22) sends it for AGI(agi://.../recognize):
    its 22 keys in its order."""
    return (
        "agi_network: yes\nagi_network_script: recognize\n"
        "agi_request: agi://127.0.0.1:4573/recognize\nagi_channel: PJSIP/trunk-00000001\n"
        f"agi_language: nl\nagi_type: PJSIP\nagi_uniqueid: {time.time():.4f}\n"
        f"agi_version: 22.0.0\nagi_callerid: {national(number)}\nagi_calleridname: Caller\n"
        "agi_callingpres: 0\nagi_callingani2: 0\nagi_callington: 0\nagi_callingtns: 0\n"
        "agi_dnid: 0201234567\nagi_rdnis: unknown\nagi_context: from-trunk\n"
        "agi_extension: 0201234567\nagi_priority: 2\nagi_enhanced: 0.0\n"
        "agi_accountcode: \nagi_threadid: 140245091038912\n\n"
    ).encode()


async def one_call(port: int, number: str) -> tuple[float, list[bytes]]:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(headers(number))
    commands = []
    while line := await reader.readline():
        commands.append(line)
        writer.write(b"200 result=1\n")
    elapsed = time.perf_counter() - started
    writer.close()
    return elapsed, commands


async def _drive_here(port: int, numbers: list[str], concurrency: int, burst: bool) -> list[float]:
    if burst:  # ``concurrency`` calls start at the same moment; the next ones when all ended
        latencies: list[float] = []
        for start in range(0, len(numbers), concurrency):
            batch = numbers[start : start + concurrency]
            latencies += [r[0] for r in await asyncio.gather(*(one_call(port, n) for n in batch))]
        return latencies
    gate = asyncio.Semaphore(concurrency)

    async def guarded(number: str) -> float:
        async with gate:
            return (await one_call(port, number))[0]

    return list(await asyncio.gather(*(guarded(n) for n in numbers)))


def _asterisk_loop(jobs: Connection) -> None:
    while (job := jobs.recv()) is not None:
        jobs.send(asyncio.run(_drive_here(*job)))


class Asterisk:
    """Asterisk's side, played by one process of its own for the whole run, as the real
    one is: spawned, so it shares no memory with the servers. (A client forked from this
    process after the directory was loaded would share its pages copy-on-write, and
    every page the route then writes, a reference count in the directory, say, would
    be copied on the route's time: a cost no real Asterisk inflicts.)"""

    def __init__(self) -> None:
        spawn = multiprocessing.get_context("spawn")
        self._jobs, theirs = spawn.Pipe()
        self._process = spawn.Process(target=_asterisk_loop, args=(theirs,), daemon=True)
        self._process.start()

    async def drive(
        self, port: int, numbers: list[str], concurrency: int, burst: bool = False
    ) -> list[float]:
        """Latencies of calls from ``numbers`` to ``port``, ``concurrency`` at a time: kept in
        flight (a new call as soon as one ends), or in bursts that start together."""
        self._jobs.send((port, numbers, concurrency, burst))
        latencies: list[float] = await asyncio.to_thread(self._jobs.recv)
        return latencies

    def close(self) -> None:
        self._jobs.send(None)
        self._process.join(10)


class CAsterisk:
    """Asterisk's side played by ``agi_client.c``, one run of it per slice."""

    def __init__(self) -> None:
        compiler = shutil.which("cc")
        if compiler is None:
            raise SystemExit("--asterisk c needs a C compiler (cc): apt-get install gcc")
        self._folder = Path(tempfile.mkdtemp(prefix="switchboard-agi-client-"))
        self._program = self._folder / "agi_client"
        source = Path(__file__).with_name("agi_client.c")
        try:
            subprocess.run(
                [compiler, "-O2", "-pthread", "-o", str(self._program), str(source)], check=True
            )
        except subprocess.CalledProcessError:
            self.close()
            raise

    async def drive(
        self, port: int, numbers: list[str], concurrency: int, burst: bool = False
    ) -> list[float]:
        client = await asyncio.create_subprocess_exec(
            str(self._program),
            *map(str, (port, len(numbers), concurrency, int(burst))),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await client.communicate("".join(f"{national(n)}\n" for n in numbers).encode())
        if client.returncode != 0:
            raise RuntimeError(f"agi_client failed with exit status {client.returncode}")
        return [float(latency) for latency in out.split()]

    def close(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)


def percentile_ms(values: list[float], q: float) -> float:
    return percentile(values, q) * 1000


class AsteriskSide(Protocol):
    async def drive(
        self, port: int, numbers: list[str], concurrency: int, burst: bool = False
    ) -> list[float]: ...

    def close(self) -> None: ...


def add_asterisk_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--asterisk",
        choices=["python", "c"],
        default="python",
        help="who plays Asterisk: a spawned Python process, or agi_client.c (built with cc)",
    )


def play_asterisk(kind: str) -> AsteriskSide:
    """Asterisk's side as ``--asterisk`` asks; start it before loading the directory."""
    return CAsterisk() if kind == "c" else Asterisk()


@asynccontextmanager
async def floors(script: list[bytes]) -> AsyncIterator[dict[str, int]]:
    """Two bare asyncio servers that replay ``script`` (the floor), by name and port.
    The same server twice: how far apart they end up is the method's own noise, the
    yardstick for a route's difference from the floor."""

    async def replay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\n\n")
        for line in script:
            writer.write(line)
            await reader.readline()
        writer.close()

    servers = [await asyncio.start_server(replay, "127.0.0.1", 0) for _ in "ab"]
    try:
        ports = [server.sockets[0].getsockname()[1] for server in servers]
        yield {"floor": ports[0], "floor again": ports[1]}
    finally:
        for server in servers:
            server.close()


async def compare(
    asterisk: AsteriskSide,
    servers: dict[str, int],
    calls: list[str],
    concurrency: int,
    burst: bool,
) -> None:
    """Every server takes the same calls in slices, in turns, and whoever goes first
    changes with each slice, so machine noise hits all alike. At 50 at a time a p99 is
    the calls caught in a stall of the machine (a few ms, now and then), so beside the
    p99 of all calls it prints the median of each slice's p99 (a stall decides a slice
    or two, not the median), each against the floor's; the second floor's differences
    are the noise. CPU time of this process (the servers; Asterisk is played by
    another) is the steadier figure: latency at 50 at a time is mostly queueing."""
    names = list(servers)
    cpu = dict.fromkeys(names, 0.0)
    slices: dict[str, list[list[float]]] = {name: [] for name in names}
    for n, start in enumerate(range(0, len(calls), SLICE)):
        part = calls[start : start + SLICE]
        for name in names[n % len(names) :] + names[: n % len(names)]:
            before = time.process_time()
            slices[name].append(await asterisk.drive(servers[name], part, concurrency, burst))
            cpu[name] += time.process_time() - before
    every = {name: [x for part in parts for x in part] for name, parts in slices.items()}
    floor = names[0]
    for name in names:
        line = (
            f"{name:<12} p50 {percentile_ms(every[name], 0.5):7.3f} ms"
            f"   p99 {percentile_ms(every[name], 0.99):7.3f} ms"
            f"   CPU {cpu[name] / len(calls) * 1e6:4.0f} us/call"
        )
        if name != floor:
            p50, p99 = (
                percentile_ms(every[name], q) - percentile_ms(every[floor], q) for q in (0.5, 0.99)
            )
            slice_p99 = statistics.median(
                percentile_ms(ours, 0.99) - percentile_ms(theirs, 0.99)
                for ours, theirs in zip(slices[name], slices[floor], strict=True)
            )
            line += f"   - floor: p50 {p50:+.3f}, p99 {p99:+.3f}, slice p99 {slice_p99:+.3f} ms"
        print(line)


async def main(args: argparse.Namespace) -> None:
    rng = random.Random(42)
    side = play_asterisk(args.asterisk)  # before the directory exists in this process
    with embedded_postgres() as server:
        directory: CallerDirectory | None = None
        try:
            dsn = server.get_uri()
            migrate(dsn)
            started = time.perf_counter()
            callers = await load(dsn, args.contacts, rng)
            print(
                f"loaded {args.contacts:,} contacts, {args.contacts * 3:,} numbers "
                f"in {time.perf_counter() - started:.1f} s"
            )
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
            gc.collect()
            before = rss_mib()
            # As the service runs it: loaded, then following changes every two seconds.
            directory = CallerDirectory(pool, collector=TuneCollectorForDirectory())
            started = time.perf_counter()
            await directory.start()
            await directory.wait_ready()
            gc.collect()
            print(
                f"directory: {directory.snapshot.number_count:,} numbers in "
                f"{time.perf_counter() - started:.1f} s, {rss_mib() - before:.0f} MiB"
            )

            route = RecogniseRoute.from_directory(directory, pool, region="NL", budget_s=0.2)
            ours = FastAGIServer({"recognize": route})
            await ours.start("127.0.0.1", 0)

            # The floor replays exactly what our route sends for a caller.
            _, script = await one_call(ours.port, callers[0])
            async with floors(script) as servers:
                servers["recognize"] = ours.port
                sample = [rng.choice(callers) for _ in range(args.sessions)]
                for port in servers.values():  # warm-up
                    await side.drive(port, sample[:200], args.concurrency)
                who = "agi_client.c" if args.asterisk == "c" else "a spawned Python process"
                print(f"{len(script)} AGI commands per call; Asterisk played by {who}")
                modes = (
                    ("1 at a time", 1, False, sample[: args.sessions // 5]),
                    (
                        f"bursts of {args.concurrency} starting together",
                        args.concurrency,
                        True,
                        sample,
                    ),
                    (f"{args.concurrency} kept in flight", args.concurrency, False, sample),
                )
                for mode, concurrency, burst, calls in modes:
                    print(f"-- {len(calls):,} calls to each, {mode}")
                    await compare(side, servers, calls, concurrency, burst)
            if metrics_failed := ours.metrics.sessions_failed:
                print(f"WARNING: {metrics_failed} sessions failed")
            if args.classic:
                await bench_classic(dsn, callers, args.classic)
            await ours.close(5)
            await pool.close()
        finally:
            if directory is not None:  # its refresh must not outlive the database
                await directory.close()
            side.close()


async def bench_classic(dsn: str, callers: list[str], calls: int) -> None:
    """The pyst2 script, one process per call, as Asterisk would run it."""
    script = shutil.which("switchboard-agi-recognize")
    if script is None:
        print("classic: switchboard-agi-recognize not installed; skipped")
        return
    latencies = []
    for number in callers[:calls]:
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            script,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env={"SWITCHBOARD_DATABASE__DSN": dsn, "SWITCHBOARD_SERVICES__AMI": "false"},
        )
        await process.communicate(headers(number) + b"200 result=1\n" * 40)
        latencies.append(time.perf_counter() - started)
    print(
        f"classic pyst2  p50 {percentile_ms(latencies, 0.5):7.3f} ms   "
        f"p99 {percentile_ms(latencies, 0.99):7.3f} ms   (one process per call, {calls} calls)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=50)
    add_asterisk_option(parser)
    parser.add_argument("--classic", type=int, default=0, help="also time N classic AGI calls")
    asyncio.run(main(parser.parse_args()))

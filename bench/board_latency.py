"""Event-to-browser latency of the board with many boards open, beside a bare floor.

The real board web app (switchboard_ui.app.create_app) runs in a process of its own with
the real BoardHub, AMIBridge (its one ordered event queue, the pure call model and the
call journal writing to an embedded PostgreSQL) and a snapshot with EXTENSIONS
extensions. BOARDS logged-in websocket clients run in another process, so they do not
share the server's CPU time (the machine has 2 cores). A burst of CALLS calls, replayed
from the recorded sandbox calls in tests/fixtures/ami with their real timing and their
starts spread over BURST seconds, is fed in where panoramisk hands the bridge its events
(AMIBridge.feed). Latency runs from that hand-over to the receipt of the resulting
message at every client.

The floor, in the same run: a bare aiohttp websocket server, no model, no hub, no
journal, that sends the very same payloads (encoded once) at the same moments to as
many clients. Rounds alternate ours and floor so machine noise hits both alike.

    scripts/bench board_latency                # 200 boards, 500 extensions
    scripts/bench board_latency --boards 50 --calls 40
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import asyncpg
from aiohttp import WSMsgType, web

from ami_bridge.bridge import AMIBridge
from ami_bridge.journal import CallJournal
from ami_bridge.replay import read_recording
from bench.measure import embedded_postgres, percentile
from switchboard.board.hub import PROTOCOL_VERSION, BoardHub, Message
from switchboard.config import PBXConfig
from switchboard.store.database import migrate
from switchboard.store.users import create_user
from switchboard_ui.app import create_app

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ami"
RECORDINGS = ("queue_answered.ami", "queue_abandoned.ami")
# Headers whose value names one call's channel, bridge or caller: renamed per call.
ID_HEADERS = {
    "Uniqueid",
    "Linkedid",
    "DestUniqueid",
    "DestLinkedid",
    "BridgeUniqueid",
    "Channel",
    "DestChannel",
    "CallerIDNum",
    "ConnectedLineNum",
    "DestCallerIDNum",
    "DestConnectedLineNum",
}
USER, PASSWORD = "bench", "bench password 1"
FORK = multiprocessing.get_context("fork")


# -- the burst ------------------------------------------------------------------------------


def call_template(name: str) -> list[tuple[float, dict[str, str]]]:
    """One recorded call: (seconds since its first event, headers)."""
    events = read_recording((FIXTURES / name).read_bytes()).events
    stamps = [float(e["Timestamp"]) for e in events if "Timestamp" in e]
    first, last = stamps[0], stamps[0]
    timed = []
    for event in events:
        last = float(event.get("Timestamp", last))
        timed.append((last - first, event))
    return timed


def burst(calls: int, spread_s: float, tag: str) -> list[tuple[float, dict[str, str]]]:
    """CALLS recorded calls, their starts spread evenly over SPREAD_S, each with its own
    channel names, ids and caller number, merged into one time-ordered event stream."""
    templates = [call_template(name) for name in RECORDINGS]
    schedule = []
    for k in range(calls):
        start = k * spread_s / calls
        renamed: dict[str, str] = {}
        for offset, event in templates[k % len(templates)]:
            copy = dict(event)
            for key in ID_HEADERS & copy.keys():
                value = copy[key]
                if value and not value.startswith("<"):
                    if key.endswith("Num"):
                        copy[key] = renamed.setdefault(value, f"06{k:04d}{len(renamed):04d}")
                    else:
                        copy[key] = renamed.setdefault(value, f"{value}-{tag}{k}")
            schedule.append((start + offset, copy))
    schedule.sort(key=lambda item: item[0])
    return schedule


def extensions_source(count: int, pbx: str) -> Callable[[], Message]:
    """A SYNTHETIC snapshot part of COUNT extensions (the presence model is not wired into
    the bridge's snapshot yet). Fresh objects on every call, as a live source gives."""
    try:
        from switchboard.core.calls.presence import Extension

        def entry(i: int) -> dict[str, Any]:
            return Extension(pbx, str(200 + i), name=f"Employee {i}", device="idle").to_json()
    except ImportError:

        def entry(i: int) -> dict[str, Any]:
            return {"extension": str(200 + i), "name": f"Employee {i}", "state": "idle"}

    return lambda: {"extensions": [entry(i) for i in range(count)]}


# -- servers (each in a process of its own) ---------------------------------------------------


async def _drained(bridge: AMIBridge) -> None:
    while not bridge._events.empty():  # noqa: ASYNC110 (the bridge's own queue)
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # the last event's messages


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


async def _commands(conn: Connection, handle: Callable[[Any], Any]) -> None:
    """Answer the orchestrator's commands until it says "stop"."""
    while True:
        command = await asyncio.to_thread(conn.recv)
        if command[0] == "stop":
            return
        if command[0] == "gc":
            gc.collect()
            conn.send(None)
        else:
            conn.send(await handle(command))


class _TimedQueue(asyncio.Queue[Any]):
    """The bridge's event queue, noting when each event was handed over and, as the
    consumer takes it, making that the time of every message it leads to."""

    def __init__(self, current: list[float]) -> None:
        super().__init__()
        self._handed_over: deque[float] = deque()
        self._current = current
        # When the event is due; a busy loop may hand it over late, as a real AMI event
        # waits in the socket meanwhile, so latency counts from here.
        self.due: float | None = None

    def put_nowait(self, item: Any) -> None:
        self._handed_over.append(time.monotonic() if self.due is None else self.due)
        super().put_nowait(item)

    def get_nowait(self) -> Any:
        item = super().get_nowait()
        self._current[0] = self._handed_over.popleft()
        return item


def extension_events(count: int) -> list[dict[str, str]]:
    """What Asterisk lists for COUNT phones: their hints and their endpoints' names."""
    events = []
    for i in range(count):
        ext = str(200 + i)
        events.append(
            {
                "Event": "ExtensionStatus",
                "Exten": ext,
                "Context": "phones",
                "Hint": f"PJSIP/{ext},CustomPresence:{ext}",
                "Status": "0",
                "StatusText": "Idle",
            }
        )
        events.append(
            {"Event": "EndpointDetail", "ObjectName": ext, "Callerid": f'"Employee {i}" <{ext}>'}
        )
    return events


async def _serve_ours(dsn: str, extensions: int, conn: Connection) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    hub = BoardHub()
    journal = CallJournal(pool, region="NL")
    journal.start()
    bridge = AMIBridge(PBXConfig(name="main", secret="unused"), hub, journal)
    bridge.connected = True  # no PBX: the events come from the burst below
    current = [0.0]
    queue = bridge._events = _TimedQueue(current)
    consumer = asyncio.create_task(bridge._consume())  # what bridge.start() runs, minus AMI

    # The extensions through the real path where the bridge has a presence model; a
    # synthetic snapshot part where it has none.
    for event in extension_events(extensions):
        bridge.feed(event)
    await _drained(bridge)
    synthetic = len(hub.snapshot().get("extensions", [])) < extensions
    if synthetic:
        hub.add_snapshot_source(extensions_source(extensions, "main"))

    published: list[tuple[float, float, Message]] = []  # handed over, published, message
    publish = hub.publish

    def timed_publish(message: Message) -> None:
        published.append((current[0], time.monotonic(), message))
        publish(message)

    hub.publish = timed_publish  # type: ignore[method-assign]

    runner = web.AppRunner(create_app(pool, hub))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    conn.send((runner.addresses[0][1], json.dumps(hub.snapshot()), synthetic))

    async def handle(command: Any) -> Any:
        _, schedule = command
        published.clear()
        started = time.monotonic()
        for offset, event in schedule:
            queue.due = started + offset
            delay = queue.due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            bridge.feed(event)
        queue.due = None
        await _drained(bridge)
        await journal.flush(30)
        return [(t, at, json.dumps({"v": PROTOCOL_VERSION, **m})) for t, at, m in published]

    await _commands(conn, handle)
    consumer.cancel()
    await runner.cleanup()
    await journal.close(5)
    await pool.close()


async def _serve_floor(snapshot: str, conn: Connection) -> None:
    sockets: set[web.WebSocketResponse] = set()

    async def board(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_str(snapshot)
        sockets.add(socket)
        try:
            async for _ in socket:
                pass
        finally:
            sockets.discard(socket)
        return socket

    app = web.Application()
    app.router.add_get("/ws", board)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    conn.send((runner.addresses[0][1], snapshot, False))

    async def handle(command: Any) -> Any:
        _, payloads = command  # [(seconds after the start, text)]
        sent = []
        started = time.monotonic()
        for offset, text in payloads:
            at = started + offset  # due then, even if the loop before ran late
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            for socket in list(sockets):
                await socket.send_str(text)
            sent.append((at, at, text))
        return sent

    await _commands(conn, handle)
    await runner.cleanup()


def _server_main(kind: str, arg: Any, extensions: int, conn: Connection) -> None:
    if kind == "ours":
        asyncio.run(_serve_ours(arg, extensions, conn))
    else:
        asyncio.run(_serve_floor(arg, conn))


class Server:
    """A board server in its own process, driven over a pipe."""

    def __init__(self, kind: str, arg: Any, extensions: int = 0) -> None:
        self.kind = kind
        self.conn, child = FORK.Pipe()
        self.process = FORK.Process(target=_server_main, args=(kind, arg, extensions, child))
        self.process.start()
        self.port, self.snapshot, self.synthetic_extensions = self.conn.recv()
        assert self.process.pid is not None
        self.pid: int = self.process.pid

    def ask(self, *command: Any) -> Any:
        self.conn.send(command)
        return self.conn.recv()

    def stop(self) -> None:
        self.conn.send(("stop",))
        self.process.join(30)


# -- boards (clients, in a process of their own) -----------------------------------------------


async def _log_in(session: aiohttp.ClientSession, base: str) -> str:
    async with session.post(
        f"{base}/login", data={"username": USER, "password": PASSWORD}, allow_redirects=False
    ) as response:
        assert response.status == 303, await response.text()
        return response.cookies["sb_session"].value


async def _boards(port: int, logins: int, compress: int, conn: Connection) -> None:
    """Open boards on command, record when every message arrives, report on command."""
    base = f"http://127.0.0.1:{port}"
    received: list[list[float]] = []
    closed: set[int] = set()  # boards the server closed
    tasks: set[asyncio.Task[None]] = set()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        cookies = [await _log_in(session, base) for _ in range(logins)] if logins else [""]
        session.cookie_jar.clear()

        async def board(index: int, ready: asyncio.Future[None]) -> None:
            headers = {"Cookie": f"sb_session={cookies[index % len(cookies)]}"}
            times = received[index]
            async with session.ws_connect(
                f"{base}/ws", headers=headers, max_msg_size=0, compress=compress
            ) as ws:
                first = await ws.receive()
                assert first.type == WSMsgType.TEXT, first
                ready.set_result(None)
                while True:
                    message = await ws.receive()
                    if message.type != WSMsgType.TEXT:
                        closed.add(index)
                        return
                    times.append(time.monotonic())

        async def open_boards(count: int) -> None:
            gate = asyncio.Semaphore(50)

            async def one(index: int) -> None:
                async with gate:
                    ready = asyncio.get_running_loop().create_future()
                    task = asyncio.create_task(board(index, ready))
                    tasks.add(task)
                    await ready

            start = len(received)
            received.extend([] for _ in range(count))
            await asyncio.gather(*(one(start + i) for i in range(count)))

        while True:
            command = await asyncio.to_thread(conn.recv)
            if command[0] == "open":
                await open_boards(command[1])
                conn.send(len(received))
            elif command[0] == "collect":  # wait for N messages per board, then report
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and any(  # noqa: ASYNC110 (polls a list)
                    len(t) < command[1] and i not in closed for i, t in enumerate(received)
                ):
                    await asyncio.sleep(0.05)
                conn.send(([list(t) for t in received], len(closed)))
                for times in received:
                    times.clear()
            else:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                conn.send(None)
                return


class Boards:
    # 15: permessage-deflate with a 32 KiB window, as Chromium and Firefox ask for it.
    def __init__(self, port: int, logins: int, compress: int = 15) -> None:
        self.conn, child = FORK.Pipe()
        self.process = FORK.Process(
            target=lambda: asyncio.run(_boards(port, logins, compress, child))
        )
        self.process.start()

    def open(self, count: int) -> int:
        self.conn.send(("open", count))
        opened: int = self.conn.recv()
        return opened

    def collect(self, expected: int) -> tuple[list[list[float]], int]:
        self.conn.send(("collect", expected))
        result: tuple[list[list[float]], int] = self.conn.recv()
        return result

    def close(self) -> None:
        self.conn.send(("close",))
        self.conn.recv()
        self.process.join(30)


# -- orchestration ------------------------------------------------------------------------------


def percentile_ms(values: list[float], q: float) -> float:
    return percentile(values, q) * 1000


def prepare_database(dsn: str) -> None:
    migrate(dsn)

    async def add_user() -> None:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
        await create_user(pool, USER, PASSWORD, role="receptionist", display_name="Bench")
        await pool.close()

    asyncio.run(add_user())


Sent = list[tuple[float, float, str]]  # (handed over, published, text) per message


def latencies(sent: Sent, received: list[list[float]]) -> list[float]:
    return [arrived - sent[i][0] for times in received for i, arrived in enumerate(times)]


def run_round(
    server: Server, boards: int, logins: int, payload: Any
) -> tuple[list[float], Sent, int, float]:
    """One burst against ``server`` with BOARDS fresh boards: latencies (s), what was sent,
    how many boards were closed by the server, and the server's CPU seconds."""
    clients = Boards(server.port, logins)
    try:
        clients.open(boards)
        cpu = cpu_s(server.pid)
        sent = server.ask("burst", payload)
        cpu = cpu_s(server.pid) - cpu
        received, closed = clients.collect(len(sent))
    finally:
        clients.close()
    return latencies(sent, received), sent, closed, cpu


def report(name: str, lat: list[float], frames: int, closed: int, cpu: float) -> None:
    print(
        f"{name:<22} p50 {percentile_ms(lat, 0.5):8.2f} ms   p99 {percentile_ms(lat, 0.99):8.2f} ms"
        f"   max {max(lat) * 1000:8.2f} ms   {len(lat):,}/{frames:,} frames"
        f"   server CPU {cpu:5.2f} s" + (f"   {closed} boards CLOSED" if closed else "")
    )


def main(args: argparse.Namespace) -> None:
    with embedded_postgres() as pg:
        dsn = pg.get_uri()
        prepare_database(dsn)
        ours = Server("ours", dsn, args.extensions)
        floor = Server("floor", ours.snapshot)
        try:
            snapshot = json.loads(ours.snapshot)
            print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            print(
                f"snapshot: {len(snapshot.get('extensions', [])):,} extensions,"
                f" {len(ours.snapshot) / 1024:.0f} KiB as JSON"
                + (" (SYNTHETIC extension entries)" if ours.synthetic_extensions else "")
            )
            # Warm-up (not reported): first connections, first journal writes, caches.
            warm = burst(max(2, args.calls // 10), args.spread, "warm-")
            sent = run_round(ours, 5, args.logins, warm)[1]
            run_round(floor, 5, 0, [(at - sent[0][0], text) for at, _, text in sent])
            all_ours: list[float] = []
            all_floor: list[float] = []
            cpu_ours = cpu_floor = 0.0
            for round_no in range(args.rounds):
                schedule = burst(args.calls, args.spread, f"r{round_no}-")
                lat, sent, closed, cpu = run_round(ours, args.boards, args.logins, schedule)
                frames = len(sent) * args.boards
                print(
                    f"-- round {round_no + 1}: {args.calls} calls over {args.spread:g} s,"
                    f" {len(schedule):,} AMI events -> {len(sent):,} messages"
                    f" x {args.boards} boards"
                )
                report("board (bridge+hub+app)", lat, frames, closed, cpu)
                queued = [published - handed for handed, published, _ in sent]
                print(
                    f"{'  of which in bridge':<22} p50 {percentile_ms(queued, 0.5):8.2f} ms"
                    f"   p99 {percentile_ms(queued, 0.99):8.2f} ms   (event due to hub.publish)"
                )
                start = sent[0][0] if sent else 0.0
                replay = [(at - start, text) for at, _, text in sent]
                floor_lat, _, floor_closed, floor_cpu = run_round(floor, args.boards, 0, replay)
                report("floor (bare websocket)", floor_lat, frames, floor_closed, floor_cpu)
                all_ours += lat
                all_floor += floor_lat
                cpu_ours += cpu
                cpu_floor += floor_cpu
            print(f"-- all {args.rounds} rounds (load average now {os.getloadavg()[0]:.1f})")
            for name, lat in (("board", all_ours), ("floor", all_floor)):
                print(
                    f"{name:<6} p50 {percentile_ms(lat, 0.5):8.2f} ms"
                    f"   p99 {percentile_ms(lat, 0.99):8.2f} ms"
                )
            print(
                f"board / floor: p50 x{percentile(all_ours, 0.5) / percentile(all_floor, 0.5):.2f}"
                f"   p99 x{percentile(all_ours, 0.99) / percentile(all_floor, 0.99):.2f}"
                f"   server CPU x{cpu_ours / cpu_floor:.2f}"
            )
        finally:
            ours.stop()
            floor.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boards", type=int, default=200)
    parser.add_argument("--extensions", type=int, default=500)
    parser.add_argument("--calls", type=int, default=100, help="calls in one burst")
    parser.add_argument("--spread", type=float, default=2.0, help="seconds the starts span")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--logins", type=int, default=20, help="board sessions (boards share them round robin)"
    )
    main(parser.parse_args())

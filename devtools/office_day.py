"""One office day's callers through the sandbox Asterisk, twice: a plain app_queue set-up
and the whole product, with the same callers and the same staff (``bench/office_day.py``).

Real SIP calls (SIPp) in real time: the callers of :mod:`devtools.office_day_model` dial
the trunk, each call with a number of its own in the dialled digits (the DID), so that
each is told apart in AMI even when the number is withheld; the staff are SIPp phones
that answer after a person's delay. The bench ends every call itself: a waiting caller
hangs up when their patience is spent (:class:`devtools.office_day_model.Patience`, told
their place: app_queue's announcement in the plain arm, the product's
``SwitchboardAnnouncement``), a caller who got through after the talk drawn for them. In
the product arm a caller who accepts the callback offer presses 1 when it is made, and
the product's own dialler calls back (the trunk's far side is a SIPp phone that answers
and presses 1; the bench hangs it up after the talk drawn).

Both arms are counted the same way, from the bench's own AMI connection, with the
service level's definition (:mod:`switchboard.core.service_level`): the wait from the
first moment in a queue; answered, abandoned (short ones apart), sent on.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import aiohttp
from panoramisk import Manager

from ami_bridge.bridge import event_headers
from devtools.demo import sandbox_config
from devtools.office_day_model import Caller, Model, Patience, office_hour
from devtools.sandbox import Sandbox, SandboxSettings
from devtools.sipp import SippProcess, place_call, start_phone
from switchboard.config import CallbacksConfig
from switchboard.core.callbacks import ACTIVE
from switchboard.core.service_level import Classified, Counted, Tally, Thresholds, tally
from switchboard.service import Services, run
from switchboard.store.contacts import add_contact
from switchboard.store.database import start_embedded
from switchboard.store.users import create_user

log = logging.getLogger(__name__)

PLAIN_DIALPLANS = Path(__file__).resolve().parent.parent / "bench" / "office_day_plain"
PLAIN_QUEUE = "reception"
PRODUCT_QUEUE = "switchboard"
#: (extension, seconds the person lets it ring before answering): assumed habits.
RECEPTIONISTS = (("100", 4.0), ("200", 5.0), ("201", 6.0))
BACK_OFFICE = (("202", 7.0), ("203", 8.0))
#: (from, until, extension, what) on the office clock: lunch, a meeting, gone home.
SCHEDULE = (
    (10.67, 10.83, "200", "dnd"),
    (12.0, 12.5, "100", "lunch"),
    (12.5, 13.0, "200", "lunch"),
    (13.0, 13.5, "201", "lunch"),
    (15.5, 17.01, "201", "offline"),
)
#: The far side of the trunk for calls out (callbacks): answers, then presses 1.
PSTN_ANSWER_S = 3.0
PSTN_KEYS = [(3.0, "1")] + [(1.5, "1")] * 5
#: A caller who accepts a callback presses 1 when the offer is made, and again to confirm.
ACCEPT_KEYS_AFTER_S = 28.0
#: The share of her present time a receptionist spends on the worklist at most (assumed).
DESK_SHARE = 0.25
#: The board's users of the product arm: username -> her phone.
DESKS = {"anna": "100", "bram": "200", "carla": "201"}
#: A caller sent on stays at least this long (a message on voicemail).
MESSAGE_S = 12.0
_TOLD_IN_LOG = re.compile(r"Told (\S+) in \S+ their queue position")


class ArmFailed(RuntimeError):
    """A part of the bench (a desk, a caller's call) failed: the figures would be wrong."""


class Arm(Enum):
    PLAIN = "plain"
    PRODUCT = "product"


@dataclass
class Ledger:
    """One call of one caller, as the bench saw it (times: seconds from the arm's start)."""

    caller: Caller
    attempt: int
    tag: str
    placed_at: float
    channel: str = ""
    unique_id: str = ""
    queued_at: float | None = None
    connected_at: float | None = None
    connected_to: str = ""
    sent_on_at: float | None = None
    callback_asked: bool = False
    ended_at: float | None = None
    gave_up: bool = False
    patience: Patience | None = None
    process: SippProcess | None = None

    def classified(self) -> Classified | None:
        """How the call counts for the service level, as ``service_level.classify``."""
        if self.queued_at is None:
            return None
        if self.connected_at is not None:
            return Classified(Counted.ANSWERED, max(0.0, self.connected_at - self.queued_at))
        if self.ended_at is None:
            return None
        if self.sent_on_at is not None:
            return Classified(Counted.SENT_ON, max(0.0, self.sent_on_at - self.queued_at))
        kind = Counted.SENT_ON if self.callback_asked else Counted.ABANDONED
        return Classified(kind, max(0.0, self.ended_at - self.queued_at))


@dataclass
class ArmResult:
    arm: Arm
    run_s: float
    callers: list[Caller]
    attempts: list[Ledger] = field(default_factory=list)
    #: number -> when a call back (callback or worklist) reached them
    called_back_at: dict[str, float] = field(default_factory=dict)
    #: extension -> seconds in conversation within the period
    talk_s: dict[str, float] = field(default_factory=dict)
    #: extension -> seconds present within the period (not paused, not gone)
    present_s: dict[str, float] = field(default_factory=dict)
    #: username -> seconds a desk spent on the worklist (product arm)
    desk_s: dict[str, float] = field(default_factory=dict)
    #: numbers still open on the worklist with a claim when the arm ended (product arm)
    claimed_at_end: set[str] = field(default_factory=set)

    def tally(self, thresholds: Thresholds) -> Tally:
        return tally((c for a in self.attempts if (c := a.classified())), thresholds)


@contextlib.contextmanager
def plain_dialplans() -> Iterator[Path]:
    """The shipped configuration with the plain set-up's extensions.conf and queues.conf."""
    with tempfile.TemporaryDirectory(prefix="office-day-plain-") as tmp:
        directory = Path(tmp)
        shipped = Path(__file__).resolve().parent.parent / "dialplans"
        for path in shipped.glob("*.conf"):
            shutil.copy(path, directory / path.name)
        for path in PLAIN_DIALPLANS.glob("*.conf"):
            shutil.copy(path, directory / path.name)
        yield directory


class OfficeDay:
    """One arm of the bench: the callers, the staff, the count."""

    def __init__(
        self,
        arm: Arm,
        callers: list[Caller],
        model: Model,
        *,
        run_s: float,
        drain_s: float,
        settings: SandboxSettings,
    ) -> None:
        self.arm = arm
        self.model = model
        self.settings = settings
        self.run_s = run_s
        self.drain_s = drain_s
        self.result = ArmResult(arm, run_s, callers)
        self.by_tag: dict[str, Ledger] = {}
        self.by_channel: dict[str, Ledger] = {}
        self.by_unique_id: dict[str, Ledger] = {}
        self.reached: set[str] = set()
        self.start = 0.0
        self.tasks: set[asyncio.Task[None]] = set()
        self.failures: list[BaseException] = []
        self.phones: dict[str, SippProcess] = {}
        self.manager: Manager | None = None
        self.trunk_legs: dict[str, str] = {}  # trunk channel of a call out -> number
        self.log_offset = 0
        self.queue = PLAIN_QUEUE if arm is Arm.PLAIN else PRODUCT_QUEUE
        self.away: set[str] = set()
        #: the board's desks (product arm): (base URL, {username: password})
        self.board: tuple[str, dict[str, str]] | None = None
        #: callbacks in line and workable worklist items, as the board last listed them
        self.board_work: int | None = None

    def now(self) -> float:
        return time.monotonic() - self.start

    # ------------------------------------------------------------------ running

    async def run(self) -> ArmResult:
        self.start = time.monotonic()
        log_path = self.settings.messages_log
        self.log_offset = log_path.stat().st_size if log_path.exists() else 0
        await self._connect()
        try:
            await self._staff_in()
            for caller in self.result.callers:
                self._later(caller.first_call_s, self._attempt(caller, 0))
            self._spawn(self._schedule())
            self._spawn(self._read_told())
            if self.board is not None:
                base_url, passwords = self.board
                for username, password in passwords.items():
                    self._spawn(Desk(self, base_url, username, password).work())
                self._spawn(self._watch_board(base_url, *next(iter(passwords.items()))))
            deadline = self.run_s + self.drain_s
            while self.now() < deadline:
                await asyncio.sleep(1.0)
                if self.now() > self.run_s and self._settled():
                    break
        finally:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            for ledger in self.result.attempts:
                if ledger.process is not None and ledger.process.poll() is None:
                    with contextlib.suppress(Exception):
                        await asyncio.to_thread(ledger.process.stop)
            await self._staff_out()
            if self.manager is not None:
                self.manager.close()
        if self.failures:
            raise ArmFailed(f"the {self.arm.value} arm failed: {self.failures[0]!r}")
        return self.result

    def _settled(self) -> bool:
        """Nothing more will happen: no call up, no call due, and (product arm) no
        callback in line and no open item on the worklist that a desk could still work."""
        calls_up = any(a.ended_at is None for a in self.result.attempts)
        board_idle = self.board is None or self.board_work == 0
        return not calls_up and not self.trunk_legs and not self._due() and board_idle

    def _due(self) -> bool:
        return any(not t.done() and t.get_name() == "attempt" for t in self.tasks)

    def _spawn(self, job: Any, name: str = "job") -> None:
        task = asyncio.create_task(job, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            # A desk that could not log in, an event the bench misread: the run's figures
            # would be wrong, so the run fails (ArmFailed) instead of printing them.
            log.error("office day: %s failed", task.get_name(), exc_info=error)
            self.failures.append(error)

    def _later(self, at_s: float, job: Any) -> None:
        async def wait_then() -> None:
            await asyncio.sleep(max(0.0, at_s - self.now()))
            await job

        self._spawn(wait_then(), name="attempt")

    async def _connect(self) -> None:
        logged_in = asyncio.get_running_loop().create_future()
        self.manager = Manager(
            host="127.0.0.1",
            port=self.settings.ami_port,
            username=self.settings.ami_username,
            secret=self.settings.ami_secret,
            on_login=lambda _m: None if logged_in.done() else logged_in.set_result(True),
        )
        self.manager.register_event("*", self._on_event)
        self.manager.connect()
        await asyncio.wait_for(logged_in, 15)

    async def _action(self, action: dict[str, str]) -> None:
        assert self.manager is not None
        with contextlib.suppress(Exception):
            await self.manager.send_action(action, as_list=False)

    # -------------------------------------------------------------------- staff

    async def _staff_in(self) -> None:
        await self._action({"Action": "QueueReset", "Queue": self.queue})
        for ext, delay in (*RECEPTIONISTS, *BACK_OFFICE):
            self.phones[ext] = await asyncio.to_thread(start_phone, ext, answer_after_s=delay)
            self.result.present_s[ext] = 0.0
            self.result.talk_s[ext] = 0.0
        self.phones["0"] = await asyncio.to_thread(
            start_phone, "0", answer_after_s=PSTN_ANSWER_S, keys=PSTN_KEYS
        )
        if self.arm is Arm.PRODUCT:
            # The plain queue has the three receptionists as members: so does the product's.
            for ext, _delay in RECEPTIONISTS[1:]:
                await self._action(
                    {
                        "Action": "QueueAdd",
                        "Queue": self.queue,
                        "Interface": f"PJSIP/{ext}",
                        "StateInterface": f"PJSIP/{ext}",
                    }
                )

    async def _staff_out(self) -> None:
        for phone in self.phones.values():
            with contextlib.suppress(Exception):
                await asyncio.to_thread(phone.stop)
        if self.arm is Arm.PRODUCT:
            for ext, _delay in RECEPTIONISTS[1:]:
                await self._action(
                    {"Action": "QueueRemove", "Queue": self.queue, "Interface": f"PJSIP/{ext}"}
                )
        for ext, _delay in RECEPTIONISTS:
            await self._pause(ext, False, "")

    async def _pause(self, ext: str, paused: bool, reason: str) -> None:
        await self._action(
            {
                "Action": "QueuePause",
                "Queue": self.queue,
                "Interface": f"PJSIP/{ext}",
                "Paused": "true" if paused else "false",
                "Reason": reason,
            }
        )

    async def _schedule(self) -> None:
        """Lunch, a meeting, going home, on the compressed office clock; presence time
        counted per second."""
        away = self.away
        gone: set[str] = set()
        while True:
            hour = office_hour(min(self.now(), self.run_s), self.run_s)
            during = self.now() <= self.run_s
            wanted = {
                (ext, what) for start, end, ext, what in SCHEDULE if during and start <= hour < end
            }
            for ext, what in sorted(wanted):
                if ext not in away:
                    away.add(ext)
                    await self._pause(ext, True, what)
                if what == "offline" and ext in self.phones and ext not in gone:
                    gone.add(ext)
                    await asyncio.to_thread(self.phones.pop(ext).stop)
            for ext in sorted(away - {e for e, _ in wanted} - gone):
                away.discard(ext)
                await self._pause(ext, False, "")
            for ext in self.result.present_s:
                if during and ext not in away:
                    self.result.present_s[ext] += 1.0
            await asyncio.sleep(1.0)

    # ------------------------------------------------------------------ callers

    async def _attempt(self, caller: Caller, index: int) -> None:
        if index > 0 and caller.number in self.reached:
            return  # called back before they could call again
        tag = f"0201{len(self.by_tag):06d}"
        ledger = Ledger(caller, index, tag, self.now())
        self.by_tag[tag] = ledger
        self.result.attempts.append(ledger)
        keys = (
            [(ACCEPT_KEYS_AFTER_S, "1")] + [(1.5, "1")] * 8
            if self.arm is Arm.PRODUCT and caller.accepts_callback
            else []
        )
        try:
            ledger.process = await asyncio.to_thread(
                place_call,
                "anonymous" if caller.withheld else caller.number,
                "Beller",
                duration_s=3600,
                sip_port=self.settings.sip_port,
                dialed=tag,
                timeout_s=3700,
                keys=keys,
            )
        except Exception:
            log.exception("could not place the call of %s", caller.number)
            ledger.ended_at = self.now()
            return
        attempt = caller.attempts[index]
        ledger.patience = Patience.of(caller, attempt, self.model, self.now())
        while ledger.ended_at is None:
            await asyncio.sleep(0.2)
            if ledger.process.poll() is not None:
                break
            if ledger.connected_at is not None:
                if self.now() >= ledger.connected_at + attempt.talk_s:
                    await asyncio.to_thread(ledger.process.stop)
                    break
            elif ledger.sent_on_at is not None and self.now() >= max(
                ledger.sent_on_at + MESSAGE_S, ledger.patience.deadline()
            ):
                # Sent on (the operator, the back office, voicemail): the caller stays
                # as long as their patience lasts, and speaks a message if it comes to it.
                await asyncio.to_thread(ledger.process.stop)
                break
            elif ledger.sent_on_at is None and self.now() >= ledger.patience.deadline():
                ledger.gave_up = True
                await asyncio.to_thread(ledger.process.stop)
                break
        for _ in range(50):  # the Hangup event follows the BYE
            if ledger.ended_at is not None:
                break
            await asyncio.sleep(0.1)
        if ledger.ended_at is None:
            ledger.ended_at = self.now()
        answered = ledger.connected_at is not None or ledger.callback_asked
        if not answered and caller.calls_again(index, self.model):
            at = ledger.ended_at + attempt.redial_after_s
            if at < self.run_s:
                self._later(at, self._attempt(caller, index + 1))

    # ------------------------------------------------------------------- events

    def _on_event(self, _manager: Manager, event: Any) -> None:
        headers = event_headers(event)
        name = headers.get("Event", "")
        channel = headers.get("Channel", "")
        ledger = self.by_channel.get(channel)
        if name == "Newchannel" and channel.startswith("PJSIP/trunk-"):
            tagged = self.by_tag.get(headers.get("Exten", ""))
            if tagged is not None and not tagged.channel:
                tagged.channel, tagged.unique_id = channel, headers.get("Uniqueid", "")
                self.by_channel[channel] = tagged
                self.by_unique_id[tagged.unique_id] = tagged
            return
        if name == "DialBegin":
            self._dial_begin(headers)
        elif name == "DialEnd":
            self._dial_end(headers)
        elif name == "Hangup":
            self.trunk_legs.pop(channel, None)
        elif name == "UserEvent" and headers.get("UserEvent") == "SwitchboardAnnouncement":
            # Said on a channel of its own (ChanSpy), naming the caller's unique id.
            told = self.by_unique_id.get(headers.get("For", ""))
            if told is not None and told.patience is not None:
                told.patience.tell(self.now())
        if ledger is None:
            return
        if name == "QueueCallerJoin" and ledger.queued_at is None:
            ledger.queued_at = self.now()
        elif name == "QueueCallerLeave" and ledger.connected_at is None:
            # Left the queue unanswered with the line still up: sent on (the plain set-up
            # to its operator, the product's fallback chain says so itself as well).
            if self.arm is Arm.PLAIN and not ledger.gave_up:
                ledger.sent_on_at = ledger.sent_on_at or self.now()
        elif name == "AgentConnect" and ledger.connected_at is None:
            ledger.connected_at = self.now()
            ledger.connected_to = _extension(headers.get("DestChannel", "")) or ""
        elif name == "UserEvent":
            user_event = headers.get("UserEvent", "")
            if user_event == "SwitchboardFallback" and headers.get("Step") != "goodbye":
                ledger.sent_on_at = ledger.sent_on_at or self.now()
            elif user_event == "SwitchboardCallbackAsked":
                ledger.callback_asked = True
        elif name == "Hangup" and ledger.ended_at is None:
            ledger.ended_at = self.now()
            if ledger.connected_at is not None and ledger.connected_to:
                self._talked(ledger.connected_to, ledger.connected_at, self.now())

    def _dial_begin(self, headers: dict[str, str]) -> None:
        dest = headers.get("DestChannel", "")
        dial = headers.get("DialString", "")
        if dest.startswith("PJSIP/trunk-") and "@trunk" in dial:
            self.trunk_legs[dest] = dial.split("@", 1)[0]

    def _dial_end(self, headers: dict[str, str]) -> None:
        dest = headers.get("DestChannel", "")
        status = headers.get("DialStatus", "")
        ledger = self.by_channel.get(headers.get("Channel", ""))
        if ledger is not None and status == "ANSWER" and ledger.connected_at is None:
            # The operator's phone, or the receptionist of last time: a Dial, not a queue.
            ledger.connected_at = self.now()
            ledger.connected_to = _extension(dest) or ""
        number = self.trunk_legs.get(dest)
        if number is not None and status == "ANSWER":
            self._reached(number)
            self._spawn(self._hang_up_after(dest, number))
        elif number is not None:
            self.trunk_legs.pop(dest, None)

    def _reached(self, number: str) -> None:
        local = national(number)
        self.reached.add(local)
        self.result.called_back_at.setdefault(local, self.now())

    async def _hang_up_after(self, channel: str, number: str) -> None:
        caller = next((c for c in self.result.callers if c.number == national(number)), None)
        await asyncio.sleep(caller.called_back_talk_s if caller else 60.0)
        await self._action({"Action": "Hangup", "Channel": channel, "Cause": "16"})

    def _talked(self, ext: str, since: float, until: float) -> None:
        """Occupancy is of the office period: the talk within it counts."""
        if ext in self.result.talk_s:
            self.result.talk_s[ext] += max(0.0, min(until, self.run_s) - min(since, self.run_s))

    async def _watch_board(self, base_url: str, username: str, password: str) -> None:
        """What is left to do on the board (the drain waits for it), and at the end, the
        callers still on the worklist with a claim (the goal counts them as not lost)."""
        async with board_client(base_url) as http:
            await board_login(http, username, password)
            while True:
                try:
                    items = (await (await http.get("/api/worklist")).json())["items"]
                    lined = (await (await http.get("/api/callbacks")).json())["callbacks"]
                except (aiohttp.ClientError, ValueError, KeyError) as exc:
                    # The drain then waits on the last list it had (at most its deadline).
                    log.warning("office day: the board's lists did not come: %r", exc)
                else:
                    workable = [i for i in items if i["state"] == "open" and i["e164"]]
                    waiting = [c for c in lined if c["state"] in ACTIVE]
                    self.board_work = len(workable) + len(waiting)
                    self.result.claimed_at_end = {
                        national(str(i["e164"])) for i in workable if i["claimed_by"]
                    }
                await asyncio.sleep(3.0)

    async def _read_told(self) -> None:
        """Patience: a caller told their place waits more calmly. The product says so
        with a UserEvent; app_queue only in its log ("Told PJSIP/trunk-... in ...")."""
        path = self.settings.messages_log
        while True:
            await asyncio.sleep(0.5)
            try:
                with path.open("rb") as log_file:
                    log_file.seek(self.log_offset)
                    text = log_file.read().decode(errors="replace")
                    self.log_offset = log_file.tell()
            except OSError:
                continue
            for match in _TOLD_IN_LOG.finditer(text):
                ledger = self.by_channel.get(match.group(1))
                if ledger is not None and ledger.patience is not None:
                    ledger.patience.tell(self.now())


class Desk:
    """A receptionist at the board who, when her phone is free and nobody waits, works
    the missed callers (the worklist) through the board's HTTP API, in at most
    :data:`DESK_SHARE` of her time: claim the oldest open caller, call back, say how it
    went (a withheld number: seen)."""

    def __init__(self, day: OfficeDay, base_url: str, username: str, password: str) -> None:
        self.day = day
        self.base_url = base_url
        self.username = username
        self.password = password
        self.ext = DESKS[username]
        self.spent_s = 0.0

    async def work(self) -> None:
        async with board_client(self.base_url) as http:
            headers = await board_login(http, self.username, self.password)
            while True:
                await asyncio.sleep(5.0)
                if not self._free():
                    continue
                listed = await (await http.get("/api/worklist")).json()
                item = next(
                    (
                        i
                        for i in listed.get("items", [])
                        if i["state"] == "open" and i["claimed_by"] in (None, self.username)
                    ),
                    None,
                )
                if item is None:
                    continue
                started = self.day.now()
                body = {"id": item["id"]}
                claim = await http.post("/api/worklist/claim", json=body, headers=headers)
                if claim.status != 200:
                    log.info(
                        "%s could not claim item %s: %s", self.username, item["id"], claim.status
                    )
                    continue
                if item["withheld"]:
                    outcome = "seen"
                else:
                    await http.post("/api/worklist/call", json=body, headers=headers)
                    outcome = await self._call_back(str(item["e164"]))
                recorded = await http.post(
                    "/api/worklist/outcome", json={**body, "outcome": outcome}, headers=headers
                )
                log.info("%s: item %s %s (%s)", self.username, item["id"], outcome, recorded.status)
                self.spent_s += self.day.now() - started
                self.day.result.desk_s[self.username] = self.spent_s

    def _free(self) -> bool:
        day = self.day
        waiting = any(
            a.queued_at is not None and a.connected_at is None and a.ended_at is None
            for a in day.result.attempts
        )
        busy = any(a.connected_to == self.ext and a.ended_at is None for a in day.result.attempts)
        present = day.result.present_s.get(self.ext, 0.0)
        within = self.spent_s <= DESK_SHARE * present
        return not waiting and not busy and self.ext not in day.away and within

    async def _call_back(self, e164: str) -> str:
        """Her phone rings, then the caller's: "helped" once they talked and the bench
        hung their side up, "no answer" when they were not reached within a minute."""
        local = national(e164)
        started = self.day.now()
        while self.day.now() < started + 60 or local in self.day.reached:
            await asyncio.sleep(1.0)
            talking = any(n in (e164, local) for n in self.day.trunk_legs.values())
            if local in self.day.reached and not talking:
                return "helped"
        return "no answer"


async def board_login(http: aiohttp.ClientSession, username: str, password: str) -> dict[str, str]:
    """Log in to the board as a receptionist would; the headers of her POSTs (CSRF).
    Raises :class:`RuntimeError` when the board did not let her in."""
    await http.post("/login", data={"username": username, "password": password})
    board = await http.get("/board")
    token = re.search(r'name="csrf-token" content="([^"]+)"', await board.text())
    if board.url.path != "/board" or token is None:
        raise RuntimeError(f"the board did not let {username} in ({board.status} {board.url})")
    return {"X-CSRF-Token": token.group(1)}


def board_client(base_url: str) -> aiohttp.ClientSession:
    """A browser's cookie jar: the board is on 127.0.0.1, whose cookies aiohttp's default
    jar refuses (an IP address, not a host name)."""
    return aiohttp.ClientSession(base_url=base_url, cookie_jar=aiohttp.CookieJar(unsafe=True))


def national(number: str) -> str:
    """A Dutch number as the bench's callers carry it (``06…``), from the E.164 form the
    board and the dialler use (``+316…``)."""
    return "0" + number[3:] if number.startswith("+31") else number


def _extension(channel: str) -> str | None:
    match = re.match(r"^PJSIP/(\d+)-", channel)
    return match.group(1) if match else None


# ---------------------------------------------------------------- the two arms


async def run_plain(
    callers: list[Caller], model: Model, *, run_s: float, drain_s: float
) -> ArmResult:
    """The plain arm: the sandbox on the plain set-up's dialplan, nothing of ours."""
    settings = SandboxSettings.from_env()
    with plain_dialplans() as directory:
        await asyncio.to_thread(Sandbox(dataclasses.replace(settings, dialplans=directory)).up)
        try:
            day = OfficeDay(
                Arm.PLAIN, callers, model, run_s=run_s, drain_s=drain_s, settings=settings
            )
            return await day.run()
        finally:
            await asyncio.to_thread(Sandbox(settings).up)


async def run_product(
    callers: list[Caller], model: Model, *, run_s: float, drain_s: float, workdir: Path
) -> ArmResult:
    """The product arm: the shipped dialplan and the whole service, its own database."""
    settings = SandboxSettings.from_env()
    await asyncio.to_thread(Sandbox(settings).up)
    server = await asyncio.to_thread(start_embedded, workdir / "pgdata")
    try:
        config = dataclasses.replace(
            sandbox_config(settings, data_dir=workdir / "pgdata", dsn=server.get_uri(), web_port=0),
            callbacks=CallbacksConfig(offer_from_minutes=1),
        )
        ready: asyncio.Future[Services] = asyncio.get_running_loop().create_future()

        passwords = {username: secrets.token_urlsafe(12) for username in DESKS}

        async def on_ready(services: Services) -> None:
            for username, password in passwords.items():
                await create_user(
                    services.database.pool, username, password, role="receptionist",
                    display_name=username.title(), extension=DESKS[username],
                )  # fmt: skip
            for caller in callers:
                if caller.known:
                    await add_contact(
                        services.database.pool, f"Klant {caller.number[-4:]}", [caller.number],
                        vip=caller.vip,
                    )  # fmt: skip
            ready.set_result(services)

        service = asyncio.create_task(run(config, on_ready=on_ready))
        services = await asyncio.wait_for(asyncio.shield(ready), 60)
        try:
            day = OfficeDay(
                Arm.PRODUCT, callers, model, run_s=run_s, drain_s=drain_s, settings=settings
            )
            day.board = (services.board_url.removesuffix("/board"), passwords)
            return await day.run()
        finally:
            service.cancel()
            await asyncio.gather(service, return_exceptions=True)
    finally:
        await asyncio.to_thread(server.cleanup)


@dataclass
class Reach:
    """Whom an arm reached in the end: every caller with a call not answered (given up,
    sent on, or a callback asked) is reached later (a call of their own answered, a
    callback, a call back from the worklist), still on the worklist with a claim, or
    lost."""

    #: seconds from a caller's first unanswered call to being reached, per reached caller
    delays: list[float] = field(default_factory=list)
    claimed: int = 0
    lost: int = 0
    #: of the lost, those who withheld their number (nobody can call them back)
    lost_withheld: int = 0
    #: callers who called more than once
    repeats: int = 0
    #: callers with a call not answered
    missed: int = 0
    #: of the missed, those answered on an earlier call (neither reached later nor lost)
    answered_before: int = 0


def reached_after_abandon(result: ArmResult) -> Reach:
    """The :class:`Reach` of one arm."""
    reach = Reach()
    for caller in result.callers:
        mine = sorted(
            (a for a in result.attempts if a.caller.number == caller.number),
            key=lambda a: a.placed_at,
        )
        if len(mine) > 1:
            reach.repeats += 1
        missed = [a for a in mine if a.connected_at is None]
        if not missed:
            continue
        reach.missed += 1
        first_miss = missed[0].ended_at or missed[0].placed_at
        answers = [
            a.connected_at for a in mine if a.connected_at is not None and a.placed_at > first_miss
        ]
        called_back = result.called_back_at.get(caller.number)
        candidates = [t for t in (*answers, called_back) if t is not None]
        if candidates:
            reach.delays.append(max(0.0, min(candidates) - first_miss))
        elif any(a.connected_at is not None for a in mine):
            reach.answered_before += 1  # helped once, then a second question missed
        elif caller.number in result.claimed_at_end:
            reach.claimed += 1
        else:
            reach.lost += 1
            reach.lost_withheld += caller.withheld
    return reach


def occupancy(result: ArmResult) -> dict[str, float]:
    return {
        ext: (result.talk_s.get(ext, 0.0) / present) if present else 0.0
        for ext, present in result.present_s.items()
    }

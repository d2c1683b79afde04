"""Callbacks: a caller who asked to be called back keeps their place (issue 14). Pure.

A callback is a *virtual caller*: it keeps the moment its caller first joined the queue
(``joined_at``) and is served in that order among the live callers, with no priority of
its own. Its life is a state machine, kept in PostgreSQL (switchboard.store.callbacks,
which enforces the same transitions in SQL):

    requested -> waiting -> dialling -> connected -> done
                    ^            |            |
                    +-- retry ---+------------+  (not reached, attempts left)
    dialling / connected -> not reached        (no attempts left)
    requested / waiting / dialling -> cancelled (a receptionist, with a reason)
    requested / waiting -> expired             (its day is over unreached)
    waiting -> done                            (the caller called in and was answered)

Only one callback per number and queue is *active* (requested, waiting, dialling,
connected); a second request merges into it and keeps the first one's place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import phonenumbers
from phonenumbers import PhoneNumberType

from switchboard.core.calls.presence import Extension
from switchboard.core.numbers import NumberKind, normalise
from switchboard.core.schedule import OpenState, Schedule


class CallbackError(ValueError):
    """A request or change that is refused; the message says why, for the person."""


class CallbackState(StrEnum):
    REQUESTED = "requested"  # asked for, not yet in line (the caller is confirming)
    WAITING = "waiting"  # in line, a virtual caller
    DIALLING = "dialling"  # a member is being rung, then the caller
    CONNECTED = "connected"  # the caller accepted (pressed 1) and talks with the member
    DONE = "done"
    NOT_REACHED = "not reached"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


#: The states in which a callback holds its number's one place in a queue.
ACTIVE = frozenset(
    {
        CallbackState.REQUESTED,
        CallbackState.WAITING,
        CallbackState.DIALLING,
        CallbackState.CONNECTED,
    }
)

TRANSITIONS: dict[CallbackState, frozenset[CallbackState]] = {
    CallbackState.REQUESTED: frozenset(
        {CallbackState.WAITING, CallbackState.CANCELLED, CallbackState.EXPIRED}
    ),
    CallbackState.WAITING: frozenset(
        {
            CallbackState.DIALLING,
            CallbackState.DONE,
            CallbackState.CANCELLED,
            CallbackState.EXPIRED,
        }
    ),
    CallbackState.DIALLING: frozenset(
        {
            CallbackState.CONNECTED,
            CallbackState.WAITING,
            CallbackState.NOT_REACHED,
            CallbackState.CANCELLED,
        }
    ),
    CallbackState.CONNECTED: frozenset(
        {CallbackState.DONE, CallbackState.WAITING, CallbackState.NOT_REACHED}
    ),
    CallbackState.DONE: frozenset(),
    CallbackState.NOT_REACHED: frozenset(),
    CallbackState.CANCELLED: frozenset(),
    CallbackState.EXPIRED: frozenset(),
}

SOURCES = frozenset({"queue", "web", "board"})
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_QUEUE = re.compile(r"[A-Za-z0-9_.-]{1,79}")
MAX_NAME = 120
MAX_SUBJECT = 200
MAX_REASON = 200


def check_transition(old: CallbackState, new: CallbackState) -> None:
    """Raise CallbackError unless a callback may go from ``old`` to ``new``."""
    if new not in TRANSITIONS[old]:
        raise CallbackError(f"a callback that is {old.value} cannot become {new.value}")


@dataclass(frozen=True)
class RetryPolicy:
    """How often a callback is tried, and how long apart (issue 14: 3 attempts, 5 min)."""

    attempts: int = 3
    interval: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if not 1 <= self.attempts <= 10:
            raise ValueError("attempts must be from 1 to 10")
        if self.interval <= timedelta(0):
            raise ValueError("interval must be positive")


@dataclass(frozen=True)
class AttemptOutcome:
    """Where a callback goes after an attempt that did not reach the caller."""

    state: CallbackState
    not_before: datetime | None  # the next attempt, for WAITING


def after_unreached(attempts_made: int, policy: RetryPolicy, now: datetime) -> AttemptOutcome:
    """An attempt did not reach the caller (no answer, busy, a voicemail that never
    pressed 1): back in line for the next attempt after ``policy.interval``, keeping its
    place, or "not reached" once ``policy.attempts`` were made."""
    if attempts_made >= policy.attempts:
        return AttemptOutcome(CallbackState.NOT_REACHED, None)
    return AttemptOutcome(CallbackState.WAITING, now + policy.interval)


def check_request(queue: str, e164: str, source: str, name: str, subject: str) -> None:
    """Raise CallbackError for a request that cannot be stored as given."""
    if not _QUEUE.fullmatch(queue):
        raise CallbackError("not a queue name")
    if not _E164.fullmatch(e164):
        raise CallbackError("not a phone number in international form")
    if source not in SOURCES:
        raise CallbackError(f"unknown source {source!r}")
    if len(name) > MAX_NAME or len(subject) > MAX_SUBJECT:
        raise CallbackError("name or subject too long")


# -- keeping the place ---------------------------------------------------------------


@dataclass(frozen=True)
class InLine:
    """One caller in a queue's line: live (in Queue()) or virtual (a callback)."""

    key: str  # the call id, or "callback:<id>"
    joined_at: float  # epoch seconds of the first moment in the queue
    virtual: bool
    being_offered: bool = False  # live: a member rings for them; virtual: dialling


def line_up(live: Iterable[InLine], callbacks: Iterable[InLine]) -> list[InLine]:
    """The queue's line: everybody by the moment they first joined; at the same moment a
    live caller first (they are on the line now), then by key for a stable order."""
    return sorted([*live, *callbacks], key=lambda c: (c.joined_at, c.virtual, c.key))


def callbacks_ahead(line: Sequence[InLine], key: str) -> int:
    """How many callbacks wait ahead of ``key`` in ``line``: they count in the place and
    wait announced to a live caller (wait_estimate's ``extra_ahead``)."""
    ahead = 0
    for entry in line:
        if entry.key == key:
            return ahead
        ahead += entry.virtual
    return ahead


def to_dispatch(line: Sequence[InLine], free_members: int) -> list[InLine]:
    """The callbacks to start dialling now, given ``free_members`` members who are idle
    (not talking, not ringing). The idle members are given out in line order: a live
    caller ahead takes one (app_queue offers it to them), and a callback whose turn it is
    takes one; an entry already being offered holds a ringing member, not an idle one.
    So never more callbacks dial at once than members are free, and none overtakes a
    live caller who joined before it."""
    free = free_members
    chosen: list[InLine] = []
    for entry in line:
        if entry.being_offered:
            continue
        if free <= 0:
            break
        free -= 1
        if entry.virtual:
            chosen.append(entry)
    return chosen


# -- the number to call back -----------------------------------------------------------


@dataclass(frozen=True)
class NumberPolicy:
    """Which numbers the site calls back: never premium-rate ones; international ones
    only when ``international``; never those starting with a ``blocked`` E.164 prefix
    ("+31900"). ``region``: where numbers without a country code are read."""

    region: str = "NL"
    international: bool = True
    blocked: tuple[str, ...] = ()


@dataclass(frozen=True)
class NumberCheck:
    """``status``: "ok", "invalid" (not a number we can dial) or "refused" (the policy
    forbids it; ``reason`` says why). ``say``: the digits to read back, as the caller
    writes them ("0612345678", "+442079460123")."""

    status: str
    e164: str = ""
    say: str = ""
    reason: str = ""


def check_number(raw: str, policy: NumberPolicy) -> NumberCheck:
    """Whether the site may call ``raw`` back (a caller ID, digits the caller typed, a
    web form's field: attacker-controlled, never raises)."""
    number = normalise(raw, policy.region)
    if number.kind is not NumberKind.PUBLIC or number.e164 is None:
        return NumberCheck("invalid", reason="not a phone number we can call")
    parsed = phonenumbers.parse(number.e164, None)
    if not phonenumbers.is_valid_number(parsed):
        return NumberCheck("invalid", reason="not a phone number we can call")
    region = phonenumbers.region_code_for_number(parsed)
    kind = phonenumbers.number_type(parsed)
    if kind in (PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST):
        return NumberCheck("refused", number.e164, reason="a premium-rate number")
    if any(number.e164.startswith(prefix) for prefix in policy.blocked):
        return NumberCheck("refused", number.e164, reason="a number the site does not call")
    if region != policy.region and not policy.international:
        return NumberCheck("refused", number.e164, reason="an international number")
    if region == policy.region:
        national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        say = "".join(c for c in national if c.isdigit())
    else:
        say = number.e164
    return NumberCheck("ok", number.e164, say)


def free_members(extensions: Iterable[Extension], queue: str) -> list[str]:
    """The extensions that could take a callback of ``queue`` now: members not paused,
    their phone idle and their person available (not DND, not away); by extension."""
    free = []
    for extension in extensions:
        member = next((m for m in extension.queues if m.queue == queue), None)
        if member is None or member.paused or extension.device != "idle":
            continue
        if extension.shown != "available":
            continue
        free.append(extension.extension)
    return sorted(free)


def first_dial(
    now: datetime, minutes: int | None, state: OpenState | None, schedule: Schedule | None
) -> datetime | None:
    """When a callback asked for ``now`` may first be dialled, if not now: closed, the
    next opening; open, with its expected wait (``minutes``) running to the closing time
    or past it, the opening after that closing (the caller is told so). None: now. With
    no schedule the line is always open."""
    if state is None:
        return None
    if not state.open:
        return state.next_open
    closes = state.until
    if minutes is None or closes is None or now + timedelta(minutes=minutes) < closes:
        return None
    if schedule is None:
        return None
    return schedule.state_at(closes, None).next_open

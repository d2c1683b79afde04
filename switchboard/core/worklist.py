"""The missed-call worklist (issue 15): which calls add to it, what resolves it, what
escalates. Pure; switchboard.store.worklist keeps it in PostgreSQL.

One open item per caller number (E.164: ``06…`` and ``+316…`` are one) and queue group
(the queue the caller came through; "" when they reached none). Every missed or abandoned
call from that number adds an attempt, and so does a callback that did not reach them.
A withheld caller has nothing to call back: their calls gather in the group's item
without a number, counted, never dialled.

An item resolves by itself, and says how: the caller calls in again and is answered,
anybody talks with the number for 10 s or more, or a callback reaches them. Or a
receptionist records an outcome that closes it. Items never expire.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from switchboard.core.calls.model import Call, CallOutcome

#: A call to the number of at least this long (answered to hung up) reached them.
TALKED_S = 10.0
#: The callback dialler's own calls (ami_bridge.callback_dialer): the callbacks table
#: follows those, not the journal (its member leg shows the caller's number).
CALLBACK_CALL_PREFIX = "sb-callback-"
#: The worklist's own call-backs from the board: ``sb-worklist-<item>-<hex>``.
WORKLIST_CALL_PREFIX = "sb-worklist-"


class Outcome(Enum):
    """What a receptionist records after calling back."""

    HELPED = "helped"  # reached and helped
    PASSED_ON = "passed on"  # reached and passed to a colleague
    NO_ANSWER = "no answer"
    VOICEMAIL = "voicemail"  # voicemail left
    WRONG_NUMBER = "wrong number"
    SEEN = "seen"  # the withheld callers' item: nothing to call back, seen and counted

    @property
    def closes(self) -> bool:
        return self in _CLOSING


_CLOSING = frozenset({Outcome.HELPED, Outcome.PASSED_ON, Outcome.WRONG_NUMBER, Outcome.SEEN})


class AttemptKind(Enum):
    ABANDONED = "abandoned"
    MISSED = "missed"
    CALLBACK_NOT_REACHED = "callback not reached"


@dataclass(frozen=True)
class Attempt:
    """A call that adds to the item of ``e164`` (None: withheld) in ``group``."""

    e164: str | None
    group: str
    kind: AttemptKind
    at: float  # when the call ended
    waited_s: float
    place: int  # its last place in the queue (0: never in one)
    step: str  # the last fallback step it reached ("" for none)
    callback_attempts: int = 0  # a callback that did not reach them: its attempts


@dataclass(frozen=True)
class Resolution:
    """A call that resolves the open items of ``e164`` (or the one item ``item`` its
    call-back from the board carries): ``how`` in the board's words (English; the
    board translates), by whom, through which call."""

    e164: str | None
    how: str
    by: str
    call: str
    item: int | None = None


@dataclass(frozen=True)
class Escalation:
    """``[worklist]``: an item escalates (shown first, marked) after ``attempts`` calls or
    when its first call is older than ``after``."""

    attempts: int = 3
    after: timedelta = timedelta(minutes=30)


def missed_attempt(call: Call, direction: str, outside_e164: str | None) -> Attempt | None:
    """The attempt an ended inbound call adds, if nobody answered it; None otherwise
    (answered, internal or outbound, still up, a callback of ours, or a caller whose
    callback request was stored (``Call.callback_asked``): the callbacks follow that one,
    and hand it here if it fails). A caller who hung up while being offered a callback,
    before it was stored, is missed like any other."""
    if (
        call.ended_at is None
        or call.answered_at is not None
        or direction != "inbound"
        or call.linked_id.startswith(CALLBACK_CALL_PREFIX)
        or call.outcome not in (CallOutcome.ABANDONED, CallOutcome.MISSED)
        or call.callback_asked
    ):
        return None
    step = call.fallback[-1].step if call.fallback else ""
    joined = call.queued_at if call.queued_at is not None else call.started_at
    return Attempt(
        e164=outside_e164,
        group=call.via_queue[:80],
        kind=AttemptKind.ABANDONED if call.outcome == CallOutcome.ABANDONED else AttemptKind.MISSED,
        at=call.ended_at,
        waited_s=max(0.0, call.ended_at - joined),
        place=call.place,
        step=step,
    )


def resolution(call: Call, direction: str, outside_e164: str | None) -> Resolution | None:
    """Whether this call (as journalled now) resolves the open items of its number: the
    caller called in again and was answered (at once, while they talk), or a call out to
    the number talked for :data:`TALKED_S` or more (once it ended)."""
    if call.answered_at is None:
        return None
    item = worklist_call_item(call.linked_id)
    if item is not None:
        # The board's call-back (the receptionist's phone first, then the number): the
        # call is answered once the number answers and is bridged with the phone.
        if call.ended_at is not None and call.ended_at - call.answered_at >= TALKED_S:
            return Resolution(None, "called back", call.caller_number, call.linked_id, item)
        return None
    if outside_e164 is None or call.linked_id.startswith(CALLBACK_CALL_PREFIX):
        return None  # the callbacks resolve their own (store.callbacks.finish_attempt)
    if direction == "inbound":
        return Resolution(
            outside_e164, "answered when they called again", call.answered_by, call.linked_id
        )
    if direction == "outbound" and call.ended_at is not None:
        talked = call.ended_at - call.answered_at
        if talked >= TALKED_S:
            return Resolution(outside_e164, "called back", call.caller_number, call.linked_id)
    return None


def worklist_call_item(linked_id: str) -> int | None:
    """The worklist item a call-back from the board carries in its channel id."""
    if not linked_id.startswith(WORKLIST_CALL_PREFIX):
        return None
    number = linked_id[len(WORKLIST_CALL_PREFIX) :].split("-", 1)[0]
    return int(number) if number.isdigit() and len(number) <= 18 else None


def outcome_fits(withheld: bool, outcome: Outcome) -> bool:
    """A withheld caller's item is only ever seen (there is nothing to call back); a
    number's item is never just seen."""
    return withheld == (outcome is Outcome.SEEN)


def resolved_by_own_call(item_id: int, resolved_call: str) -> bool:
    """Whether the board's own call-back for ``item_id`` resolved it (10 s with the
    number: its holder still says how it went, a voicemail greeting is as long)."""
    return resolved_call.startswith(f"{WORKLIST_CALL_PREFIX}{item_id}-")


def escalated(attempts: int, opened_at: datetime, now: datetime, rule: Escalation) -> bool:
    return attempts >= rule.attempts or now - opened_at > rule.after


def holder(is_open: bool, claimed_by: str | None, lapsed: bool) -> str | None:
    """Who holds an item now: an open item's claim that ran out is nobody's; a resolved
    one keeps its last holder (who may still say how their call went)."""
    if claimed_by is None or (is_open and lapsed):
        return None
    return claimed_by


def list_order(
    is_open: bool, is_escalated: bool, opened_at: datetime, resolved_at: datetime | None
) -> tuple[int, float]:
    """The board's order: open items first, the escalated ones first of all, then the
    oldest; then the resolved ones, the latest first."""
    if is_open:
        return (0 if is_escalated else 1, opened_at.timestamp())
    return (2, -(resolved_at or opened_at).timestamp())


SHORT_ABANDON_S = 5.0


def short_abandon(kind: AttemptKind, waited_s: float, limit_s: float = SHORT_ABANDON_S) -> bool:
    """An abandon under 5 s: flagged ("hung up within 5 s"), never hidden."""
    return kind is AttemptKind.ABANDONED and waited_s < limit_s

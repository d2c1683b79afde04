"""Service levels (issue 15): how each call counts, and the figures of a set of calls.

The research's norm: a caller is answered within 15 seconds. The figure is

    answered within the threshold / (answered + abandoned after 5 s + sent on)

counted from the call's first moment in a queue, across the fallback chain (a caller the
back office answers after 40 s was answered, late). A caller who hangs up within 5 s is
counted apart ("hung up within 5 s": a wrong number, a second thought), neither good nor
bad. Only calls that reached a queue count: the dialplan sends a caller who calls while
closed (opening hours, an override) down the closed route, never into a queue, so the
figure is the opening hours' by the PBX's own decision at that moment.

:func:`classify` is what the journal stores with each call (``calls.sl_kind``,
``calls.sl_wait_s``: an answered call from its answer, another once it ended);
:func:`tally` counts a set of classified calls. The report's SQL
(switchboard.store.calls.service_level_rows) counts the same stored columns the same way,
for speed over a year of journal; a test holds the two to the same numbers. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from switchboard.core.calls.model import Call, CallOutcome


class Counted(Enum):
    ANSWERED = "answered"  # by anybody, after any fallback step
    ABANDONED = "abandoned"  # the caller hung up unanswered (short or not: see Thresholds)
    SENT_ON = "sent on"  # the fallback chain (or the PBX) ended it unanswered


@dataclass(frozen=True)
class Classified:
    """How one call counts: its kind and its wait from the first moment in a queue (for
    a call the fallback chain sent on: until the queue gave it up; for one that asked
    for a callback: until it ended)."""

    kind: Counted
    wait_s: float


@dataclass(frozen=True)
class Thresholds:
    """``[service_level]``: answered within ``answer_within_s`` is good, an abandon under
    ``short_abandon_s`` is counted apart; ``target`` is the share the site aims at."""

    answer_within_s: float = 15.0
    short_abandon_s: float = 5.0
    target: float = 0.8


def classify(call: Call) -> Classified | None:
    """How a call counts: from its answer, or once it ended unanswered; None for one that
    still waits, that never queued, or that the closed route took (not in opening
    hours)."""
    if call.queued_at is None or call.fallback_reason == "closed":
        return None
    if call.answered_at is not None:
        return Classified(Counted.ANSWERED, max(0.0, call.answered_at - call.queued_at))
    if call.ended_at is None:
        return None
    if call.fallback:
        # The queue gave the caller up at the chain's first step; what came after
        # (voicemail, an operator nobody answered) does not make it the caller's choice.
        return Classified(Counted.SENT_ON, max(0.0, call.fallback[0].at - call.queued_at))
    # A caller who asked to be called back and hung up did not give up: the queue sent
    # them on to the callbacks, as the fallback chain's callback step does.
    abandoned = call.outcome == CallOutcome.ABANDONED and not call.callback_asked
    kind = Counted.ABANDONED if abandoned else Counted.SENT_ON
    return Classified(kind, max(0.0, call.ended_at - call.queued_at))


@dataclass(frozen=True)
class Tally:
    """The counts of one interval (or one day, or one queue)."""

    answered: int = 0
    answered_in_time: int = 0
    abandoned: int = 0  # after the short-abandon threshold
    short_abandons: int = 0
    sent_on: int = 0

    def __add__(self, other: Tally) -> Tally:
        """Two intervals' counts together (the counts add; the ratios are recomputed)."""
        return Tally(
            self.answered + other.answered,
            self.answered_in_time + other.answered_in_time,
            self.abandoned + other.abandoned,
            self.short_abandons + other.short_abandons,
            self.sent_on + other.sent_on,
        )

    @property
    def counted(self) -> int:
        """The figure's denominator: answered + abandoned after 5 s + sent on."""
        return self.answered + self.abandoned + self.sent_on

    @property
    def arrivals(self) -> int:
        return self.counted + self.short_abandons

    @property
    def service_level(self) -> float | None:
        """Answered within the threshold over the counted calls; None when none."""
        return self.answered_in_time / self.counted if self.counted else None

    @property
    def abandon_rate(self) -> float | None:
        """Abandoned after the short threshold over the counted calls; None when none."""
        return self.abandoned / self.counted if self.counted else None


def tally(calls: Iterable[Classified], thresholds: Thresholds) -> Tally:
    """Count classified calls as the figure defines them."""
    answered = in_time = abandoned = short = sent_on = 0
    for call in calls:
        if call.kind is Counted.ANSWERED:
            answered += 1
            in_time += call.wait_s <= thresholds.answer_within_s
        elif call.kind is Counted.ABANDONED:
            if call.wait_s < thresholds.short_abandon_s:
                short += 1
            else:
                abandoned += 1
        else:
            sent_on += 1
    return Tally(answered, in_time, abandoned, short, sent_on)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` percentile by linear interpolation between the closest ranks, as
    PostgreSQL's ``percentile_cont`` computes it; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class Standing(Enum):
    """The live figure against the target, as the board colours it (with words too)."""

    MET = "met"
    CLOSE = "close"  # within 10 points under the target
    MISSED = "missed"
    NONE = "none"  # nothing counted yet


def standing(level: float | None, target: float) -> Standing:
    if level is None:
        return Standing.NONE
    if level >= target:
        return Standing.MET
    return Standing.CLOSE if level >= target - 0.1 else Standing.MISSED

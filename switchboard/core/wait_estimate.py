"""What a caller waiting in a queue hears about their place and their wait (issue 13).

Three pure pieces, every one given the time (``now``, epoch seconds) by its caller:

- ``HandleTimes`` remembers how long members were busy with answered calls (answered to
  ended) over the last ``window_s``, and the wait of the last caller a member answered.
- ``expected_wait`` turns that, a caller's place and the number of members who can answer
  into a ``WaitEstimate``: the wait still ahead of the caller, from now.
- ``announcement`` decides whether the caller hears something now and what: their place,
  the minutes, both, or nothing; ``CallerState.after`` is what the caller must remember.

What the announced figure means
-------------------------------
"About N minutes" is the wait still ahead *from the moment it is said*, not the total
since the caller joined: so it can never be a figure the caller has already waited past.
N is the ``percentile`` (0.8) of that remaining wait, rounded up to whole minutes, at
least 1 (a caller who is still waiting is never told 0) and, above ``max_minutes``,
"more than 15 minutes".

How the percentile is computed
------------------------------
The caller at place p (``ahead`` = p - 1, plus ``extra_ahead`` virtual callers such as
callbacks waiting their turn) is answered when n = ahead + extra_ahead + 1 calls have been
handled by the m members who can answer. That work is modelled as the sum of n handle
times like the window's, shared by m members: its mean is n * mu and its variance
n * sigma^2 (mu, sigma: the window's mean and sample standard deviation), and the
percentile is read from the lognormal distribution with that mean and variance (the
Fenton-Wilkinson approximation of a sum of skewed durations), divided by m. Why this:

- Sums add means, not medians: handle times are skewed to the right (a few long calls), so
  n/m * median understates the wait of a caller far back. The median stays in
  ``expected_s``, the issue's "typical" figure, which the percentile never falls below.
- Handle times are close to lognormal, and a normal curve with their mean and deviation
  overstates the upper percentiles of one or two calls: for the bench's handle times
  (median 3 min, sigma 0.8), mean + 0.84 sd is 7.4 minutes where 80 % of the calls take
  under 5.9. The lognormal with the same two moments gives 5.9 for one call and tends to
  the normal curve as n grows, where the sum is no longer skewed.
- It is monotone: a caller further back never hears a shorter wait (for that the
  percentile must be in [0.5, 0.99], hence the check in ``WaitSettings``).

With fewer than ``min_samples`` handle times in the window (the issue's 10 in 30 minutes
is a busy hour for 2 or 3 members: a quiet queue lives here) the estimate falls back to
the wait of the last caller a member answered, as ``expected_s``, and announces something
more conservative than the model above: from the handle times there are (at least 2), the
same lognormal with the mean's own error added to the variance, sigma^2 * (n + n^2 / k)
for k calls known (what predicting n new calls from k old ones takes); from one call, n
times that call; and never less than the last caller's wait. With no handle time and no
answered caller at all, and when no member can answer, there is no estimate and no
minutes are said.

That design is the second: the first read the percentile off the normal curve, and in
the fallback took n/m times the longest handle time in the window. ``bench/wait_estimate.py``
measured it too cautious (seed 13, 20,000 calls per load: 4-6 % of callers waited longer
than told, against the 20 % meant, and the figure was 2.6-4.9 minutes off on average);
this one has 7-9 % and 2.0-3.5 minutes, app_queue's own announcement 35-50 % and 1.1-1.6
minutes on the moments it speaks. Callers giving up ahead, and the error of rounding up,
keep it under 20 %.

The model leaves out what switchboard does not know yet: how long the members' current
calls have lasted, and callers who will give up ahead of this one (they make the real
wait shorter, so leaving them out errs on the safe side).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, replace
from typing import Literal

#: Handle times remembered at most, whatever the window: a queue taking a call a second
#: for 30 minutes stays within this, and memory stays bounded if the clock jumps.
MAX_ENTRIES = 10_000

Basis = Literal["handle times", "last wait"]


@dataclass(frozen=True)
class WaitSettings:
    """One queue's announcement settings; the defaults are issue 13's.

    ``first_after_s``: seconds after joining before the first announcement.
    ``every_s``: seconds at least between two announcements.
    ``max_position``: places above this are said as "more than ``max_position``".
    ``max_minutes``: waits above this are said as "more than ``max_minutes`` minutes".
    ``window_s``: how far back handle times count (by the time the call ended); give it
    to the queue's ``HandleTimes``, which does the counting.
    ``min_samples``: handle times needed in the window before their spread is trusted.
    ``percentile``: which quantile of the remaining wait is announced, in [0.5, 0.99].
    ``announce``: whether the queue's callers hear anything at all (the board still shows
    the estimate).
    """

    first_after_s: float = 20.0
    every_s: float = 60.0
    max_position: int = 10
    max_minutes: int = 15
    window_s: float = 1800.0
    min_samples: int = 10
    percentile: float = 0.8
    announce: bool = True

    def __post_init__(self) -> None:
        if self.first_after_s < 0 or self.every_s <= 0 or self.window_s <= 0:
            raise ValueError("first_after_s must be >= 0, every_s and window_s > 0")
        if self.max_position < 1 or self.max_minutes < 1 or self.min_samples < 1:
            raise ValueError("max_position, max_minutes and min_samples must be >= 1")
        # Outside these, a caller further back could be told a shorter wait (see the
        # module's docstring).
        if not 0.5 <= self.percentile <= 0.99:
            raise ValueError("percentile must be in [0.5, 0.99]")


DEFAULT_SETTINGS = WaitSettings()


@dataclass(frozen=True)
class HandleSummary:
    """The handle times in the window: how many, and their median, mean, spread, longest."""

    count: int
    median_s: float
    mean_s: float
    sd_s: float
    longest_s: float


class HandleTimes:
    """How long members were busy with the calls that ended within the last ``window_s``.

    Feed it the queue's events in the order they happen: ``answered`` when a member answers
    a waiting caller, ``ended`` when that call ends. A handle time counts from its
    ``ended_at``: by the answer time, the window would hold only the recent calls that are
    already over, the short ones, and understate handle times. Entries are dropped once
    older than the window, and beyond ``max_entries`` the oldest go first.
    """

    def __init__(self, window_s: float = 1800.0, max_entries: int = MAX_ENTRIES) -> None:
        if window_s <= 0 or max_entries < 1:
            raise ValueError("window_s must be > 0 and max_entries >= 1")
        self.window_s = window_s
        self.max_entries = max_entries
        # (ended_at, handle seconds), oldest end first.
        self._entries: deque[tuple[float, float]] = deque()
        self._last_wait: tuple[float, float] | None = None  # (answered_at, waited_s)
        self._summary: HandleSummary | None = None
        self._stale = True

    def answered(self, *, at: float, waited_s: float) -> None:
        """A member answered a caller who had waited ``waited_s`` seconds in the queue.

        Only the latest (by ``at``) is kept, however old: it is the fallback's figure.
        """
        if waited_s < 0:
            raise ValueError("waited_s must be >= 0")
        if self._last_wait is None or at >= self._last_wait[0]:
            self._last_wait = (at, waited_s)

    def ended(self, *, answered_at: float, ended_at: float) -> None:
        """An answered call ended: the member was busy with it for ended - answered."""
        if ended_at < answered_at:
            raise ValueError("ended_at is before answered_at")
        entry = (ended_at, ended_at - answered_at)
        if not self._entries or ended_at >= self._entries[-1][0]:
            self._entries.append(entry)
        else:
            # Events a little out of order: keep the deque sorted so pruning stays exact.
            at = len(self._entries)
            while at > 0 and self._entries[at - 1][0] > ended_at:
                at -= 1
            self._entries.insert(at, entry)
        while len(self._entries) > self.max_entries:
            self._entries.popleft()
        self._stale = True

    @property
    def last_wait_s(self) -> float | None:
        """The wait of the caller answered last, or None before anybody was answered."""
        return None if self._last_wait is None else self._last_wait[1]

    def __len__(self) -> int:
        """Handle times held (some may be older than the window until the next summary)."""
        return len(self._entries)

    def summary(self, now: float) -> HandleSummary | None:
        """The handle times of calls that ended in (now - window_s, now]; None if none."""
        horizon = now - self.window_s
        while self._entries and self._entries[0][0] <= horizon:
            self._entries.popleft()
            self._stale = True
        if self._stale:
            self._summary = _summarise([handle for _, handle in self._entries])
            self._stale = False
        return self._summary


def _summarise(handles: list[float]) -> HandleSummary | None:
    if not handles:
        return None
    mean = math.fsum(handles) / len(handles)
    # statistics.stdev works in exact fractions: ten times slower, and floats are plenty.
    squares = math.fsum((handle - mean) ** 2 for handle in handles)
    sd = math.sqrt(squares / (len(handles) - 1)) if len(handles) > 1 else 0.0
    return HandleSummary(len(handles), statistics.median(handles), mean, sd, max(handles))


@dataclass(frozen=True)
class WaitEstimate:
    """The wait ahead of one caller, in seconds from now.

    ``expected_s``: the issue's formula, (callers ahead + 1) / members x median handle
    time, or the last answered caller's wait when the window holds too few calls.
    ``percentile_s``: the settings' percentile of the remaining wait (see the module's
    docstring): the figure announced, never below ``expected_s``.
    ``basis``: which of the two the estimate rests on.
    """

    expected_s: float
    percentile_s: float
    basis: Basis


def expected_wait(
    handle_times: HandleTimes,
    *,
    ahead: int,
    members: int,
    now: float,
    settings: WaitSettings = DEFAULT_SETTINGS,
    extra_ahead: int = 0,
) -> WaitEstimate | None:
    """The wait still ahead of a caller with ``ahead`` callers in front of them, from now.

    ``members``: members who can answer this queue now (logged in, not paused), busy or
    not. ``extra_ahead``: callers who will be served first without being in the queue
    (callbacks waiting their turn). None when no member can answer or nothing is known
    yet: then no minutes are said. How the figures are made: the module's docstring.
    """
    if ahead < 0 or extra_ahead < 0 or members < 0:
        raise ValueError("ahead, extra_ahead and members must be >= 0")
    if members == 0:
        return None
    calls = ahead + extra_ahead + 1
    window = handle_times.summary(now)
    last_wait = handle_times.last_wait_s
    if window is None:
        if last_wait is None:
            return None
        return WaitEstimate(last_wait, last_wait, "last wait")
    if window.count >= settings.min_samples:
        typical = calls / members * window.median_s
        work = _sum_quantile(window, calls, settings.percentile, mean_known=True)
        return WaitEstimate(typical, max(typical, work / members), "handle times")
    expected = calls / members * window.median_s if last_wait is None else last_wait
    if window.count >= 2:
        work = _sum_quantile(window, calls, settings.percentile, mean_known=False)
    else:
        # One call: no spread at all; that call's length, per place, is all there is.
        work = calls * window.longest_s
    return WaitEstimate(expected, max(expected, work / members), "last wait")


def _sum_quantile(
    window: HandleSummary, calls: int, percentile: float, *, mean_known: bool
) -> float:
    """The ``percentile`` of the sum of ``calls`` handle times like the window's.

    A lognormal with the sum's mean and variance (Fenton-Wilkinson). Unless
    ``mean_known``, the variance also carries the error of a mean taken from few calls:
    predicting a sum of n new calls from k, var = sigma^2 * (n + n^2 / k).
    """
    mean = calls * window.mean_s
    if mean <= 0:
        return 0.0
    variance = window.sd_s**2 * (calls if mean_known else calls + calls**2 / window.count)
    log_variance = math.log1p(variance / mean**2)
    z = statistics.NormalDist().inv_cdf(percentile)
    return math.exp(math.log(mean) - log_variance / 2 + z * math.sqrt(log_variance))


def announced_minutes(estimate: WaitEstimate, settings: WaitSettings) -> tuple[int, bool]:
    """The minutes to say for ``estimate``, and whether to say them as "more than".

    The percentile rounded up to whole minutes, at least 1; above ``max_minutes``,
    (``max_minutes``, True) for "more than 15 minutes".
    """
    # Rounded first so that 180.0000001 s of float noise is 3 minutes, not 4.
    minutes = max(1, math.ceil(round(estimate.percentile_s / 60, 6)))
    if minutes > settings.max_minutes:
        return settings.max_minutes, True
    return minutes, False


@dataclass(frozen=True)
class Announcement:
    """What a caller hears now.

    ``position``: the place to say (1 = next), or with ``more_than_positions`` the
    ``max_position`` of "more than 10 callers are ahead"; None: the place is not said.
    ``minutes``: the wait to say, or with ``more_than_minutes`` the ``max_minutes`` of
    "more than 15 minutes"; None: no wait is said (nothing is known).
    """

    position: int | None
    more_than_positions: bool
    minutes: int | None
    more_than_minutes: bool


@dataclass(frozen=True)
class CallerState:
    """One waiting caller: where they are now, and what they were told so far.

    ``position`` (1 = next) and ``ringing`` (a member is being rung for this caller) are
    the queue's live facts: update them with ``dataclasses.replace``. The ``said_*``
    fields are the memory ``after`` keeps; a new caller starts with none.
    """

    joined_at: float
    position: int
    ringing: bool = False
    announced_at: float | None = None
    said_position: int | None = None
    said_more_than_positions: bool = False
    said_minutes: int | None = None
    said_more_than_minutes: bool = False
    said_minutes_at: float | None = None

    def __post_init__(self) -> None:
        if self.position < 1:
            raise ValueError("position must be >= 1")

    def due_at(self, settings: WaitSettings) -> float:
        """When this caller may hear something next (unless a member is being rung)."""
        if self.announced_at is None:
            return self.joined_at + settings.first_after_s
        return self.announced_at + settings.every_s

    def after(self, said: Announcement, now: float) -> CallerState:
        """This caller once ``said`` was played to them at ``now``."""
        position, more_than_positions = self.said_position, self.said_more_than_positions
        if said.position is not None:
            if said.more_than_positions:
                more_than_positions = True
            else:
                position = said.position
        minutes, more_than_minutes = self.said_minutes, self.said_more_than_minutes
        minutes_at = self.said_minutes_at
        if said.minutes is not None:
            minutes, more_than_minutes, minutes_at = said.minutes, said.more_than_minutes, now
        return replace(
            self,
            announced_at=now,
            said_position=position,
            said_more_than_positions=more_than_positions,
            said_minutes=minutes,
            said_more_than_minutes=more_than_minutes,
            said_minutes_at=minutes_at,
        )


def announcement(
    settings: WaitSettings, caller: CallerState, estimate: WaitEstimate | None, now: float
) -> Announcement | None:
    """What ``caller`` hears at ``now``, or None for nothing (music goes on).

    When: never while a member is being rung for the caller (the member may answer in the
    middle of it); the first ``first_after_s`` after joining, or as soon as the ringing
    stops after that; later ones ``every_s`` at least after the previous one. Call it as
    often as you like: it says when something may be said.

    What, once it may speak:

    - The place, when it is news: on the first announcement, and later only when it is at
      most ``max_position`` and smaller than the last place said. Above ``max_position`` it
      is "more than 10", said once: a caller pushed back (priority callers) or still far
      back hears nothing about it.
    - The minutes (``estimate`` as ``announced_minutes`` says them) with every place said,
      and on their own when they changed, or when the caller has waited past the minutes
      they were told last: that promise has run out, so they hear the new figure even if it
      is the same number.
    - Nothing when neither the place nor the minutes are news: repeating "3 minutes" every
      minute would sound like the queue is stuck.

    ``estimate`` is ``expected_wait`` for this caller's place; None leaves the minutes out.
    """
    if caller.ringing or now < caller.due_at(settings):
        return None

    position: int | None = None
    more_than_positions = False
    if caller.position > settings.max_position:
        if caller.said_position is None and not caller.said_more_than_positions:
            position, more_than_positions = settings.max_position, True
    elif caller.said_position is None or caller.position < caller.said_position:
        position = caller.position

    minutes: int | None = None
    more_than_minutes = False
    minutes_news = False
    if estimate is not None:
        minutes, more_than_minutes = announced_minutes(estimate, settings)
        if caller.said_minutes is None or caller.said_minutes_at is None:
            minutes_news = True
        else:
            changed = (minutes, more_than_minutes) != (
                caller.said_minutes,
                caller.said_more_than_minutes,
            )
            run_out = now >= caller.said_minutes_at + caller.said_minutes * 60
            minutes_news = changed or run_out

    if position is None and not minutes_news:
        return None
    return Announcement(position, more_than_positions, minutes, more_than_minutes)

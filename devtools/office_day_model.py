"""Who calls during an office day, and how they behave: the model of ``bench/office_day.py``.

Pure and seeded: :func:`population` draws every random number up front (common random
numbers: both arms of the bench meet the same callers with the same patience, talk and
redials). The model, with where its numbers come from (``assumed`` where no source was
found; every number is a parameter of :class:`Model`):

* **Arrivals**: a non-homogeneous Poisson process over the office day 08:30-17:00, made by
  thinning (Lewis & Shedler 1979, Naval Research Logistics Quarterly 26(3)). Its shape, a
  morning peak, a lunch dip and a smaller afternoon peak, is what Brown et al. 2005
  ("Statistical analysis of a telephone call center", JASA 100(469)) and Gans, Koole &
  Mandelbaum 2003 (M&SOM 5(2)) find; the knots of :data:`DAY_PROFILE` are assumed. The
  day is compressed into the run only in the arrival pattern and the staff's schedule:
  waits, patience, ringing and talk are real seconds.
* **Patience**: each attempt has an impatience budget E ~ Exp(1) spent at 1/90 s while the
  caller hears only music and at 1/240 s once told their place in line (Munichor &
  Rafaeli 2007, "Numbers or apologies?", J. Applied Psychology 92(2): of callers held about
  108 s, 70 % with music only hung up and 36 % told their place; exponential fits give
  90 s and 242 s). VIPs are 1.5 times as patient (priority callers are more patient: Gans,
  Koole & Mandelbaum 2003; the factor is assumed).
* **Redials**: a caller who hung up unanswered calls again with probability 0.7, after a
  second time 0.5, at most three attempts, after 30 s + Exp(150 s) (assumed; modelled as in
  Ding et al. 2013, arXiv:1311.6248). A caller already reached (a callback, a call back
  from the worklist) does not. "About half must call more than once" (Dutch customer
  contact studies: 40 % need more than three contacts, Aspect via Adformatie) is what the
  bench measures, not an input.
* **Who**: 60 % known contacts, 5 % VIPs, 7 % withheld numbers, 35 % of those with a
  number accept a callback offer (all assumed).
* **Talk**: lognormal (Brown et al. 2005), median 120 s, sigma 0.8, capped at 15 minutes
  (parameters assumed); a callback or a call back from the worklist median 60 s, sigma 0.6.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

#: The office day, in hours on the clock.
DAY_START_H = 8.5
DAY_END_H = 17.0
#: (hour, share of the peak rate): the day's shape, linear in between.
DAY_PROFILE: tuple[tuple[float, float], ...] = (
    (8.5, 0.35), (9.0, 0.60), (10.0, 1.00), (11.0, 0.90), (12.0, 0.70), (12.5, 0.50),
    (13.0, 0.45), (13.5, 0.60), (14.5, 0.80), (15.5, 0.75), (16.5, 0.45), (17.0, 0.30),
)  # fmt: skip
#: Attempts a caller makes at most (the first and two redials).
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Model:
    """Every parameter of the callers' behaviour (see the module's docstring)."""

    peak_per_minute: float = 1.2
    patience_music_s: float = 90.0
    patience_told_s: float = 240.0
    vip_patience: float = 1.5
    redial: tuple[float, ...] = (0.7, 0.5)
    redial_after_s: float = 30.0
    redial_mean_s: float = 150.0
    known_share: float = 0.60
    vip_share: float = 0.05
    withheld_share: float = 0.07
    accepts_callback_share: float = 0.35
    talk_median_s: float = 120.0
    talk_sigma: float = 0.8
    talk_max_s: float = 900.0
    callback_talk_median_s: float = 60.0
    callback_talk_sigma: float = 0.6


@dataclass(frozen=True)
class Attempt:
    """One call of a caller, with what chance decided for it beforehand."""

    #: impatience budget, Exp(1): see :func:`patience_deadline`
    budget: float
    talk_s: float
    #: whether the caller calls again when this call ends unanswered (uniform draw)
    redial_draw: float
    #: seconds after this call's end when the next one is placed
    redial_after_s: float


@dataclass(frozen=True)
class Caller:
    number: str
    #: seconds after the start of the run of the first call
    first_call_s: float
    known: bool
    vip: bool
    withheld: bool
    accepts_callback: bool
    attempts: tuple[Attempt, ...]
    #: how long they talk when called back (a callback or the worklist)
    called_back_talk_s: float

    def calls_again(self, attempt: int, model: Model) -> bool:
        """Whether the caller calls again after their ``attempt`` (0-based) ended
        unanswered."""
        if attempt + 1 >= min(MAX_ATTEMPTS, len(self.attempts)):
            return False
        share = model.redial[attempt] if attempt < len(model.redial) else 0.0
        return self.attempts[attempt].redial_draw < share


def day_share(hour: float) -> float:
    """The share of the peak rate at ``hour`` of the office day."""
    points = DAY_PROFILE
    if hour <= points[0][0]:
        return points[0][1]
    for (h0, s0), (h1, s1) in itertools.pairwise(points):
        if hour <= h1:
            return s0 + (s1 - s0) * (hour - h0) / (h1 - h0)
    return points[-1][1]


def office_hour(t_s: float, run_s: float) -> float:
    """The office clock at ``t_s`` seconds into a run of ``run_s`` seconds."""
    return DAY_START_H + (DAY_END_H - DAY_START_H) * t_s / run_s


def arrivals(run_s: float, model: Model, chance: random.Random) -> list[float]:
    """First calls, in seconds from the start: thinning of a Poisson process at the peak
    rate (Lewis & Shedler)."""
    peak = model.peak_per_minute / 60.0
    times: list[float] = []
    t = 0.0
    while True:
        t += chance.expovariate(peak)
        if t >= run_s:
            return times
        if chance.random() < day_share(office_hour(t, run_s)):
            times.append(t)


def population(run_s: float, seed: int, model: Model | None = None) -> list[Caller]:
    """The callers of a run of ``run_s`` seconds, all their draws made."""
    model = model or Model()
    chance = random.Random(seed)
    callers = []
    for index, first in enumerate(arrivals(run_s, model, chance)):
        withheld = chance.random() < model.withheld_share
        known = not withheld and chance.random() < model.known_share / (1 - model.withheld_share)
        vip = known and chance.random() < model.vip_share / model.known_share
        accepts = not withheld and chance.random() < model.accepts_callback_share
        attempts = tuple(
            Attempt(
                budget=chance.expovariate(1.0),
                talk_s=_lognormal(chance, model.talk_median_s, model.talk_sigma, model.talk_max_s),
                redial_draw=chance.random(),
                redial_after_s=model.redial_after_s + chance.expovariate(1 / model.redial_mean_s),
            )
            for _ in range(MAX_ATTEMPTS)
        )
        callers.append(
            Caller(
                number=f"0655{seed % 100:02d}{index:04d}",
                first_call_s=first,
                known=known,
                vip=vip,
                withheld=withheld,
                accepts_callback=accepts,
                attempts=attempts,
                called_back_talk_s=_lognormal(
                    chance, model.callback_talk_median_s, model.callback_talk_sigma, 600.0
                ),
            )
        )
    return callers


def _lognormal(chance: random.Random, median: float, sigma: float, cap: float) -> float:
    return min(cap, median * math.exp(sigma * chance.gauss(0.0, 1.0)))


@dataclass
class Patience:
    """A waiting caller's impatience: spent at 1/mean per second, the mean longer once
    they were told their place. :meth:`deadline` is when they hang up."""

    budget: float
    music_s: float
    told_s: float
    spent: float = 0.0
    since: float = 0.0
    told: bool = False
    told_at: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, caller: Caller, attempt: Attempt, model: Model, start: float) -> Patience:
        scale = model.vip_patience if caller.vip else 1.0
        return cls(
            attempt.budget,
            model.patience_music_s * scale,
            model.patience_told_s * scale,
            since=start,
        )

    def _rate(self) -> float:
        return 1.0 / (self.told_s if self.told else self.music_s)

    def tell(self, at: float) -> None:
        """The caller heard their place at ``at``: from now on they wait more calmly."""
        self.spent += (at - self.since) * self._rate()
        self.since = at
        self.told = True
        self.told_at.append(at)

    def deadline(self) -> float:
        """When the caller hangs up, if nothing else happens."""
        return self.since + max(0.0, self.budget - self.spent) / self._rate()


def share_calling_more_than_once(attempts_per_caller: Sequence[int]) -> float:
    """The share of callers who called more than once."""
    if not attempts_per_caller:
        return 0.0
    return sum(1 for n in attempts_per_caller if n > 1) / len(attempts_per_caller)

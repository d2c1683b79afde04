"""How right is the wait a queued caller is told: ours beside app_queue's, same callers.

A discrete-event simulation (seeded, stdlib ``random``) of an M/G/m queue: Poisson
arrivals, lognormal handle times (median 3 minutes, sigma 0.8: mean 4.1 minutes, one call
in twenty over 11 minutes), m members answering first come first served the moment they
are free, and callers who give up after an exponential patience (mean 5 minutes), so that
an overloaded queue stays bounded. The arrival rate sets the utilisation, from calm (0.5)
to overloaded (1.05), for 2 and 3 members.

Every waiting caller reaches announcement moments 20 s after joining and every 60 s after
that. At each moment, two figures:

- ours: ``expected_wait`` for the caller's place (fed the same answered and ended calls
  a live queue would see), as ``announced_minutes`` says it: the 80th percentile of the
  remaining wait, from now, rounded up, at least 1, "more than 15" above 15;
- app_queue's: ``holdtime = (3 * holdtime + wait) / 4`` in integer seconds, updated with
  the wait of each answered caller, and ``abs(holdtime + 30 - elapsed) / 60`` minutes in C
  integer division, as ``recalc_holdtime()`` and ``say_position()`` in Asterisk's
  apps/app_queue.c do; 0 minutes is not said (without ``announce-round-seconds``).

Each figure is compared with what happened: the caller's real remaining wait from that
moment until a member answered. Moments of callers who gave up have no real remaining
wait: they are counted ("excl."), and left out of the errors. Per load, for both: how many
figures were given, the mean absolute error in minutes, the overrun rate (the caller
waited longer than the figure; "more than 15" cannot overrun, its error is how far under
15 the wait ended), the ratios ours/app_queue, and the figures "already passed":
app_queue's taken as the total wait it is meant to be (figure < time already waited),
ours as what it is, the wait from now (figure <= 0). app_queue says nothing at many
moments, so the last columns compare both on the moments where both gave a figure.
"Spoke" is how many moments ``announcement`` actually says something at (it keeps quiet
when nothing is news).

Leaving out the callers who gave up favours short waits (the patient and the lucky
remain), for both figures alike. ``--patience 0`` lets nobody give up, to see how the
percentile is calibrated without that; the overloaded load is then left out, its queue
grows without end.

    scripts/bench wait_estimate                  # 10,000 calls per load
    scripts/bench wait_estimate --seed 7 --calls 50000 --members 2
    scripts/bench wait_estimate --patience 0
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import sys
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from switchboard.core.wait_estimate import (
    CallerState,
    HandleTimes,
    WaitSettings,
    announced_minutes,
    announcement,
    expected_wait,
)

HANDLE_MEDIAN_S = 180.0
HANDLE_SIGMA = 0.8
LOADS = (0.5, 0.7, 0.85, 0.95, 1.05)

ARRIVE, END, GIVE_UP, ANNOUNCE = range(4)


@dataclass
class Moment:
    at: float
    elapsed: float
    ours: tuple[int, bool] | None  # (minutes, "more than"), None: no estimate
    app_queue: int | None  # minutes, None when app_queue says no hold time


@dataclass
class Caller:
    joined_at: float
    state: CallerState
    moments: list[Moment] = field(default_factory=list)
    answered_at: float | None = None
    gave_up: bool = False


@dataclass
class Tally:
    figures: int = 0
    excluded: int = 0
    error_min: float = 0.0
    overruns: int = 0
    passed: int = 0

    def add(self, remaining: float, minutes: int, more_than: bool) -> None:
        self.figures += 1
        if more_than:
            self.error_min += max(0.0, minutes * 60 - remaining) / 60
        else:
            self.error_min += abs(minutes * 60 - remaining) / 60
            self.overruns += remaining > minutes * 60

    def mae(self) -> float:
        return self.error_min / self.figures if self.figures else math.nan

    def overrun_rate(self) -> float:
        return self.overruns / self.figures if self.figures else math.nan


@dataclass
class Result:
    load: float
    members: int
    waited: int = 0
    gave_up: int = 0
    moments: int = 0
    spoke: int = 0
    ours: Tally = field(default_factory=Tally)
    app_queue: Tally = field(default_factory=Tally)
    ours_both: Tally = field(default_factory=Tally)  # where app_queue gave a figure too
    app_both: Tally = field(default_factory=Tally)


def simulate(load: float, members: int, calls: int, seed: int, patience_s: float) -> Result:
    """One queue at utilisation ``load``, ``members`` members, ``calls`` arrivals."""
    rng = random.Random(f"{seed}/{load}/{members}")
    settings = WaitSettings()
    mean_handle = HANDLE_MEDIAN_S * math.exp(HANDLE_SIGMA**2 / 2)
    rate = load * members / mean_handle
    handle_times = HandleTimes(window_s=settings.window_s)
    holdtime = 0  # app_queue's, integer seconds, queue-wide
    queue: deque[int] = deque()  # caller ids, first come first
    callers: list[Caller] = []
    busy = waited = spoke = order = 0
    events: list[tuple[float, int, int, int]] = []  # (time, order, kind, caller id)

    def schedule(at: float, kind: int, cid: int) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (at, order, kind, cid))

    def answer(cid: int, now: float) -> None:
        nonlocal busy, holdtime
        c = callers[cid]
        c.answered_at = now
        busy += 1
        handle_times.answered(at=now, waited_s=now - c.joined_at)
        # recalc_holdtime(qe, now - qe->start), both time_t.
        holdtime = (3 * holdtime + (int(now) - int(c.joined_at))) >> 2
        schedule(now + rng.lognormvariate(math.log(HANDLE_MEDIAN_S), HANDLE_SIGMA), END, cid)

    schedule(rng.expovariate(rate), ARRIVE, 0)
    while events:
        now, _, kind, cid = heapq.heappop(events)
        if kind == ARRIVE:
            callers.append(Caller(now, CallerState(joined_at=now, position=len(queue) + 1)))
            if cid + 1 < calls:
                schedule(now + rng.expovariate(rate), ARRIVE, cid + 1)
            if busy < members:
                answer(cid, now)
                continue
            queue.append(cid)
            waited += 1
            if patience_s > 0:
                schedule(now + rng.expovariate(1 / patience_s), GIVE_UP, cid)
            schedule(now + settings.first_after_s, ANNOUNCE, cid)
        elif kind == END:
            busy -= 1
            answered_at = callers[cid].answered_at
            assert answered_at is not None
            handle_times.ended(answered_at=answered_at, ended_at=now)
            if queue:
                answer(queue.popleft(), now)
        elif kind == GIVE_UP:
            c = callers[cid]
            if c.answered_at is None:
                c.gave_up = True
                queue.remove(cid)
        elif kind == ANNOUNCE:
            c = callers[cid]
            if c.answered_at is not None or c.gave_up:
                continue
            position = queue.index(cid) + 1
            estimate = expected_wait(
                handle_times, ahead=position - 1, members=members, now=now, settings=settings
            )
            ours = None if estimate is None else announced_minutes(estimate, settings)
            elapsed = int(now) - int(c.joined_at)
            app_minutes = abs(holdtime + 30 - elapsed) // 60  # C: abs((h + 30 - e) / 60)
            c.moments.append(Moment(now, now - c.joined_at, ours, app_minutes or None))
            c.state = replace(c.state, position=position)
            said = announcement(settings, c.state, estimate, now)
            if said is not None:
                c.state = c.state.after(said, now)
                spoke += 1
            schedule(now + settings.every_s, ANNOUNCE, cid)

    result = Result(load, members, waited=waited, spoke=spoke)
    for c in callers:
        result.gave_up += c.gave_up
        for m in c.moments:
            result.moments += 1
            if c.answered_at is None:
                result.ours.excluded += m.ours is not None
                result.app_queue.excluded += m.app_queue is not None
                continue
            remaining = c.answered_at - m.at
            if m.ours is not None:
                result.ours.add(remaining, *m.ours)
                result.ours.passed += m.ours[0] * 60 <= 0
            if m.app_queue is not None:
                result.app_queue.add(remaining, m.app_queue, False)
                result.app_queue.passed += m.app_queue * 60 < m.elapsed
            if m.ours is not None and m.app_queue is not None:
                result.ours_both.add(remaining, *m.ours)
                result.app_both.add(remaining, m.app_queue, False)
    return result


def ratio(ours: float, theirs: float) -> str:
    if math.isnan(ours) or math.isnan(theirs) or theirs == 0:
        return "-"
    return f"x{ours / theirs:.2f}"


def report(results: list[Result]) -> None:
    print(
        f"{'load':>5} {'m':>2} {'waited':>6} {'gave up':>7} {'moments':>7} {'spoke':>6}  "
        f"{'':<9} {'figures':>7} {'excl.':>6} {'MAE min':>7} {'overrun':>7} {'passed':>6}"
        f"  | both: {'figures':>7} {'MAE':>5} {'overrun':>7}"
    )
    misses = []
    for r in results:
        head = f"{r.load:>5.2f} {r.members:>2} {r.waited:>6} {r.gave_up:>7} {r.moments:>7} "
        head += f"{r.spoke:>6}  "
        for name, t, both in (
            ("ours", r.ours, r.ours_both),
            ("app_queue", r.app_queue, r.app_both),
        ):
            print(
                f"{head}{name:<9} {t.figures:>7} {t.excluded:>6} {t.mae():>7.2f} "
                f"{t.overrun_rate():>7.1%} {t.passed:>6}"
                f"  |       {both.figures:>7} {both.mae():>5.2f} {both.overrun_rate():>7.1%}"
            )
            head = " " * len(head)
        print(
            f"{head}{'ours/app':<9} {'':>7} {'':>6} {ratio(r.ours.mae(), r.app_queue.mae()):>7} "
            f"{ratio(r.ours.overrun_rate(), r.app_queue.overrun_rate()):>7} {'':>6}"
            f"  |       {'':>7} {ratio(r.ours_both.mae(), r.app_both.mae()):>5} "
            f"{ratio(r.ours_both.overrun_rate(), r.app_both.overrun_rate()):>7}"
        )
        if not r.ours.overrun_rate() < r.app_queue.overrun_rate() or r.ours.passed:
            misses.append(f"{r.load:.2f} with {r.members} members")
    print()
    if misses:
        print("Goal missed (fewer overruns than app_queue, none passed) at: " + ", ".join(misses))
    else:
        print("Goal met at every load: fewer overruns than app_queue, no figure already passed.")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--calls", type=int, default=10_000, help="arrivals per load")
    parser.add_argument(
        "--members",
        type=lambda s: [int(m) for m in s.split(",")],
        default=[2, 3],
        help="comma-separated member counts, each run at every load",
    )
    parser.add_argument(
        "--patience", type=float, default=300.0, help="mean seconds before giving up; 0: never"
    )
    args = parser.parse_args()
    loads = LOADS if args.patience > 0 else tuple(load for load in LOADS if load < 1)
    patience = f"exp(mean {args.patience:.0f} s)" if args.patience > 0 else "none"
    print(
        f"M/G/m, lognormal handle times (median {HANDLE_MEDIAN_S:.0f} s, sigma {HANDLE_SIGMA}),"
        f" patience {patience}, {args.calls} calls per load, seed {args.seed}"
    )
    results = [
        simulate(load, members, args.calls, args.seed, args.patience)
        for members in args.members
        for load in loads
    ]
    report(results)


if __name__ == "__main__":
    main()

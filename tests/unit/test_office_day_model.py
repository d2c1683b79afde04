"""The office day's callers (bench/office_day.py): seeded, shaped like a day, patient as
the model says."""

from __future__ import annotations

import math
import random

from devtools.office_day_model import (
    DAY_END_H,
    DAY_START_H,
    Model,
    Patience,
    arrivals,
    day_share,
    office_hour,
    population,
)

HOUR_S = 3600.0


def test_the_same_seed_gives_the_same_callers_and_another_seed_others() -> None:
    assert population(HOUR_S, 7) == population(HOUR_S, 7)
    assert population(HOUR_S, 7) != population(HOUR_S, 8)


def test_arrivals_follow_the_day_on_average() -> None:
    """Thinning keeps the expected count: the integral of the rate over the run."""
    model = Model()
    steps = 1000
    expected = sum(
        model.peak_per_minute / 60 * day_share(office_hour((i + 0.5) * HOUR_S / steps, HOUR_S))
        * HOUR_S / steps
        for i in range(steps)
    )  # fmt: skip
    runs = [arrivals(HOUR_S, model, random.Random(seed)) for seed in range(200)]
    mean = sum(len(r) for r in runs) / len(runs)
    assert abs(mean - expected) < 0.05 * expected

    def in_hours(start: float, end: float) -> int:
        return sum(1 for r in runs for t in r if start <= office_hour(t, HOUR_S) < end)

    # The morning peak (9:30-10:30) against the lunch dip (12:30-13:30).
    assert in_hours(9.5, 10.5) > 1.6 * in_hours(12.5, 13.5)


def test_the_office_clock_runs_from_half_past_eight_to_five() -> None:
    assert office_hour(0, HOUR_S) == DAY_START_H
    assert office_hour(HOUR_S, HOUR_S) == DAY_END_H


def test_a_caller_told_their_place_waits_longer() -> None:
    patience = Patience(budget=1.0, music_s=90.0, told_s=240.0, since=0.0)
    assert patience.deadline() == 90.0
    patience.tell(30.0)  # a third of the budget spent to music
    assert math.isclose(patience.deadline(), 30.0 + (2 / 3) * 240.0)


def test_shares_of_the_population_are_near_the_model() -> None:
    callers = [c for seed in range(40) for c in population(HOUR_S, seed)]
    withheld = sum(c.withheld for c in callers) / len(callers)
    known = sum(c.known for c in callers) / len(callers)
    assert 0.04 < withheld < 0.10 and 0.5 < known < 0.7
    assert not any(c.withheld and (c.known or c.accepts_callback) for c in callers)
    assert all(c.attempts[0].talk_s <= Model().talk_max_s for c in callers)

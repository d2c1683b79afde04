"""An office day, side by side: the same callers through a plain app_queue set-up and
through the whole product, on the sandbox Asterisk with real SIP calls (issue 17).

    scripts/bench office_day                 # a busy hour per arm (about 2 h 10 in all)
    scripts/bench office_day --minutes 10    # a quick run
    scripts/bench office_day --smoke --json out.json   # a few callers (the test suite)

The model of the callers and staff, with its sources: devtools/office_day_model.py; the
two arms: devtools/office_day.py. Needs the sandbox (python -m devtools sandbox up) and
no other switchboard service connected to it. Prints the table (product/plain as ratios)
and writes a PNG of the waits and the service level over the day.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.office_day import (
    ArmResult,
    occupancy,
    reached_after_abandon,
    run_plain,
    run_product,
)
from devtools.office_day_model import Model, office_hour, population
from switchboard.core.service_level import Classified, Counted, Thresholds, percentile, tally

THRESHOLDS = Thresholds()
DEFAULT_CHART = Path("test-artifacts/office_day.png")


def figures(result: ArmResult) -> dict[str, float | int | None]:
    """The figures of one arm, as the table prints them."""
    counted = result.tally(THRESHOLDS)
    reach = reached_after_abandon(result)
    unqueued = sum(1 for a in result.attempts if a.queued_at is None)
    busy = occupancy(result)
    staff = [busy[ext] for ext in ("100", "200", "201") if ext in busy]
    return {
        "callers": len(result.callers),
        "calls": len(result.attempts),
        "answered": counted.answered,
        "answered within 15 s": counted.answered_in_time,
        "service level": counted.service_level,
        "abandoned": counted.abandoned,
        "short abandons": counted.short_abandons,
        "sent on": counted.sent_on,
        "not queued": unqueued,
        "callers not answered once": reach.missed,
        "  later reached": len(reach.delays),
        "  on the worklist, claimed": reach.claimed,
        "  lost": reach.lost,
        "  lost, number withheld": reach.lost_withheld,
        "called more than once": reach.repeats,
        "time to reach, median s": percentile(reach.delays, 0.5),
        "time to reach, p90 s": percentile(reach.delays, 0.9),
        "receptionists busy": sum(staff) / len(staff) if staff else None,
        "worklist work, min": sum(result.desk_s.values()) / 60,
    }


def accounted(result: ArmResult) -> bool:
    """Every call counted once (answered, abandoned, sent on, or never queued: the counts
    add up to the calls placed), every caller's first call placed, and every caller not
    answered once reached, claimed or lost."""
    counted = result.tally(THRESHOLDS)
    unqueued = sum(1 for a in result.attempts if a.queued_at is None)
    calls_add_up = counted.arrivals + unqueued == len(result.attempts)
    every_caller_called = {a.caller.number for a in result.attempts} == {
        c.number for c in result.callers
    }
    reach = reached_after_abandon(result)
    ends = len(reach.delays) + reach.claimed + reach.lost + reach.answered_before
    return calls_add_up and every_caller_called and ends == reach.missed


def table(plain: dict[str, float | int | None], product: dict[str, float | int | None]) -> str:
    lines = [f"{'':28} {'plain':>10} {'product':>10} {'ratio':>8}"]
    for key in plain:
        a, b = plain[key], product[key]
        ratio = f"x{b / a:.2f}" if isinstance(a, int | float) and a and b is not None else ""
        lines.append(f"{key:28} {_cell(key, a):>10} {_cell(key, b):>10} {ratio:>8}")
    return "\n".join(lines)


def _cell(key: str, value: float | int | None) -> str:
    if value is None:
        return "-"
    if key in ("service level", "receptionists busy"):
        return f"{float(value):.0%}"
    return f"{value:.0f}" if isinstance(value, float) else str(value)


def chart(results: list[ArmResult], path: Path) -> None:
    """The wait of every counted call over the office day (answered: dots; given up or
    sent on: crosses) and the service level per office half hour, both arms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (waits, level) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for result, colour in zip(results, ("tab:grey", "tab:blue"), strict=False):
        buckets: dict[float, list[Classified]] = {}
        for answered in (True, False):
            points = [
                (office_hour(a.queued_at, result.run_s), c.wait_s)
                for a in result.attempts
                if a.queued_at is not None
                and (c := a.classified()) is not None
                and (c.kind is Counted.ANSWERED) is answered
            ]
            label = f"{result.arm.value}, {'answered' if answered else 'not answered'}"
            waits.scatter([p[0] for p in points], [p[1] for p in points], s=14, c=colour,
                          marker="o" if answered else "x", label=label)  # fmt: skip
        for attempt in result.attempts:
            classified = attempt.classified()
            if classified is not None and attempt.queued_at is not None:
                hour = office_hour(attempt.queued_at, result.run_s)
                buckets.setdefault(int(hour * 2) / 2, []).append(classified)
        # The service level per office half hour, as the board's figure counts it (short
        # abandons are not in it).
        levels = [(h, tally(buckets[h], THRESHOLDS).service_level) for h in sorted(buckets)]
        shown = [(h, v) for h, v in levels if v is not None]
        level.plot([h for h, _ in shown], [v for _, v in shown], marker="o", c=colour,
                   label=result.arm.value)  # fmt: skip
    waits.axhline(15, ls="--", c="k", lw=0.8)
    waits.set_ylabel("wait in the queue (s)")
    level.legend()
    waits.legend()
    level.axhline(THRESHOLDS.target, ls="--", c="k", lw=0.8)
    level.set_ylabel("answered within 15 s")
    level.set_xlabel("office clock (h)")
    level.set_ylim(0, 1.05)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)


async def main(args: argparse.Namespace) -> int:
    model = Model()
    run_s = args.minutes * 60
    drain_s = args.drain_minutes * 60
    if args.smoke:
        # A few callers in a minute, impatient, so that both arms see answers and abandons.
        model = Model(peak_per_minute=12.0, patience_music_s=20.0, patience_told_s=40.0,
                      talk_median_s=6.0, talk_max_s=10.0, callback_talk_median_s=5.0)  # fmt: skip
        run_s, drain_s = 30.0, 45.0
    seed = args.seed if args.seed is not None else (1 if args.smoke else 17)
    callers = population(run_s, seed, model)
    print(f"{len(callers)} callers over {run_s / 60:.1f} min (seed {seed})", flush=True)
    plain = await run_plain(callers, model, run_s=run_s, drain_s=drain_s)
    with tempfile.TemporaryDirectory(prefix="office-day-") as workdir:
        # The embedded PostgreSQL runs as a user of its own when the bench runs as root.
        await asyncio.to_thread(Path(workdir).chmod, 0o755)
        product = await run_product(
            callers, model, run_s=run_s, drain_s=drain_s, workdir=Path(workdir)
        )
    plain_figures, product_figures = figures(plain), figures(product)
    print(table(plain_figures, product_figures))
    chart([plain, product], args.chart)
    print(f"chart: {args.chart}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "plain": plain_figures,
                    "product": product_figures,
                    "accounted": {"plain": accounted(plain), "product": accounted(product)},
                },
                indent=2,
            )
        )
    return 0


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the day (real)")
    parser.add_argument("--drain-minutes", type=float, default=10.0, help="after the last call")
    parser.add_argument("--seed", type=int, help="default 17 (--smoke: 1, four callers)")
    parser.add_argument("--smoke", action="store_true", help="a few callers in a minute")
    parser.add_argument("--chart", type=Path, default=DEFAULT_CHART)
    parser.add_argument("--json", type=Path, help="the figures as JSON")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.drain_minutes < 0:
        parser.error("--minutes must be above 0 and --drain-minutes not below 0")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))

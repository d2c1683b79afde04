"""What the service-level report costs over a year of journal (issue 15), beside a bare
count of the same rows measured in the same run.

In a fresh embedded PostgreSQL this generates a year of calls (2025-12-01 .. 2026-12-01,
Europe/Amsterdam; a million by default) with SQL: arrivals in office hours (weekdays
8-18 local), about 85% answered after an exponential wait, 8% abandoned (the short
abandons among them), 5% sent on, 2% that never queued (they do not count); most through
the queue "switchboard", some through "support", a wait announced to a share of them.
Beside them 20,000 callbacks over the year, most reached. After ``VACUUM ANALYZE`` it
times, round after round:

- the baseline: ``SELECT count(*)`` of the year's counted calls (the same rows the
  report reads, the same index);
- the report as the page and ``switchboard report`` get it (switchboard.board.figures.
  build): the year per day and per week, a month per hour, a day per 15 minutes;
- its parts for the year per day: the calls' counts, the wait distribution, the callback
  speed;

and prints p50 and min of each with its ratio to the baseline's p50, the Python memory
peak of one build, and the plans (``EXPLAIN (ANALYZE, BUFFERS)``) of the report's
queries: whether the calls are read by an index-only scan of calls_service_level.
``--without-index`` then drops that index and times the report again.

    scripts/bench report                      # a million calls, 5 rounds
    scripts/bench report --calls 100000 --runs 3
    scripts/bench report --without-index      # and what the index buys
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from bench.measure import embedded_postgres, percentile
from switchboard.board import figures
from switchboard.core.report import Interval, Period, interval_starts, period
from switchboard.core.service_level import Thresholds
from switchboard.store import callbacks, calls
from switchboard.store.database import migrate

ZONE = ZoneInfo("Europe/Amsterdam")
FIRST, UNTIL = date(2025, 12, 1), date(2026, 12, 1)
INDEX = "calls_service_level"

# The weekdays of the period, local dates; $1 first, $2 until (not included).
_DAYS = """
days AS MATERIALIZED (
    SELECT array_agg(d::date ORDER BY d) AS d
    FROM generate_series($1::date, $2::date - 1, interval '1 day') AS d
    WHERE extract(isodow FROM d) < 6
)"""

# A moment in office hours (8-18 local, $3 the zone) of a random weekday of ``days``.
_ARRIVAL = """(days.d[1 + floor(random() * cardinality(days.d))::int]
               + make_interval(secs => 8 * 3600 + random() * 36000)) AT TIME ZONE $3"""

# Every random draw once per row (MATERIALIZED), then shaped into a call. Waits are
# exponential: answered mean 12 s, abandoned mean 30 s (so about 15% under 5 s), sent on
# after 60 s plus a mean of 60 s; 30% of the queued calls were told a wait within 30% of
# their own.
_CALLS = f"""
INSERT INTO calls (pbx, linked_id, caller_number, caller_e164, started_at, queued_at,
                   answered_at, answered_by, ended_at, direction, via_queue, outcome,
                   predicted_wait_s, sl_kind, sl_wait_s, updated_at)
WITH {_DAYS}, drawn AS MATERIALIZED (
    SELECT i, {_ARRIVAL} AS arrived, random() AS kind, -ln(1 - random()) AS wait,
           -ln(1 - random()) AS talk, random() AS told, random() AS queue,
           floor(random() * 10000000)::int AS number, 2 + random() * 8 AS greeting,
           200 + floor(random() * 8)::int AS member
    FROM generate_series(1, $4::int) AS i, days
), shaped AS (
    SELECT i, arrived, told, queue, number, member,
           CASE WHEN kind >= 0.02 THEN arrived + greeting * interval '1 second' END AS queued,
           CASE WHEN kind < 0.02 THEN NULL WHEN kind < 0.87 THEN 'answered'
                WHEN kind < 0.95 THEN 'abandoned' ELSE 'sent on' END AS counted,
           CASE WHEN kind < 0.02 THEN 5 WHEN kind < 0.87 THEN wait * 12
                WHEN kind < 0.95 THEN wait * 30 ELSE 60 + wait * 60 END AS waited,
           talk * 180 AS talked
    FROM drawn
), timed AS (
    SELECT *, coalesce(queued, arrived) + waited * interval '1 second' AS waited_until
    FROM shaped
)
SELECT 'bench', 'bench-' || i, '061' || lpad(number::text, 7, '0'),
       '+3161' || lpad(number::text, 7, '0'), arrived, queued,
       CASE WHEN counted IS NULL OR counted = 'answered' THEN waited_until END,
       CASE WHEN counted IS NULL OR counted = 'answered' THEN member::text END,
       waited_until + CASE WHEN counted IS NULL OR counted = 'answered'
                           THEN talked * interval '1 second'
                           WHEN counted = 'sent on' THEN interval '20 seconds'
                           ELSE interval '0 seconds' END,
       'inbound',
       CASE WHEN counted IS NULL THEN NULL WHEN queue < 0.12 THEN 'support'
            ELSE 'switchboard' END,
       CASE WHEN counted IS NULL OR counted = 'answered' THEN 'answered'
            WHEN counted = 'abandoned' THEN 'abandoned' ELSE 'missed' END,
       CASE WHEN counted IS NOT NULL AND told < 0.3
            THEN round(waited * (0.7 + 2 * told)) END,
       counted, CASE WHEN counted IS NOT NULL THEN waited END,
       waited_until
FROM timed
"""

# Callbacks asked for in office hours over the year: 75% reached (after a mean of
# 10 minutes), the rest not reached, cancelled or expired.
_CALLBACKS = f"""
INSERT INTO callbacks (pbx, queue, e164, source, state, joined_at, not_before, attempts,
                       requested_at, reached_at, updated_at)
WITH {_DAYS}, drawn AS MATERIALIZED (
    SELECT {_ARRIVAL} AS arrived, random() AS state, -ln(1 - random()) AS took,
           random() AS queue, floor(random() * 10000000)::int AS number
    FROM generate_series(1, $4::int) AS i, days
), shaped AS (
    SELECT *, CASE WHEN state < 0.75 THEN 'done' WHEN state < 0.92 THEN 'not reached'
                   WHEN state < 0.97 THEN 'cancelled' ELSE 'expired' END AS ended,
              arrived + took * interval '600 seconds' AS reached
    FROM drawn
)
SELECT 'bench', CASE WHEN queue < 0.12 THEN 'support' ELSE 'switchboard' END,
       '+3162' || lpad(number::text, 7, '0'), 'queue', ended, arrived - interval '90 s',
       arrived, CASE ended WHEN 'done' THEN least(10, 1 + floor(took)::int)
                           WHEN 'not reached' THEN 3 ELSE 0 END,
       arrived, CASE WHEN ended = 'done' THEN reached END,
       CASE WHEN ended = 'done' THEN reached ELSE arrived + interval '1 hour' END
FROM shaped
"""

COUNT_SQL = (
    "SELECT count(*) FROM calls WHERE sl_kind IS NOT NULL AND queued_at >= $1 AND queued_at < $2"
)


async def generate(pool: asyncpg.Pool, count: int, callback_count: int) -> None:
    async with pool.acquire() as connection:
        await connection.execute("SELECT setseed(0.15)")  # the same year every run
        await connection.execute(_CALLS, FIRST, UNTIL, ZONE.key, count)
        await connection.execute(_CALLBACKS, FIRST, UNTIL, ZONE.key, callback_count)
        await connection.execute("VACUUM ANALYZE calls")
        await connection.execute("VACUUM ANALYZE callbacks")


class Recorder:
    """Stands in for the pool: keeps every query the store functions send, and runs it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.queries: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        self.queries.append((sql, args))
        rows: list[asyncpg.Record] = await self.pool.fetch(sql, *args)
        return rows

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        self.queries.append((sql, args))
        return await self.pool.fetchrow(sql, *args)


async def explain(pool: asyncpg.Pool, sql: str, args: tuple[Any, ...]) -> list[str]:
    rows = await pool.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
    return [row[0] for row in rows]


def literal(value: object) -> str:
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'::timestamptz"
    if isinstance(value, list):
        kind = "timestamptz" if value and isinstance(value[0], datetime) else "float8"
        inner = ", ".join(literal(v).removesuffix("::timestamptz") for v in value)
        return f"ARRAY[{inner}]::{kind}[]"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


async def explain_generic(pool: asyncpg.Pool, sql: str, args: tuple[Any, ...]) -> list[str]:
    """The plan PostgreSQL settles on for a prepared statement run often (asyncpg
    prepares every query: from the sixth run a generic plan may replace the custom one)."""
    async with pool.acquire() as connection:
        await connection.execute(f"PREPARE bench_generic AS {sql}")
        try:
            await connection.execute("SET plan_cache_mode = force_generic_plan")
            # (EXECUTE takes no protocol parameters: its arguments as literals)
            params = ", ".join(literal(arg) for arg in args)
            rows = await connection.fetch(
                f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_generic({params})"
            )
        finally:
            await connection.execute("RESET plan_cache_mode")
            await connection.execute("DEALLOCATE bench_generic")
    return [row[0] for row in rows]


def report_of(
    pool: asyncpg.Pool, first: date, until: date, interval: Interval
) -> Callable[[], Awaitable[object]]:
    asked = period(first, until, ZONE, interval)
    return lambda: figures.build(pool, asked, interval, Thresholds(), asked.end)


def day_bounds(year: Period) -> tuple[list[datetime], list[datetime]]:
    """The year's days as figures.build asks for them: each day's start and end."""
    starts = list(interval_starts(year, Interval.DAY))
    return starts, [*starts[1:], year.end]


def measured(pool: asyncpg.Pool, year: Period) -> dict[str, Callable[[], Awaitable[object]]]:
    """What is timed, the baseline first."""
    return {
        "count(*), the year": lambda: pool.fetchval(COUNT_SQL, year.start, year.end),
        "report: year per day": report_of(pool, FIRST, UNTIL, Interval.DAY),
        "report: year per week": report_of(pool, FIRST, UNTIL, Interval.WEEK),
        "report: month per hour": report_of(
            pool, date(2026, 3, 1), date(2026, 4, 1), Interval.HOUR
        ),
        "report: day per 15 min": report_of(
            pool, date(2026, 3, 10), date(2026, 3, 11), Interval.QUARTER
        ),
        "  calls, year per day": lambda: calls.service_level_rows(
            pool, *day_bounds(year), Thresholds()
        ),
        "  callback speed per day": lambda: callbacks.speed_rows(pool, *day_bounds(year)),
    }


async def time_all(
    work: dict[str, Callable[[], Awaitable[object]]], runs: int
) -> dict[str, list[float]]:
    """Seconds per run of each, round after round (one round first to warm the cache)."""
    for job in work.values():
        await job()
    times: dict[str, list[float]] = {name: [] for name in work}
    for _ in range(runs):
        for name, job in work.items():
            started = time.perf_counter()
            await job()
            times[name].append(time.perf_counter() - started)
    return times


def print_table(times: dict[str, list[float]], baseline: float, runs: int) -> None:
    print(f"{'':30}{'p50':>10}{'min':>10}{'ratio':>9}   ({runs} runs each)")
    for name, seconds in times.items():
        p50 = percentile(seconds, 0.5) * 1e3
        print(f"{name:30}{p50:7.1f} ms{min(seconds) * 1e3:7.1f} ms{p50 / baseline:8.1f}x")


async def memory_peaks(pool: asyncpg.Pool) -> list[tuple[str, int]]:
    peaks: list[tuple[str, int]] = []
    for name, interval, first, until in (
        ("year per day", Interval.DAY, FIRST, UNTIL),
        ("month per hour", Interval.HOUR, date(2026, 3, 1), date(2026, 4, 1)),
    ):
        build = report_of(pool, first, until, interval)
        tracemalloc.start()
        await build()
        peaks.append((name, tracemalloc.get_traced_memory()[1]))
        tracemalloc.stop()
    return peaks


def index_only(plan: list[str]) -> str:
    return "yes" if any(f"Index Only Scan using {INDEX}" in line for line in plan) else "NO"


def scan_lines(plan: list[str]) -> list[str]:
    return [line.strip() for line in plan if "Scan" in line or "Heap Fetches" in line]


async def plans(pool: asyncpg.Pool, year: Period) -> None:
    recorder = Recorder(pool)
    await figures.build(recorder, year, Interval.DAY, Thresholds(), year.end)
    counted = next(q for q in recorder.queries if "sl_kind = 'answered' AND sl_wait_s <=" in q[0])
    print("\nEXPLAIN (ANALYZE, BUFFERS) of calls.service_level_rows, the year per day:")
    plan = await explain(pool, *counted)
    for line in plan:
        print("  " + line)
    generic = await explain_generic(pool, *counted)
    print("the same as a generic plan (asyncpg prepares every query; PostgreSQL may")
    print("switch a prepared statement to its generic plan from the sixth run):")
    for line in generic:
        print("  " + line)
    print(
        f"index-only scan using {INDEX}: custom plan {index_only(plan)},"
        f" generic plan {index_only(generic)}"
    )
    print("\nthe other queries of the build (scans):")
    for sql, args in recorder.queries:
        if (sql, args) == counted:
            continue
        plan = await explain(pool, sql, args)
        first = " ".join(sql.split())[:70]
        print(f"  {first}...")
        for line in scan_lines(plan) + [line for line in plan if "Execution Time" in line]:
            print("    " + line.strip())
    baseline = await explain(pool, COUNT_SQL, (year.start, year.end))
    print("the baseline count(*):")
    for line in scan_lines(baseline) + [line for line in baseline if "Execution Time" in line]:
        print("    " + line.strip())


async def measure(
    dsn: str, count: int, callback_count: int, runs: int, without: bool, plan_cache: str
) -> None:
    pool = await asyncpg.create_pool(
        dsn, min_size=2, max_size=4, server_settings={"plan_cache_mode": plan_cache}
    )
    try:
        started = time.perf_counter()
        await generate(pool, count, callback_count)
        generated = time.perf_counter() - started
        size = await pool.fetchval("SELECT pg_size_pretty(pg_total_relation_size('calls'))")
        index_size = await pool.fetchval(f"SELECT pg_size_pretty(pg_relation_size('{INDEX}'))")
        counted = await pool.fetchval("SELECT count(*) FROM calls WHERE sl_kind IS NOT NULL")
        print(
            f"generated {count:,} calls ({counted:,} counted) and {callback_count:,} callbacks"
            f" in {generated:.1f} s, VACUUM ANALYZE included; calls {size}, {INDEX} {index_size}"
        )
        year = period(FIRST, UNTIL, ZONE, Interval.DAY)
        times = await time_all(measured(pool, year), runs)
        baseline = percentile(times["count(*), the year"], 0.5) * 1e3
        print(
            f"\nthe report beside a bare count(*) of the same rows (plan_cache_mode {plan_cache}):"
        )
        print_table(times, baseline, runs)
        peaks = await memory_peaks(pool)
        print(
            "Python memory peak of one build (tracemalloc): "
            + ", ".join(f"{name} {peak / 1024:.0f} kB" for name, peak in peaks)
        )
        await plans(pool, year)
        if without:
            await pool.execute(f"DROP INDEX {INDEX}")
            await pool.execute("ANALYZE calls")
            work = measured(pool, year)
            del work["  callback speed per day"]
            slower = await time_all(work, runs)
            print(f"\nwithout {INDEX}, ratios to the count(*) with it ({baseline:.1f} ms):")
            print_table(slower, baseline, runs)
            plan = await explain(pool, COUNT_SQL, (year.start, year.end))
            print("  count(*) without it: " + "; ".join(scan_lines(plan)))
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--callbacks", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--without-index", action="store_true", help=f"then drop {INDEX} and time it again"
    )
    parser.add_argument(
        "--plan-cache-mode",
        choices=("auto", "force_custom_plan", "force_generic_plan"),
        default="auto",
        help="PostgreSQL's plan_cache_mode for the timed queries (auto: as the service runs)",
    )
    args = parser.parse_args()
    with embedded_postgres() as server:
        dsn = server.get_uri()
        migrate(dsn)
        asyncio.run(
            measure(
                dsn,
                args.calls,
                args.callbacks,
                args.runs,
                args.without_index,
                args.plan_cache_mode,
            )
        )


if __name__ == "__main__":
    main()

"""The service-level figures (issue 15), for the board's live panel, the report page, its
CSV and ``switchboard report``: one assembly of the journal's counts, so all four say
the same numbers.

The counts come from the tables' own modules (switchboard.store.calls for the calls,
.callbacks for the callback speed, .worklist for the missed callers not yet reached);
every interval of the period is listed, the empty ones too (switchboard.core.report).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from switchboard.core.report import Interval, Period, interval_starts, period
from switchboard.core.service_level import Tally, Thresholds
from switchboard.store import callbacks, calls, worklist

if TYPE_CHECKING:
    import asyncpg


@dataclass(frozen=True)
class Row:
    """One interval's figures."""

    start: datetime
    tally: Tally = field(default_factory=Tally)
    announced: int = 0
    overrun: int = 0
    callbacks_requested: int = 0
    callbacks_reached: int = 0
    callback_p50_s: float | None = None
    callback_p90_s: float | None = None


@dataclass(frozen=True)
class Report:
    period: Period
    interval: Interval
    thresholds: Thresholds
    rows: Sequence[Row]
    total: Row
    waits: Sequence[int]  # answered calls per calls.WAIT_EDGES_S bucket
    open_items: int  # missed callers not yet reached ...
    oldest_s: float | None  # ... and how long the oldest has waited


async def build(
    pool: asyncpg.Pool,
    asked: Period,
    interval: Interval,
    thresholds: Thresholds,
    now: datetime,
    queue: str = "",
) -> Report:
    """The figures of ``asked`` per ``interval``, with its total."""
    starts = list(interval_starts(asked, interval))
    # A week starts on its Monday (its row's label), but counts from the period's start.
    bounds = [max(start, asked.start) for start in starts]
    ends = [*starts[1:], asked.end]
    counted = await calls.service_level_rows(pool, bounds, ends, thresholds, queue)
    speed = await callbacks.speed_rows(pool, bounds, ends, queue)
    rows = [
        _row(start, count, fast) for start, count, fast in zip(starts, counted, speed, strict=True)
    ]
    # The counts add up over the intervals; the callbacks' percentiles do not, so the
    # period's are computed on their own.
    whole = calls.CountedInterval(
        asked.start,
        sum((r.tally for r in counted), Tally()),
        sum(r.announced for r in counted),
        sum(r.overrun for r in counted),
        tuple(sum(bucket) for bucket in zip(*(r.waits for r in counted), strict=True))
        or (0,) * len(calls.WAIT_EDGES_S),
    )
    (whole_speed,) = await callbacks.speed_rows(pool, [asked.start], [asked.end], queue)
    total = _row(asked.start, whole, whole_speed)
    open_items, oldest = await worklist.open_summary(pool)
    return Report(
        period=asked,
        interval=interval,
        thresholds=thresholds,
        rows=rows,
        total=total,
        waits=whole.waits,
        open_items=open_items,
        oldest_s=None if oldest is None else max(0.0, (now - oldest).total_seconds()),
    )


async def today(
    pool: asyncpg.Pool, zone: ZoneInfo, thresholds: Thresholds, now: datetime, queue: str = ""
) -> Report:
    """Today's figures so far, in the site's zone (the board's live panel)."""
    day = now.astimezone(zone).date()
    return await build(
        pool,
        period(day, day + timedelta(days=1), zone, Interval.DAY),
        Interval.DAY,
        thresholds,
        now,
        queue,
    )


def _row(
    start: datetime, counted: calls.CountedInterval | None, speed: callbacks.CallbackSpeed | None
) -> Row:
    return Row(
        start=start,
        tally=counted.tally if counted else Tally(),
        announced=counted.announced if counted else 0,
        overrun=counted.overrun if counted else 0,
        callbacks_requested=speed.requested if speed else 0,
        callbacks_reached=speed.reached if speed else 0,
        callback_p50_s=speed.p50_s if speed else None,
        callback_p90_s=speed.p90_s if speed else None,
    )


#: The columns of a row, in the order the CSV and the command line print them.
COLUMNS = (
    "start",
    "arrivals",
    "answered",
    "answered_in_time",
    "abandoned",
    "short_abandons",
    "sent_on",
    "service_level",
    "abandon_rate",
    "announced",
    "overrun",
    "callbacks_requested",
    "callbacks_reached",
    "callback_p50_s",
    "callback_p90_s",
)


def row_fields(row: Row, zone: ZoneInfo) -> dict[str, object]:
    """A row as the JSON, the CSV and the command line give it (ratios 0..1, rounded to
    four places; None where nothing was counted)."""
    t = row.tally
    return {
        "start": row.start.astimezone(zone).isoformat(),
        "arrivals": t.arrivals,
        "answered": t.answered,
        "answered_in_time": t.answered_in_time,
        "abandoned": t.abandoned,
        "short_abandons": t.short_abandons,
        "sent_on": t.sent_on,
        "service_level": _ratio(t.service_level),
        "abandon_rate": _ratio(t.abandon_rate),
        "announced": row.announced,
        "overrun": row.overrun,
        "callbacks_requested": row.callbacks_requested,
        "callbacks_reached": row.callbacks_reached,
        "callback_p50_s": _seconds(row.callback_p50_s),
        "callback_p90_s": _seconds(row.callback_p90_s),
    }


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def csv_text(report: Report) -> str:
    """The report's rows and, last, its total (``start`` "total") as CSV: the same
    numbers as the page and the JSON."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    zone = report.period.zone
    for row in report.rows:
        writer.writerow(row_fields(row, zone))
    writer.writerow({**row_fields(report.total, zone), "start": "total"})
    return out.getvalue()

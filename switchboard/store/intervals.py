"""How the report's SQL groups rows into intervals (switchboard.core.report): one
expression for every table that reports per interval, so they cut time alike.

Fixed lengths (15 minutes, an hour) are ``date_bin`` from the period's start, in real
time; a day and a week are ``date_trunc`` in the site's zone (PostgreSQL 14+), so a day
of 23 or 25 hours is one day. Parameters: ``$1`` the period's start (the origin), ``$3``
the zone's name. No interval: one row for the whole period.
"""

from __future__ import annotations

from switchboard.core.report import Interval


def bucket_sql(column: str, interval: Interval | None) -> str:
    """The SQL expression of the interval start of ``column`` (a trusted column name)."""
    if interval is None:
        return "$1::timestamptz"
    length = interval.length
    if length is not None:
        seconds = int(length.total_seconds())
        return f"date_bin(interval '{seconds} seconds', {column}, $1::timestamptz)"
    field = "day" if interval is Interval.DAY else "week"
    return f"date_trunc('{field}', {column}, $3::text)"

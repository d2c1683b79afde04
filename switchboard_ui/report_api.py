"""Service levels on the board (issue 15): today's live figures, the report page, its data
and its CSV. One assembly of the journal's counts (switchboard.board.figures) serves all.

    GET /api/figures/today[?queue=]   today's figures so far, in the site's zone
    GET /report                       the report page (charts and a table)
    GET /api/report?from=2026-11-01&to=2026-12-01&interval=day[&queue=]
                                      {"from", "to", "interval", "timezone",
                                       "answer_within_s", "target", "short_abandon_s",
                                       "rows": [...], "total": {...},
                                       "waits": {"edges_s": [...], "counts": [...]},
                                       "worklist": {"open", "oldest_s"}}
    GET /api/report.csv?(the same)    the rows and the total as CSV

``from`` and ``to`` are dates in the site's zone (``to`` not included); ``interval`` is
15min, hour, day or week. A bad one is a 422 ``{"errors": {field: message}}``. Needs a
board session (401).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from switchboard.board import figures
from switchboard.core.report import Interval, Period, ReportError, period
from switchboard.core.service_level import standing
from switchboard.store.calls import WAIT_EDGES_S
from switchboard.store.users import BoardSession
from switchboard_ui import i18n
from switchboard_ui.i18n import marked as t
from switchboard_ui.keys import POOL, THRESHOLDS, TIMEZONE
from switchboard_ui.session import require_session

#: What switchboard.core.report's ReportError says, for the Dutch catalogue (the core
#: cannot mark its texts; the handler translates them).
REPORT_ERRORS = (
    t("dates from 1970 to 2200"),
    t("the end date must come after the start date"),
    t("more than 3000 intervals: choose a longer interval"),
)


def add_report_routes(app: web.Application) -> None:
    app.router.add_get("/api/figures/today", today_api)
    app.router.add_get("/report", report_page)
    app.router.add_get("/api/report", report_api)
    app.router.add_get("/api/report.csv", report_csv)


def _queue(request: web.Request, errors: dict[str, str]) -> str:
    """Any queue name the journal keeps (as Asterisk names it: spaces, accents)."""
    queue = request.query.get("queue", "").strip()
    if len(queue) > 80 or not queue.isprintable():
        errors["queue"] = "a queue name of at most 80 characters"
        return ""
    return queue


@require_session
async def today_api(request: web.Request, session: BoardSession) -> web.Response:
    errors: dict[str, str] = {}
    queue = _queue(request, errors)
    if errors:
        return web.json_response({"errors": errors}, status=422)
    thresholds = request.app[THRESHOLDS]
    report = await figures.today(
        request.app[POOL], request.app[TIMEZONE], thresholds, datetime.now(UTC), queue
    )
    fields = figures.row_fields(report.total, request.app[TIMEZONE])
    return web.json_response(
        {
            **fields,
            "answer_within_s": thresholds.answer_within_s,
            "short_abandon_s": thresholds.short_abandon_s,
            "target": thresholds.target,
            "standing": standing(report.total.tally.service_level, thresholds.target).value,
            "open_items": report.open_items,
            "oldest_s": _whole(report.oldest_s),
        }
    )


@require_session
async def report_page(request: web.Request, session: BoardSession) -> web.StreamResponse:
    zone = request.app[TIMEZONE]
    today = datetime.now(zone).date()
    return aiohttp_jinja2.render_template(
        "report.html",
        request,
        {
            "session": session,
            "timezone": zone.key,
            "default_from": (today - timedelta(days=6)).isoformat(),
            "default_to": (today + timedelta(days=1)).isoformat(),
        },
    )


def _asked(request: web.Request) -> tuple[Period, Interval, str] | web.Response:
    """The report the query asks for, or the 422 that says what is wrong with it."""
    errors: dict[str, str] = {}
    days: list[date] = []
    for key in ("from", "to"):
        try:
            days.append(date.fromisoformat(request.query.get(key, "")[:10]))
        except ValueError:
            errors[key] = "a date like 2026-12-01"
    try:
        interval = Interval(request.query.get("interval", "day"))
    except ValueError:
        errors["interval"] = "15min, hour, day or week"
        interval = Interval.DAY
    queue = _queue(request, errors)
    if errors:
        return web.json_response({"errors": errors}, status=422)
    try:
        return period(days[0], days[1], request.app[TIMEZONE], interval), interval, queue
    except ReportError as exc:
        said = i18n.translate(i18n.language_of(request), str(exc))
        return web.json_response({"errors": {"to": said}}, status=422)


async def _report(request: web.Request) -> figures.Report | web.Response:
    asked = _asked(request)
    if isinstance(asked, web.Response):
        return asked
    chosen, interval, queue = asked
    thresholds = request.app[THRESHOLDS]
    return await figures.build(
        request.app[POOL], chosen, interval, thresholds, datetime.now(UTC), queue
    )


@require_session
async def report_api(request: web.Request, session: BoardSession) -> web.Response:
    report = await _report(request)
    if isinstance(report, web.Response):
        return report
    zone = report.period.zone
    thresholds = report.thresholds
    body: dict[str, Any] = {
        "from": report.period.start.isoformat(),
        "to": report.period.end.isoformat(),
        "interval": report.interval.value,
        "timezone": zone.key,
        "answer_within_s": thresholds.answer_within_s,
        "target": thresholds.target,
        "short_abandon_s": thresholds.short_abandon_s,
        "rows": [figures.row_fields(row, zone) for row in report.rows],
        "total": figures.row_fields(report.total, zone),
        "waits": {"edges_s": list(WAIT_EDGES_S), "counts": list(report.waits)},
        "worklist": {"open": report.open_items, "oldest_s": _whole(report.oldest_s)},
    }
    return web.json_response(body)


@require_session
async def report_csv(request: web.Request, session: BoardSession) -> web.Response:
    report = await _report(request)
    if isinstance(report, web.Response):
        return report
    text = figures.csv_text(report)
    first, until = report.period.first.isoformat(), report.period.until.isoformat()
    return web.Response(
        text=text,
        content_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="service-level-{first}-{until}.csv"'
        },
    )


def _whole(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds)

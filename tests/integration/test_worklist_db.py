"""The worklist and the service level in the real PostgreSQL, written the way the journal
writes calls (store.calls.write_call): what a missed caller leaves behind, what resolves
it, claims between two service instances, and the report's counts of a scripted day.

Every test uses numbers and queue names of its own: the session's database is shared.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from switchboard.board import figures
from switchboard.core.calls.model import Call, CallOutcome, CallState, FallbackStep
from switchboard.core.report import Interval, period
from switchboard.core.service_level import Thresholds, classify, tally
from switchboard.core.worklist import Outcome
from switchboard.store import worklist
from switchboard.store.calls import write_call

ZONE = ZoneInfo("Europe/Amsterdam")


def fresh_mobile() -> str:
    return f"061{random.randrange(10**6, 10**7)}"


def e164_of(national: str) -> str:
    return "+31" + national[1:]


def call(
    linked_id: str,
    number: str,
    *,
    queued_at: float,
    answered_after: float | None = None,
    ended_after: float,
    outcome: str,
    queue: str = "switchboard",
    fallback: tuple[FallbackStep, ...] = (),
    caller_number: str | None = None,
    place: int = 0,
) -> Call:
    return Call(
        call_id=f"test:{linked_id}",
        pbx="test",
        linked_id=linked_id,
        caller_number=caller_number if caller_number is not None else number,
        caller_name="",
        state=CallState.ENDED,
        started_at=queued_at - 2,
        queued_at=queued_at,
        answered_at=None if answered_after is None else queued_at + answered_after,
        answered_by="200" if answered_after is not None else "",
        ended_at=queued_at + ended_after,
        via_queue=queue,
        outcome=outcome,
        fallback=fallback,
        place=place,
    )


def uid() -> str:
    return f"wl-{random.randrange(10**12)}"


async def items_of(db: asyncpg.Pool, e164: str | None, group: str) -> list[worklist.Item]:
    since = datetime.now(UTC) - timedelta(days=1)
    return [
        i for i in await worklist.board_list(db, since) if i.e164 == e164 and i.queue_group == group
    ]


async def test_a_caller_who_hangs_up_twice_is_one_item_with_two_attempts_and_06_is_plus_31(
    db: asyncpg.Pool,
) -> None:
    national = fresh_mobile()
    queue = f"q{random.randrange(10**9)}"
    t0 = datetime.now(UTC).timestamp() - 600
    first = call(
        uid(),
        national,
        queued_at=t0,
        ended_after=30,
        outcome=CallOutcome.ABANDONED,
        queue=queue,
        place=3,
    )
    second = call(
        uid(),
        e164_of(national),
        queued_at=t0 + 60,
        ended_after=3,
        outcome=CallOutcome.ABANDONED,
        queue=queue,
    )
    for c in (first, second, first):  # journalled twice: counted once
        await write_call(db, c, "NL")
    [item] = await items_of(db, e164_of(national), queue)
    assert item.state == "open" and item.attempts == 2
    assert [(a.kind.value, round(a.waited_s), a.place) for a in item.history] == [
        ("abandoned", 30, 3),
        ("abandoned", 3, 0),
    ]
    # They call again and are answered: resolved at once, while they talk.
    again = call(
        uid(),
        national,
        queued_at=t0 + 300,
        answered_after=4,
        ended_after=4,
        outcome="",
        queue="other",
    )
    again = again.__class__(**{**again.__dict__, "ended_at": None, "state": CallState.TALKING})
    await write_call(db, again, "NL")
    [done] = [
        i
        for i in await worklist.board_list(db, datetime.now(UTC) - timedelta(days=1))
        if i.id == item.id
    ]
    assert done.state == "resolved" and done.resolved_how == "answered when they called again"
    assert done.resolved_by == "200"


async def test_a_withheld_caller_has_a_bucket_and_a_callback_request_is_not_missed(
    db: asyncpg.Pool,
) -> None:
    queue = f"q{random.randrange(10**9)}"
    t0 = datetime.now(UTC).timestamp() - 600
    await write_call(
        db,
        call(
            uid(),
            "",
            caller_number="anonymous",
            queued_at=t0,
            ended_after=20,
            outcome=CallOutcome.ABANDONED,
            queue=queue,
        ),
        "NL",
    )
    national = fresh_mobile()
    asked = call(
        uid(),
        national,
        queued_at=t0,
        ended_after=200,
        outcome=CallOutcome.MISSED,
        queue=queue,
        fallback=(FallbackStep("callback", t0 + 180),),
    )
    await write_call(db, asked, "NL")
    [bucket] = await items_of(db, None, queue)
    assert bucket.attempts == 1
    assert await items_of(db, e164_of(national), queue) == []


async def test_a_call_out_that_talks_ten_seconds_resolves_and_five_do_not(db: asyncpg.Pool) -> None:
    national = fresh_mobile()
    queue = f"q{random.randrange(10**9)}"
    t0 = datetime.now(UTC).timestamp() - 900
    await write_call(
        db,
        call(
            uid(),
            national,
            queued_at=t0,
            ended_after=40,
            outcome=CallOutcome.ABANDONED,
            queue=queue,
        ),
        "NL",
    )
    short = Call(
        call_id="test:x",
        pbx="test",
        linked_id=uid(),
        caller_number="201",
        caller_name="",
        state=CallState.ENDED,
        started_at=t0 + 100,
        dialled=national,
        answered_at=t0 + 105,
        ended_at=t0 + 110,
        outcome=CallOutcome.ANSWERED,
    )
    await write_call(db, short, "NL")
    [item] = await items_of(db, e164_of(national), queue)
    assert item.state == "open"
    long = Call(
        call_id="test:y",
        pbx="test",
        linked_id=uid(),
        caller_number="201",
        caller_name="",
        state=CallState.ENDED,
        started_at=t0 + 200,
        dialled=national,
        answered_at=t0 + 205,
        ended_at=t0 + 225,
        outcome=CallOutcome.ANSWERED,
    )
    await write_call(db, long, "NL")
    [item] = await items_of(db, e164_of(national), queue)
    assert (item.state, item.resolved_how, item.resolved_by) == ("resolved", "called back", "201")


async def test_two_instances_agree_on_who_holds_an_item(
    db: asyncpg.Pool, postgres_dsn: str
) -> None:
    national = fresh_mobile()
    queue = f"q{random.randrange(10**9)}"
    t0 = datetime.now(UTC).timestamp() - 600
    await write_call(
        db,
        call(
            uid(), national, queued_at=t0, ended_after=40, outcome=CallOutcome.MISSED, queue=queue
        ),
        "NL",
    )
    [item] = await items_of(db, e164_of(national), queue)
    other = await asyncpg.create_pool(postgres_dsn, min_size=1, max_size=2)
    try:
        now = datetime.now(UTC)
        assert (await worklist.claim(db, item.id, "sanne", now)).held
        refused = await worklist.claim(other, item.id, "lotte", now)
        assert refused == worklist.ClaimResult(False, "sanne")
        # Lotte cannot record an outcome on Sanne's item; after the lease, she may take it.
        assert not await worklist.record_outcome(other, item.id, "lotte", Outcome.HELPED, "", now)
        assert (await worklist.claim(other, item.id, "lotte", now + timedelta(minutes=11))).held
        assert await worklist.record_outcome(
            other, item.id, "lotte", Outcome.NO_ANSWER, "rang out", now
        )
        [kept] = await items_of(db, e164_of(national), queue)
        assert kept.state == "open" and kept.claimed_by is None and kept.note == "rang out"
        assert (await worklist.claim(db, item.id, "sanne", now)).held
        assert await worklist.record_outcome(
            db, item.id, "sanne", Outcome.HELPED, "sent the invoice", now
        )
        [closed] = await items_of(db, e164_of(national), queue)
        assert (closed.state, closed.outcome, closed.note) == (
            "resolved",
            "helped",
            "sent the invoice",
        )
        assert not (await worklist.claim(other, item.id, "lotte", now)).held
    finally:
        await other.close()


async def test_the_report_counts_a_scripted_day_as_hand_counted_and_as_the_pure_tally(
    db: asyncpg.Pool,
) -> None:
    queue = f"day{random.randrange(10**9)}"
    day = date(2026, 3, 10)
    at = datetime(2026, 3, 10, 9, 0, tzinfo=ZONE).timestamp()
    script = [
        call(
            uid(),
            fresh_mobile(),
            queued_at=at,
            answered_after=10,
            ended_after=100,
            outcome=CallOutcome.ANSWERED,
            queue=queue,
        ),
        call(
            uid(),
            fresh_mobile(),
            queued_at=at + 60,
            answered_after=20,
            ended_after=100,
            outcome=CallOutcome.ANSWERED,
            queue=queue,
        ),
        call(
            uid(),
            fresh_mobile(),
            queued_at=at + 120,
            ended_after=3,
            outcome=CallOutcome.ABANDONED,
            queue=queue,
        ),
        call(
            uid(),
            fresh_mobile(),
            queued_at=at + 3600,
            ended_after=30,
            outcome=CallOutcome.ABANDONED,
            queue=queue,
        ),
        call(
            uid(),
            fresh_mobile(),
            queued_at=at + 3700,
            ended_after=200,
            outcome=CallOutcome.MISSED,
            queue=queue,
            fallback=(FallbackStep("voicemail", at + 3700 + 120),),
        ),
        call(
            uid(),
            fresh_mobile(),
            queued_at=at + 3800,
            ended_after=200,
            outcome=CallOutcome.MISSED,
            queue=queue,
            fallback=(FallbackStep("callback", at + 3800 + 90),),
        ),
    ]
    for c in script:
        await write_call(db, c, "NL")
    thresholds = Thresholds()
    asked = period(day, day + timedelta(days=1), ZONE, Interval.HOUR)
    report = await figures.build(db, asked, Interval.HOUR, thresholds, datetime.now(UTC), queue)
    total = report.total.tally
    # By hand: answered 2 (one within 15 s), abandoned 1 after 5 s, 1 within 5 s, sent on 2.
    assert (
        total.answered,
        total.answered_in_time,
        total.abandoned,
        total.short_abandons,
        total.sent_on,
    ) == (2, 1, 1, 1, 2)
    assert total.service_level == 1 / 5
    pure = tally([c for c in map(classify, script) if c is not None], thresholds)
    assert pure == total
    by_hour = {r.start.astimezone(ZONE).hour: r.tally for r in report.rows if r.tally.arrivals}
    assert {h: t.arrivals for h, t in by_hour.items()} == {9: 3, 10: 3}
    assert len(report.rows) == 24
    assert report.waits[2] == 1 and report.waits[4] == 1  # 10 s in 10-15, 20 s in 20-30


async def test_a_25_hour_day_has_25_hours_and_one_day(db: asyncpg.Pool) -> None:
    queue = f"dst{random.randrange(10**9)}"
    day = date(2026, 10, 25)  # CEST -> CET at 03:00
    first = datetime(2026, 10, 25, 2, 30, tzinfo=ZONE, fold=0).timestamp()  # 02:30 CEST
    second = datetime(2026, 10, 25, 2, 30, tzinfo=ZONE, fold=1).timestamp()  # 02:30 CET
    late = datetime(2026, 10, 25, 23, 50, tzinfo=ZONE).timestamp()
    for at in (first, second, late):
        await write_call(
            db,
            call(
                uid(),
                fresh_mobile(),
                queued_at=at,
                answered_after=5,
                ended_after=60,
                outcome=CallOutcome.ANSWERED,
                queue=queue,
            ),
            "NL",
        )
    hours = await figures.build(
        db,
        period(day, day + timedelta(days=1), ZONE, Interval.HOUR),
        Interval.HOUR,
        Thresholds(),
        datetime.now(UTC),
        queue,
    )
    assert len(hours.rows) == 25
    shown = [
        (r.start.astimezone(ZONE).strftime("%H:%M %Z"), r.tally.arrivals)
        for r in hours.rows
        if r.tally.arrivals
    ]
    assert shown == [("02:00 CEST", 1), ("02:00 CET", 1), ("23:00 CET", 1)]
    days = await figures.build(
        db,
        period(day, day + timedelta(days=1), ZONE, Interval.DAY),
        Interval.DAY,
        Thresholds(),
        datetime.now(UTC),
        queue,
    )
    assert [r.tally.arrivals for r in days.rows] == [3]

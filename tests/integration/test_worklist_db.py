"""The worklist and the service level in the real PostgreSQL, written the way the journal
writes calls (store.calls.write_call): what a missed caller leaves behind, what resolves
it, claims between two service instances, and the report's counts of a scripted day.

Every test uses numbers and queue names of its own: the session's database is shared.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from switchboard.board import figures
from switchboard.core.callbacks import CallbackState, RetryPolicy
from switchboard.core.calls.model import Call, CallOutcome, CallState, FallbackStep
from switchboard.core.report import Interval, period
from switchboard.core.service_level import Thresholds, classify, tally
from switchboard.core.worklist import Outcome
from switchboard.store import callbacks, worklist
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


async def hung_up_withheld(db: asyncpg.Pool, queue: str, at: float) -> None:
    """A caller with a withheld number hangs up after 20 s in ``queue``."""
    withheld = call(
        uid(),
        "",
        caller_number="anonymous",
        queued_at=at,
        ended_after=20,
        outcome=CallOutcome.ABANDONED,
        queue=queue,
    )
    await write_call(db, withheld, "NL")


async def missed_caller(db: asyncpg.Pool) -> tuple[str, str, worklist.Item]:
    """A caller nobody answered 10 minutes ago (40 s in a queue of its own): their
    number, the queue and their open item."""
    national = fresh_mobile()
    queue = f"q{random.randrange(10**9)}"
    t0 = datetime.now(UTC).timestamp() - 600
    missed = call(
        uid(), national, queued_at=t0, ended_after=40, outcome=CallOutcome.MISSED, queue=queue
    )
    await write_call(db, missed, "NL")
    [item] = await items_of(db, e164_of(national), queue)
    return national, queue, item


async def board_call_back(
    db: asyncpg.Pool, item_id: int, phone: str, at: float, talked_s: float
) -> Call:
    """The board's call-back for ``item_id`` (``phone`` rung first, then the number),
    answered at ``at`` and on for ``talked_s``, as the journal writes it."""
    back = Call(
        call_id=f"test:back-{item_id}",
        pbx="test",
        linked_id=f"sb-worklist-{item_id}-{uid()[-6:]}",
        caller_number=phone,
        caller_name="",
        state=CallState.ENDED,
        started_at=at - 5,
        answered_at=at,
        ended_at=at + talked_s,
        outcome=CallOutcome.ANSWERED,
    )
    await write_call(db, back, "NL")
    return back


def stranger(**facts: Any) -> Call:
    """A call from a number of its own (``facts`` as :func:`call` takes them)."""
    return call(uid(), fresh_mobile(), **facts)


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
    """The fallback chain's callback step: one caller's request is stored (the dialplan's
    SwitchboardCallbackAsked), another hangs up while being offered it: only the second
    is a missed caller."""
    queue = f"q{random.randrange(10**9)}"
    t0 = datetime.now(UTC).timestamp() - 600
    await hung_up_withheld(db, queue, t0)
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
    await write_call(db, replace(asked, callback_asked=True), "NL")
    [bucket] = await items_of(db, None, queue)
    assert bucket.attempts == 1
    assert await items_of(db, e164_of(national), queue) == []
    offered = fresh_mobile()
    await write_call(db, replace(asked, linked_id=uid(), caller_number=offered), "NL")
    [item] = await items_of(db, e164_of(offered), queue)
    assert [a.step for a in item.history] == ["callback"]


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
    national, queue, item = await missed_caller(db)
    other = await asyncpg.create_pool(postgres_dsn, min_size=1, max_size=2)
    try:
        now = datetime.now(UTC)
        # Both ask at the same moment, each on its own instance's pool: one holds it.
        first, second = await asyncio.gather(
            worklist.claim(db, item.id, "sanne"), worklist.claim(other, item.id, "lotte")
        )
        assert sorted([first.held, second.held]) == [False, True]
        winner, loser = ("sanne", "lotte") if first.held else ("lotte", "sanne")
        mine, theirs = (db, other) if first.held else (other, db)
        assert (await worklist.claim(theirs, item.id, loser)) == worklist.ClaimResult(False, winner)
        assert not await worklist.record_outcome(theirs, item.id, loser, Outcome.HELPED, "", now)
        renewed = await worklist.claim(mine, item.id, winner)
        assert renewed.held and not renewed.new
        # The lease runs out (by PostgreSQL's clock): the other may take it.
        await db.execute(
            "UPDATE worklist_items SET claim_until = now() - interval '1 second' WHERE id = $1",
            item.id,
        )
        assert (await worklist.claim(theirs, item.id, loser)).new
        assert await worklist.record_outcome(
            theirs, item.id, loser, Outcome.NO_ANSWER, "rang out", now
        )
        [kept] = await items_of(db, e164_of(national), queue)
        assert kept.state == "open" and kept.claimed_by is None and kept.note == "rang out"
        assert (await worklist.claim(mine, item.id, winner)).held
        assert await worklist.record_outcome(
            mine, item.id, winner, Outcome.HELPED, "sent the invoice", now
        )
        [closed] = await items_of(db, e164_of(national), queue)
        assert (closed.state, closed.outcome, closed.note) == (
            "resolved",
            "helped",
            "sent the invoice",
        )
        assert not (await worklist.claim(theirs, item.id, loser)).held
    finally:
        await other.close()


async def test_two_instances_journalling_one_call_count_it_once(
    db: asyncpg.Pool, postgres_dsn: str
) -> None:
    national = fresh_mobile()
    queue = "Sales Team"  # any name Asterisk gives a queue: a space, an accent
    t0 = datetime.now(UTC).timestamp() - 600
    missed = call(
        uid(), national, queued_at=t0, ended_after=40, outcome=CallOutcome.ABANDONED, queue=queue
    )
    other = await asyncpg.create_pool(postgres_dsn, min_size=1, max_size=2)
    try:
        await asyncio.gather(*(write_call(pool, missed, "NL") for pool in (db, other, db, other)))
    finally:
        await other.close()
    [item] = await items_of(db, e164_of(national), queue)
    assert item.attempts == 1 and len(item.history) == 1


async def test_a_caller_who_asked_for_a_callback_in_the_queue_is_not_missed(
    db: asyncpg.Pool,
) -> None:
    national = fresh_mobile()
    queue = f"q{random.randrange(10**9)}"
    t0 = datetime.now(UTC).timestamp() - 600
    asked = replace(
        call(
            uid(),
            national,
            queued_at=t0,
            ended_after=200,
            outcome=CallOutcome.ABANDONED,
            queue=queue,
        ),
        callback_asked=True,
    )
    await write_call(db, asked, "NL")
    assert await items_of(db, e164_of(national), queue) == []
    kind = await db.fetchval("SELECT sl_kind FROM calls WHERE linked_id = $1", asked.linked_id)
    assert kind == "sent on"


async def test_a_callback_that_fails_lands_on_the_worklist_and_one_that_reaches_resolves(
    db: asyncpg.Pool,
) -> None:
    national = fresh_mobile()
    e164 = e164_of(national)
    queue = f"q{random.randrange(10**9)}"
    policy = RetryPolicy(attempts=1, interval=timedelta(minutes=5))
    now = datetime.now(UTC)
    await callbacks.request(
        db,
        pbx="wl",
        queue=queue,
        e164=e164,
        source="board",
        joined_at=now - timedelta(minutes=7),
        not_before=now - timedelta(minutes=7),
    )
    (taken,) = await callbacks.claim(
        db,
        pbx="wl",
        queue=queue,
        owner="one",
        members=["200"],
        now=now,
        lease=timedelta(seconds=60),
    )
    assert (
        await callbacks.finish_attempt(
            db, taken.id, "one", reached=False, result="dial NOANSWER", now=now, policy=policy
        )
        is CallbackState.NOT_REACHED
    )
    [item] = await items_of(db, e164, queue)
    [failed] = item.history
    assert (failed.kind.value, failed.callback_attempts, round(failed.waited_s)) == (
        "callback not reached",
        1,
        420,
    )
    # A later callback that reaches them resolves the item, and its speed is counted.
    again, _ = await callbacks.request(
        db, pbx="wl", queue=queue, e164=e164, source="board", joined_at=now, not_before=now
    )
    (dialled,) = await callbacks.claim(
        db,
        pbx="wl",
        queue=queue,
        owner="one",
        members=["200"],
        now=now,
        lease=timedelta(seconds=60),
    )
    assert await callbacks.connected(db, dialled.id, dialled.attempts)
    await callbacks.finish_attempt(
        db, dialled.id, "one", reached=True, result="reached", now=now, policy=policy
    )
    [done] = await items_of(db, e164, queue)
    assert (done.state, done.resolved_how, done.resolved_by) == (
        "resolved",
        "a callback reached them",
        "200",
    )
    assert await db.fetchval("SELECT reached_at IS NOT NULL FROM callbacks WHERE id = $1", again.id)
    today = date.today()
    around = period(today - timedelta(days=1), today + timedelta(days=2), ZONE, Interval.DAY)
    speed = await callbacks.speed_rows(db, [around.start], [around.end], queue)
    assert [(s.requested, s.reached) for s in speed] == [(2, 1)]
    assert speed[0].p50_s is not None and speed[0].p50_s >= 0


async def test_a_call_back_from_the_board_that_met_a_voicemail_opens_the_item_again(
    db: asyncpg.Pool,
) -> None:
    national, queue, item = await missed_caller(db)
    t0 = item.opened_at.timestamp() - 40
    assert (await worklist.claim(db, item.id, "sanne")).held
    # Her call from the board: phone 200 first, then the number; a 20 s greeting.
    back = await board_call_back(db, item.id, "200", t0 + 110, 20)
    [resolved] = await items_of(db, e164_of(national), queue)
    assert (resolved.state, resolved.resolved_how) == ("resolved", "called back")
    assert resolved.resolved_call == back.linked_id
    now = datetime.now(UTC)
    assert not await worklist.record_outcome(db, item.id, "lotte", Outcome.VOICEMAIL, "", now)
    assert await worklist.record_outcome(
        db, item.id, "sanne", Outcome.VOICEMAIL, "left a message", now
    )
    [reopened] = await items_of(db, e164_of(national), queue)
    assert (reopened.state, reopened.outcome, reopened.claimed_by) == ("open", "voicemail", None)


async def test_the_report_counts_a_scripted_day_as_hand_counted_and_as_the_pure_tally(
    db: asyncpg.Pool,
) -> None:
    queue = f"day{random.randrange(10**9)}"
    day = date(2026, 3, 10)
    at = datetime(2026, 3, 10, 9, 0, tzinfo=ZONE).timestamp()
    script = [
        stranger(
            queued_at=at,
            answered_after=10,
            ended_after=100,
            outcome=CallOutcome.ANSWERED,
            queue=queue,
        ),
        stranger(
            queued_at=at + 60,
            answered_after=20,
            ended_after=100,
            outcome=CallOutcome.ANSWERED,
            queue=queue,
        ),
        stranger(
            queued_at=at + 120,
            ended_after=3,
            outcome=CallOutcome.ABANDONED,
            queue=queue,
        ),
        stranger(
            queued_at=at + 3600,
            ended_after=30,
            outcome=CallOutcome.ABANDONED,
            queue=queue,
        ),
        stranger(
            queued_at=at + 3700,
            ended_after=200,
            outcome=CallOutcome.MISSED,
            queue=queue,
            fallback=(FallbackStep("voicemail", at + 3700 + 120),),
        ),
        stranger(
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


async def answered_calls(db: asyncpg.Pool, queue: str, moments: list[datetime]) -> None:
    """A call answered after 5 s at each of ``moments`` (queued then), in ``queue``."""
    for at in moments:
        answered = stranger(
            queued_at=at.timestamp(),
            answered_after=5,
            ended_after=60,
            outcome=CallOutcome.ANSWERED,
            queue=queue,
        )
        await write_call(db, answered, "NL")


async def day_report(db: asyncpg.Pool, day: date, interval: Interval, queue: str) -> figures.Report:
    asked = period(day, day + timedelta(days=1), ZONE, interval)
    return await figures.build(db, asked, interval, Thresholds(), datetime.now(UTC), queue)


def busy(report: figures.Report) -> list[tuple[str, int]]:
    """The intervals with calls, as the site's clock names them ("02:00 CEST")."""
    return [
        (r.start.astimezone(ZONE).strftime("%H:%M %Z"), r.tally.arrivals)
        for r in report.rows
        if r.tally.arrivals
    ]


async def test_a_25_hour_day_has_25_hours_and_one_day(db: asyncpg.Pool) -> None:
    queue = f"dst{random.randrange(10**9)}"
    day = date(2026, 10, 25)  # CEST -> CET at 03:00
    await answered_calls(
        db,
        queue,
        [
            datetime(2026, 10, 25, 2, 30, tzinfo=ZONE, fold=0),  # 02:30 CEST
            datetime(2026, 10, 25, 2, 30, tzinfo=ZONE, fold=1),  # 02:30 CET
            datetime(2026, 10, 25, 23, 50, tzinfo=ZONE),
        ],
    )
    hours = await day_report(db, day, Interval.HOUR, queue)
    assert len(hours.rows) == 25
    assert busy(hours) == [("02:00 CEST", 1), ("02:00 CET", 1), ("23:00 CET", 1)]
    days = await day_report(db, day, Interval.DAY, queue)
    assert [r.tally.arrivals for r in days.rows] == [3]


async def test_a_23_hour_day_and_a_week_counted_from_the_periods_start(db: asyncpg.Pool) -> None:
    queue = f"spring{random.randrange(10**9)}"
    day = date(2026, 3, 29)  # CET -> CEST at 02:00: 02:00-03:00 does not exist
    await answered_calls(
        db,
        queue,
        [
            datetime(2026, 3, 29, 1, 30, tzinfo=ZONE),
            datetime(2026, 3, 29, 3, 30, tzinfo=ZONE),
            datetime(2026, 3, 27, 10, 0, tzinfo=ZONE),  # the Friday before: not in the week
        ],
    )
    hours = await day_report(db, day, Interval.HOUR, queue)
    assert len(hours.rows) == 23
    assert busy(hours) == [("01:00 CET", 1), ("03:00 CEST", 1)]
    # A week from Sunday 29 March: its row is Monday the 23rd's, its calls only Sunday's.
    weeks = await day_report(db, day, Interval.WEEK, queue)
    assert [(r.start.date(), r.tally.arrivals) for r in weeks.rows] == [(date(2026, 3, 23), 2)]
    assert weeks.total.tally.arrivals == 2


async def test_a_call_back_from_the_board_resolves_the_numbers_items_in_every_queue(
    db: asyncpg.Pool,
) -> None:
    national, queue, item = await missed_caller(db)
    other_queue = f"q{random.randrange(10**9)}"
    t0 = item.opened_at.timestamp()
    elsewhere = call(
        uid(),
        national,
        queued_at=t0,
        ended_after=30,
        outcome=CallOutcome.ABANDONED,
        queue=other_queue,
    )
    await write_call(db, elsewhere, "NL")
    await board_call_back(db, item.id, "201", t0 + 105, 35)
    for group in (queue, other_queue):
        [done] = await items_of(db, e164_of(national), group)
        assert (done.state, done.resolved_by) == ("resolved", "201")

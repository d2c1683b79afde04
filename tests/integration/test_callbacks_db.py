"""Callbacks in the real PostgreSQL (issue 14): one active request per number and queue,
work taken with SKIP LOCKED under a lease, fenced by its owner, and exactly once across
two service instances (two pools on one database, as two hosts would have)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from switchboard.core.callbacks import CallbackError, CallbackState, RetryPolicy
from switchboard.store import callbacks

pytestmark = pytest.mark.integration

LEASE = timedelta(seconds=30)


def queue_name() -> str:
    """A queue of the test's own: the session's database is shared."""
    return f"cb-{uuid.uuid4().hex[:12]}"


async def ask(
    db: asyncpg.Pool, queue: str, e164: str, joined_at: datetime, **extra: object
) -> tuple[callbacks.StoredCallback, bool]:
    return await callbacks.request(
        db,
        pbx="main",
        queue=queue,
        e164=e164,
        source="queue",
        joined_at=joined_at,
        not_before=joined_at - timedelta(hours=1),  # due at once
        **extra,  # type: ignore[arg-type]
    )


async def test_a_second_request_merges_into_the_first_and_keeps_its_place(
    db: asyncpg.Pool,
) -> None:
    queue, now = queue_name(), datetime.now(UTC)
    first, merged = await ask(db, queue, "+31612345678", now - timedelta(minutes=5))
    assert not merged and first.state is CallbackState.WAITING
    again, merged = await ask(db, queue, "+31612345678", now, name="Anna")
    assert merged and again.id == first.id and again.requests == 2
    assert again.joined_at == first.joined_at and again.name == "Anna"
    # Another queue is another line.
    other, merged = await ask(db, queue_name(), "+31612345678", now)
    assert not merged and other.id != first.id
    # Done, the number may ask again: a new request, a new place.
    assert await callbacks.answered_meanwhile(db, "main", "+31612345678") >= 1
    fresh, merged = await ask(db, queue, "+31612345678", now)
    assert not merged and fresh.id != first.id


async def test_the_database_refuses_what_the_core_refuses(db: asyncpg.Pool) -> None:
    with pytest.raises(CallbackError):
        await ask(db, queue_name(), "0612345678", datetime.now(UTC))
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(
            "INSERT INTO callbacks (pbx, queue, e164, source, joined_at)"
            " VALUES ('main', 'q', '+31612345678''; --', 'queue', now())"
        )


async def test_taken_in_place_order_retried_with_its_place_and_fenced_by_its_owner(
    db: asyncpg.Pool,
) -> None:
    queue, now = queue_name(), datetime.now(UTC)
    late, _ = await ask(db, queue, "+31612000002", now - timedelta(minutes=1))
    early, _ = await ask(db, queue, "+31612000001", now - timedelta(minutes=9))
    (taken,) = await callbacks.claim(
        db, pbx="main", queue=queue, owner="a", members=["201"], now=now, lease=LEASE
    )
    assert taken.id == early.id and taken.state is CallbackState.DIALLING
    assert taken.attempts == 1 and taken.lease_owner == "a"
    # Another instance cannot finish what "a" holds.
    policy = RetryPolicy(attempts=2, interval=timedelta(minutes=5))
    assert (
        await callbacks.finish_attempt(
            db, early.id, "b", reached=False, result="no answer", now=now, policy=policy
        )
        is None
    )
    # Not reached: back in line, in its old place, after the interval.
    state = await callbacks.finish_attempt(
        db, early.id, "a", reached=False, result="no answer", now=now, policy=policy
    )
    assert state is CallbackState.WAITING
    line = await callbacks.in_line(db, "main", queue)
    assert [c.id for c in line] == [early.id, late.id]
    assert line[0].not_before == now + timedelta(minutes=5)
    # Its turn, but not its time: the next in line is taken instead.
    (second,) = await callbacks.claim(
        db, pbx="main", queue=queue, owner="a", members=["201", "202"], now=now, lease=LEASE
    )
    assert second.id == late.id
    # Reached means the caller pressed 1 (connected) first: a voicemail never does.
    with pytest.raises(CallbackError, match="dialling callback cannot become done"):
        await callbacks.finish_attempt(
            db, late.id, "a", reached=True, result="reached", now=now, policy=policy
        )
    assert await callbacks.connected(db, late.id, 1)
    assert (
        await callbacks.finish_attempt(
            db, late.id, "a", reached=True, result="reached", now=now, policy=policy
        )
        is CallbackState.DONE
    )
    # The second attempt, five minutes on, is the last one.
    later = now + timedelta(minutes=5)
    (retry,) = await callbacks.claim(
        db, pbx="main", queue=queue, owner="b", members=["203"], now=later, lease=LEASE
    )
    assert retry.id == early.id and retry.attempts == 2
    assert (
        await callbacks.finish_attempt(
            db, early.id, "b", reached=False, result="busy", now=later, policy=policy
        )
        is CallbackState.NOT_REACHED
    )
    attempts = await db.fetch(
        "SELECT attempt, owner, result FROM callback_attempts WHERE callback_id = $1"
        " ORDER BY attempt",
        early.id,
    )
    assert [tuple(a) for a in attempts] == [(1, "a", "no answer"), (2, "b", "busy")]


async def test_a_lease_that_ran_out_goes_back_in_line_unless_it_was_renewed(
    db: asyncpg.Pool,
) -> None:
    queue, now = queue_name(), datetime.now(UTC)
    one, _ = await ask(db, queue, "+31612000011", now)
    two, _ = await ask(db, queue, "+31612000012", now + timedelta(seconds=1))
    await callbacks.claim(
        db, pbx="main", queue=queue, owner="dead", members=["201", "202"], now=now, lease=LEASE
    )
    assert await callbacks.renew(db, two.id, "dead", now + timedelta(minutes=10))
    expired = [
        c for c in await callbacks.expired_leases(db, "main", now + LEASE * 2) if c.queue == queue
    ]
    assert [c.id for c in expired] == [one.id]
    assert await callbacks.release(db, one.id, expired[0].lease_until, now + LEASE * 2)
    assert not await callbacks.release(db, one.id, expired[0].lease_until, now + LEASE * 2)
    assert [c.id for c in await callbacks.in_line(db, "main", queue)] == [one.id]
    # The dead instance's late word changes nothing any more.
    assert (
        await callbacks.finish_attempt(
            db, one.id, "dead", reached=True, result="reached", now=now, policy=RetryPolicy()
        )
        is None
    )


async def test_two_instances_dial_200_callbacks_each_exactly_once(postgres_dsn: str) -> None:
    queue, now = queue_name(), datetime.now(UTC)
    pools = [await asyncpg.create_pool(postgres_dsn, min_size=2, max_size=4) for _ in range(2)]
    try:
        for i in range(200):
            await ask(pools[0], queue, f"+316120{i:05d}", now + timedelta(milliseconds=i))
        dialled: Counter[int] = Counter()

        async def instance(name: str, pool: asyncpg.Pool) -> None:
            while True:
                members = [f"{name}-{i}" for i in range(3)]
                taken = await callbacks.claim(
                    pool, pbx="main", queue=queue, owner=name, members=members, now=now, lease=LEASE
                )
                if not taken:
                    return
                for callback in taken:
                    dialled[callback.id] += 1
                    await asyncio.sleep(0)  # the other instance runs meanwhile
                    assert await callbacks.connected(pool, callback.id, callback.attempts)
                    state = await callbacks.finish_attempt(
                        pool,
                        callback.id,
                        name,
                        reached=True,
                        result="reached",
                        now=now,
                        policy=RetryPolicy(),
                    )
                    assert state is CallbackState.DONE

        await asyncio.gather(*(instance(f"host{i}", p) for i, p in enumerate(pools)))
    finally:
        for pool in pools:
            await pool.close()
    assert len(dialled) == 200
    assert max(dialled.values()) == 1


async def test_two_instances_never_give_one_member_two_callbacks_at_once(
    postgres_dsn: str,
) -> None:
    """Both instances see the same two free members: at most two callbacks dial at once,
    each member on one of them."""
    queue, now = queue_name(), datetime.now(UTC)
    pools = [await asyncpg.create_pool(postgres_dsn, min_size=2, max_size=4) for _ in range(2)]
    ringing: dict[str, int] = {}
    most = 0
    try:
        for i in range(30):
            await ask(pools[0], queue, f"+316121{i:05d}", now + timedelta(milliseconds=i))

        async def instance(name: str, pool: asyncpg.Pool) -> None:
            nonlocal most
            while await callbacks.in_line(pool, "main", queue):
                taken = await callbacks.claim(
                    pool,
                    pbx="main",
                    queue=queue,
                    owner=name,
                    members=["301", "302"],
                    now=now,
                    lease=LEASE,
                )
                for callback in taken:
                    assert callback.member not in ringing, (callback.member, ringing)
                    ringing[callback.member] = callback.id
                most = max(most, len(ringing))
                await asyncio.sleep(0.01)  # the calls go on; the other instance claims
                for callback in taken:
                    del ringing[callback.member]
                    await callbacks.finish_attempt(
                        pool,
                        callback.id,
                        name,
                        reached=False,
                        result="busy",
                        now=now,
                        policy=RetryPolicy(attempts=1),
                    )

        await asyncio.gather(*(instance(f"host{i}", p) for i, p in enumerate(pools)))
    finally:
        for pool in pools:
            await pool.close()
    assert most == 2


async def test_call_back_now_is_refused_to_a_member_on_another_callback(db: asyncpg.Pool) -> None:
    queue, now = queue_name(), datetime.now(UTC)
    first, _ = await ask(db, queue, "+31612200001", now - timedelta(minutes=3))
    second, _ = await ask(db, queue, "+31612200002", now - timedelta(minutes=2))
    (taken,) = await callbacks.claim(
        db, pbx="main", queue=queue, owner="a", members=["305"], now=now, lease=LEASE
    )
    assert taken.id == first.id and taken.member == "305"
    assert (
        await callbacks.claim_one(db, second.id, owner="b", member="305", now=now, lease=LEASE)
        is None
    )
    # Nor is one being dialled given to a second receptionist.
    assert (
        await callbacks.claim_one(db, first.id, owner="b", member="306", now=now, lease=LEASE)
        is None
    )
    now_taken = await callbacks.claim_one(
        db, second.id, owner="b", member="306", now=now, lease=LEASE
    )
    assert now_taken is not None and now_taken.member == "306"

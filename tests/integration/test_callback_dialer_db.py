"""The callback dialer against the real PostgreSQL, with the PBX played by the test
(issue 14): whose turn it is, member first, done only when the caller accepted, a member
who did not answer costs no attempt, and a dialler that went away is reconciled with the
PBX's live channels before anything is dialled."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from ami_bridge.callback_dialer import CallbackDialer
from switchboard.config import CallbacksConfig
from switchboard.core.calls.model import Call, CallState, Channel
from switchboard.core.calls.presence import Extension, QueueMembership
from switchboard.store import callbacks

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


@dataclass
class FakeModel:
    calls: list[Call] = field(default_factory=list)
    channels: dict[str, Channel] = field(default_factory=dict)

    def snapshot(self) -> list[Call]:
        return self.calls


@dataclass
class FakePresence:
    extensions: dict[str, Extension] = field(default_factory=dict)


class FakeAMI:
    def __init__(self, answer: str = "Success") -> None:
        self.sent: list[dict[str, str]] = []
        self.answer = answer

    async def __call__(self, action: Mapping[str, str], _timeout: float) -> Mapping[str, str]:
        self.sent.append(dict(action))
        return {"Response": self.answer}


def dialled(ami: FakeAMI, callback_id: int) -> str:
    """The channel id of the last Originate for ``callback_id``: its attempt, and a part
    new for every dial."""
    (channel_id,) = [
        a["ChannelId"] for a in ami.sent if a["ChannelId"].startswith(f"sb-callback-{callback_id}-")
    ][-1:]
    return channel_id


def member(ext: str, queue: str, device: str = "idle") -> Extension:
    return Extension("sandbox", ext, device=device, queues=(QueueMembership(queue),))


def live_caller(queue: str, joined: datetime, linked_id: str) -> Call:
    return Call(
        call_id=f"sandbox:{linked_id}",
        pbx="sandbox",
        linked_id=linked_id,
        caller_number="0612345678",
        caller_name="",
        state=CallState.QUEUED,
        started_at=joined.timestamp(),
        queue=queue,
        queue_position=1,
        queued_at=joined.timestamp(),
    )


async def setup(
    db: asyncpg.Pool,
    members: list[Extension],
    queue: str,
    ami: FakeAMI,
    model: FakeModel | None = None,
) -> tuple[CallbackDialer, list[asyncio.Task[None]]]:
    tasks: list[asyncio.Task[None]] = []

    def spawn(work: Coroutine[Any, Any, None]) -> None:
        tasks.append(asyncio.create_task(work))

    dialer = CallbackDialer(
        "sandbox",
        db,
        ami,
        model or FakeModel(),  # type: ignore[arg-type]
        FakePresence({m.extension: m for m in members}),  # type: ignore[arg-type]
        CallbacksConfig(queues=(queue,)),
        clock=lambda: NOW,
        spawn=spawn,
    )
    return dialer, tasks


async def ask(db: asyncpg.Pool, queue: str, e164: str, joined: datetime) -> int:
    stored, _ = await callbacks.request(
        db,
        pbx="sandbox",
        queue=queue,
        e164=e164,
        source="queue",
        joined_at=joined,
        not_before=joined,
    )
    return stored.id


async def test_the_callback_at_the_front_rings_a_free_member_and_is_done_when_accepted(
    db: asyncpg.Pool,
) -> None:
    queue = f"cb-{uuid.uuid4().hex[:10]}"
    first = await ask(db, queue, "+31612000201", NOW - timedelta(minutes=12))
    await ask(db, queue, "+31612000202", NOW - timedelta(minutes=2))
    ami = FakeAMI()
    # A live caller joined between the two: with two free members, the first
    # callback and the live caller are served; the second callback waits.
    model = FakeModel([live_caller(queue, NOW - timedelta(minutes=5), "live.1")])
    dialer, tasks = await setup(db, [member("201", queue), member("202", queue)], queue, ami, model)
    await dialer.tick()
    await asyncio.gather(*tasks)
    (originate,) = ami.sent
    assert originate["Channel"] == "PJSIP/201"
    assert originate["ChannelId"] == originate["ActionID"]
    assert re.fullmatch(rf"sb-callback-{first}-1-[0-9a-f]{{6}}", originate["ChannelId"])
    assert "SB_CALLBACK_WAITED=12" in originate["Variable"]
    assert "SB_CALLBACK_NUMBER=+31612000201" in originate["Variable"]
    channel = dialled(ami, first)
    for result in ("member answered", "accepted"):
        dialer.on_event(
            {
                "Event": "UserEvent",
                "UserEvent": "SwitchboardCallback",
                "Id": str(first),
                "Attempt": "1",
                "Result": result,
            }
        )
    dialer.on_event({"Event": "Hangup", "Uniqueid": channel})
    await asyncio.gather(*tasks)
    row = await db.fetchrow("SELECT state, attempts FROM callbacks WHERE id = $1", first)
    assert (row["state"], row["attempts"]) == ("done", 1)


async def test_a_member_who_does_not_answer_costs_the_caller_no_attempt(db: asyncpg.Pool) -> None:
    queue = f"cb-{uuid.uuid4().hex[:10]}"
    first = await ask(db, queue, "+31612000211", NOW - timedelta(minutes=3))
    ami = FakeAMI(answer="Failure")
    dialer, tasks = await setup(db, [member("201", queue)], queue, ami)
    await dialer.tick()
    await asyncio.sleep(0)  # (the Originate is sent)
    dialer.on_event({"Event": "Hangup", "Uniqueid": dialled(ami, first)})
    await asyncio.gather(*tasks)
    row = await db.fetchrow("SELECT state, attempts FROM callbacks WHERE id = $1", first)
    assert (row["state"], row["attempts"]) == ("waiting", 0)
    # That member rests a minute: nobody else free, nothing is dialled.
    await dialer.tick()
    assert len(ami.sent) == 1


async def test_an_unaccepted_callback_goes_back_in_line_and_busy_members_are_not_rung(
    db: asyncpg.Pool,
) -> None:
    queue = f"cb-{uuid.uuid4().hex[:10]}"
    first = await ask(db, queue, "+31612000221", NOW - timedelta(minutes=3))
    ami = FakeAMI()
    dialer, tasks = await setup(db, [member("201", queue, device="in_use")], queue, ami)
    await dialer.tick()
    assert ami.sent == []
    dialer, tasks = await setup(db, [member("202", queue)], queue, ami)
    await dialer.tick()
    await asyncio.gather(*tasks)
    dialer.on_event(
        {
            "Event": "UserEvent",
            "UserEvent": "SwitchboardCallback",
            "Id": str(first),
            "Attempt": "1",
            "Result": "member answered",
        }
    )
    dialer.on_event(
        {
            "Event": "UserEvent",
            "UserEvent": "SwitchboardCallback",
            "Id": str(first),
            "Attempt": "1",
            "Result": "not accepted",
        }
    )
    dialer.on_event({"Event": "Hangup", "Uniqueid": dialled(ami, first)})
    await asyncio.gather(*tasks)
    row = await db.fetchrow(
        "SELECT state, attempts, not_before FROM callbacks WHERE id = $1", first
    )
    assert (row["state"], row["attempts"]) == ("waiting", 1)
    assert row["not_before"] == NOW + timedelta(minutes=5)
    result = await db.fetchval("SELECT result FROM callback_attempts WHERE callback_id = $1", first)
    assert result == "not accepted"


async def test_a_dialler_that_went_away_is_reconciled_with_the_live_channels(
    db: asyncpg.Pool,
) -> None:
    queue = f"cb-{uuid.uuid4().hex[:10]}"
    talking = await ask(db, queue, "+31612000231", NOW - timedelta(minutes=9))
    gone = await ask(db, queue, "+31612000232", NOW - timedelta(minutes=8))
    talked = await ask(db, queue, "+31612000233", NOW - timedelta(minutes=7))
    await callbacks.claim(
        db,
        pbx="sandbox",
        queue=queue,
        owner="dead",
        members=["201", "202", "203"],
        now=NOW - timedelta(minutes=5),
        lease=timedelta(seconds=30),
    )
    # The third's caller had accepted before its dialler died.
    assert await callbacks.connected(db, talked, 1)
    # Asterisk still has the first one's member channel; the others' are gone.
    still = f"sb-callback-{talking}-1-0a0b0c"
    model = FakeModel(channels={still: Channel(unique_id=still, linked_id=still, name="PJSIP/201")})
    ami = FakeAMI()
    dialer, tasks = await setup(db, [], queue, ami, model)
    await dialer.tick()
    rows = {
        r["id"]: r
        for r in await db.fetch(
            "SELECT id, state, lease_owner FROM callbacks WHERE id = ANY($1)", [talking, gone]
        )
    }
    assert rows[talking]["state"] == "dialling" and rows[talking]["lease_owner"] == dialer.owner
    assert rows[gone]["state"] == "waiting" and rows[gone]["lease_owner"] is None
    # The conversation took place: done, and it is never dialled again.
    assert await db.fetchval("SELECT state FROM callbacks WHERE id = $1", talked) == "done"
    assert ami.sent == []
    # The adopted call ends, accepted: done, by this instance.
    for result in ("member answered", "accepted"):
        dialer.on_event(
            {
                "Event": "UserEvent",
                "UserEvent": "SwitchboardCallback",
                "Id": str(talking),
                "Attempt": "1",
                "Result": result,
            }
        )
    dialer.on_event({"Event": "Hangup", "Uniqueid": still})
    await asyncio.gather(*tasks)
    assert await db.fetchval("SELECT state FROM callbacks WHERE id = $1", talking) == "done"


async def test_a_call_whose_hangup_was_lost_ends_as_far_as_the_database_says(
    db: asyncpg.Pool,
) -> None:
    """The AMI connection cut (or Asterisk restarted) while a callback was on: its
    accept and its Hangup never reached this dialler. Its channel seen before and gone
    from the PBX's list now, the attempt ends: done, because the dialplan told
    PostgreSQL the caller accepted; the other one, not accepted, back in line."""
    queue = f"cb-{uuid.uuid4().hex[:10]}"
    talked = await ask(db, queue, "+31612000241", NOW - timedelta(minutes=6))
    missed = await ask(db, queue, "+31612000242", NOW - timedelta(minutes=5))
    ami = FakeAMI()
    model = FakeModel()
    dialer, tasks = await setup(db, [member("201", queue), member("202", queue)], queue, ami, model)
    await dialer.tick()
    await asyncio.gather(*tasks)
    assert {a["Channel"] for a in ami.sent} == {"PJSIP/201", "PJSIP/202"}
    for callback_id in (talked, missed):
        channel = dialled(ami, callback_id)
        dialer.on_event({"Event": "Newchannel", "Uniqueid": channel})
        model.channels[channel] = Channel(unique_id=channel, linked_id=channel, name="PJSIP/2")
        dialer.on_event(
            {
                "Event": "UserEvent",
                "UserEvent": "SwitchboardCallback",
                "Id": str(callback_id),
                "Attempt": "1",
                "Result": "member answered",
            }
        )
    # The connection is cut; meanwhile the dialplan's AGI says the first one accepted.
    assert await callbacks.connected(db, talked, 1)
    # Both calls end unseen; after the resync the PBX lists neither channel.
    model.channels.clear()
    await dialer.tick()
    await asyncio.gather(*tasks)
    states = dict(
        await db.fetch("SELECT id, state FROM callbacks WHERE id = ANY($1)", [talked, missed])
    )
    assert states == {talked: "done", missed: "waiting"}
    attempts = await db.fetch(
        "SELECT callback_id, result FROM callback_attempts WHERE callback_id = ANY($1)",
        [talked, missed],
    )
    assert dict(attempts) == {talked: "reached", missed: "ended unseen"}
    # Nothing is dialled again for the one that was reached.
    ami.sent.clear()
    await dialer.tick()
    await asyncio.gather(*tasks)
    assert all(f"sb-callback-{talked}-" not in a["ChannelId"] for a in ami.sent)

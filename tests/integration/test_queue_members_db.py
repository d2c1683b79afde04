"""Queue members kept in PostgreSQL (migration 0009) and restored to the PBX: the store
and the desk against a real database, the PBX a fake app_queue answering as Asterisk 22
does (the sandbox Asterisk is not needed)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import asyncpg
import pytest

from ami_bridge.queue_membership import QueueMemberRefused, QueueMembers, StaticQueueMember
from switchboard.board.pbxs import PBXUnavailable
from switchboard.core.queue_membership import (
    AlreadyAMember,
    NotAMember,
    QueueMember,
    QueueMemberError,
)
from switchboard.store import queue_members as store

pytestmark = pytest.mark.integration


class FakeAppQueue:
    """app_queue's QueueAdd/QueueRemove/QueuePause: members as (paused, reason, dynamic)."""

    def __init__(self, queues: dict[str, dict[str, tuple[bool, str, bool]]]) -> None:
        self.queues = queues
        self.sent: list[dict[str, str]] = []
        self.connected = True

    async def send_action(self, action: Mapping[str, str]) -> dict[str, str]:
        if not self.connected:
            raise PBXUnavailable("main is not connected")
        self.sent.append(dict(action))
        name, interface = action["Action"], action["Interface"]
        queue = self.queues.get(action["Queue"])
        paused = action.get("Paused") == "true"
        reason = action.get("Reason", "") if paused else ""
        if queue is None:
            return _error(
                {
                    "QueueAdd": "Unable to add interface to queue: No such queue",
                    "QueueRemove": "Unable to remove interface from queue: No such queue",
                }.get(name, "Interface not found")
            )
        if name == "QueueAdd":
            if interface in queue:
                return _error("Unable to add interface: Already there")
            queue[interface] = (paused, reason, True)
            return _success("Added interface to queue")
        if interface not in queue:
            return _error(
                "Unable to remove interface: Not there"
                if name == "QueueRemove"
                else "Interface not found"
            )
        if name == "QueueRemove":
            if not queue[interface][2]:
                return _error("Member not dynamic")
            del queue[interface]
            return _success("Removed interface from queue")
        queue[interface] = (paused, reason, queue[interface][2])
        return _success("Interface paused successfully")

    def actions(self) -> list[str]:
        return [a["Action"] for a in self.sent]


def _success(message: str) -> dict[str, str]:
    return {"Response": "Success", "Message": message}


def _error(message: str) -> dict[str, str]:
    return {"Response": "Error", "Message": message}


def a_pbx() -> str:
    """A PBX name of this test's own: the session's database is shared."""
    return f"pbx-{uuid.uuid4().hex[:10]}"


async def test_join_pause_list_leave_with_who_and_why_logged(db: asyncpg.Pool) -> None:
    pbx = FakeAppQueue({"support": {}})
    desk = QueueMembers(name := a_pbx(), pbx.send_action, db)

    joined = await desk.join(
        "support",
        "PJSIP/201",
        by="sanne",
        member_name="Anna",
        state_interface="PJSIP/201",
        penalty=2,
    )
    assert joined.confirmed and pbx.queues["support"]["PJSIP/201"] == (False, "", True)
    paused = await desk.pause("support", "PJSIP/201", "lunch until 13:30", by="pieter")
    assert paused.confirmed
    assert pbx.queues["support"]["PJSIP/201"] == (True, "lunch until 13:30", True)

    (listed,) = await desk.members()
    assert (listed.pbx, listed.queue, listed.interface) == (name, "support", "PJSIP/201")
    assert (listed.member_name, listed.state_interface, listed.penalty) == ("Anna", "PJSIP/201", 2)
    assert (listed.paused, listed.pause_reason, listed.updated_by) == (
        True,
        "lunch until 13:30",
        "pieter",
    )
    assert listed.updated_at is not None

    left = await desk.leave("support", "PJSIP/201", by="sanne")
    assert left.member is None and left.confirmed
    assert await desk.members() == []
    assert "PJSIP/201" not in pbx.queues["support"]
    assert pbx.actions() == ["QueueAdd", "QueuePause", "QueueRemove"]

    log = await desk.changes()
    assert [(c.change, c.changed_by, c.reason, c.confirmed) for c in log] == [
        ("leave", "sanne", "", True),
        ("pause", "pieter", "lunch until 13:30", True),
        ("join", "sanne", "", True),
    ]
    assert log[0].changed_at >= log[1].changed_at >= log[2].changed_at


async def test_the_store_alone_keeps_members_as_asterisk_matches_them(db: asyncpg.Pool) -> None:
    name = a_pbx()
    stored = await store.join(
        db, QueueMember(name, "Support", "PJSIP/Alice"), by="admin", confirmed=True
    )
    assert stored.updated_by == "admin" and not stored.paused
    # Asterisk ignores case: "support"/"pjsip/alice" is the same member, one row.
    again = await store.join(
        db, QueueMember(name, "support", "pjsip/alice", penalty=3), by="admin", confirmed=True
    )
    assert (again.queue, again.interface, again.penalty) == ("Support", "PJSIP/Alice", 3)
    paused = await store.pause(
        db, name, "SUPPORT", "PJSIP/ALICE", "meeting", by="bob", confirmed=True
    )
    assert paused is not None and (paused.paused, paused.pause_reason) == (True, "meeting")
    # A join keeps the pause: joining again is not unpausing.
    rejoined = await store.join(
        db, QueueMember(name, "Support", "PJSIP/Alice"), by="x", confirmed=True
    )
    assert rejoined.paused and rejoined.pause_reason == "meeting"
    unpaused = await store.unpause(db, name, "Support", "PJSIP/Alice", by="bob", confirmed=False)
    assert unpaused is not None and (unpaused.paused, unpaused.pause_reason) == (False, "")
    assert [m.interface for m in await store.members(db, name)] == ["PJSIP/Alice"]
    assert await store.members(db, a_pbx()) == []

    assert await store.leave(db, name, "support", "PJSIP/Alice", by="bob", confirmed=True)
    assert await store.members(db, name) == []
    # Nothing to leave, pause or unpause: None, and nothing logged.
    assert await store.leave(db, name, "support", "PJSIP/Alice", by="bob", confirmed=True) is None
    assert (
        await store.pause(db, name, "support", "PJSIP/Alice", "", by="bob", confirmed=True) is None
    )
    log = await store.changes(db, name)
    assert [(c.change, c.confirmed) for c in log] == [
        ("leave", True),
        ("unpause", False),
        ("join", True),
        ("pause", True),
        ("join", True),
        ("join", True),
    ]
    with pytest.raises(QueueMemberError, match="limit"):
        await store.changes(db, name, limit=0)
    with pytest.raises(QueueMemberError, match=r"^reason: "):
        await store.pause(db, name, "support", "PJSIP/Alice", "a\nb", by="bob", confirmed=True)


async def test_a_join_the_pbx_refuses_is_not_stored(db: asyncpg.Pool) -> None:
    pbx = FakeAppQueue({"support": {}})
    desk = QueueMembers(a_pbx(), pbx.send_action, db)

    with pytest.raises(QueueMemberRefused, match=r"add PJSIP/201 to queue sales: .*No such queue"):
        await desk.join("sales", "PJSIP/201", by="sanne")

    assert await desk.members() == [] and await desk.changes() == []


async def test_a_join_while_the_pbx_is_away_is_kept_and_restored_later(db: asyncpg.Pool) -> None:
    pbx = FakeAppQueue({"support": {}})
    desk = QueueMembers(a_pbx(), pbx.send_action, db)
    pbx.connected = False

    change = await desk.join("support", "Local/202@phones", by="sanne", member_name="Phone 202")

    assert not change.confirmed and change.member is not None
    assert [m.interface for m in await desk.members()] == ["Local/202@phones"]
    assert [(c.change, c.confirmed) for c in await desk.changes()] == [("join", False)]
    pbx.connected = True
    report = await desk.restore()
    assert report.complete and [m.interface for m in report.restored] == ["Local/202@phones"]
    assert pbx.queues["support"] == {"Local/202@phones": (False, "", True)}


async def test_a_leave_while_the_pbx_is_away_changes_nothing(db: asyncpg.Pool) -> None:
    pbx = FakeAppQueue({"support": {}})
    desk = QueueMembers(a_pbx(), pbx.send_action, db)
    await desk.join("support", "PJSIP/201", by="sanne")
    pbx.connected = False

    with pytest.raises(PBXUnavailable):
        await desk.leave("support", "PJSIP/201", by="sanne")

    assert [m.interface for m in await desk.members()] == ["PJSIP/201"]
    assert [c.change for c in await desk.changes()] == ["join"]


async def test_restore_reads_what_is_stored_for_its_pbx_only(db: asyncpg.Pool) -> None:
    pbx = FakeAppQueue({"support": {}, "switchboard": {"PJSIP/100": (False, "", False)}})
    desk = QueueMembers(a_pbx(), pbx.send_action, db)
    other = QueueMembers(a_pbx(), pbx.send_action, db)
    await desk.join("support", "PJSIP/201", by="sanne", penalty=1)
    await desk.join("support", "PJSIP/202", by="sanne")
    await desk.pause("support", "PJSIP/202", "training", by="sanne")
    await other.join("support", "PJSIP/299", by="sanne")
    # Asterisk restarts: the dynamic members are gone, the static one is back.
    pbx.queues = {"support": {}, "switchboard": {"PJSIP/100": (False, "", False)}}
    pbx.sent.clear()

    report = await desk.restore()

    assert pbx.sent == [
        {
            "Action": "QueueAdd",
            "Queue": "support",
            "Interface": "PJSIP/201",
            "Penalty": "1",
            "Paused": "false",
        },
        {
            "Action": "QueueAdd",
            "Queue": "support",
            "Interface": "PJSIP/202",
            "Penalty": "0",
            "Paused": "true",
            "Reason": "training",
        },
    ]
    assert [m.interface for m in report.restored] == ["PJSIP/201", "PJSIP/202"]
    assert pbx.queues["support"] == {
        "PJSIP/201": (False, "", True),
        "PJSIP/202": (True, "training", True),
    }
    assert pbx.queues["switchboard"] == {"PJSIP/100": (False, "", False)}


async def test_a_static_member_joined_and_left_stays_in_its_queue(db: asyncpg.Pool) -> None:
    pbx = FakeAppQueue({"switchboard": {"PJSIP/100": (False, "", False)}})
    desk = QueueMembers(a_pbx(), pbx.send_action, db)
    joined = await desk.join("switchboard", "PJSIP/100", by="sanne")  # "Already there"
    assert joined.confirmed

    with pytest.raises(StaticQueueMember, match="PJSIP/100 from queue switchboard: Member not"):
        await desk.leave("switchboard", "PJSIP/100", by="sanne")

    assert "PJSIP/100" in pbx.queues["switchboard"]
    assert await desk.members() == []  # not the switchboard's to restore
    latest = (await desk.changes())[0]
    assert (latest.change, latest.confirmed) == ("leave", False)


async def test_joining_again_with_other_settings_asks_to_leave_first(db: asyncpg.Pool) -> None:
    pbx = FakeAppQueue({"support": {}})
    desk = QueueMembers(a_pbx(), pbx.send_action, db)
    await desk.join("support", "PJSIP/201", by="sanne", penalty=1)

    with pytest.raises(AlreadyAMember, match=r"already .*penalty 1.*leave first.*penalty 5"):
        await desk.join("support", "PJSIP/201", by="sanne", penalty=5)
    again = await desk.join("SUPPORT", "pjsip/201", by="pieter", penalty=1)

    assert again.member is not None and again.member.updated_by == "sanne"
    assert [m.penalty for m in await desk.members()] == [1]
    assert len(await desk.changes()) == 1


async def test_pausing_someone_who_is_no_member_sends_nothing(db: asyncpg.Pool) -> None:
    pbx = FakeAppQueue({"support": {}})
    desk = QueueMembers(a_pbx(), pbx.send_action, db)

    with pytest.raises(NotAMember, match="PJSIP/201 is not a member of queue support"):
        await desk.pause("support", "PJSIP/201", "lunch", by="sanne")
    assert pbx.sent == []


async def test_the_schema_refuses_what_the_checks_would(db: asyncpg.Pool) -> None:
    insert = """INSERT INTO queue_members (pbx, queue, interface, penalty, updated_by)
                VALUES ($1, $2, $3, $4, 'sql')"""
    name = a_pbx()
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(insert, name, "support", "SIP/201", 0)
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(insert, name, "support", "PJSIP/201", 1001)
    await db.execute(insert, name, "support", "PJSIP/201", 0)
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(insert, name, "SUPPORT", "PJSIP/201", 0)

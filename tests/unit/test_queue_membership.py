"""Queue members joined, left, paused and restored over AMI (issue 13, part 4).

The PBX here is a fake app_queue that answers QueueAdd, QueueRemove and QueuePause
with Asterisk 22's own messages (apps/app_queue.c); the panoramisk tests use
panoramisk's real Action and the bridge's real protocol class.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from panoramisk.actions import Action
from panoramisk.message import Message

from ami_bridge.bridge import event_headers
from ami_bridge.protocol import DecodingAMIProtocol
from ami_bridge.queue_membership import (
    QueueMemberRefused,
    QueueMembers,
    StaticQueueMember,
    add_action,
    add_member,
    as_list_for,
    remove_member,
    restore_members,
    set_paused,
)
from switchboard.board.pbxs import PBXRefused, PBXUnavailable
from switchboard.core.queue_membership import (
    QueueMember,
    QueueMemberError,
    check_interface,
    check_reason,
    new_member,
)

PBX = "main"


@dataclass
class Member:
    paused: bool = False
    reason: str = ""
    dynamic: bool = True
    name: str = ""
    state: str = ""
    penalty: int = 0


@dataclass
class FakeAppQueue:
    """The queues of one Asterisk, answering as app_queue's manager actions do."""

    queues: dict[str, dict[str, Member]] = field(default_factory=dict)
    sent: list[dict[str, str]] = field(default_factory=list)
    gone_after: int | None = None  # PBXUnavailable from this many actions on

    def has(self, queue: str, interface: str) -> Member | None:
        return self.queues.get(queue, {}).get(interface)

    async def send_action(self, action: Mapping[str, str]) -> dict[str, str]:
        if self.gone_after is not None and len(self.sent) >= self.gone_after:
            raise PBXUnavailable(f"{PBX} is not connected")
        self.sent.append(dict(action))
        return self.answer(action)

    def answer(self, action: Mapping[str, str]) -> dict[str, str]:
        name, queue = action["Action"], self.queues.get(action.get("Queue", ""))
        interface = action.get("Interface", "")
        paused = action.get("Paused", "").lower() in {"1", "true", "yes", "on"}
        if name == "QueueAdd":
            if queue is None:
                return _error("Unable to add interface to queue: No such queue")
            if interface in queue:
                return _error("Unable to add interface: Already there")
            queue[interface] = Member(
                paused,
                action.get("Reason", "") if paused else "",
                name=action.get("MemberName", ""),
                state=action.get("StateInterface", ""),
                penalty=int(action.get("Penalty", "0")),
            )
            return _success("Added interface to queue")
        if name == "QueueRemove":
            if queue is None:
                return _error("Unable to remove interface from queue: No such queue")
            if interface not in queue:
                return _error("Unable to remove interface: Not there")
            if not queue[interface].dynamic:
                return _error("Member not dynamic")
            del queue[interface]
            return _success("Removed interface from queue")
        if name == "QueuePause":
            member = None if queue is None else queue.get(interface)
            if member is None:
                return _error("Interface not found")
            member.paused, member.reason = paused, action.get("Reason", "") if paused else ""
            return _success(f"Interface {'paused' if paused else 'unpaused'} successfully")
        return _error("Invalid/unknown command")


def _success(message: str) -> dict[str, str]:
    return {"Response": "Success", "ActionID": "1", "Message": message}


def _error(message: str) -> dict[str, str]:
    return {"Response": "Error", "ActionID": "1", "Message": message}


def member(queue: str, interface: str, **kwargs: Any) -> QueueMember:
    return QueueMember(PBX, queue, interface, **kwargs)


# -- restore ----------------------------------------------------------------------------


async def test_restore_adds_every_stored_member_back_in_order_with_its_settings() -> None:
    pbx = FakeAppQueue({"support": {}, "switchboard": {}})
    stored = [
        member("support", "Local/202@phones", member_name="Phone 202", state_interface="PJSIP/202"),
        member("switchboard", "PJSIP/201", penalty=5, paused=True, pause_reason="lunch"),
    ]

    report = await restore_members(pbx.send_action, PBX, stored)

    assert pbx.sent == [
        {
            "Action": "QueueAdd",
            "Queue": "support",
            "Interface": "Local/202@phones",
            "MemberName": "Phone 202",
            "StateInterface": "PJSIP/202",
            "Penalty": "0",
            "Paused": "false",
        },
        {
            "Action": "QueueAdd",
            "Queue": "switchboard",
            "Interface": "PJSIP/201",
            "Penalty": "5",
            "Paused": "true",
            "Reason": "lunch",
        },
    ]
    assert report.restored == tuple(stored) and report.complete and not report.failed
    assert pbx.has("support", "Local/202@phones") == Member(name="Phone 202", state="PJSIP/202")
    assert pbx.has("switchboard", "PJSIP/201") == Member(True, "lunch", penalty=5)


async def test_a_member_already_there_is_restored_and_gets_the_stored_pause() -> None:
    # A reconnect without an Asterisk restart: the member is there, unpaused since.
    pbx = FakeAppQueue({"switchboard": {"PJSIP/201": Member()}})
    paused = member("switchboard", "PJSIP/201", paused=True, pause_reason="at the dentist")

    report = await restore_members(pbx.send_action, PBX, [paused])

    assert [a["Action"] for a in pbx.sent] == ["QueueAdd", "QueuePause"]
    assert pbx.sent[1] == {
        "Action": "QueuePause",
        "Queue": "switchboard",
        "Interface": "PJSIP/201",
        "Paused": "true",
        "Reason": "at the dentist",
    }
    assert report.restored == (paused,) and not report.failed
    assert pbx.has("switchboard", "PJSIP/201") == Member(True, "at the dentist")


async def test_a_member_kept_unpaused_is_unpaused_when_already_there() -> None:
    pbx = FakeAppQueue({"switchboard": {"PJSIP/201": Member(True, "old reason")}})

    await restore_members(pbx.send_action, PBX, [member("switchboard", "PJSIP/201")])

    assert pbx.sent[-1] == {
        "Action": "QueuePause",
        "Queue": "switchboard",
        "Interface": "PJSIP/201",
        "Paused": "false",
    }
    assert pbx.has("switchboard", "PJSIP/201") == Member(False, "")


async def test_a_refused_member_is_reported_by_queue_and_interface_and_the_rest_restored() -> None:
    pbx = FakeAppQueue({"support": {}})
    stored = [member("sales", "PJSIP/202"), member("support", "PJSIP/203")]

    report = await restore_members(pbx.send_action, PBX, stored)

    assert report.restored == (stored[1],)
    (refused,) = report.failed
    assert str(refused) == (
        "main refused to add PJSIP/202 to queue sales:"
        " Unable to add interface to queue: No such queue"
    )
    assert (refused.queue, refused.interface) == ("sales", "PJSIP/202")
    assert pbx.has("support", "PJSIP/203") is not None


async def test_members_the_switchboard_does_not_keep_are_left_alone() -> None:
    static = Member(True, "break", dynamic=False, name="Operator")
    pbx = FakeAppQueue({"switchboard": {"PJSIP/100": static}, "support": {}})

    await restore_members(pbx.send_action, PBX, [member("support", "PJSIP/201")])

    assert all(a["Interface"] != "PJSIP/100" for a in pbx.sent)
    assert pbx.has("switchboard", "PJSIP/100") == Member(True, "break", False, "Operator")


async def test_a_pbx_gone_during_the_restore_is_reported_not_raised() -> None:
    pbx = FakeAppQueue({"support": {}}, gone_after=1)
    stored = [member("support", "PJSIP/201"), member("support", "PJSIP/202")]

    report = await restore_members(pbx.send_action, PBX, stored)

    assert report.restored == (stored[0],)
    assert report.not_tried == (stored[1],)
    assert not report.complete and "not connected" in report.unavailable


async def test_an_unreadable_reply_is_a_refusal_that_says_what_came() -> None:
    async def send(_action: Mapping[str, str]) -> dict[str, str]:
        return {"ActionID": "1"}

    with pytest.raises(QueueMemberRefused, match=r"PJSIP/201 to queue support: an unexpected"):
        await add_member(send, PBX, member("support", "PJSIP/201"))


async def test_a_permission_refusal_is_not_taken_for_success() -> None:
    async def send(_action: Mapping[str, str]) -> dict[str, str]:
        return _error("Permission denied")

    with pytest.raises(PBXRefused, match=r"main refused to add PJSIP/201.*Permission denied"):
        await add_member(send, PBX, member("support", "PJSIP/201"))


# -- leave and pause on the PBX -----------------------------------------------------------


async def test_leaving_a_queue_the_pbx_no_longer_has_you_in_is_done() -> None:
    pbx = FakeAppQueue({"support": {}})
    await remove_member(pbx.send_action, PBX, member("support", "PJSIP/201"))
    assert pbx.sent == [{"Action": "QueueRemove", "Queue": "support", "Interface": "PJSIP/201"}]


async def test_a_static_member_cannot_leave() -> None:
    pbx = FakeAppQueue({"switchboard": {"PJSIP/100": Member(dynamic=False)}})
    with pytest.raises(StaticQueueMember, match="remove PJSIP/100 from queue switchboard"):
        await remove_member(pbx.send_action, PBX, member("switchboard", "PJSIP/100"))
    assert pbx.has("switchboard", "PJSIP/100") is not None


async def test_pausing_a_member_the_pbx_lost_adds_it_back_paused() -> None:
    pbx = FakeAppQueue({"support": {}})  # Asterisk restarted since the join
    paused = member("support", "PJSIP/201", paused=True, pause_reason="lunch")

    await set_paused(pbx.send_action, PBX, paused)

    assert [a["Action"] for a in pbx.sent] == ["QueuePause", "QueueAdd"]
    assert pbx.has("support", "PJSIP/201") == Member(True, "lunch")


async def test_pausing_in_a_queue_that_is_gone_names_it() -> None:
    pbx = FakeAppQueue({})
    with pytest.raises(QueueMemberRefused, match=r"add PJSIP/201 to queue sales: .*No such queue"):
        await set_paused(pbx.send_action, PBX, member("sales", "PJSIP/201", paused=True))


# -- what is accepted -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interface", "expected"),
    [
        ("PJSIP/201", "PJSIP/201"),
        ("pjsip/alice.home", "PJSIP/alice.home"),
        ("Local/202@phones", "Local/202@phones"),
        ("LOCAL/a-b_c@from-internal", "Local/a-b_c@from-internal"),
    ],
)
def test_interfaces_asterisk_takes(interface: str, expected: str) -> None:
    assert check_interface(interface) == expected


@pytest.mark.parametrize(
    "interface",
    [
        "",
        "201",
        "SIP/201",
        "PJSIP/",
        "PJSIP/20 1",
        "PJSIP/201@phones",
        "Local/202",
        "Local/@phones",
        "PJSIP/201\r\nAction: Originate",
        "PJSIP/" + "a" * 65,
        "Local/" + "2" * 40 + "@" + "p" * 40,
        None,
    ],
)
def test_interfaces_refused_with_a_clear_error(interface: Any) -> None:
    with pytest.raises(QueueMemberError, match=r"^interface: "):
        check_interface(interface)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"queue": ""}, "queue", "letters, digits"),
        ({"queue": "sup port"}, "queue", "letters, digits"),
        ({"queue": "q" * 80}, "queue", "1-79"),
        ({"penalty": -1}, "penalty", "from 0 to 1000, not -1"),
        ({"penalty": 1001}, "penalty", "from 0 to 1000, not 1001"),
        ({"penalty": "5"}, "penalty", "a whole number"),
        ({"penalty": True}, "penalty", "a whole number"),
        ({"member_name": "Anna\nAction: Logoff"}, "member_name", "one line"),
        ({"member_name": "é" * 40}, "member_name", "this is 80"),
        ({"state_interface": "Custom:201"}, "state_interface", "PJSIP/<endpoint>"),
    ],
)
def test_a_bad_member_is_refused_naming_the_field(
    changes: dict[str, Any], field: str, message: str
) -> None:
    fields: dict[str, Any] = {"queue": "support", "interface": "PJSIP/201", **changes}
    queue, interface = fields.pop("queue"), fields.pop("interface")
    with pytest.raises(QueueMemberError, match=message) as refused:
        new_member(PBX, queue, interface, **fields)
    assert refused.value.field == field


def test_a_good_member_is_taken_as_given() -> None:
    assert new_member(
        PBX, "support", "pjsip/201", member_name=" Anna  ", state_interface="", penalty=1000
    ) == QueueMember(PBX, "support", "PJSIP/201", member_name="Anna", penalty=1000)


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        ("lunch\r\nAction: Hangup", "one line"),
        ("coffee\u2028break", "one line"),
        ("x" * 80, "at most 79 characters"),
        ("ü" * 40, "this is 80"),  # 40 characters, 80 bytes: Asterisk would cut one in two
        (None, "text"),
    ],
)
def test_a_bad_pause_reason_is_refused(reason: Any, why: str) -> None:
    with pytest.raises(QueueMemberError, match=why) as refused:
        check_reason(reason)
    assert refused.value.field == "reason"


def test_a_pause_reason_asterisk_keeps_whole_is_taken() -> None:
    assert check_reason("  " + "x" * 79 + " ") == "x" * 79
    assert check_reason("Zahnarzt bis 15 Uhr, dann zurück") == "Zahnarzt bis 15 Uhr, dann zurück"
    assert check_reason("") == ""


class _Untouchable:
    """A pool and a PBX that fail the test when used: a refused input reaches neither."""

    def acquire(self) -> Any:
        raise AssertionError("the database was used for a refused input")

    async def send_action(self, action: Mapping[str, str]) -> dict[str, str]:
        raise AssertionError(f"{action} was sent for a refused input")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda m: m.join("sup port", "PJSIP/201", by="sanne"), "queue"),
        (lambda m: m.join("support", "PJSIP/201", by="sanne", penalty=2000), "penalty"),
        (lambda m: m.join("support", "PJSIP/201", by=""), "by"),
        (lambda m: m.leave("support", "IAX2/201", by="sanne"), "interface"),
        (lambda m: m.pause("support", "PJSIP/201", "a\nb", by="sanne"), "reason"),
        (lambda m: m.unpause("support", "PJSIP/201", by="x\r\ny"), "by"),
    ],
)
async def test_the_desk_refuses_bad_input_before_sending_or_storing(call: Any, field: str) -> None:
    untouchable = _Untouchable()
    members = QueueMembers(PBX, untouchable.send_action, untouchable)
    with pytest.raises(QueueMemberError) as refused:
        await call(members)
    assert refused.value.field == field


# -- the panoramisk quirk -------------------------------------------------------------------

QUEUE_ADD = {"Action": "QueueAdd", "Queue": "support", "Interface": "PJSIP/201"}


async def test_panoramisk_left_alone_waits_forever_for_queueadds_success() -> None:
    # The evidence for as_list_for: what panoramisk 1.4 does with QueueAdd's success,
    # even with the "Async: false" that the bridge adds against a similar quirk.
    for headers in ({}, {"Async": "false"}):
        action = Action({**QUEUE_ADD, **headers})
        action.add_message(_reply(action, _success("Added interface to queue")))
        assert not action.future.done()


@pytest.mark.parametrize(
    "reply",
    [
        _success("Added interface to queue"),
        _error("Unable to add interface: Already there"),
        _error("Unable to add interface to queue: No such queue"),
    ],
)
async def test_queueadd_sent_as_a_single_reply_completes(reply: dict[str, str]) -> None:
    action = Action(QUEUE_ADD, as_list=as_list_for(QUEUE_ADD))
    action.add_message(_reply(action, reply))
    assert action.future.done()
    assert action.future.result()["Message"] == reply["Message"]


def test_only_the_queue_member_actions_are_sent_as_single_replies() -> None:
    assert [as_list_for({"Action": a}) for a in ("QueueAdd", "queuepause", "QueueRemove")] == [
        False
    ] * 3
    assert as_list_for({"Action": "QueueStatus"}) is None
    assert as_list_for({"Action": "Originate"}) is None


def _reply(action: Action, headers: Mapping[str, str]) -> Message:
    return Message({**headers, "ActionID": action.id})


class PanoramiskLink:
    """The bridge's protocol class on a transport that hands each action to
    ``pbx`` and feeds its reply back as bytes, as Asterisk would."""

    def __init__(self, pbx: FakeAppQueue, *, single_replies: bool) -> None:
        self.pbx = pbx
        self.single_replies = single_replies
        self.protocol = DecodingAMIProtocol()
        self.protocol.connection_made(self)
        self.protocol.encoding = "utf8"  # as panoramisk's Manager sets it on connect

    def write(self, data: bytes) -> None:  # the transport
        lines = data.decode().strip().split("\r\n")
        action = dict(line.split(": ", 1) for line in lines)
        reply = {**self.pbx.answer(action), "ActionID": action["ActionID"]}
        text = "".join(f"{k}: {v}\r\n" for k, v in reply.items()) + "\r\n"
        asyncio.get_running_loop().call_soon(self.protocol.data_received, text.encode())

    async def send_action(self, action: Mapping[str, str]) -> dict[str, str]:
        """AMIBridge.send_action, with the as_list it is to pass panoramisk."""
        request = {"Async": "false", **action}
        as_list = as_list_for(request) if self.single_replies else None
        try:
            reply = await asyncio.wait_for(self.protocol.send(request, as_list=as_list), 0.5)
        except TimeoutError:
            raise PBXUnavailable(f"{PBX} did not answer {action.get('Action')}") from None
        return event_headers(reply[-1] if isinstance(reply, list) else reply)


async def test_a_restore_over_panoramisk_completes_with_single_replies() -> None:
    pbx = FakeAppQueue({"support": {"PJSIP/203": Member()}})
    link = PanoramiskLink(pbx, single_replies=True)
    stored = [
        member("support", "PJSIP/201", member_name="Zoë"),
        member("support", "PJSIP/203", paused=True, pause_reason="café"),
    ]

    report = await restore_members(link.send_action, PBX, stored)

    assert report.restored == tuple(stored) and report.complete
    assert pbx.has("support", "PJSIP/201") == Member(name="Zoë")
    assert pbx.has("support", "PJSIP/203") == Member(True, "café")


async def test_without_single_replies_an_added_member_looks_like_a_pbx_gone() -> None:
    pbx = FakeAppQueue({"support": {}})
    link = PanoramiskLink(pbx, single_replies=False)

    report = await restore_members(link.send_action, PBX, [member("support", "PJSIP/201")])

    assert pbx.has("support", "PJSIP/201") is not None  # added, yet:
    assert not report.restored and "did not answer QueueAdd" in report.unavailable


def test_the_add_action_leaves_out_what_asterisk_defaults() -> None:
    assert add_action(member("support", "PJSIP/201")) == {
        "Action": "QueueAdd",
        "Queue": "support",
        "Interface": "PJSIP/201",
        "Penalty": "0",
        "Paused": "false",
    }

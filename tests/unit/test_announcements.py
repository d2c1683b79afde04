"""Who hears their place and wait, when (issue 13, part 1): the planner the bridge asks
every second (switchboard.core.calls.announcements), the whisper it starts over AMI
(ami_bridge.announcer), and what the call model keeps of it."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from ami_bridge.announcer import WaitAnnouncer
from switchboard.core.calls.announcements import Announcements, Due
from switchboard.core.calls.model import Call, CallState, PBXModel
from switchboard.core.wait_estimate import Announcement, WaitEstimate, WaitSettings

T0 = 1_800_000_000.0


def waiting(position: int, queue: str = "switchboard", linked_id: str = "") -> Call:
    linked = linked_id or f"{position}.1"
    return Call(
        call_id=f"x:{linked}",
        pbx="x",
        linked_id=linked,
        caller_number="0612345678",
        caller_name="",
        state=CallState.QUEUED,
        started_at=T0,
        queue=queue,
        queue_position=position,
    )


def four_minutes(_call: Call) -> WaitEstimate:
    return WaitEstimate(200.0, 230.0, "handle times")


def said_at(plan: Announcements, calls: list[Call], start: float, end: float) -> list[tuple]:
    heard = []
    for second in range(int(start), int(end) + 1):
        for due in plan.due(calls, four_minutes, T0 + second):
            heard.append((second, due.call.linked_id, due.said.position, due.said.minutes))
    return heard


def test_callers_hear_their_place_and_wait_20_s_after_joining_then_only_news() -> None:
    plan = Announcements()
    calls = [waiting(1), waiting(2)]
    heard = said_at(plan, calls, 0, 100)
    assert heard == [(20, "1.1", 1, 4), (20, "2.1", 2, 4)]
    # The caller ahead is answered: the second moves up, and hears it a minute after
    # the last announcement.
    heard = said_at(plan, [waiting(1, linked_id="2.1")], 101, 200)
    assert heard == [(101, "2.1", 1, 4)]


def test_nothing_is_said_while_a_member_rings_for_the_caller() -> None:
    plan = Announcements()
    call = waiting(1)
    plan.ringing(call.linked_id, True)
    assert said_at(plan, [call], 0, 40) == []
    plan.ringing(call.linked_id, False)  # nobody answered: as soon as the ringing stops
    assert said_at(plan, [call], 41, 41) == [(41, "1.1", 1, 4)]


def test_a_caller_who_left_is_forgotten_and_one_in_another_queue_starts_afresh() -> None:
    plan = Announcements()
    said_at(plan, [waiting(1)], 0, 30)
    assert plan.sizes()["callers"] == 1
    assert plan.due([], four_minutes, T0 + 31) == []
    assert plan.sizes() == {"callers": 0, "ringing": 0}
    # The back office after the fallback: a new queue, a new first announcement 20 s on.
    said_at(plan, [waiting(1)], 40, 60)
    assert said_at(plan, [waiting(1, queue="support")], 61, 90) == [(81, "1.1", 1, 4)]


def test_each_queue_has_its_own_settings_and_can_be_silent() -> None:
    plan = Announcements(
        {
            "sales": WaitSettings(first_after_s=5, max_position=2),
            "quiet": WaitSettings(announce=False),
        }
    )
    heard = said_at(plan, [waiting(3, "sales"), waiting(1, "quiet")], 0, 30)
    assert heard == [(5, "3.1", 2, 4)]  # "more than 2 callers ahead", after 5 s


def test_the_estimate_is_only_asked_for_when_something_may_be_said() -> None:
    asked: list[float] = []

    def estimate(_call: Call) -> WaitEstimate | None:
        asked.append(1)
        return None

    plan = Announcements()
    for second in range(0, 60):
        plan.due([waiting(1)], estimate, T0 + second)
    assert len(asked) == 1  # at 20 s; the next may only come at 80 s


def test_the_model_keeps_the_wait_a_caller_was_promised_and_ignores_the_whisper() -> None:
    model = PBXModel("x")
    caller = {
        "Uniqueid": "1800000000.1",
        "Linkedid": "1800000000.1",
        "Channel": "PJSIP/trunk-00000001",
        "CallerIDNum": "0612345678",
        "ChannelState": "6",
        "ChannelStateDesc": "Up",
    }
    model.apply({"Event": "Newchannel", **caller}, T0)
    model.apply({"Event": "QueueCallerJoin", "Queue": "switchboard", "Position": "1", **caller}, T0)
    whisper = {
        "Uniqueid": "sb-announce-1",
        "Linkedid": "sb-announce-1",
        "Channel": "Local/say@switchboard-announce-00000001;2",
    }
    # The announcement's own channels are no call on the board.
    assert model.apply({"Event": "Newchannel", **whisper}, T0 + 20) == []
    changes = model.apply(
        {
            "Event": "UserEvent",
            "UserEvent": "SwitchboardAnnouncement",
            "For": "1800000000.1",
            "Position": "1",
            "Minutes": "3",
            **whisper,
        },
        T0 + 20,
    )
    (call,) = model.snapshot()
    assert changes and call.predicted_wait_s == 20 + 180  # told at 20 s: 3 more minutes
    assert [c.linked_id for c in model.snapshot()] == ["1800000000.1"]
    # A place only, or hostile minutes: no promise changes.
    for minutes in ("", "-1", "99999999", "3; DROP"):
        model.apply(
            {
                "Event": "UserEvent",
                "UserEvent": "SwitchboardAnnouncement",
                "For": "1800000000.1",
                "Minutes": minutes,
                **whisper,
            },
            T0 + 40,
        )
    assert model.snapshot()[0].predicted_wait_s == 200


class FakeAMI:
    def __init__(self, language: str = "nl", originate: str = "Success") -> None:
        self.sent: list[dict[str, str]] = []
        self.language = language
        self.originate = originate
        self.hangups: list[str] = []

    async def __call__(self, action: Mapping[str, str]) -> Mapping[str, str]:
        self.sent.append(dict(action))
        if action["Action"] == "Getvar":
            return {"Response": "Success", "Value": self.language}
        if action["Action"] == "Hangup":
            self.hangups.append(action["Channel"])
            return {"Response": "Error" if len(self.hangups) < 2 else "Success"}
        return {"Response": self.originate}


def due(position: int | None = 2, minutes: int | None = 4, more: bool = False) -> Due:
    return Due(waiting(2), Announcement(position, False, minutes, more))


def variables(action: Mapping[str, str]) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in action["Variable"].split(","))


async def test_the_whisper_is_an_originate_into_the_announce_context_in_the_callers_language() -> (
    None
):
    ami = FakeAMI(language="en")
    announcer = WaitAnnouncer(ami)
    await announcer.announce(due(minutes=16, more=True), "PJSIP/trunk-0000002a", "1800000000.7")
    getvar, originate = ami.sent
    assert getvar["Variable"] == "CHANNEL(language)"
    assert originate["Channel"] == "Local/say@switchboard-announce"
    assert (originate["Context"], originate["Exten"]) == ("switchboard-announce", "spy")
    assert variables(originate) == {
        "SB_ANNOUNCE_TO": "PJSIP/trunk-0000002a",
        "SB_ANNOUNCE_FOR": "1800000000.7",
        "SB_ANNOUNCE_LANGUAGE": "en",
        "SB_ANNOUNCE_POSITION": "2",
        "SB_ANNOUNCE_POSITION_MORE": "",
        "SB_ANNOUNCE_MINUTES": "16",
        "SB_ANNOUNCE_MINUTES_MORE": "yes",
        "SB_ANNOUNCE_OFFER": "",  # no callbacks configured for the queue
    }
    assert announcer.playing_to("1800000000.7") == {originate["ChannelId"]}


@pytest.mark.parametrize("language", ["", "x" * 40, "nl,SB_X=1", "../../etc"])
async def test_a_language_asterisk_should_not_report_falls_back_to_english(language: str) -> None:
    ami = FakeAMI(language=language)
    await WaitAnnouncer(ami).announce(due(), "PJSIP/trunk-0000002a", "1800000000.7")
    assert variables(ami.sent[-1])["SB_ANNOUNCE_LANGUAGE"] == "en"


@pytest.mark.parametrize(
    "name",
    ["PJSIP/trunk-1,SB_ANNOUNCE_FOR=x", "PJSIP/a b", "", "P" * 200, "PJSIP/x\r\nAction: Hangup"],
)
async def test_a_channel_name_that_is_not_asterisks_own_is_not_announced_to(name: str) -> None:
    ami = FakeAMI()
    await WaitAnnouncer(ami).announce(due(), name, "1800000000.7")
    assert ami.sent == []


async def test_a_whisper_stops_when_the_caller_is_connected_even_one_just_started() -> None:
    ami = FakeAMI()
    announcer = WaitAnnouncer(ami)
    await announcer.announce(due(), "PJSIP/trunk-0000002a", "1800000000.7")
    (spy,) = announcer.playing_to("1800000000.7")
    assert announcer.on_event({"Event": "AgentCalled", "Uniqueid": "1800000000.7"}) == []
    to_stop = announcer.on_event({"Event": "AgentConnect", "Uniqueid": "1800000000.7"})
    assert to_stop == [spy]
    # Asterisk does not know the channel yet at the first Hangup: asked again.
    await announcer.stop(spy)
    assert ami.hangups == [spy, spy]
    announcer.on_event({"Event": "Hangup", "Uniqueid": spy})
    assert announcer.sizes() == {"playing": 0}


async def test_a_refused_originate_is_forgotten() -> None:
    ami = FakeAMI(originate="Error")
    announcer = WaitAnnouncer(ami)
    await announcer.announce(due(), "PJSIP/trunk-0000002a", "1800000000.7")
    assert announcer.sizes() == {"playing": 0}
    assert ami.sent[-1]["Action"] == "Originate"


async def test_a_long_wait_in_a_queue_with_callbacks_offers_one() -> None:
    ami = FakeAMI()
    announcer = WaitAnnouncer(ami, offer_queues=frozenset({"switchboard"}), offer_from_minutes=3)
    for minutes, offered in ((2, ""), (3, "yes"), (None, "")):
        await announcer.announce(due(minutes=minutes), "PJSIP/trunk-0000002a", "1800000000.7")
        assert variables(ami.sent[-1])["SB_ANNOUNCE_OFFER"] == offered, minutes

"""The presence model: any order of events gives the same board, and the merge rules."""

from __future__ import annotations

import itertools

import pytest

from switchboard.core.calls.model import Event, PBXModel
from switchboard.core.calls.presence import (
    Extension,
    ExtensionChanged,
    ExtensionRemoved,
    PauseChange,
    PresenceModel,
    QueueMembership,
    conversations,
    presence_pauses,
)


def hint(ext: str, status: int = 0) -> Event:
    return {
        "Event": "ExtensionStatus",
        "Exten": ext,
        "Context": "phones",
        "Hint": f"PJSIP/{ext},CustomPresence:{ext}",
        "Status": str(status),
    }


def presence(ext: str, status: str, subtype: str = "", message: str = "") -> Event:
    return {
        "Event": "PresenceStateChange",
        "Presentity": f"CustomPresence:{ext}",
        "Status": status,
        "Subtype": subtype,
        "Message": message,
    }


def device(ext: str, state: str) -> Event:
    return {"Event": "DeviceStateChange", "Device": f"PJSIP/{ext}", "State": state}


def endpoint(ext: str, callerid: str) -> Event:
    return {"Event": "EndpointDetail", "ObjectName": ext, "Callerid": callerid}


def member(ext: str, paused: str = "0", reason: str = "", kind: str = "QueueMember") -> Event:
    return {
        "Event": kind,
        "Queue": "switchboard",
        "Name": "Operator",
        "Interface": f"PJSIP/{ext}",
        "StateInterface": f"PJSIP/{ext}",
        "Paused": paused,
        "PausedReason": reason,
    }


def run(events: list[Event]) -> PresenceModel:
    model = PresenceModel("main")
    for event in events:
        model.apply(event)
    return model


@pytest.mark.parametrize(
    ("status", "value", "shown"),
    [
        (0, "not_set", "available"),
        (0, "available", "available"),
        (0, "dnd", "dnd"),  # DND beats idle
        (0, "away", "away"),
        (0, "xa", "away"),
        (0, "chat", "available"),
        (1, "dnd", "in_use"),  # in a call: in use, with the DND badge (dnd stays true)
        (2, "available", "in_use"),  # busy (device_state_busy_at = 1) is in use
        (8, "dnd", "ringing"),
        (9, "not_set", "in_use"),  # in use and ringing
        (17, "away", "on_hold"),
        (4, "dnd", "unavailable"),  # an unplugged phone is unavailable, whatever the person set
        (4, "available", "unavailable"),
    ],
)
def test_merge_rules(status: int, value: str, shown: str) -> None:
    model = run([hint("201", status), presence("201", value)])
    extension = model.extensions["201"]
    assert extension.shown == shown
    assert extension.dnd == (value == "dnd")
    assert extension.to_json()["shown"] == shown


def test_a_status_carries_its_note_and_return_time() -> None:
    model = run([hint("201"), presence("201", "away", "13:30", "lunch, back soon")])
    data = model.extensions["201"].to_json()
    assert (data["shown"], data["note"], data["until"]) == ("away", "lunch, back soon", "13:30")


def test_available_again_drops_the_old_note() -> None:
    lunch = presence("201", "away", "13:30", "lunch")
    model = run([hint("201"), lunch, presence("201", "available")])
    extension = model.extensions["201"]
    assert (extension.shown, extension.note, extension.until) == ("available", "", "")


def test_a_hostile_note_from_the_pbx_is_one_short_line() -> None:
    model = run([hint("201"), presence("201", "away", "13:30\r\nEvil: 1", "x" * 500)])
    extension = model.extensions["201"]
    assert extension.until == "13:30 Evil: 1"
    assert len(extension.note) == 80


EVENTS = [
    hint("201", 1),
    presence("201", "dnd"),
    endpoint("201", '"Pieter de Vries" <201>'),
    member("201", "1", "lunch"),
    device("201", "INUSE"),
]


@pytest.mark.parametrize("order", list(itertools.permutations(range(len(EVENTS)))))
def test_every_order_of_events_gives_the_same_extension(order: tuple[int, ...]) -> None:
    model = run([EVENTS[i] for i in order])
    data = model.extensions["201"].to_json()
    assert data["name"] == "Pieter de Vries"
    assert (data["shown"], data["dnd"], data["device"]) == ("in_use", True, "in_use")
    assert data["queues"] == [
        {"queue": "switchboard", "paused": True, "reason": "lunch", "interface": "PJSIP/201"}
    ]


def test_device_state_counts_until_the_first_extension_status() -> None:
    model = PresenceModel("main")
    model.apply({**hint("201"), "Status": ""})  # a hint without a usable status
    assert model.extensions["201"].device == "unknown"
    model.apply(device("201", "UNAVAILABLE"))
    assert model.extensions["201"].shown == "unavailable"


def test_only_phones_are_extensions() -> None:
    parking = {"Event": "ExtensionStatus", "Exten": "701", "Hint": "park:701@parkedcalls"}
    model = run([parking, device("trunk", "INUSE"), presence("999", "dnd")])
    assert model.extensions == {}


def test_changes_only_when_something_the_board_shows_changed() -> None:
    model = PresenceModel("main")
    assert model.apply(hint("201")) == [ExtensionChanged(model.extensions["201"])]
    assert model.apply(hint("201")) == []
    assert model.apply(device("201", "NOT_INUSE")) == []  # ExtensionStatus already said so


def test_a_removed_hint_removes_the_extension() -> None:
    model = run([hint("201")])
    changes = model.apply(hint("201", -1))
    assert [type(c) for c in changes] == [ExtensionRemoved]
    assert "201" not in model.extensions


def test_queue_pause_and_removal() -> None:
    model = run([hint("100"), member("100")])
    model.apply(member("100", "1", "coffee", kind="QueueMemberPause"))
    assert model.extensions["100"].queues[0].paused is True
    model.apply(member("100", kind="QueueMemberRemoved"))
    assert model.extensions["100"].queues == ()


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Event": "ExtensionStatus"},
        {"Event": "ExtensionStatus", "Exten": "201", "Hint": "PJSIP/201", "Status": "x"},
        {"Event": "PresenceStateChange", "Status": "dnd"},
        {"Event": "PresenceStateChange", "Presentity": "CustomPresence:201", "Status": "bogus"},
        {"Event": "DeviceStateChange", "Device": "PJSIP/201"},
        {"Event": "EndpointDetail"},
        {"Event": "QueueMemberStatus", "Queue": "q"},
        {"Event": "PresenceStatus", "Exten": "201", "Status": "away"},
    ],
)
def test_incomplete_events_never_raise(event: Event) -> None:
    model = run([hint("201"), event])
    assert model.extensions["201"].presence in {"not_set", "away"}


def test_resync_from_the_lists_reproduces_the_same_extensions() -> None:
    live = [hint("201"), hint("202", 2), presence("201", "away", "13:30", "lunch")]
    live += [endpoint("201", '"Pieter" <201>'), member("202", "1")]
    model = run(live)
    before = model.snapshot()
    model.reset()
    assert model.snapshot() == []
    # The lists come back in the bridge's order: presence first, hints after.
    for event in [member("202", "1"), presence("201", "away", "13:30", "lunch")]:
        model.apply(event)
    for event in [hint("202", 2), hint("201"), endpoint("201", '"Pieter" <201>')]:
        model.apply(event)
    assert model.snapshot() == before


def test_conversations_name_the_other_party_and_when_it_was_answered() -> None:
    calls = PBXModel("main")
    channel = {"Linkedid": "1.1", "ChannelStateDesc": "Up"}
    calls.apply({"Event": "Newchannel", "Uniqueid": "1.1", "Channel": "PJSIP/trunk-1",
                 "CallerIDNum": "0612345678", "CallerIDName": "Anna", **channel}, 10.0)  # fmt: skip
    calls.apply({"Event": "Newchannel", "Uniqueid": "1.2", "Channel": "PJSIP/201-2",
                 "CallerIDNum": "201", "CallerIDName": "Pieter", **channel}, 11.0)  # fmt: skip
    for unique_id in ("1.1", "1.2"):
        bridge = {"Event": "BridgeEnter", "Uniqueid": unique_id, "BridgeUniqueid": "b1"}
        calls.apply({**bridge, **channel}, 12.0)
    talks = conversations(calls.channels.values(), calls.calls, 20.0)
    assert set(talks) == {"201"}  # the trunk is nobody's extension
    assert (talks["201"].with_, talks["201"].since) == ("Anna", 12.0)

    model = run([hint("201", 2)])
    model.set_conversations(talks)
    data = model.extensions["201"].to_json()
    assert (data["shown"], data["talking_with"], data["talking_since"]) == ("in_use", "Anna", 12.0)
    model.set_conversations({})
    assert model.extensions["201"].talking_with == ""


def test_do_not_disturb_and_away_pause_the_queues_and_available_lifts_only_those_pauses() -> None:
    # Issue 13: a receptionist on DND must not keep callers waiting in the queue; the
    # fallback chain takes them (queues.conf joinempty/leavewhenempty paused).
    def on(presence: str, *memberships: QueueMembership) -> Extension:
        return Extension(pbx="main", extension="100", presence=presence, queues=memberships)

    member = QueueMembership("switchboard", interface="PJSIP/100")
    paused_by_dnd = QueueMembership("switchboard", True, "do not disturb", "PJSIP/100")
    own_pause = QueueMembership("switchboard", True, "lunch", "PJSIP/100")
    assert presence_pauses(on("dnd", member)) == [
        PauseChange("switchboard", "PJSIP/100", True, "do not disturb")
    ]
    assert presence_pauses(on("away", member)) == [
        PauseChange("switchboard", "PJSIP/100", True, "away")
    ]
    assert presence_pauses(on("dnd", paused_by_dnd)) == []  # confirmed: nothing more
    assert presence_pauses(on("available", paused_by_dnd)) == [
        PauseChange("switchboard", "PJSIP/100", False)
    ]
    assert presence_pauses(on("available", own_pause)) == []  # a person's own pause stays
    assert presence_pauses(on("available", member)) == []
    # On the phone is not away: the queue rings a busy member never (ringinuse=no).
    busy = Extension(pbx="main", extension="100", device="in_use", queues=(member,))
    assert presence_pauses(busy) == []

"""Properties of the call model over every real AMI recording (tests/fixtures/ami).

test_replay.py checks that each recording tells its expected story and that no suffix or
shuffle raises. These check what a long-running bridge depends on beyond that: calls that
happen at the same time do not change each other's story, a filtered or older Asterisk
that leaves headers out does not leave calls hanging on the board, and once every call has
ended the model holds nothing more (else the live bridge grows until it is restarted).

The recordings are globbed, so a new one is covered as soon as it is added. Hypothesis
runs derandomized and without its example database: a run is the same on every machine.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ami_bridge.replay import RECONNECTED, read_recording, replay, replay_changes
from switchboard.core.calls.model import HUNG_UP_REMEMBERED, CallEnded, PBXModel
from switchboard.core.calls.state import PBXState

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"
RECORDINGS = sorted(FIXTURES.glob("*.ami"))

SUITE = settings(deadline=None, max_examples=25, derandomize=True, database=None)

Events = list[dict[str, str]]
#: What a receptionist reads about a call afterwards, times left out: who called, who
#: answered, how it ended, the transfers (kind, by, to), the queue it came through.
Story = tuple[str, str, str, tuple[tuple[str, str, str], ...], str]

#: Headers the call model cannot do without: what the event is, which channel, call and
#: bridge it is about, how a dial or transfer went, the queue, the parking space, and
#: what marks a resync reply. Headers naming a channel by role (TransfereeUniqueid,
#: ParkeeChannel, ...) count too: see _essential.
ESSENTIAL = frozenset(
    {"Event", "Uniqueid", "Linkedid", "Channel", "BridgeUniqueid", "Result", "DialStatus"}
    | {"Queue", "ActionID", "EventList", "Response", "ParkingSpace"}
)


@functools.cache
def _load(path: Path) -> tuple[dict[str, str], ...]:
    return tuple(read_recording(path.read_bytes()).events)


def events_of(path: Path) -> Events:
    """A fresh copy of the recording's events, safe to change."""
    return [dict(event) for event in _load(path)]


def run(events: Iterable[Mapping[str, str]]) -> tuple[list[dict[str, Any]], PBXModel]:
    """The call records :func:`ami_bridge.replay.replay` gives, and the model they came
    from (replay keeps it to itself). Reconnections are handled by ``replay_changes``,
    as in the replay; test_the_helper_replays_like_the_replay_command keeps the two equal."""
    state = PBXState("replay")
    records = [
        {"type": "call", "open": False, **change.call.to_json()}
        for change in replay_changes(state, events)
        if isinstance(change, CallEnded)
    ]
    records += [{"type": "call", "open": True, **call.to_json()} for call in state.model.snapshot()]
    return records, state.model


def story(record: Mapping[str, Any]) -> Story:
    transfers = tuple((t["kind"], t["by"], t["to"]) for t in record["transfers"])
    return (
        record["caller_number"],
        record["answered_by"],
        record["outcome"],
        transfers,
        record["via_queue"],
    )


def stories(records: Iterable[Mapping[str, Any]]) -> Counter[Story]:
    return Counter(story(record) for record in records)


def leftovers(model: PBXModel) -> dict[str, int]:
    """What the model still holds besides its bounded memory of hung-up channels: all
    zero once every call has ended (PBXModel.sizes)."""
    sizes = model.sizes()
    assert sizes["hung_up"] <= HUNG_UP_REMEMBERED
    return {name: size for name, size in sizes.items() if name != "hung_up" and size}


def still_open(records: Iterable[Mapping[str, Any]]) -> list[str]:
    return [f"{r['caller_number']} ({r['state']})" for r in records if r["open"]]


@functools.cache
def _all_ended(path: Path) -> bool:
    """Whether every call of the recording, replayed as it is, has ended at its end:
    only then may a changed replay be asked to leave nothing open."""
    records, _model = run(_load(path))
    return not still_open(records)


# -- grouping a recording's events into unrelated calls ---------------------------------


def _ids(event: Mapping[str, str]) -> list[str]:
    """Everything in an event that ties it to a call: channels (whatever role names
    them, always with their unique id), linked ids, bridges. Not channel names: they
    repeat across recordings (Asterisk restarts counting), unique ids do not."""
    return [
        value
        for key, value in event.items()
        if value and (key.endswith(("Uniqueid", "Linkedid")) or key == "BridgeId")
    ]


def _pinned(event: Mapping[str, str]) -> bool:
    """A new login and the channel, queue and parking lists asked for after it: their
    place in the stream is what they mean (a channel list describes that moment)."""
    return event.get("Event") == RECONNECTED or "ActionID" in event


def segments(events: Sequence[Mapping[str, str]]) -> list[dict[str, list[Mapping[str, str]]]]:
    """The stretches between pinned events, each split into its calls' events in their
    order: two ids that ever meet in one event (a channel and its linked id, a channel
    moved into another call, the parties of a transfer or a parking, a bridge) are one
    call, keyed by one of its ids. Events that name nothing (DeviceStateChange,
    TestEvent...) go with the event before them; those at a stretch's start form a group
    of their own, keyed "". A pinned event is a stretch of its own."""
    parent: dict[str, str] = {}

    def root(item: str) -> str:
        parent.setdefault(item, item)
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for event in events:
        ids = _ids(event)
        for other in ids[1:]:
            parent[root(other)] = root(ids[0])
    result: list[dict[str, list[Mapping[str, str]]]] = []
    stretch: dict[str, list[Mapping[str, str]]] = {}
    last = ""  # the group of the stretch's head: events naming nothing
    for event in [*events, {"Event": RECONNECTED}]:
        if _pinned(event):
            if stretch:
                result.append(stretch)
            result.append({"": [event]})
            stretch, last = {}, ""
            continue
        ids = _ids(event)
        if ids:
            last = root(ids[0])
        stretch.setdefault(last, []).append(event)
    return result[:-1]  # without the sentinel


#: A group with one of these is a call (or a leg of one), not just a late RTCPSent
#: about a channel from before the recording.
_CALL_EVENTS = frozenset({"Newchannel", "CoreShowChannel", "Hangup"})


def independent(events: Sequence[Mapping[str, str]]) -> bool:
    """Whether some stretch holds two calls that can happen in any interleaving."""
    return any(
        sum(any(e.get("Event") in _CALL_EVENTS for e in group) for group in stretch.values()) >= 2
        for stretch in segments(events)
    )


def interleave(
    data: st.DataObject, groups: Sequence[Sequence[Mapping[str, str]]]
) -> list[Mapping[str, str]]:
    """The groups' events merged in an order hypothesis picks, each group's own events
    in their order. Drawn as "which of the groups with events left goes next", a list of
    small numbers: it shrinks fast, towards one group after the other as recorded."""
    if len(groups) < 2:
        return [event for group in groups for event in group]
    total = sum(len(group) for group in groups)
    turns = data.draw(
        st.lists(st.integers(0, len(groups) - 1), min_size=total, max_size=total),
        label="turns",
    )
    queues = [list(reversed(group)) for group in groups]
    merged: list[Mapping[str, str]] = []
    for turn in turns:
        waiting = [queue for queue in queues if queue]
        merged.append(waiting[turn % len(waiting)].pop())
    return merged


def interleaving(
    data: st.DataObject, events: Sequence[Mapping[str, str]]
) -> list[Mapping[str, str]]:
    """The events with each stretch's calls interleaved as hypothesis picks."""
    return [
        event for stretch in segments(events) for event in interleave(data, list(stretch.values()))
    ]


def _after_login(path: Path) -> Events:
    """The recording without its login greeting and the boot message after it."""
    events = events_of(path)
    while events and events[0].get("Event") in {RECONNECTED, "FullyBooted"}:
        events.pop(0)
    return events


def concurrent(data: st.DataObject, first: Path, second: Path) -> list[Mapping[str, str]]:
    """Two recordings as one connection would bring them with both up at once: one
    login, then the two streams interleaved as hypothesis picks, each in its order.
    (Not split further: recordings made one after the other share ids, like the parking
    lot's holding bridge, which would tie them into one group.)"""
    return [{"Event": RECONNECTED}, *interleave(data, [_after_login(first), _after_login(second)])]


MIXED = [p for p in RECORDINGS if independent(_load(p))]
#: Recordings of one login, no resync: any two can be played as if at once.
SINGLE_LOGIN = [
    p
    for p in RECORDINGS
    if sum(_pinned(e) for e in _load(p)) == 1 and _pinned(_load(p)[0]) and _all_ended(p)
]


@pytest.mark.skipif(not MIXED, reason="no recording has two unrelated calls")
@pytest.mark.parametrize("path", MIXED, ids=lambda p: p.stem)
@SUITE
@given(data=st.data())
def test_unrelated_calls_in_any_interleaving_tell_the_same_stories(
    path: Path, data: st.DataObject
) -> None:
    # Asterisk sends the events of calls that are up at the same time in whatever order
    # their threads run: no such order may change who answered a call or how it ended.
    events = events_of(path)
    got, model = run(interleaving(data, events))
    assert stories(got) == stories(run(events)[0])
    if _all_ended(path):
        assert not still_open(got)
        assert not leftovers(model)


@pytest.mark.skipif(len(SINGLE_LOGIN) < 2, reason="needs two recordings of one login")
@pytest.mark.parametrize("path", SINGLE_LOGIN, ids=lambda p: p.stem)
@SUITE
@given(data=st.data())
def test_two_recorded_calls_up_at_once_tell_their_own_stories(
    path: Path, data: st.DataObject
) -> None:
    # A busy PBX: this recording's calls and another's at the same time. Together they
    # must tell exactly the stories each tells alone.
    other = data.draw(st.sampled_from([p for p in SINGLE_LOGIN if p != path]), label="with")
    want = stories(run(events_of(path))[0]) + stories(run(events_of(other))[0])
    got, model = run(concurrent(data, path, other))
    assert stories(got) == want
    assert not still_open(got)
    assert not leftovers(model)


# -- headers an older or filtered Asterisk leaves out -----------------------------------


def _essential(header: str) -> bool:
    return header in ESSENTIAL or header.endswith(("Uniqueid", "Channel"))


@functools.cache
def _optional_headers(path: Path) -> list[str]:
    return sorted({k for e in _load(path) for k in e if not _essential(k)})


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
@SUITE
@given(data=st.data())
def test_calls_still_end_when_optional_headers_are_missing(path: Path, data: st.DataObject) -> None:
    # Asterisk versions and AMI filters (eventfilter, timestampevents=no) differ in the
    # headers they send. Without them a story may be told with less detail, but a call
    # that ended must leave the board, and the model must let go of it.
    optional = _optional_headers(path)
    chosen = data.draw(st.frozensets(st.sampled_from(optional)), label="chosen")
    # Half the time the chosen ones are the only optional headers kept: most go.
    keep_only = data.draw(st.booleans(), label="keep_only_chosen")
    dropped = frozenset(optional) - chosen if keep_only else chosen
    events = [{k: v for k, v in e.items() if k not in dropped} for e in events_of(path)]
    records, model = run(events)
    if _all_ended(path):
        assert not still_open(records), sorted(dropped)
        assert not leftovers(model), sorted(dropped)


# -- attaching to the PBX mid-recording -------------------------------------------------


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
@SUITE
@given(data=st.data())
def test_attaching_mid_recording_leaves_nothing_behind_once_all_calls_ended(
    path: Path, data: st.DataObject
) -> None:
    # The bridge may start at any moment, mid-call: what it first sees of a call may be
    # its last events. Once the PBX has ended them all, the board shows none of them
    # and the model holds none of them.
    events = events_of(path)
    start = data.draw(st.integers(0, len(events) - 1), label="start")
    records, model = run(events[start:])
    if _all_ended(path):
        assert not still_open(records)
        assert not leftovers(model)


# -- the whole recording, as recorded ---------------------------------------------------


def _without_timestamps(events: Events) -> Events:
    return [{k: v for k, v in e.items() if k != "Timestamp"} for e in events]


@pytest.mark.parametrize("stamped", [True, False], ids=["timestamps", "no-timestamps"])
@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_the_model_holds_nothing_after_the_last_hangup(path: Path, stamped: bool) -> None:
    # What is left after the last call ended stays until the bridge restarts: one leak
    # per call is a slow memory leak on a PBX that runs for months. Checked right after
    # the last Hangup and again at the end (the events Asterisk sends after a Hangup
    # must not bring anything back).
    events = events_of(path) if stamped else _without_timestamps(events_of(path))
    hangups = [n for n, e in enumerate(events) if e.get("Event") == "Hangup"]
    assert hangups, "a recording without a Hangup proves nothing here"
    if not _all_ended(path):
        pytest.skip("a call is still up at the end of this recording")
    records, model = run(events[: hangups[-1] + 1])
    assert not still_open(records)
    assert not leftovers(model), "right after the last Hangup"
    records, model = run(events)
    assert not still_open(records)
    assert not leftovers(model), "at the end of the recording"
    assert model.sizes()["hung_up"] == len({events[n]["Uniqueid"] for n in hangups})


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_the_helper_replays_like_the_replay_command(path: Path) -> None:
    # run() stands in for replay() to reach the model: it must not drift from it.
    assert run(events_of(path))[0] == list(replay(events_of(path)))

"""A soak of the call model: hundreds of thousands of real AMI events, as a busy PBX
sends them over months, through one PBXModel.

The bridge keeps one model per PBX for as long as it runs. Whatever a call leaves behind
after it ended (a channel, a linked id in one of the bookkeeping sets) is a leak that
only shows after weeks: the board slows down, memory grows. So the recordings of the
calls with the most bookkeeping (transfers, parking, pickups, forwards, ring groups) are
replayed again and again, each time with fresh unique ids, several copies in flight at
once, and after every batch the model must be back to holding nothing but its bounded
memory of hung-up channels, having told every call the way it is told alone.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ami_bridge.replay import RECONNECTED, read_recording
from switchboard.core.calls.model import HUNG_UP_REMEMBERED, Call, CallEnded, PBXModel

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"
#: The recordings the soak must include; any other whose name says it is about the same
#: kind of call joins them when it is recorded.
REQUIRED = {"attended_transfer", "blind_transfer", "park_and_pickup"}
REQUIRED |= {"park_and_redirect", "park_timeout"}
KINDS = ("transfer", "pickup", "park", "forward", "ring_group")

TOTAL_EVENTS = 300_000
IN_FLIGHT = 3  # copies interleaved event by event: calls up at the same time
STEP_S = 0.001  # between two events; time only ever goes forward, as on a live bridge
# Later than any recording: rewritten unique ids start with an epoch second, as
# Asterisk's do, and stay apart from the recordings' own.
FIRST_SECOND = 2_000_000_000

_ASTERISK_ID = re.compile(r"\d+\.\d+")  # "1795392506.19": creation second, sequence
_CHANNEL_NAME = re.compile(r"(?P<base>.*-)[0-9a-f]{8}(?P<half>;[12])?")  # "PJSIP/100-0000001a"

Story = tuple[str, str, str, tuple[tuple[str, str, str], ...], str, str, str]


def story(call: Call) -> Story:
    """What a receptionist reads about a call afterwards, without times and ids."""
    transfers = tuple((t.kind, t.by, t.to) for t in call.transfers)
    return (
        call.caller_number,
        call.answered_by,
        call.outcome,
        transfers,
        call.via_queue,
        call.parked_by,
        call.picked_up_by,
    )


def _is_id(header: str) -> bool:
    return header.endswith(("Uniqueid", "Linkedid")) or header == "BridgeId"


@dataclass(frozen=True)
class Template:
    """One recording, ready to be played again as a call nobody has seen yet."""

    name: str
    events: tuple[dict[str, str], ...]
    # Per event, the headers to rewrite and the value each had.
    plan: tuple[tuple[tuple[str, str], ...], ...]
    values: tuple[str, ...]  # every value that is rewritten, once each

    @classmethod
    def of(cls, path: Path) -> Template:
        events = tuple(
            e for e in read_recording(path.read_bytes()).events if e.get("Event") != RECONNECTED
        )
        plan = tuple(
            tuple(
                (k, v)
                for k, v in e.items()
                if v and (_is_id(k) or (k.endswith("Channel") and _CHANNEL_NAME.fullmatch(v)))
            )
            for e in events
        )
        values = tuple(dict.fromkeys(v for rewrites in plan for _k, v in rewrites))
        return cls(path.stem, events, plan, values)

    def copy(self, repetition: int) -> list[dict[str, str]]:
        """The events with every unique id, linked id, bridge id and channel name new
        for this repetition, the same within it: another call, told the same way."""
        fresh = self._fresh(repetition)
        return [
            {**event, **{k: fresh[v] for k, v in rewrites}}
            for event, rewrites in zip(self.events, self.plan, strict=True)
        ]

    def _fresh(self, repetition: int) -> dict[str, str]:
        fresh: dict[str, str] = {}
        channels: dict[str, int] = {}  # channel name without ";1"/";2": its number
        for number, value in enumerate(self.values):
            name = _CHANNEL_NAME.fullmatch(value)
            if _ASTERISK_ID.fullmatch(value):
                fresh[value] = f"{FIRST_SECOND + repetition}.{number}"
            elif name is not None:
                # Both halves of a Local channel keep one name, as Asterisk gives them.
                whole = value.removesuffix(name["half"] or "")
                sequence = repetition << 8 | channels.setdefault(whole, len(channels))
                fresh[value] = f"{name['base']}{sequence:08x}{name['half'] or ''}"
            else:
                fresh[value] = str(uuid.UUID(int=repetition << 16 | number))  # a bridge's
        return fresh


@dataclass(frozen=True)
class Alone:
    """What one copy of a recording does to an empty model, by itself."""

    stories: Counter[Story]
    peak_channels: int
    peak_calls: int
    holds_nothing_after: bool


def alone(template: Template) -> Alone:
    model = PBXModel("soak")
    stories: Counter[Story] = Counter()
    peak_channels = peak_calls = 0
    for number, event in enumerate(template.copy(0)):
        for change in model.apply(event, FIRST_SECOND + number * STEP_S):
            if isinstance(change, CallEnded):
                stories[story(change.call)] += 1
        peak_channels = max(peak_channels, len(model.channels))
        peak_calls = max(peak_calls, len(model.calls))
    left = {k: v for k, v in model.sizes().items() if k != "hung_up" and v}
    return Alone(stories, peak_channels, peak_calls, not left)


def soaked() -> list[tuple[Template, Alone]]:
    """The recordings to repeat: those named after transfers, parking, pickups, forwards
    and ring groups, recorded in one login (a reconnection's reset or a resync would
    forget the other copies in flight), whose calls all end by themselves."""
    chosen = []
    for path in sorted(FIXTURES.glob("*.ami")):
        if not any(kind in path.stem for kind in KINDS):
            continue
        template = Template.of(path)
        if any(RECONNECTED in e.values() or "ActionID" in e for e in template.events):
            continue
        result = alone(template)
        if result.holds_nothing_after and result.stories:
            chosen.append((template, result))
    return chosen


def round_robin(streams: Sequence[Sequence[Mapping[str, str]]]) -> Iterator[Mapping[str, str]]:
    """One event of each copy in turn: calls whose events the PBX sends interleaved."""
    for position in range(max(len(s) for s in streams)):
        for stream in streams:
            if position < len(stream):
                yield stream[position]


def test_the_call_model_holds_nothing_after_300k_events_of_transfers_and_parking() -> None:
    recordings = soaked()
    names = {template.name for template, _ in recordings}
    assert REQUIRED <= names, f"missing from the soak: {sorted(REQUIRED - names)}"

    model = PBXModel("soak")
    now = float(FIRST_SECOND)
    events = repetitions = ended = 0
    played: Counter[str] = Counter()  # repetitions of each recording
    peak_channels = peak_hung_up = 0
    batch = 0
    while events < TOTAL_EVENTS:
        # Each batch: IN_FLIGHT different recordings up at once, a rotating choice.
        chosen = [recordings[(batch * IN_FLIGHT + n) % len(recordings)] for n in range(IN_FLIGHT)]
        copies = [t.copy(repetitions + n) for n, (t, _) in enumerate(chosen)]
        repetitions += len(copies)
        played.update(t.name for t, _ in chosen)
        want: Counter[Story] = sum((a.stories for _, a in chosen), Counter())
        # Copies do not share channels: together they never hold more than each at its
        # peak alone, added up.
        channel_bound = sum(a.peak_channels for _, a in chosen)
        call_bound = sum(a.peak_calls for _, a in chosen)
        got: Counter[Story] = Counter()
        for event in round_robin(copies):
            now += STEP_S
            events += 1
            for change in model.apply(event, now):
                if isinstance(change, CallEnded):
                    got[story(change.call)] += 1
            sizes = model.sizes()
            assert sizes["channels"] <= channel_bound, (batch, event)
            assert sizes["calls"] <= call_bound, (batch, event)
            assert sizes["hung_up"] <= HUNG_UP_REMEMBERED
            peak_channels = max(peak_channels, sizes["channels"])
            peak_hung_up = max(peak_hung_up, sizes["hung_up"])
        which = [t.name for t, _ in chosen]
        left = {k: v for k, v in model.sizes().items() if k != "hung_up" and v}
        assert not left, f"batch {batch} ({which}) left {left}"
        assert got == want, f"batch {batch} ({which}) told its calls differently"
        ended += got.total()
        batch += 1

    calls_per_copy = {t.name: a.stories.total() for t, a in recordings}
    assert ended == sum(played[name] * calls for name, calls in calls_per_copy.items())
    assert set(played) == names and min(played.values()) >= 100
    # Enough hang-ups to fill the memory of hung-up channels, which then stays capped.
    assert peak_hung_up == HUNG_UP_REMEMBERED == model.sizes()["hung_up"]
    assert peak_channels <= IN_FLIGHT * max(a.peak_channels for _, a in recordings)

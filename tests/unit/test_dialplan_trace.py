"""``switchboard dialplan trace`` over the shipped dialplan, with the service's answers
given by hand: the route a receptionist or an admin would read off the file."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from switchboard.dialplan.conf_files import parse
from switchboard.dialplan.extensions import build
from switchboard.dialplan.rules import Site
from switchboard.dialplan.timing import build_timing
from switchboard.dialplan.trace import MAX_STEPS, Situation, Trace, trace
from tests.conftest import REPO

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MONDAY_TEN = datetime(2026, 12, 7, 10, 0, tzinfo=AMSTERDAM)
CLOSED = {
    "SB_OPEN": "no",
    "SB_CLOSED_ROUTE": "voicemail",
    "SB_REOPENS_DAY": "1",
    "SB_REOPENS_HOUR": "8",
    "SB_REOPENS_MINUTE": "30",
}


def shipped() -> Site:
    texts = {p.name: p.read_text(encoding="utf-8") for p in (REPO / "dialplans").glob("*.conf")}
    return Site.read(texts)


def walk(
    situation: Situation,
    hours: Mapping[str, str] | None = None,
    recognition: Mapping[str, str] | None = None,
) -> Trace:
    site = shipped()

    def answer(route: str, _args: list[str], _vars: Mapping[str, str]) -> Mapping[str, str] | None:
        if route == "hours":
            return hours or {"SB_OPEN": "yes"}
        if route == "recognize":
            return recognition or {}
        return None

    return trace(site.dialplan, site.trunk_context(), situation, answer)


def positions(result: Trace) -> list[str]:
    return [f"{s.context},{s.extension},{s.priority}" for s in result.steps]


def applications(result: Trace) -> list[str]:
    return [s.application for s in result.steps]


def test_an_answered_caller_ends_in_the_reception_queue() -> None:
    result = walk(Situation(did="0201234567", caller_id="0612345678", at=MONDAY_TEN))

    assert positions(result)[:2] == ["from-trunk,0201234567,1", "from-trunk,0201234567,2"]
    assert result.steps[-1].application == "Queue"
    assert result.steps[-1].data == "switchboard,t,,,120"
    assert result.end == "answered in queue switchboard"
    assert result.steps[2].data == "Inbound call from <0612345678> to 0201234567"


def test_closed_the_caller_hears_when_we_open_and_leaves_a_message() -> None:
    result = walk(Situation(did="0201234567", caller_id="0612345678", at=MONDAY_TEN), CLOSED)

    played = [s.data for s in result.steps if s.application == "Playback"]
    assert played[0] == "switchboard/closed"
    assert (
        "switchboard/day-1" in result.steps[positions(result).index("switchboard-closed,s,4")].data
    )
    assert "Queue" not in applications(result)
    assert [s.data.split(",")[1] for s in result.steps if s.application == "UserEvent"] == [
        "Step: voicemail",
        "Step: goodbye",
    ]
    assert result.end == "Hangup()"


def test_nobody_answering_walks_the_whole_fallback_chain_to_voicemail() -> None:
    result = walk(
        Situation(did="0201234567", caller_id="0612345678", at=MONDAY_TEN, answered=False)
    )

    steps = [s.data for s in result.steps if s.application == "UserEvent"]
    assert [s.split(",")[1] for s in steps] == [
        "Step: operator", "Step: backoffice", "Step: voicemail", "Step: goodbye",
    ]  # fmt: skip
    assert [s.note for s in result.steps if s.application == "Dial"] == ["DIALSTATUS=NOANSWER"]


def test_a_returning_caller_rings_their_receptionist_first_when_the_phone_is_free() -> None:
    returning = {"SB_PREFERRED_EXTENSION": "201", "SB_LANGUAGE": "en"}
    free = walk(Situation(did="0201234567", caller_id="0612345678", at=MONDAY_TEN), None, returning)
    offline = walk(
        Situation(
            did="0201234567",
            caller_id="0612345678",
            at=MONDAY_TEN,
            unavailable=frozenset({"201"}),
        ),
        None,
        returning,
    )

    assert free.end == "answered by PJSIP/201"
    assert "Dial" not in applications(offline)
    assert offline.end == "answered in queue switchboard"
    assert ("CHANNEL(language)=en") in [s.data for s in free.steps]


def test_a_callback_request_follows_the_keys_the_caller_presses() -> None:
    """Without the service's callback route (the trace stores nothing) the caller goes
    back to waiting, as when the service does not answer."""
    result = walk(
        Situation(
            did="0201234567",
            caller_id="0612345678",
            at=MONDAY_TEN,
            answered=False,
            queue_status="TIMEOUT",
        ),
        {"SB_OPEN": "yes"},
    )
    assert "switchboard-callback" not in {s.context for s in result.steps}


def test_a_loop_in_the_dialplan_stops_the_trace() -> None:
    texts = {"extensions.conf": "[from-trunk]\nexten => _X.,1,NoOp(round)\n same => n,Goto(1)\n"}
    plan = build(parse("extensions.conf", texts))

    result = trace(plan, "from-trunk", Situation("123", "06", MONDAY_TEN), lambda *_: None)

    assert len(result.steps) == MAX_STEPS
    assert result.end.startswith(f"stopped after {MAX_STEPS} steps")


def test_a_dialplan_that_falls_off_its_end_says_so() -> None:
    texts = {"extensions.conf": "[from-trunk]\nexten => _X.,1,Answer()\n"}
    plan = build(parse("extensions.conf", texts))

    result = trace(plan, "from-trunk", Situation("123", "06", MONDAY_TEN), lambda *_: None)

    assert result.end == "no priority 2 at from-trunk,123: Asterisk hangs up after Answer"


@pytest.mark.parametrize(
    ("spec", "at", "matches"),
    [
        ("08:00-17:00,mon-fri,*,*", MONDAY_TEN, True),
        # The end minute is included: 17:00:59 still matches 08:00-17:00.
        ("08:00-17:00,mon-fri,*,*", MONDAY_TEN.replace(hour=17, minute=0), True),
        ("08:00-17:00,mon-fri,*,*", MONDAY_TEN.replace(hour=17, minute=1), False),
        ("*,sat-sun,*,*", MONDAY_TEN, False),
        ("*,*,7,dec", MONDAY_TEN, True),
        ("22:00-06:00,*,*,*", MONDAY_TEN.replace(hour=23), True),
    ],
)
def test_time_specs_match_as_asterisk_matches_them(spec: str, at: datetime, matches: bool) -> None:
    assert build_timing(spec).matches(at) is matches


def test_a_caller_id_full_of_dialplan_syntax_is_data_not_dialplan() -> None:
    hostile = '${SHELL(rm -rf /)}$[1/0]"\\,;'
    result = walk(Situation(did="0201234567", caller_id=hostile, at=MONDAY_TEN))

    assert result.end == "answered in queue switchboard"
    assert hostile in result.steps[2].data


def test_the_service_is_asked_with_the_callers_number() -> None:
    """Recognition reads the caller ID of the channel, as the FastAGI route does."""
    site = shipped()
    asked: list[tuple[str, str]] = []

    def answer(route: str, _args: list[str], channel: Mapping[str, str]) -> Mapping[str, str]:
        asked.append((route, channel.get("CALLERID(num)", "")))
        return {"SB_OPEN": "yes"} if route == "hours" else {}

    trace(site.dialplan, "from-trunk", Situation("0201234567", "0612345678", MONDAY_TEN), answer)

    assert asked == [("hours", "0612345678"), ("recognize", "0612345678")]


def steps_of(text: str, number: str = "123", at: datetime = MONDAY_TEN) -> Trace:
    plan = build(parse("extensions.conf", {"extensions.conf": text}))
    return trace(plan, "from-trunk", Situation(number, "06", at), lambda *_: None)


def test_asterisk_tries_the_more_specific_pattern_first_position_by_position() -> None:
    text = (
        "[from-trunk]\n"
        "exten => _[2-9]XX,1,NoOp(a set first)\n same => n,Hangup()\n"
        "exten => _2XX,1,NoOp(a literal first)\n same => n,Hangup()\n"
        "exten => _1.,1,NoOp(one then anything)\n same => n,Hangup()\n"
        "exten => _XXX,1,NoOp(any three)\n same => n,Hangup()\n"
    )
    assert steps_of(text, "234").steps[0].data == "a literal first"
    assert steps_of(text, "123").steps[0].data == "one then anything"
    assert steps_of(text, "456").steps[0].data == "a set first"


def test_includes_are_searched_depth_first_and_a_timed_one_only_in_its_time() -> None:
    text = (
        "[from-trunk]\ninclude => b\ninclude => c\n"
        "[b]\ninclude => d\n"
        "[c]\nexten => _X.,1,NoOp(from c)\n same => n,Hangup()\n"
        "[d]\nexten => _X.,1,NoOp(from d)\n same => n,Hangup()\n"
        "[day]\nexten => _X.,1,NoOp(daytime)\n same => n,Hangup()\n"
        "[timed]\ninclude => day,08:00-17:00,mon-fri,*,*\ninclude => c\n"
    )
    assert steps_of(text).steps[0].data == "from d"
    timed = text.replace(
        "[from-trunk]\ninclude => b\ninclude => c\n", "[from-trunk]\ninclude => timed\n"
    )
    assert steps_of(timed).steps[0].data == "daytime"
    assert steps_of(timed, at=MONDAY_TEN.replace(hour=23)).steps[0].data == "from c"


def test_a_goto_inside_execif_moves_the_call() -> None:
    text = (
        "[from-trunk]\nexten => _X.,1,ExecIf($[1]?Goto(away,1))\n"
        " same => n,NoOp(fell through)\n"
        "exten => away,1,Hangup()\n"
    )
    result = steps_of(text)

    assert [s.application for s in result.steps] == ["ExecIf", "Hangup"]


def test_a_goto_asterisk_cannot_read_ends_the_trace_with_the_reason() -> None:
    result = steps_of("[from-trunk]\nexten => _X.,1,Goto(a,b,c,d)\n")

    assert result.end.startswith("invalid Goto target 'a,b,c,d'")

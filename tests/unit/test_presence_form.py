"""What a receptionist types for a colleague's status is checked before the PBX sees it."""

from __future__ import annotations

from switchboard_ui.presence_api import parse_presence


def test_a_status_with_note_and_return_time() -> None:
    body = {"extension": "201", "status": "away", "note": "  lunch,  back soon ", "until": "13:30"}
    assert parse_presence(body) == {
        "extension": "201",
        "status": "away",
        "note": "lunch, back soon",
        "until": "13:30",
        "pbx": "",
    }


def test_available_clears_note_and_return_time() -> None:
    body = {"extension": "201", "status": "available", "note": "lunch", "until": "13:30"}
    parsed = parse_presence(body)
    assert (parsed["note"], parsed["until"]) == ("", "")


def test_every_problem_is_named_at_once() -> None:
    body = {"extension": "x", "status": "gone", "note": "\x00", "until": "99:99", "pbx": 1}
    assert set(parse_presence(body)["errors"]) == {"extension", "status", "note", "until", "pbx"}

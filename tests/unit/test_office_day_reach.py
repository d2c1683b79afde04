"""The office day's accounting (bench/office_day.py): whom an arm reached in the end, from
its ledgers. A caller not answered once is reached later, still claimed on the worklist,
or lost; nobody is counted twice or forgotten."""

from __future__ import annotations

from devtools.office_day import Arm, ArmResult, Ledger, national, reached_after_abandon
from devtools.office_day_model import Model, population

MODEL = Model()


def _result() -> ArmResult:
    callers = population(3600.0, 5, MODEL)[:4]
    return ArmResult(Arm.PRODUCT, 3600.0, callers)


def _call(result: ArmResult, who: int, at: float, *, answered_after: float | None,
          ends: float, callback: bool = False) -> Ledger:  # fmt: skip
    caller = result.callers[who]
    ledger = Ledger(caller, 0, f"tag{len(result.attempts)}", at, queued_at=at + 1,
                    ended_at=at + ends, callback_asked=callback)  # fmt: skip
    if answered_after is not None:
        ledger.connected_at = at + 1 + answered_after
    result.attempts.append(ledger)
    return ledger


def test_a_caller_who_gave_up_and_was_called_back_is_reached_with_the_delay() -> None:
    result = _result()
    _call(result, 0, 100.0, answered_after=None, ends=40.0)
    result.called_back_at[result.callers[0].number] = 400.0
    reach = reached_after_abandon(result)
    assert (reach.missed, reach.delays, reach.lost) == (1, [260.0], 0)


def test_a_caller_who_called_again_and_was_answered_is_reached_and_called_twice() -> None:
    result = _result()
    _call(result, 1, 100.0, answered_after=None, ends=30.0)
    _call(result, 1, 300.0, answered_after=10.0, ends=200.0)
    reach = reached_after_abandon(result)
    assert (reach.missed, reach.delays, reach.repeats) == (1, [181.0], 1)


def test_a_callback_asked_but_never_made_is_lost_not_answered() -> None:
    """The callback button is worthless unless the callback happens: the bench does not
    count the asking as reaching the caller."""
    result = _result()
    _call(result, 2, 100.0, answered_after=None, ends=60.0, callback=True)
    reach = reached_after_abandon(result)
    assert (reach.missed, reach.lost) == (1, 1)


def test_a_caller_claimed_on_the_worklist_at_the_end_is_not_lost() -> None:
    result = _result()
    _call(result, 3, 100.0, answered_after=None, ends=50.0)
    result.claimed_at_end.add(result.callers[3].number)
    reach = reached_after_abandon(result)
    assert (reach.missed, reach.claimed, reach.lost) == (1, 1, 0)


def test_answered_callers_are_not_missed() -> None:
    result = _result()
    for who in range(4):
        _call(result, who, 100.0 * who, answered_after=5.0, ends=100.0)
    reach = reached_after_abandon(result)
    assert (reach.missed, reach.delays, reach.lost, reach.claimed) == (0, [], 0, 0)


def test_the_boards_e164_numbers_match_the_callers_own() -> None:
    assert national("+31612345678") == "0612345678"
    assert national("0612345678") == "0612345678"

"""Real recordings from the sandbox through the call model and the journal into the real
PostgreSQL: the caller card's history and recognition read what happened.

Each test gives the recording's outside numbers fresh values, so rows other tests wrote
for the same numbers cannot blur what the card shows.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from ami_bridge.journal import CallJournal
from ami_bridge.replay import read_recording, replay_changes
from pbx_agi.classic_agi import fetch_facts
from switchboard.board.caller_card import caller_card
from switchboard.core.calls.state import PBXState
from switchboard.core.numbers import normalise
from switchboard.core.recognition import summarise_history
from tests.unit.test_call_identity import dropped_after_busy

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"
LATER = datetime(2027, 1, 1, tzinfo=UTC)


def fresh_number() -> str:
    # 061...: a Dutch mobile range phonenumbers accepts (not every 06 number is valid).
    return f"061{random.randrange(10**6, 10**7)}"


def recorded(name: str, numbers: Mapping[str, str]) -> list[dict[str, str]]:
    """The recording's events with every header equal to an old number renamed."""
    events = read_recording((FIXTURES / f"{name}.ami").read_bytes()).events
    return [{k: numbers.get(v, v) for k, v in event.items()} for event in events]


async def journal(db: asyncpg.Pool, events: Iterable[Mapping[str, str]]) -> None:
    calls = CallJournal(db, region="NL")
    calls.start()
    pbx = f"history-{random.randrange(10**9)}"
    calls.record(list(replay_changes(PBXState(pbx), events)))
    await calls.close(grace_s=10)


async def history(db: asyncpg.Pool, number: str) -> list[str]:
    card = await caller_card(db, number, region="NL", now=LATER)
    return [h["outcome"] for h in card["history"]]


async def test_a_caller_who_gave_up_is_missed_until_a_phone_calls_back(
    db: asyncpg.Pool, postgres_dsn: str
) -> None:
    number = fresh_number()
    e164 = normalise(number).e164
    assert e164
    await journal(db, recorded("queue_abandoned", {"0687654321": number}))
    (abandoned,) = await history(db, number)
    assert abandoned.startswith("abandoned after 0:0") and abandoned.endswith("in the queue")

    def recognition_history() -> tuple[bool, str, int]:
        facts = fetch_facts(postgres_dsn, e164, history_since=LATER - timedelta(days=60))
        summary = summarise_history(
            facts.history, this_call="new", now=LATER, repeat_window=timedelta(days=60)
        )
        return summary.missed, summary.last_handled_by, summary.recent_calls

    assert await asyncio.to_thread(recognition_history) == (True, "", 1)

    # Phone 201 calls the number (recorded later the same day); it is answered.
    await journal(db, recorded("called_back", {"0687654321": number}))
    newest, older = await history(db, number)
    assert newest == "outgoing call from 201"
    assert older.startswith(abandoned + ", called back by 201 ") and older.endswith("min later")
    # SB_MISSED_CALL no longer: somebody spoke with them since; 201 handled them last.
    # Our call to them is not one of theirs: still one recent call of their own.
    assert await asyncio.to_thread(recognition_history) == (False, "201", 1)


async def test_transfers_and_parking_are_told_in_the_history(db: asyncpg.Pool) -> None:
    number = fresh_number()
    for name in ("blind_transfer", "attended_transfer", "park_and_pickup", "simple_call"):
        await journal(db, recorded(name, {"0612345678": number}))
    # Newest first: attended transfer, park and pick-up, blind transfer.
    assert await history(db, number) == [
        "answered by 100, transferred to 201",
        "answered by 100, parked in 701, picked up by 201",
        "answered by 100, transferred to 201",
    ]
    row = await db.fetchrow(
        "SELECT outcome, via_queue, transfers::text, direction FROM calls"
        " WHERE caller_e164 = $1 ORDER BY started_at LIMIT 1",  # the blind transfer
        normalise(number).e164,
    )
    assert row is not None
    assert (row["outcome"], row["via_queue"], row["direction"]) == (
        "transferred",
        "switchboard",
        "inbound",
    )
    assert '"kind": "blind"' in row["transfers"]


async def test_a_reconnect_closes_the_calls_that_ended_meanwhile(db: asyncpg.Pool) -> None:
    # Bert hung up while the AMI connection was down: without the resync's end of the
    # channel list his call would stay "in progress" for ever. Internal calls (busy, no
    # answer) are journalled but reach no outside number's history.
    numbers = {"0687654321": fresh_number(), "0655555555": fresh_number()}
    for name in ("busy", "no_answer", "reconnect_mid_call"):
        await journal(db, recorded(name, numbers))
    (gave_up_meanwhile,) = await history(db, numbers["0687654321"])
    (still_waiting_at_resync,) = await history(db, numbers["0655555555"])
    assert gave_up_meanwhile.startswith("abandoned after")
    assert still_waiting_at_resync.startswith("abandoned after")
    internal = await db.fetchval(
        "SELECT count(*) FROM calls WHERE direction = 'internal' AND unanswered_reason IN"
        " ('busy', 'no answer') AND caller_e164 IS NULL AND outcome = 'missed'"
    )
    assert internal >= 2


async def test_a_failed_transfer_says_where_the_call_went_next(db: asyncpg.Pool) -> None:
    # Issue 12: a blind transfer to a busy phone, recorded; the same with the caller
    # dropped after the busy phone (outcome "transfer failed", stored as such);
    # a blonde transfer, recorded.
    number = fresh_number()
    busy = recorded("blind_transfer_busy", {"0612345678": number})
    await journal(db, busy)
    await journal(db, dropped_after_busy(busy))
    await journal(db, recorded("blonde_transfer", {"0612345678": number}))
    # (Two of them start at the same moment: compared as sets.)
    assert sorted(await history(db, number)) == [
        "answered by 100, transfer to 202 failed (busy), nobody took the call after that",
        "answered by 100, transfer to 202 failed (busy), then with 100",
        "answered by 100, transferred to 201",
    ]
    outcomes = await db.fetch(
        "SELECT outcome FROM calls WHERE caller_e164 = $1", normalise(number).e164
    )
    assert sorted(r["outcome"] for r in outcomes) == ["answered", "transfer failed", "transferred"]


async def test_the_fallback_chain_is_told_in_the_history(db: asyncpg.Pool) -> None:
    # Issue 13: the recorded fallback chain (queue timeout, busy operator, back office)
    # journalled and read back by the caller card, with the wait from the first moment
    # in the queue.
    number = fresh_number()
    await journal(db, recorded("fallback_to_back_office", {"0612345678": number}))
    await journal(db, recorded("fallback_to_voicemail", {"0612345678": number}))
    lines = await history(db, number)
    assert len(lines) == 2
    back_office, voicemail = sorted(lines, key=lambda line: "voicemail" in line)
    assert back_office.startswith("waited 0:0") and back_office.endswith(
        ", no answer in time, answered by 203 in the back office"
    )
    assert voicemail.startswith("waited 0:1") and voicemail.endswith(
        ", no answer in time, left a voicemail"
    )

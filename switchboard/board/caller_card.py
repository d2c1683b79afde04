"""The caller card the board opens on a click: the contacts a number probably belongs
to, how sure that is (in words, :func:`switchboard.core.caller_card.explain`), and the
number's earlier calls with their outcome, read from the store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from switchboard.core.caller_card import describe, describe_callback, explain
from switchboard.core.messages import Translate, english
from switchboard.core.numbers import normalise
from switchboard.core.recognition import recognise
from switchboard.store import callbacks, calls
from switchboard.store.contacts import find_by_number

HISTORY_LIMIT = 10


async def caller_card(
    pool: asyncpg.Pool, raw_number: str, *, region: str, now: datetime, t: Translate = english
) -> dict[str, Any]:
    number = normalise(raw_number, region)
    matches = await find_by_number(pool, number.e164) if number.e164 else []
    recognition = recognise(number, matches, caller_name=None, now=now)
    history = []
    if number.e164:
        rows = await calls.history(pool, number.e164, HISTORY_LIMIT)
        history = [
            {
                "call_id": f"{r['pbx']}:{r['linked_id']}",
                "started_at": r["started_at"].timestamp(),
                "direction": r["direction"],
                "outcome": describe(r, t),
                # answered, transferred, abandoned, missed, parked; "" while up or for
                # calls journalled before outcomes were kept
                "result": r["outcome"] or "",
                "called_back_at": r["called_back_at"].timestamp() if r["called_back_at"] else None,
                "called_back_by": r["called_back_by"] or "",
                "duration_s": (
                    round((r["ended_at"] - r["answered_at"]).total_seconds())
                    if r["answered_at"] and r["ended_at"]
                    else None
                ),
                "note": r["note"] or "",
            }
            for r in rows
        ]
        # Callbacks asked for by this number, among its calls, newest first.
        for callback, attempts in await callbacks.history(pool, number.e164, HISTORY_LIMIT):
            history.append(
                {
                    "call_id": f"callback:{callback.id}",
                    "started_at": callback.requested_at.timestamp(),
                    "direction": "callback",
                    "outcome": describe_callback(
                        callback.source, callback.state.value, attempts, t
                    ),
                    "result": callback.state.value,
                    "called_back_at": None,
                    "called_back_by": "",
                    "duration_s": None,
                    "note": callback.subject,
                }
            )
        history.sort(key=lambda h: -h["started_at"])
        history = history[:HISTORY_LIMIT]
    contact = recognition.contact
    return {
        "number": number.e164 or raw_number,
        "confidence": recognition.confidence.value,
        "explanation": explain(
            recognition.confidence,
            number.kind,
            contact.verified_at if contact else None,
            now,
            shared_by=len({m.contact_id for m in matches}),
            t=t,
        ),
        "contacts": [
            {
                "contact_id": m.contact_id,
                "name": m.name,
                "company": m.company,
                "vip": m.vip,
                "language": m.language,
            }
            for m in matches
        ],
        "history": history,
    }

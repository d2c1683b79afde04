"""The caller card: who this probably is, how sure we are, and what happened before.

Transparency over cleverness: the card says how the caller was recognised and when the
number was last verified, so a receptionist knows when to check before trusting it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from pbx_agi.recognition import Confidence, recognise
from switchboard.contacts import find_by_number
from switchboard.numbers import NumberKind, normalise

HISTORY_LIMIT = 10


def _age(then: datetime, now: datetime) -> str:
    days = max(0, (now - then).days)
    if days < 1:
        return "today"
    if days < 60:
        return f"{days} day{'s' if days != 1 else ''} ago"
    months = days // 30
    return f"{months} months ago"


def explain(
    confidence: Confidence,
    kind: NumberKind,
    verified_at: datetime | None,
    now: datetime,
    *,
    shared_by: int = 0,
) -> str:
    """One sentence for the receptionist on how far to trust the recognition."""
    if kind is NumberKind.WITHHELD:
        return "Number withheld: ask who is calling."
    if kind is NumberKind.INTERNAL:
        return "Internal call."
    if confidence is Confidence.SHARED:
        return f"Number shared by {shared_by} contacts (a switchboard): ask who is calling."
    if confidence is Confidence.UNKNOWN:
        return "Unknown number."
    if confidence is Confidence.VERIFIED and verified_at is not None:
        return f"Recognised by number, verified {_age(verified_at, now)}."
    if verified_at is None:
        return "Recognised by number only, never verified: verify the address before trusting it."
    return f"Recognised by number, last verified {_age(verified_at, now)}: verify the address."


async def caller_card(
    pool: asyncpg.Pool, raw_number: str, *, region: str, now: datetime
) -> dict[str, Any]:
    number = normalise(raw_number, region)
    matches = await find_by_number(pool, number.e164) if number.e164 else []
    recognition = recognise(number, matches, caller_name=None, now=now)
    history = []
    if number.e164:
        rows = await pool.fetch(
            """
            SELECT pbx, linked_id, started_at, answered_at, answered_by, ended_at, note
            FROM calls WHERE caller_e164 = $1 ORDER BY started_at DESC LIMIT $2
            """,
            number.e164,
            HISTORY_LIMIT,
        )
        history = [
            {
                "call_id": f"{r['pbx']}:{r['linked_id']}",
                "started_at": r["started_at"].timestamp(),
                "outcome": (
                    f"answered by {r['answered_by']}"
                    if r["answered_at"] and r["answered_by"]
                    else "answered"
                    if r["answered_at"]
                    else "in progress"
                    if r["ended_at"] is None
                    else "missed"
                ),
                "duration_s": (
                    round((r["ended_at"] - r["answered_at"]).total_seconds())
                    if r["answered_at"] and r["ended_at"]
                    else None
                ),
                "note": r["note"] or "",
            }
            for r in rows
        ]
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


async def save_note(pool: asyncpg.Pool, call_id: str, note: str) -> bool:
    """Attach a receptionist's note to a journalled call; False if there is no such call."""
    pbx, _, linked_id = call_id.partition(":")
    result: str = await pool.execute(
        "UPDATE calls SET note = $3, updated_at = now() WHERE pbx = $1 AND linked_id = $2",
        pbx,
        linked_id,
        note,
    )
    return result.endswith(" 1")

"""The caller card: who this probably is, how sure we are, and what happened before.

Transparency over cleverness: the card says how the caller was recognised and when the
number was last verified, so a receptionist knows when to check before trusting it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from switchboard.core.messages import Translate, english
from switchboard.core.numbers import NumberKind
from switchboard.core.recognition import Confidence


def _age(then: datetime, now: datetime, t: Translate) -> str:
    days = max(0, (now - then).days)
    if days < 1:
        return t("today")
    if days == 1:
        return t("1 day ago")
    if days < 60:
        return t("{days} days ago", days=days)
    return t("{months} months ago", months=days // 30)


def explain(
    confidence: Confidence,
    kind: NumberKind,
    verified_at: datetime | None,
    now: datetime,
    *,
    shared_by: int = 0,
    t: Translate = english,
) -> str:
    """One sentence for the receptionist on how far to trust the recognition."""
    if kind is NumberKind.WITHHELD:
        return t("Number withheld: ask who is calling.")
    if kind is NumberKind.INTERNAL:
        return t("Internal call.")
    if confidence is Confidence.SHARED:
        return t(
            "Number shared by {count} contacts (a switchboard): ask who is calling.",
            count=shared_by,
        )
    if confidence is Confidence.UNKNOWN:
        return t("Unknown number.")
    if confidence is Confidence.VERIFIED and verified_at is not None:
        return t("Recognised by number, verified {age}.", age=_age(verified_at, now, t))
    if verified_at is None:
        return t(
            "Recognised by number only, never verified: verify the address before trusting it."
        )
    return t(
        "Recognised by number, last verified {age}: verify the address.",
        age=_age(verified_at, now, t),
    )


def _clock(seconds: float) -> str:
    """0:42, 12:05, 1:02:03."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _later(seconds: float, t: Translate) -> str:
    """How long after the call somebody called back: "4 min later", "2 h later"..."""
    minutes = max(0, round(seconds / 60))
    if minutes < 1:
        return t("at once")
    if minutes < 120:
        return t("{minutes} min later", minutes=minutes)
    if minutes < 48 * 60:
        return t("{hours} h later", hours=minutes // 60)
    return t("{days} days later", days=minutes // (24 * 60))


def _unanswered(reason: str, t: Translate) -> str:
    if reason == "busy":
        return t("missed (busy)")
    if reason == "no answer":
        return t("missed (no answer)")
    if reason == "unavailable":
        return t("missed (phone unavailable)")
    return t("missed")


def _json_list(row: Mapping[str, Any], column: str) -> list[dict[str, Any]]:
    """A jsonb column holding a list of objects (asyncpg gives jsonb as text)."""
    value = row.get(column)
    items = json.loads(value) if isinstance(value, str) else value
    return [t for t in items or [] if isinstance(t, dict)]


def _transfers(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    return _json_list(row, "transfers")


def _way_through(row: Mapping[str, Any], t: Translate) -> tuple[list[str], str]:
    """For a call the queue gave up to the fallback chain: "waited 2:10" and why ("no
    receptionist available"), and the step it ended in ("backoffice"); nothing for a
    call that never needed the chain (or was journalled before it existed)."""
    steps = [s for s in _json_list(row, "fallback") if isinstance(s.get("at"), int | float)]
    if not steps:
        return [], ""
    since = row.get("queued_at") or row["started_at"]
    until = row.get("answered_at")
    waited = (until.timestamp() if until is not None else steps[-1]["at"]) - since.timestamp()
    why = {
        "waited": t("no answer in time"),
        "nobody": t("no receptionist available"),
        "full": t("the queue was full"),
        "closed": t("we are closed"),
    }.get(row.get("fallback_reason") or "", "")
    parts = [t("waited {time}", time=_clock(waited)), *([why] if why else [])]
    return parts, str(steps[-1].get("step", ""))


def _transfer(transfer: Mapping[str, Any], answered_by: str, t: Translate) -> str:
    """One transfer as the history tells it: "transferred by 100 to 201", "forwarded
    by 202 to 0612345678", "transfer to 202 failed (busy), then with 100"."""
    by = transfer.get("by") or ""
    target = transfer.get("to") or t("another phone")
    if transfer.get("kind") == "forward":
        text = t("forwarded by {who} to {target}", who=by, target=target)
    elif transfer.get("failed"):
        text = t("transfer to {target} failed", target=target)
    elif by and by != answered_by:
        return t("transferred by {who} to {target}", who=by, target=target)
    else:
        return t("transferred to {target}", target=target)
    failed = transfer.get("failed") or ""
    if failed:
        why = {
            "busy": t("busy"),
            "no answer": t("no answer"),
            "unavailable": t("phone unavailable"),
        }
        text += f" ({why.get(failed, failed)})"
        if transfer.get("then"):
            text += ", " + t("then with {who}", who=transfer["then"])
    return text


def describe(row: Mapping[str, Any], t: Translate = english) -> str:
    """One line for a call in the caller's history: "answered by 100, transferred to 201",
    "abandoned after 0:42 in the queue, called back by 201 12 min later", "missed"."""
    answered_by = row.get("answered_by") or ""
    if row.get("direction") == "outbound":
        return t("outgoing call from {who}", who=answered_by) if answered_by else t("outgoing call")
    ended, outcome = row.get("ended_at"), row.get("outcome")
    if ended is None:
        return t("in progress")
    way, last_step = _way_through(row, t)
    if row.get("answered_at") is not None:
        transfers = _transfers(row)
        picked_up_by = row.get("picked_up_by") or ""
        if way:
            # "waited 2:10, no receptionist available, answered by 203 in the back office"
            parts = [
                *way,
                t("answered by {who}", who=answered_by) if answered_by else t("answered"),
            ]
            if last_step == "backoffice":
                parts[-1] += " " + t("in the back office")
        elif transfers and transfers[0].get("kind") == "forward" and not transfers[0].get("failed"):
            # "forwarded by 202 to 0612345678": whoever it went to answered.
            parts = [_transfer(transfers.pop(0), answered_by, t)]
        elif picked_up_by and picked_up_by == answered_by and not row.get("parked_space"):
            parts = [t("picked up by {who}", who=picked_up_by)]  # it rang another phone
        else:
            parts = [t("answered by {who}", who=answered_by) if answered_by else t("answered")]
        parts += [_transfer(transfer, answered_by, t) for transfer in transfers]
        if outcome == "transfer failed":
            parts.append(t("nobody took the call after that"))
        if row.get("parked_space"):
            by = row.get("parked_by") or ""
            space = row["parked_space"]
            if by and by != answered_by:
                parts.append(t("parked in {space} by {who}", space=space, who=by))
            else:
                parts.append(t("parked in {space}", space=space))
            if row.get("picked_up_by"):
                parts.append(t("picked up by {who}", who=row["picked_up_by"]))
            elif outcome == "parked":
                parts.append(t("the caller hung up while parked"))
        return ", ".join(parts)
    # From the first moment in a queue, as the worklist and the service level count it.
    waited = _clock((ended - (row.get("queued_at") or row["started_at"])).total_seconds())
    if way and last_step == "voicemail":
        text = ", ".join([*way, t("left a voicemail")])
    elif way and last_step == "goodbye":
        text = ", ".join([*way, t("nobody could answer: heard the goodbye")])
    elif outcome == "abandoned":
        if row.get("via_queue"):
            text = t("abandoned after {time} in the queue", time=waited)
        else:
            text = t("abandoned after {time} while it rang", time=waited)
        text = ", ".join([text, *way[1:]])  # hung up during a fallback step: and why
    else:
        text = _unanswered(row.get("unanswered_reason") or "", t)
    called_back = row.get("called_back_at")
    if called_back is not None:
        text += ", " + t(
            "called back by {who} {when}",
            who=row.get("called_back_by") or t("us"),
            when=_later((called_back - ended).total_seconds(), t),
        )
    return text


def describe_callback(
    source: str,
    state: str,
    attempts: Sequence[tuple[int, str, str]],
    t: Translate = english,
) -> str:
    """One line for a callback in the caller's history: "callback asked for in the
    queue, reached by 201 at attempt 2". ``attempts``: (attempt, member, result) of each
    attempt made, in order."""
    if source == "web":
        asked = t("callback asked for on the website")
    elif source == "board":
        asked = t("callback scheduled on the board")
    else:
        asked = t("callback asked for in the queue")
    made = len(attempts)
    if state == "done" and attempts and attempts[-1][2] == "reached":
        member = attempts[-1][1]
        if member:
            then = t("reached by {who} at attempt {n}", who=member, n=str(made))
        else:
            then = t("reached at attempt {n}", n=str(made))
    elif state == "done":
        then = t("answered when they called again")
    elif state == "not reached":
        then = t("not reached after {n} attempts", n=str(made))
    elif state == "cancelled":
        then = t("cancelled")
    elif state == "expired":
        then = t("expired")
    elif made:
        then = t("waiting, {n} attempts so far", n=str(made))
    else:
        then = t("waiting in line")
    return f"{asked}, {then}"

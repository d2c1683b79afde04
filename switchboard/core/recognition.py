"""Who is calling, and how sure are we? A pure decision from a number and its matches.

Numbers change owner, so a match is only as good as its last verification: the
confidence tells the receptionist whether to verify before trusting it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from switchboard.core.caller_language import caller_language
from switchboard.core.contacts import ContactMatch
from switchboard.core.numbers import CallerNumber
from switchboard.core.text import MAX_DISPLAY_NAME, sanitise_display_name

# After this long without verification a match is shown as "verify first".
VERIFICATION_VALID_FOR = timedelta(days=365)


# Text sanitise_display_name() would return unchanged: printable ASCII words, none of
# its forbidden characters, single spaces between, no longer than a display.
_CLEAN_DISPLAY = re.compile(r"[!#-:=?-\[\]-~]+(?: [!#-:=?-\[\]-~]+)*")


def display_text(text: str | None) -> str:
    """``sanitise_display_name(text)``, at a fraction of its cost for the usual name that
    is already clean (recognition runs it four times per call while the line rings; the
    FastAGI route also remembers the answers for names that are not)."""
    if not text:
        return ""
    if len(text) <= MAX_DISPLAY_NAME and _CLEAN_DISPLAY.fullmatch(text):
        return text
    return sanitise_display_name(text)


#: How a recognition turns free text into display text (:func:`display_text`, or a
#: route's remembering version of it).
Display = Callable[[str | None], str]


class Confidence(Enum):
    VERIFIED = "verified"  # one contact, number verified recently
    UNVERIFIED = "unverified"  # one contact, never or long ago verified
    SHARED = "shared"  # several contacts share the number (a company switchboard)
    UNKNOWN = "unknown"  # no match, withheld, internal or garbage


@dataclass(frozen=True, slots=True)
class PastCall:
    """An earlier call from the same number, from the call journal."""

    linked_id: str
    started_at: datetime
    answered: bool
    answered_by: str | None
    # False for our own call to the number (a call-back): it tells who spoke with them
    # last, but the caller did not "call again".
    inbound: bool = True

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PastCall:
        """From a ``calls`` row (linked_id, started_at, answered_at, answered_by, direction)."""
        return cls(
            row["linked_id"],
            row["started_at"],
            row["answered_at"] is not None,
            row["answered_by"],
            row.get("direction") != "outbound",
        )


@dataclass(frozen=True)
class CallerHistory:
    """What the earlier calls from this number tell about this one."""

    recent_calls: int = 0  # earlier calls within the repeat window
    last_handled_by: str = ""  # who answered the most recent answered call
    missed: bool = False  # an earlier call went unanswered and nobody spoke since

    @property
    def repeat_caller(self) -> bool:
        return self.recent_calls > 0


_NO_HISTORY = CallerHistory()


def summarise_history(
    history: Sequence[PastCall], *, this_call: str, now: datetime, repeat_window: timedelta
) -> CallerHistory:
    if not history:
        return _NO_HISTORY
    earlier = sorted(
        (c for c in history if c.linked_id != this_call and c.started_at <= now),
        key=lambda c: c.started_at,
        reverse=True,
    )
    last_answered = next((c for c in earlier if c.answered), None)
    missed = any(
        not c.answered and (last_answered is None or c.started_at > last_answered.started_at)
        for c in earlier
    )
    return CallerHistory(
        recent_calls=sum(1 for c in earlier if c.inbound and now - c.started_at <= repeat_window),
        last_handled_by=(last_answered.answered_by or "") if last_answered else "",
        missed=missed,
    )


@dataclass(frozen=True)
class Recognition:
    number: CallerNumber
    confidence: Confidence
    contact: ContactMatch | None
    display_name: str
    history: CallerHistory = CallerHistory()

    def channel_variables(self, display: Display = display_text) -> dict[str, str]:
        """The documented SB_* variables the dialplan may branch on."""
        contact = self.contact
        return {
            "SB_RECOGNISED": "yes" if contact else "no",
            "SB_CONFIDENCE": self.confidence.value,
            "SB_CALLER_E164": self.number.e164 or "",
            "SB_NUMBER_KIND": self.number.kind.value,
            "SB_CONTACT_ID": str(contact.contact_id) if contact else "",
            "SB_CONTACT_NAME": display(contact.name) if contact else "",
            "SB_COMPANY": display(contact.company) if contact else "",
            "SB_VIP": "1" if contact and contact.vip else "0",
            # The language to speak to the caller in: the contact's, else their number's
            # country's; "" leaves it to the dialplan's site default.
            "SB_LANGUAGE": caller_language(contact.language if contact else None, self.number.e164),
            "SB_REPEAT_CALLER": "yes" if self.history.repeat_caller else "no",
            "SB_RECENT_CALLS": str(self.history.recent_calls),
            "SB_LAST_HANDLED_BY": display(self.history.last_handled_by),
            "SB_MISSED_CALL": "yes" if self.history.missed else "no",
        }


def recognise(
    number: CallerNumber,
    matches: Sequence[ContactMatch],
    *,
    caller_name: str | None,
    now: datetime,
    history: CallerHistory = CallerHistory(),
    display: Display = display_text,
) -> Recognition:
    if not number.matchable:
        return Recognition(number, Confidence.UNKNOWN, None, display(caller_name))
    if not matches:
        return Recognition(number, Confidence.UNKNOWN, None, display(caller_name), history)
    if len(matches) == 1:  # the usual match: no dict, and the caller's name is not needed
        contact = matches[0]
    else:
        distinct = {m.contact_id: m for m in matches}
        if len(distinct) > 1:
            companies = {m.company for m in distinct.values() if m.company}
            name = companies.pop() if len(companies) == 1 else display(caller_name)
            return Recognition(number, Confidence.SHARED, None, display(name), history)
        (contact,) = distinct.values()
    recent = contact.verified_at is not None and now - contact.verified_at <= VERIFICATION_VALID_FOR
    confidence = Confidence.VERIFIED if recent else Confidence.UNVERIFIED
    label = f"{contact.name} - {contact.company}" if contact.company else contact.name
    return Recognition(number, confidence, contact, display(label), history)


@dataclass(frozen=True)
class CallerFacts:
    """What is known of one number: the contacts who have it, its recent calls."""

    matches: tuple[ContactMatch, ...] = ()
    history: tuple[PastCall, ...] = ()  # newest first


def recognise_with_facts(
    number: CallerNumber,
    facts: CallerFacts,
    *,
    caller_name: str | None,
    this_call: str,
    now: datetime,
    repeat_window: timedelta,
    display: Display = display_text,
) -> Recognition:
    """The recognition of a call from ``number``, given what is known of it: the one
    decision of the FastAGI route and the classic AGI script."""
    history = summarise_history(
        facts.history, this_call=this_call, now=now, repeat_window=repeat_window
    )
    return recognise(
        number, facts.matches, caller_name=caller_name, now=now, history=history, display=display
    )

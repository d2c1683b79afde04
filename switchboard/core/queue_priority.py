"""Where a recognised call goes: a pure decision the dialplan carries out.

VIPs and callers we already failed to answer go to the front of the queue; a caller
who spoke to somebody recently is offered to that same receptionist first, when free
(the dialplan checks DEVICE_STATE, which only Asterisk knows at that moment).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from switchboard.core.recognition import Confidence, Recognition

# Asterisk's QUEUE_PRIO: higher is answered first; 0 is everybody else.
VIP_PRIORITY = 10
MISSED_BEFORE_PRIORITY = 5
REPEAT_CALLER_PRIORITY = 3
_EXTENSION = re.compile(r"[0-9]{2,6}")


@dataclass(frozen=True)
class RouteDecision:
    queue_priority: int = 0
    preferred_extension: str = ""
    reason: str = "first call"

    def channel_variables(self) -> dict[str, str]:
        return {
            "SB_QUEUE_PRIORITY": str(self.queue_priority),
            "SB_PREFERRED_EXTENSION": self.preferred_extension,
            "SB_ROUTE_REASON": self.reason,
        }


def decide_route(recognition: Recognition) -> RouteDecision:
    history = recognition.history
    contact = recognition.contact
    candidates = []
    if contact is not None and contact.vip and recognition.confidence is not Confidence.SHARED:
        candidates.append((VIP_PRIORITY, "VIP"))
    if history.missed:
        candidates.append((MISSED_BEFORE_PRIORITY, "missed earlier"))
    elif history.repeat_caller:
        candidates.append((REPEAT_CALLER_PRIORITY, "called recently"))
    priority, reason = max(candidates, default=(0, "first call"))
    # A team (several parties) or a trunk is no one to return to.
    last = history.last_handled_by
    preferred = last if _EXTENSION.fullmatch(last) else ""
    return RouteDecision(priority, preferred, reason)

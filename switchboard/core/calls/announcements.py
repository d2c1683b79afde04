"""Which waiting callers hear their place and wait now, and what (issue 13). Pure.

The bridge asks :meth:`Announcements.due` every second with the model's calls, the time
and a way to estimate a call's wait; it tells :meth:`Announcements.ringing` when a member
is rung for a caller and when that ends. What is said and when is
:func:`switchboard.core.wait_estimate.announcement`'s decision; this remembers, per
caller, what they heard (its ``CallerState``) for as long as they wait in one queue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from switchboard.core.calls.model import Call, CallState
from switchboard.core.wait_estimate import (
    DEFAULT_SETTINGS,
    Announcement,
    CallerState,
    WaitEstimate,
    WaitSettings,
    announcement,
)


@dataclass(frozen=True)
class Due:
    """``call`` hears ``said`` now."""

    call: Call
    said: Announcement


class Announcements:
    """What every waiting caller was told so far, and who is due to hear something.

    ``settings``: per queue (a queue not in it has the defaults). Memory: one small state
    per caller waiting now; a caller who leaves the queue is forgotten at the next
    :meth:`due`, and one who comes back (or moves to another queue) starts afresh.
    """

    def __init__(self, settings: Mapping[str, WaitSettings] | None = None) -> None:
        self._settings = dict(settings or {})
        self._callers: dict[str, tuple[str, CallerState]] = {}  # call id -> (queue, state)
        self._ringing: set[str] = set()  # linked ids a member is being rung for

    def settings_for(self, queue: str) -> WaitSettings:
        return self._settings.get(queue, DEFAULT_SETTINGS)

    def sizes(self) -> dict[str, int]:
        """What it holds (back to 0 once nobody waits)."""
        return {"callers": len(self._callers), "ringing": len(self._ringing)}

    def ringing(self, linked_id: str, ringing: bool) -> None:
        """A member is being rung for the caller of ``linked_id`` (AgentCalled), or no
        longer (AgentRingNoAnswer, AgentConnect, the caller left)."""
        if ringing:
            self._ringing.add(linked_id)
        else:
            self._ringing.discard(linked_id)

    def is_ringing(self, linked_id: str) -> bool:
        return linked_id in self._ringing

    def due(
        self,
        calls: Iterable[Call],
        estimate: Callable[[Call], WaitEstimate | None],
        now: float,
        virtual_ahead: Callable[[Call], int] = lambda _call: 0,
    ) -> list[Due]:
        """The callers who hear something at ``now``, each with what; every one of them
        is remembered as told (say it, or it is lost: the next comes ``every_s`` later).
        ``estimate`` gives a call's expected wait, None for none (no minutes are said);
        ``virtual_ahead`` the callbacks waiting their turn ahead of it, which count in
        the place it hears (issue 14: a callback keeps its caller's place)."""
        due: list[Due] = []
        waiting: dict[str, tuple[str, CallerState]] = {}
        linked: set[str] = set()
        for call in calls:
            if call.state is not CallState.QUEUED or call.queue_position < 1:
                continue
            settings = self.settings_for(call.queue)
            known = self._callers.get(call.call_id)
            if known is None or known[0] != call.queue:
                state = CallerState(joined_at=now, position=call.queue_position)
            else:
                state = known[1]
            state = replace(
                state,
                position=call.queue_position + virtual_ahead(call),
                ringing=call.linked_id in self._ringing,
            )
            # The estimate only when something may be said: it reads the queue's window.
            if settings.announce and not state.ringing and now >= state.due_at(settings):
                said = announcement(settings, state, estimate(call), now)
                if said is not None:
                    state = state.after(said, now)
                    due.append(Due(call, said))
            waiting[call.call_id] = (call.queue, state)
            linked.add(call.linked_id)
        self._callers = waiting
        self._ringing &= linked
        return due

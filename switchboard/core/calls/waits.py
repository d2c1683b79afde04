"""The expected wait of every caller waiting in a queue, as the board shows it beside
them ("about 3 min"): the queues' handle times learnt from the calls the model ends,
the answering members from presence, the estimate from switchboard.core.wait_estimate.

Pure: the bridge feeds it the model's changes and asks at its own clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from switchboard.core.calls.model import Call, CallEnded, CallState, Change
from switchboard.core.calls.presence import Extension
from switchboard.core.wait_estimate import (
    DEFAULT_SETTINGS,
    HandleTimes,
    WaitEstimate,
    WaitSettings,
    announced_minutes,
    expected_wait,
)


def answering_members(extensions: Iterable[Extension]) -> dict[str, int]:
    """Per queue, how many members could answer now: not paused, phone not offline.
    (A member on the phone counts: the queue waits for them; that is its job.)"""
    counts: dict[str, int] = {}
    for extension in extensions:
        if extension.device == "unavailable":
            continue
        for member in extension.queues:
            if not member.paused:
                counts[member.queue] = counts.get(member.queue, 0) + 1
    return counts


class WaitBoard:
    """Handle times per queue, fed with the call model's changes (:meth:`record`), and
    the estimate for each waiting call (:meth:`estimates`). Memory: one HandleTimes per
    queue (bounded by its window and cap) and the calls answered and not yet ended."""

    def __init__(self, settings: WaitSettings = DEFAULT_SETTINGS) -> None:
        self.settings = settings
        self._times: dict[str, HandleTimes] = {}
        self._answered: set[str] = set()  # linked ids whose answer is counted

    def sizes(self) -> dict[str, int]:
        """What it holds: queues learnt, and answered calls not yet ended (back to 0)."""
        return {"queues": len(self._times), "answered": len(self._answered)}

    def record(self, changes: Iterable[Change]) -> None:
        for change in changes:
            call = change.call
            if call.answered_at is None or call.queued_at is None or not call.via_queue:
                if isinstance(change, CallEnded):
                    self._answered.discard(call.linked_id)
                continue
            times = self._times.setdefault(
                call.via_queue, HandleTimes(window_s=self.settings.window_s)
            )
            if call.linked_id not in self._answered:
                waited = max(0.0, call.answered_at - call.queued_at)
                times.answered(at=call.answered_at, waited_s=waited)
                self._answered.add(call.linked_id)
            if isinstance(change, CallEnded):
                self._answered.discard(call.linked_id)
                ended = call.ended_at if call.ended_at is not None else call.answered_at
                times.ended(answered_at=call.answered_at, ended_at=max(ended, call.answered_at))

    def estimates(
        self, calls: Iterable[Call], members: Mapping[str, int], now: float
    ) -> list[dict[str, Any]]:
        """For each caller waiting in a queue: ``{"call_id", "minutes", "more_than",
        "basis"}``, the wait still ahead as a caller would hear it announced; nothing
        for a queue nobody can answer or that has no history yet."""
        shown: list[dict[str, Any]] = []
        for call in calls:
            estimate = self.estimate(call, members, now)
            if estimate is None:
                continue
            minutes, more_than = announced_minutes(estimate, self.settings)
            shown.append(
                {
                    "call_id": call.call_id,
                    "minutes": minutes,
                    "more_than": more_than,
                    "basis": estimate.basis,
                }
            )
        return shown

    def estimate(
        self, call: Call, members: Mapping[str, int], now: float, virtual_ahead: int = 0
    ) -> WaitEstimate | None:
        """The wait still ahead of ``call`` if it waits in a queue (``members``: who can
        answer each queue, :func:`answering_members`); None when it does not, nobody can
        answer, or the queue has no history yet. ``virtual_ahead``: callbacks waiting
        their turn ahead of it."""
        if call.state is not CallState.QUEUED or call.queue_position < 1:
            return None
        return self.estimate_at(call.queue, call.queue_position - 1 + virtual_ahead, members, now)

    def estimate_at(
        self, queue: str, ahead: int, members: Mapping[str, int], now: float
    ) -> WaitEstimate | None:
        """The wait ahead of a caller with ``ahead`` callers in front in ``queue``."""
        times = self._times.get(queue)
        if times is None:
            return None
        return expected_wait(
            times, ahead=ahead, members=members.get(queue, 0), now=now, settings=self.settings
        )

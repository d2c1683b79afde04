"""One PBX's live state: its calls (:mod:`.model`) and who can take one (:mod:`.presence`),
fed the same AMI events in the same order.

Pure and synchronous, like the two models. The live bridge (ami_bridge/bridge.py) and
the replay of a recording (ami_bridge/replay.py) both go through here, so a replay shows
and journals what the bridge would have: the presence model learns each phone's
conversation from the call model's channels after every event that may change one.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field

from switchboard.core.calls.model import Change, Channel, Event, PBXModel
from switchboard.core.calls.presence import PresenceChange, PresenceModel, conversations

#: Events after which an extension's conversation (with whom, since when) may have changed.
CONVERSATION_EVENTS = frozenset(
    {"CoreShowChannel", "Newchannel", "NewCallerid", "BridgeEnter", "BridgeLeave", "Hangup"}
    | {"UserEvent", "NewConnectedLine"}
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StateChanges:
    """What one event (or check) changed: calls for the boards and the call journal,
    extensions for the boards and the presence journal."""

    calls: list[Change] = field(default_factory=list)
    presence: list[PresenceChange] = field(default_factory=list)


class PBXState:
    """The call model and the presence model of the PBX named ``pbx``."""

    def __init__(self, pbx: str) -> None:
        self.model = PBXModel(pbx)
        self.presence = PresenceModel(pbx)

    def reset(self) -> None:
        """Forget the channels and extensions before a resynchronisation from the PBX's
        lists. What the call model reports ended goes nowhere: the channel list that
        follows brings back the calls still up, with their story, and ends the others
        at its end (CoreShowChannelsComplete)."""
        self.model.reset()
        self.presence.reset()

    def apply(self, event: Event, now: float) -> StateChanges:
        """``event`` applied to both models, at ``now`` (epoch seconds)."""
        calls = self.model.apply(event, now)
        try:
            presence = self.presence.apply(event)
            if event.get("Event") in CONVERSATION_EVENTS:
                presence += self._conversations(now)
        except Exception:
            # A presence bug must not cost the call's changes (its journal row, its
            # board line): those are kept, and the event is logged for a replay.
            log.exception("presence could not apply the AMI event %r", event)
            presence = []
        return StateChanges(calls, presence)

    def check_channels(self, now: float) -> StateChanges:
        """The PBX's channel list is being asked for (:meth:`PBXModel.check_channels`)."""
        self.model.check_channels()
        return StateChanges([], self._conversations(now))

    def drop_unlisted(
        self, listed: Collection[str], now: float
    ) -> tuple[list[Channel], StateChanges]:
        """The channel list asked for at :meth:`check_channels` came: the channels the
        PBX no longer has are dropped (:meth:`PBXModel.drop_unlisted`). Returns them and
        what changed."""
        dropped, calls = self.model.drop_unlisted(listed, now)
        return dropped, StateChanges(calls, self._conversations(now))

    def _conversations(self, now: float) -> list[PresenceChange]:
        talks = conversations(self.model.channels.values(), self.model.calls, now)
        return self.presence.set_conversations(talks)

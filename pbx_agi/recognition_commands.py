"""The AGI commands that hand a recognition to the dialplan.

One list for both the FastAGI route and the classic script, so both set exactly the
same variables. Every AGI command is a round trip with Asterisk while the line rings,
so there is one: an ``EXEC MSet`` with CALLERID(name) and every SB_* value (free text
included, escaped the way Asterisk's argument parser reads it back; see
:func:`pbx_agi.agi_protocol.mset_commands`). The dialplan itself then tells the board
(``UserEvent(SwitchboardRecognition,...)`` from SB_CONFIDENCE and SB_CONTACT_ID),
whichever of the two recognitions answered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pbx_agi.agi_protocol import mset_commands
from switchboard.core.queue_priority import decide_route
from switchboard.core.recognition import Display, Recognition, display_text


def recognition_commands(
    recognition: Recognition,
    mset: Callable[[Mapping[str, str]], list[str]] = mset_commands,
    display: Display = display_text,
) -> list[str]:
    """The lines for ``recognition``; ``mset`` writes them and ``display`` cleans free text
    (a route passes its own :class:`pbx_agi.agi_protocol.MSetWriter`'s ``lines`` and its
    remembering display text)."""
    return mset(recognition_variables(recognition, display))


def recognition_variables(
    recognition: Recognition, display: Display = display_text
) -> dict[str, str]:
    """What the dialplan is told of ``recognition``: CALLERID(name) (when there is one)
    and every SB_* variable, the routing decision's included (``switchboard dialplan
    trace`` shows the same)."""
    variables = recognition.channel_variables(display)
    # CALLERID(name) first: it is what phones and the board show.
    if recognition.display_name:
        variables = {"CALLERID(name)": recognition.display_name, **variables}
    variables.update(decide_route(recognition).channel_variables())
    return variables

"""The AGI commands that hand a recognition to the dialplan.

One list for both the FastAGI route and the classic script, so both set exactly the
same variables. Every AGI command is a round trip with Asterisk while the line rings,
so there are two: one ``EXEC MSet`` with CALLERID(name) and every SB_* value (free
text included, escaped the way Asterisk's argument parser reads it back; see
:func:`pbx_agi.agi_protocol.mset_commands`), then the ``UserEvent`` for the board.
"""

from __future__ import annotations

from pbx_agi.agi_protocol import format_command, mset_commands
from pbx_agi.recognition import Recognition
from pbx_agi.routing import decide_route


def recognition_commands(recognition: Recognition) -> list[str]:
    variables = recognition.channel_variables()
    # CALLERID(name) first: it is what phones and the board show.
    if recognition.display_name:
        variables = {"CALLERID(name)": recognition.display_name, **variables}
    variables.update(decide_route(recognition).channel_variables())
    commands = mset_commands(variables)
    # Tells the AMI bridge how sure the recognition is (for the board) and which
    # contact it was (for the contact's history). Both are plain: no comma can slip in.
    contact_id = recognition.contact.contact_id if recognition.contact else ""
    commands.append(
        format_command(
            "EXEC",
            "UserEvent",
            f"SwitchboardRecognition,Confidence: {recognition.confidence.value},"
            f"ContactId: {contact_id}",
        )
    )
    return commands

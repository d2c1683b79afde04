"""The AGI commands that hand a recognition to the dialplan.

One list for both the FastAGI route and the classic script, so both set exactly the
same variables. Every AGI command is a round trip with Asterisk while the line rings,
so the many short SB_* values go in one ``EXEC MSet``; MSet splits on commas and bars
and strips quotes, so only values of a plain alphabet go that way, and free text (a
name with a comma or an apostrophe) gets a ``SET VARIABLE`` of its own.
"""

from __future__ import annotations

import re

from pbx_agi.agi_protocol import format_command, set_variable_command
from pbx_agi.recognition import Recognition
from pbx_agi.routing import decide_route

# Letters (any script), digits and a few separators that mean nothing to MSet.
_MSET_SAFE = re.compile(r"[\w.+@-]+(?: [\w.+@-]+)*|")


def recognition_commands(recognition: Recognition) -> list[str]:
    variables = recognition.channel_variables() | decide_route(recognition).channel_variables()
    plain = {name: value for name, value in variables.items() if _MSET_SAFE.fullmatch(value)}
    commands = []
    # CALLERID(name) first: it is what phones and the board show.
    if recognition.display_name:
        commands.append(set_variable_command("CALLERID(name)", recognition.display_name))
    commands.append(
        format_command("EXEC", "MSet", ",".join(f"{name}={value}" for name, value in plain.items()))
    )
    commands.extend(
        set_variable_command(name, value) for name, value in variables.items() if name not in plain
    )
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

"""Filters of the switchboard role: values written into TOML and Asterisk files."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from ansible.errors import AnsibleFilterError


def toml_string(value: Any) -> str:
    """``value`` as a TOML basic string: quotes, backslashes and control characters
    escaped, everything else (any Unicode) as it is."""
    text = str(value)
    out = ['"']
    for char in text:
        code = ord(char)
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            raise AnsibleFilterError(f"toml_string: a lone surrogate in {text!r}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def toml_value(value: Any) -> str:
    """A TOML value for a string, a boolean, an integer or a list of those."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return toml_string(value)


def asterisk_value(value: Any) -> str:
    """``value`` for the right-hand side of ``key = value`` in an Asterisk .conf file.

    Asterisk's parser ends a value at ``;`` (a comment) unless it is written ``\\;``,
    strips surrounding blanks and knows no line continuation; quotes and backslashes
    are taken as they are. A value it cannot hold is refused.
    """
    text = str(value)
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        raise AnsibleFilterError("asterisk_value: no line breaks or control characters")
    if text != text.strip():
        raise AnsibleFilterError("asterisk_value: no leading or trailing blanks")
    return text.replace(";", "\\;")


def files_to_copy(
    sources: list[str],
    present: list[dict[str, Any]],
    dest: str,
    owner: str,
    group: str,
    mode: str,
) -> list[str]:
    """The controller files of ``sources`` whose copy in ``dest`` on the host (as
    ``ansible.builtin.find`` with ``get_checksum`` saw it: ``present``) is missing or
    differs in content (SHA-1), owner, group or mode. One look at the host instead of
    one module run per file."""
    on_host = {
        entry.get("path"): entry
        for entry in present
        if entry.get("isreg")
        and entry.get("pw_name") == owner
        and entry.get("gr_name") == group
        and entry.get("mode") == mode
    }
    stale = []
    for source in sources:
        with open(source, "rb") as file:
            checksum = hashlib.sha1(file.read()).hexdigest()  # what find reports
        entry = on_host.get(os.path.join(dest, os.path.basename(source)))
        if entry is None or entry.get("checksum") != checksum:
            stale.append(source)
    return stale


class FilterModule:
    """The role's filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "switchboard_toml_string": toml_string,
            "switchboard_toml_value": toml_value,
            "switchboard_asterisk_value": asterisk_value,
            "switchboard_files_to_copy": files_to_copy,
        }

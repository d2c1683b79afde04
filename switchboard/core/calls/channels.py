"""Asterisk channel and device names, read once: who or which phone is behind one.

A channel is named ``<technology>/<resource>-<sequence>`` ("PJSIP/201-0000001a"), a
Local channel ``Local/<exten>@<context>-<sequence>;<leg>`` ("Local/201@phones-00000004;1"),
a device ``<technology>/<resource>`` ("PJSIP/201"). :func:`split_channel` is the one
parser; the three readings below answer the three questions the call domain asks.
Pure.
"""

from __future__ import annotations


def split_channel(name: str) -> tuple[str, str]:
    """A channel or device name's technology and resource, without a channel's sequence
    suffix or a Local channel's context: "PJSIP/201-0000001a" and the device "PJSIP/201"
    -> ("PJSIP", "201"); "Local/201@phones-00000004;1" -> ("Local", "201");
    "PJSIP/trunk-0000002a" -> ("PJSIP", "trunk"); a name without a "/" -> (name, "")."""
    technology, _, rest = name.partition("/")
    return technology, rest.rsplit("-", 1)[0].split("@", 1)[0]


def extension_of(name: str) -> str:
    """The extension a channel acts for: "PJSIP/201-0000001a" and the attended transfer's
    "Local/201@phones-00000004;1" are both 201 (a trunk's channel gives its endpoint,
    "trunk"); "" for a name without a resource."""
    return split_channel(name)[1]


def phone_of(name: str) -> str:
    """The extension of a phone's device or channel: "PJSIP/201" or "PJSIP/201-0000002a"
    -> "201"; "" for anything that is not a numbered PJSIP phone (trunks, Local...)."""
    technology, resource = split_channel(name)
    return resource if technology == "PJSIP" and resource.isdigit() else ""


def party(name: str, number: str = "") -> str:
    """Who a channel is, as the receptionist knows them: "PJSIP/100-00000001" -> "100";
    "Local/201@phones-00000000;1" -> "201" (the extension it dials); a channel to the
    trunk ("PJSIP/trunk-0000002a") -> ``number``, the caller ID at the other end (the
    endpoint's name when there is none)."""
    technology, resource = split_channel(name)
    if technology == "Local":
        return resource
    resource = resource or technology
    if not resource.isdigit() and number:
        return number
    return resource


#: The dialplan context of the waiting callers' announcements (extensions.conf
#: [switchboard-announce]): its Local channels whisper to a caller, they are no call.
ANNOUNCEMENT_CONTEXT = "switchboard-announce"


def is_announcement(name: str) -> bool:
    """Whether a channel is one half of an announcement to a waiting caller:
    "Local/say@switchboard-announce-0000000a;1" (and ";2")."""
    return name.startswith("Local/") and f"@{ANNOUNCEMENT_CONTEXT}-" in name

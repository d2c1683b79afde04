"""Asterisk channel and device names, read by one parser (switchboard/core/calls/channels.py)."""

from __future__ import annotations

import pytest

from switchboard.core.calls.channels import extension_of, party, phone_of, split_channel


@pytest.mark.parametrize(
    ("name", "extension"),
    [
        ("PJSIP/201-0000001a", "201"),
        ("Local/202@phones-00000004;1", "202"),
        ("PJSIP/trunk-00000001", "trunk"),
        ("", ""),
    ],
)
def test_the_extension_behind_a_channel(name: str, extension: str) -> None:
    assert extension_of(name) == extension


@pytest.mark.parametrize(
    ("name", "phone"),
    [
        ("PJSIP/201", "201"),
        ("PJSIP/201-0000002a", "201"),
        ("PJSIP/trunk-0000002a", ""),
        ("Local/201@phones-00000004;1", ""),
        ("SIP/201-00000001", ""),
        ("", ""),
    ],
)
def test_only_a_numbered_pjsip_device_or_channel_is_a_phone(name: str, phone: str) -> None:
    assert phone_of(name) == phone


@pytest.mark.parametrize(
    ("name", "number", "who"),
    [
        ("PJSIP/100-00000001", "100", "100"),
        ("Local/201@phones-00000000;1", "", "201"),
        ("PJSIP/trunk-0000002a", "0612345678", "0612345678"),
        ("PJSIP/trunk-0000002a", "", "trunk"),
        ("", "0612345678", "0612345678"),
    ],
)
def test_who_a_channel_is_for_the_receptionist(name: str, number: str, who: str) -> None:
    assert party(name, number) == who


def test_one_parser_reads_technology_and_resource() -> None:
    assert split_channel("Local/201@phones-00000004;1") == ("Local", "201")
    assert split_channel("PJSIP/201") == ("PJSIP", "201")
    assert split_channel("nonsense") == ("nonsense", "")

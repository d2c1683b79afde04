from ipaddress import ip_network
from pathlib import Path

import pytest

from switchboard.config import ConfigError, load_config

SANE = """
[fastagi]
port = 4573

[pbx.main]
host = "127.0.0.1"
port = 5038
secret = "s3cret"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "switchboard.toml"
    path.write_text(text)
    return path


def test_a_sane_file_loads_with_defaults_filled_in(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SANE), environ={})
    assert config.fastagi.port == 4573
    assert config.web.port == 8080
    assert config.pbx[0].name == "main"
    assert config.pbx[0].secret == "s3cret"
    assert config.default_region == "NL"
    assert config.database.dsn == ""


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, SANE),
        environ={"SWITCHBOARD_WEB__PORT": "9090", "SWITCHBOARD_PBX__MAIN__SECRET": "other"},
    )
    assert config.web.port == 9090
    assert config.pbx[0].secret == "other"


def test_every_bad_value_is_named_with_its_key_and_value(tmp_path: Path) -> None:
    text = SANE + '\n[web]\nport = 99999\nhost = "bad host"\n[phone]\ndefault_region = "XX"\n'
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={"SWITCHBOARD_FASTAGI__BUDGET_MS": "fast"})
    message = str(caught.value)
    assert "web.port" in message and "99999" in message
    assert "web.host" in message and "'bad host'" in message
    assert "phone.default_region" in message and "'XX'" in message
    assert "fastagi.budget_ms" in message and "'fast'" in message
    assert len(caught.value.problems) == 4


def test_unknown_keys_are_reported_not_ignored(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"fastagi\.prot: unknown key"):
        load_config(write(tmp_path, SANE.replace("port = 4573", "prot = 1")), environ={})


def test_broken_toml_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[web\nport=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path, environ={})


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", environ={})


def test_ami_on_without_a_pbx_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no \[pbx\.NAME\] is configured"):
        load_config(write(tmp_path, ""), environ={})


def test_a_pbx_without_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"pbx\.main\.secret"):
        load_config(write(tmp_path, SANE.replace('secret = "s3cret"', "")), environ={})


# ---------------------------------------------------------------------------
# [fastagi] allowed_peers
# ---------------------------------------------------------------------------


def test_allowed_peers_default_to_empty_meaning_this_host_and_the_pbx_hosts(
    tmp_path: Path,
) -> None:
    assert load_config(write(tmp_path, SANE), environ={}).fastagi.allowed_peers == ()


def test_allowed_peers_are_addresses_or_networks(tmp_path: Path) -> None:
    text = SANE.replace(
        "port = 4573",
        'port = 4573\nallowed_peers = ["127.0.0.0/8", "::1", "192.0.2.10", "2001:db8::/64",'
        ' "198.51.100.7/24"]',
    )
    peers = load_config(write(tmp_path, text), environ={}).fastagi.allowed_peers
    assert peers == (
        ip_network("127.0.0.0/8"),
        ip_network("::1/128"),
        ip_network("192.0.2.10/32"),
        ip_network("2001:db8::/64"),
        ip_network("198.51.100.0/24"),  # host bits dropped, not refused
    )


def test_allowed_peers_from_the_environment_are_comma_separated(tmp_path: Path) -> None:
    environ = {"SWITCHBOARD_FASTAGI__ALLOWED_PEERS": "192.0.2.10, 2001:db8::/64"}
    peers = load_config(write(tmp_path, SANE), environ=environ).fastagi.allowed_peers
    assert peers == (ip_network("192.0.2.10/32"), ip_network("2001:db8::/64"))
    empty = {"SWITCHBOARD_FASTAGI__ALLOWED_PEERS": ""}
    assert load_config(write(tmp_path, SANE), environ=empty).fastagi.allowed_peers == ()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('["192.0.2.300"]', "'192.0.2.300' is not an IP address or network"),
        # A name: it belongs in [pbx.NAME] host, resolved at start.
        ('["pbx1.example"]', "'pbx1.example' is not an IP address or network"),
        ('["192.0.2.10", 10]', "10 is not an IP address or network"),
        ('["192.0.2.0/33"]', "'192.0.2.0/33' is not an IP address or network"),
        ('"192.0.2.10,,::1"', "'' is not an IP address or network"),
        ("true", "expected a list of addresses or networks, got True"),
    ],
)
def test_a_bad_allowed_peer_is_named_with_its_key(tmp_path: Path, value: str, problem: str) -> None:
    text = SANE.replace("port = 4573", f"port = 4573\nallowed_peers = {value}")
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={})
    (reported,) = caught.value.problems
    assert reported.startswith(f"fastagi.allowed_peers: {problem}")


def test_a_bad_allowed_peer_from_the_environment_is_named(tmp_path: Path) -> None:
    environ = {"SWITCHBOARD_FASTAGI__ALLOWED_PEERS": "192.0.2.10;192.0.2.11"}
    with pytest.raises(ConfigError, match=r"fastagi\.allowed_peers: '192\.0\.2\.10;192\.0\.2\.11'"):
        load_config(write(tmp_path, SANE), environ=environ)


# ---------------------------------------------------------------------------
# [web] public_origin
# ---------------------------------------------------------------------------


def test_public_origin_defaults_to_empty(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, SANE), environ={}).web.public_origin == ""


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("https://board.example.com", "https://board.example.com"),
        ("HTTPS://Board.Example.COM/", "https://board.example.com"),
        ("https://board.example.com:443", "https://board.example.com"),
        ("http://board.example.com:80", "http://board.example.com"),
        ("https://board.example.com:8443", "https://board.example.com:8443"),
        ("http://192.0.2.10:8080", "http://192.0.2.10:8080"),
        ("https://[2001:DB8:0::1]:8443", "https://[2001:db8::1]:8443"),
        ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
    ],
)
def test_public_origin_is_stored_normalised(tmp_path: Path, value: str, stored: str) -> None:
    text = SANE + f'\n[web]\npublic_origin = "{value}"\n'
    assert load_config(write(tmp_path, text), environ={}).web.public_origin == stored


@pytest.mark.parametrize(
    "value",
    [
        "board.example.com",  # no scheme
        "ftp://board.example.com",
        "wss://board.example.com",
        "https://board.example.com/board",  # a path
        "https://board.example.com/?next=1",
        "https://board.example.com#top",
        "https://admin:pw@board.example.com",  # user info
        "https://board.example.com:0",
        "https://board.example.com:99999",
        "https://board.example.com:",
        "https://",
        "https://bad host.example",
        "https://bücher.example",  # not as a browser sends it (punycode)
        "https://board_example.com",
        "https://[::1",
    ],
)
def test_a_bad_public_origin_is_named_with_its_key(tmp_path: Path, value: str) -> None:
    text = SANE + f'\n[web]\npublic_origin = "{value}"\n'
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={})
    (problem,) = caught.value.problems
    assert problem.startswith("web.public_origin: ")
    assert repr(value) in problem


def test_public_origin_from_the_environment(tmp_path: Path) -> None:
    environ = {"SWITCHBOARD_WEB__PUBLIC_ORIGIN": "https://Board.Example:443"}
    config = load_config(write(tmp_path, SANE), environ=environ)
    assert config.web.public_origin == "https://board.example"
    with pytest.raises(ConfigError, match=r"web\.public_origin: .*'https://board\.example/x'"):
        load_config(
            write(tmp_path, SANE),
            environ={"SWITCHBOARD_WEB__PUBLIC_ORIGIN": "https://board.example/x"},
        )


def test_each_queue_sets_what_its_waiting_callers_hear(tmp_path: Path) -> None:
    text = SANE + (
        "\n[queue.switchboard]\nfirst_announcement_s = 30\nannounce_every_s = 90\n"
        "announce_positions_up_to = 5\n[queue.support]\nannounce = false\n"
    )
    queues = load_config(write(tmp_path, text), environ={}).queues
    assert (queues["switchboard"].first_after_s, queues["switchboard"].every_s) == (30, 90)
    assert queues["switchboard"].max_position == 5
    assert queues["switchboard"].max_minutes == 15  # the default
    assert queues["support"].announce is False
    assert load_config(write(tmp_path, SANE), environ={}).queues == {}


def test_queue_announcements_out_of_range_are_named(tmp_path: Path) -> None:
    # 60 minutes cannot be said (the prompts go to 59); every 5 s leaves no music between.
    text = SANE + (
        "\n[queue.switchboard]\nannounce_every_s = 5\nannounce_minutes_up_to = 60\n"
        'announce = "sometimes"\nfirst_announcement = 3\n'
    )
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text), environ={})
    message = str(error.value)
    assert "queue.switchboard.announce_every_s" in message and "5" in message
    assert "queue.switchboard.announce_minutes_up_to" in message
    assert "queue.switchboard.announce: expected true or false" in message
    assert "queue.switchboard" in message and "first_announcement" in message

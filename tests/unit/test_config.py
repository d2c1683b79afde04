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

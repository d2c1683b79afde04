"""Configuration: a TOML file plus environment overrides, validated once at start.

Environment variables override file values with the pattern
``SWITCHBOARD_<SECTION>__<KEY>`` (double underscore between levels), for example
``SWITCHBOARD_WEB__PORT=8081`` or ``SWITCHBOARD_PBX__MAIN__SECRET=...``.
Every error names the offending key and value, so an admin can fix it in one go.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from switchboard.core.opening import Hours, check_claims
from switchboard.core.schedule import ScheduleError, parse_schedule
from switchboard.core.service_level import Thresholds
from switchboard.core.wait_estimate import WaitSettings
from switchboard.core.worklist import Escalation

ENV_PREFIX = "SWITCHBOARD_"
DEFAULT_DATA_DIR = Path("~/.local/share/switchboard/pgdata").expanduser()

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_DEFAULT_PORTS = {"http": 80, "https": 443}
# A DNS name as a browser sends it in an Origin header: ASCII labels (IDNs in punycode).
_DNS_NAME = re.compile(
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)


class ConfigError(ValueError):
    """Raised with every problem found in the configuration, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class ServicesConfig:
    fastagi: bool = True
    ami: bool = True
    web: bool = True


@dataclass(frozen=True)
class FastAGIConfig:
    host: str = "127.0.0.1"
    port: int = 4573
    # Time the recognition may take before the call goes on unrecognised.
    budget_ms: int = 200
    # A caller who called within this many hours is a repeat caller.
    repeat_window_hours: int = 24
    # Who may connect; empty: this host (127.0.0.0/8, ::1) and every [pbx.NAME] host.
    allowed_peers: tuple[IPNetwork, ...] = ()


@dataclass(frozen=True)
class PBXConfig:
    name: str
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "switchboard"
    secret: str = ""


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    # Only set behind a TLS-terminating proxy; makes the session cookie Secure.
    secure_cookies: bool = False
    # The origin browsers reach the board at (scheme://host[:port], normalised), or "".
    public_origin: str = ""


@dataclass(frozen=True)
class DatabaseConfig:
    # Empty: run an embedded PostgreSQL under data_dir.
    dsn: str = ""
    data_dir: Path = DEFAULT_DATA_DIR


@dataclass(frozen=True)
class CallbacksConfig:
    """[callbacks]: which queues' callers may ask to be called back, and how the service
    dials them (switchboard.core.callbacks)."""

    queues: tuple[str, ...] = ("switchboard",)
    attempts: int = 3
    retry_minutes: int = 5
    # "Press 1 to be called back" is said with waits of this many minutes or more
    # (0: never said; the key works at any time).
    offer_from_minutes: int = 3
    international: bool = True
    blocked_prefixes: tuple[str, ...] = ()
    # How long the member's phone rings for a callback before the next try.
    member_ring_s: int = 20
    # How long a callback being dialled stays this instance's without a renewal: after
    # it, another instance (or this one restarted) settles it from the PBX's channels.
    lease_s: int = 60


@dataclass(frozen=True)
class Config:
    services: ServicesConfig = field(default_factory=ServicesConfig)
    fastagi: FastAGIConfig = field(default_factory=FastAGIConfig)
    web: WebConfig = field(default_factory=WebConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    pbx: tuple[PBXConfig, ...] = ()
    default_region: str = "NL"
    hours: tuple[Hours, ...] = ()  # [hours.NAME]: opening hours and what they apply to
    # [queue.NAME]: what the callers waiting in queue NAME hear about their place and wait;
    # a queue not listed has the defaults.
    queues: Mapping[str, WaitSettings] = field(default_factory=dict)
    callbacks: CallbacksConfig = field(default_factory=CallbacksConfig)
    # [site] timezone: the board's and the report's times and days (default: the first
    # [hours]'s zone, else Europe/Amsterdam).
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Amsterdam"))
    service_level: Thresholds = field(default_factory=Thresholds)  # [service_level]
    worklist: Escalation = field(default_factory=Escalation)  # [worklist]


def load_config(path: Path | None, environ: Mapping[str, str] | None = None) -> Config:
    """Read ``path`` (optional), apply environment overrides, validate, return a Config."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError([f"config file {path} does not exist"]) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError([f"config file {path} is not valid TOML: {exc}"]) from None
    _apply_env(raw, os.environ if environ is None else environ)
    return _build(raw)


def _apply_env(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        keys = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        node = raw
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[keys[-1]] = value


class _Reader:
    """Takes typed values out of a raw table, collecting problems instead of stopping."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def table(self, raw: Mapping[str, Any], key: str) -> dict[str, Any]:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            self.problems.append(f"{key}: expected a table, got {value!r}")
            return {}
        return value

    def unknown(self, section: str, table: Mapping[str, Any], known: set[str]) -> None:
        for key in sorted(set(table) - known):
            self.problems.append(
                f"{section}.{key}: unknown key (known: {', '.join(sorted(known))})"
            )

    def boolean(self, section: str, table: Mapping[str, Any], key: str, default: bool) -> bool:
        value = table.get(key, default)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"1", "true", "yes", "on"}:
            return True
        if isinstance(value, str) and value.lower() in {"0", "false", "no", "off"}:
            return False
        self.problems.append(f"{section}.{key}: expected true or false, got {value!r}")
        return default

    def port(self, section: str, table: Mapping[str, Any], key: str, default: int) -> int:
        return self.integer(section, table, key, default, low=0, high=65535)

    def integer(
        self, section: str, table: Mapping[str, Any], key: str, default: int, *, low: int, high: int
    ) -> int:
        value = table.get(key, default)
        try:
            number = (
                int(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
            )
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            self.problems.append(
                f"{section}.{key}: expected a whole number from {low} to {high}, got {value!r}"
            )
            return default
        return number

    def string(self, section: str, table: Mapping[str, Any], key: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str):
            self.problems.append(f"{section}.{key}: expected a string, got {value!r}")
            return default
        return value

    def networks(self, section: str, table: Mapping[str, Any], key: str) -> tuple[IPNetwork, ...]:
        """A list of addresses or networks: a TOML list, or a comma-separated string (as
        from the environment). Each entry is read with ``ip_network(strict=False)``, so
        ``192.0.2.10`` is ``192.0.2.10/32`` and ``192.0.2.7/24`` is ``192.0.2.0/24``."""
        value = table.get(key, [])
        if isinstance(value, str):
            entries: list[Any] = (
                [part.strip() for part in value.split(",")] if value.strip() else []
            )
        elif isinstance(value, list):
            entries = value
        else:
            self.problems.append(
                f"{section}.{key}: expected a list of addresses or networks, got {value!r}"
            )
            return ()
        networks: list[IPNetwork] = []
        for entry in entries:
            try:
                if not isinstance(entry, str):
                    raise TypeError
                networks.append(ipaddress.ip_network(entry, strict=False))
            except (TypeError, ValueError):
                self.problems.append(
                    f"{section}.{key}: {entry!r} is not an IP address or network "
                    "(e.g. 192.0.2.10, 192.0.2.0/24, 2001:db8::/64)"
                )
        return tuple(networks)

    def origin(self, section: str, table: Mapping[str, Any], key: str) -> str:
        """``scheme://host[:port]`` (http or https, nothing else), normalised: scheme and
        host lower-case, no trailing slash, no default port. Empty stays empty."""
        value = self.string(section, table, key, "")
        if not value:
            return ""
        origin = _origin(value)
        if origin is None:
            self.problems.append(
                f"{section}.{key}: expected an origin such as https://board.example.com or "
                f"http://192.0.2.10:8080 (http or https, no path, query or user), got {value!r}"
            )
            return ""
        return origin

    def host(self, section: str, table: Mapping[str, Any], key: str, default: str) -> str:
        value = self.string(section, table, key, default)
        if value == "localhost":
            return value
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if not value or any(c.isspace() for c in value):
                self.problems.append(
                    f"{section}.{key}: expected a host name or IP address, got {value!r}"
                )
        return value


def _origin(value: str) -> str | None:
    """``value`` as a normalised origin, or None when it is not one."""
    if any(c.isspace() or c in "?#@%\\" for c in value) or not value.isascii():
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:  # a port that is not a number or out of range, a bad [IPv6]
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""  # lower-case already
    if scheme not in _DEFAULT_PORTS or parts.path not in ("", "/") or not _is_host(host):
        return None
    if port == 0 or parts.netloc.endswith(":"):
        return None
    if ":" in host:
        host = f"[{ipaddress.IPv6Address(host).compressed}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _is_host(host: str) -> bool:
    """An IP address, or a DNS name of ASCII labels."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return _DNS_NAME.fullmatch(host) is not None and len(host) <= 253
    return True


def _build(raw: dict[str, Any]) -> Config:
    problems: list[str] = []
    read = _Reader(problems)
    known_sections = {
        "services",
        "fastagi",
        "web",
        "database",
        "pbx",
        "phone",
        "hours",
        "queue",
        "callbacks",
        "site",
        "service_level",
        "worklist",
    }
    for key in sorted(set(raw) - known_sections):
        problems.append(f"{key}: unknown section (known: {', '.join(sorted(known_sections))})")

    services_raw = read.table(raw, "services")
    read.unknown("services", services_raw, {"fastagi", "ami", "web"})
    services = ServicesConfig(
        fastagi=read.boolean("services", services_raw, "fastagi", True),
        ami=read.boolean("services", services_raw, "ami", True),
        web=read.boolean("services", services_raw, "web", True),
    )

    agi_raw = read.table(raw, "fastagi")
    read.unknown(
        "fastagi", agi_raw, {"host", "port", "budget_ms", "repeat_window_hours", "allowed_peers"}
    )
    fastagi = FastAGIConfig(
        host=read.host("fastagi", agi_raw, "host", FastAGIConfig.host),
        port=read.port("fastagi", agi_raw, "port", FastAGIConfig.port),
        budget_ms=read.integer("fastagi", agi_raw, "budget_ms", 200, low=10, high=5000),
        repeat_window_hours=read.integer(
            "fastagi", agi_raw, "repeat_window_hours", 24, low=1, high=24 * 30
        ),
        allowed_peers=read.networks("fastagi", agi_raw, "allowed_peers"),
    )

    web_raw = read.table(raw, "web")
    read.unknown("web", web_raw, {"host", "port", "secure_cookies", "public_origin"})
    web = WebConfig(
        host=read.host("web", web_raw, "host", WebConfig.host),
        port=read.port("web", web_raw, "port", WebConfig.port),
        secure_cookies=read.boolean("web", web_raw, "secure_cookies", False),
        public_origin=read.origin("web", web_raw, "public_origin"),
    )

    db_raw = read.table(raw, "database")
    read.unknown("database", db_raw, {"dsn", "data_dir"})
    dsn = read.string("database", db_raw, "dsn", "")
    if dsn and not dsn.startswith(("postgresql://", "postgres://")):
        problems.append(f"database.dsn: expected a postgresql:// URL, got {dsn!r}")
    data_dir = Path(read.string("database", db_raw, "data_dir", str(DEFAULT_DATA_DIR)))
    database = DatabaseConfig(dsn=dsn, data_dir=data_dir.expanduser())

    pbx_raw = read.table(raw, "pbx")
    pbxes = []
    for name, table in sorted(pbx_raw.items()):
        section = f"pbx.{name}"
        if not isinstance(table, dict):
            problems.append(f"{section}: expected a table, got {table!r}")
            continue
        read.unknown(section, table, {"host", "port", "username", "secret"})
        pbx = PBXConfig(
            name=name,
            host=read.host(section, table, "host", "127.0.0.1"),
            port=read.port(section, table, "port", 5038),
            username=read.string(section, table, "username", "switchboard"),
            secret=read.string(section, table, "secret", ""),
        )
        if not pbx.secret:
            problems.append(f"{section}.secret: must be set (the AMI user's secret)")
        pbxes.append(pbx)
    if services.ami and not pbxes:
        problems.append("pbx: the AMI bridge is on but no [pbx.NAME] is configured")

    phone_raw = read.table(raw, "phone")
    read.unknown("phone", phone_raw, {"default_region"})
    region = read.string("phone", phone_raw, "default_region", "NL").upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        problems.append(
            f"phone.default_region: {region!r} is not a known region code (e.g. NL, BE)"
        )

    hours = _hours(read.table(raw, "hours"), problems)
    queues = _queues(read.table(raw, "queue"), read)
    callbacks = _callbacks(read.table(raw, "callbacks"), read)
    timezone = _timezone(read.table(raw, "site"), read, hours)
    service_level = _service_level(read.table(raw, "service_level"), read)
    worklist = _worklist(read.table(raw, "worklist"), read)

    if problems:
        raise ConfigError(problems)
    return Config(
        services=services,
        fastagi=fastagi,
        web=web,
        database=database,
        pbx=tuple(pbxes),
        default_region=region,
        hours=hours,
        queues=queues,
        callbacks=callbacks,
        timezone=timezone,
        service_level=service_level,
        worklist=worklist,
    )


def _timezone(table: Mapping[str, Any], read: _Reader, hours: tuple[Hours, ...]) -> ZoneInfo:
    read.unknown("site", table, {"timezone"})
    default = str(hours[0].schedule.timezone) if hours else "Europe/Amsterdam"
    name = read.string("site", table, "timezone", default)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        read.problems.append(f"site.timezone: {name!r} is not a time zone (e.g. Europe/Amsterdam)")
        return ZoneInfo(default)


def _service_level(table: Mapping[str, Any], read: _Reader) -> Thresholds:
    """[service_level]: answer_within_s (the research's norm: 15), short_abandon_s (5),
    target_percent (80)."""
    section = "service_level"
    read.unknown(section, table, {"answer_within_s", "short_abandon_s", "target_percent"})
    return Thresholds(
        answer_within_s=read.integer(section, table, "answer_within_s", 15, low=1, high=600),
        short_abandon_s=read.integer(section, table, "short_abandon_s", 5, low=0, high=60),
        target=read.integer(section, table, "target_percent", 80, low=1, high=100) / 100,
    )


def _worklist(table: Mapping[str, Any], read: _Reader) -> Escalation:
    """[worklist]: an item escalates after escalate_attempts calls (3) or when waiting
    longer than escalate_after_minutes (30)."""
    section = "worklist"
    read.unknown(section, table, {"escalate_attempts", "escalate_after_minutes"})
    return Escalation(
        attempts=read.integer(section, table, "escalate_attempts", 3, low=1, high=50),
        after=timedelta(
            minutes=read.integer(
                section, table, "escalate_after_minutes", 30, low=1, high=7 * 24 * 60
            )
        ),
    )


def _callbacks(table: Mapping[str, Any], read: _Reader) -> CallbacksConfig:
    section = "callbacks"
    defaults = CallbacksConfig()
    read.unknown(
        section,
        table,
        {
            "queues",
            "attempts",
            "retry_minutes",
            "offer_from_minutes",
            "international",
            "blocked_prefixes",
            "member_ring_s",
            "lease_s",
        },
    )
    lists: dict[str, tuple[str, ...]] = {}
    for key, pattern in (("queues", _QUEUE_NAME), ("blocked_prefixes", _E164_PREFIX)):
        value = table.get(key, list(getattr(defaults, key)))
        if not isinstance(value, list) or not all(
            isinstance(v, str) and pattern.fullmatch(v) for v in value
        ):
            read.problems.append(
                f"{section}.{key}: expected a list like {_EXAMPLES[key]}, got {value!r}"
            )
            value = list(getattr(defaults, key))
        lists[key] = tuple(value)
    return CallbacksConfig(
        queues=lists["queues"],
        attempts=read.integer(section, table, "attempts", defaults.attempts, low=1, high=10),
        retry_minutes=read.integer(
            section, table, "retry_minutes", defaults.retry_minutes, low=1, high=24 * 60
        ),
        offer_from_minutes=read.integer(
            section, table, "offer_from_minutes", defaults.offer_from_minutes, low=0, high=59
        ),
        international=read.boolean(section, table, "international", defaults.international),
        blocked_prefixes=lists["blocked_prefixes"],
        member_ring_s=read.integer(
            section, table, "member_ring_s", defaults.member_ring_s, low=5, high=120
        ),
        lease_s=read.integer(section, table, "lease_s", defaults.lease_s, low=5, high=600),
    )


_QUEUE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,79}")
_E164_PREFIX = re.compile(r"\+[0-9]{1,15}")
_EXAMPLES = {"queues": '["switchboard"]', "blocked_prefixes": '["+3190", "+4487"]'}


#: [queue.NAME] key -> the WaitSettings field it sets.
_QUEUE_KEYS = {
    "first_announcement_s": "first_after_s",
    "announce_every_s": "every_s",
    "announce_positions_up_to": "max_position",
    "announce_minutes_up_to": "max_minutes",
}


def _queues(raw: Mapping[str, Any], read: _Reader) -> dict[str, WaitSettings]:
    """Each ``[queue.NAME]``: the announcements its waiting callers hear."""
    queues: dict[str, WaitSettings] = {}
    for name, table in sorted(raw.items()):
        section = f"queue.{name}"
        if not isinstance(table, dict):
            read.problems.append(f"{section}: expected a table, got {table!r}")
            continue
        read.unknown(section, table, {"announce", *_QUEUE_KEYS})
        defaults = WaitSettings()
        queues[name] = replace(
            defaults,
            announce=read.boolean(section, table, "announce", defaults.announce),
            # The first may come at once; repeats at most every 10 s (a caller must be able
            # to hear the music between); the prompts say numbers up to 59.
            first_after_s=read.integer(
                section, table, "first_announcement_s", 20, low=0, high=3600
            ),
            every_s=read.integer(section, table, "announce_every_s", 60, low=10, high=3600),
            max_position=read.integer(
                section, table, "announce_positions_up_to", 10, low=1, high=59
            ),
            max_minutes=read.integer(section, table, "announce_minutes_up_to", 15, low=1, high=59),
        )
    return queues


def _hours(raw: Mapping[str, Any], problems: list[str]) -> tuple[Hours, ...]:
    """Each ``[hours.NAME]``: its schedule (switchboard.core.schedule.parse_schedule) and
    the ``queues`` and ``dids`` it applies to."""
    book: list[Hours] = []
    for name, table in sorted(raw.items()):
        section = f"hours.{name}"
        if not isinstance(table, dict):
            problems.append(f"{section}: expected a table, got {table!r}")
            continue
        rest = dict(table)
        applies: dict[str, tuple[str, ...]] = {}
        for key in ("queues", "dids"):
            value = rest.pop(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                problems.append(f"{section}.{key}: expected a list of names, got {value!r}")
                value = []
            applies[key] = tuple(value)
        if not applies["queues"] and not applies["dids"]:
            problems.append(f"{section}: says neither queues nor dids it applies to")
        try:
            schedule = parse_schedule(name, rest)
        except ScheduleError as exc:
            problems.extend(exc.problems)
            continue
        book.append(Hours(schedule, applies["queues"], applies["dids"]))
    problems.extend(check_claims(book))
    return tuple(book)

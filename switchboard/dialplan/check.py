"""``switchboard dialplan check``: read a configuration directory, load it into a
throwaway Asterisk, apply the rules (the I/O around :mod:`switchboard.dialplan.rules`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from switchboard.core import prompt_texts
from switchboard.dialplan import throwaway
from switchboard.dialplan.files import FilesError, inside_root, read_directory
from switchboard.dialplan.rules import Environment, Finding, Site, check

#: Where the Asterisk binary is looked for: this host's, then a checkout's sandbox root.
SANDBOX_ROOT_ENV = "SWITCHBOARD_SANDBOX_ROOT"
DEFAULT_SANDBOX_ROOT = Path("/var/cache/switchboard/sandbox-root")
SOUNDS = Path("usr/share/asterisk/sounds")
ASTERISK_ETC = Path("/etc/asterisk")
#: The dialplan this checkout ships (absent in an installed wheel).
SHIPPED = Path(__file__).resolve().parents[2] / "dialplans"


class CheckError(RuntimeError):
    """The check could not run (exit status 2); the message says why."""


@dataclass(frozen=True)
class Report:
    directory: Path
    findings: list[Finding]
    asterisk: str
    #: the throwaway Asterisk's own warnings while loading
    asterisk_log: tuple[str, ...]


def default_directory() -> Path:
    """The shipped ``dialplans/`` in a checkout, else this host's ``/etc/asterisk``."""
    return SHIPPED if (SHIPPED / "extensions.conf").is_file() else ASTERISK_ETC


def asterisk_roots() -> tuple[Path, ...]:
    """Where an Asterisk to judge with may be: ``/`` (a PBX host), then the sandbox root."""
    sandbox = os.environ.get(SANDBOX_ROOT_ENV)
    return (Path("/"), Path(sandbox) if sandbox else DEFAULT_SANDBOX_ROOT)


def run_check(
    directory: Path, *, root: Path | None = None, ami_username: str = "switchboard"
) -> Report:
    """The findings for ``directory``; raises :class:`CheckError` when it cannot be read
    or no Asterisk can load it."""
    try:
        texts = read_directory(directory)
    except FilesError as exc:
        raise CheckError(str(exc)) from exc
    if "extensions.conf" not in texts:
        raise CheckError(f"{directory}: no extensions.conf")
    chosen = root if root is not None else throwaway.find_root(asterisk_roots())
    if chosen is None:
        raise CheckError(
            "no Asterisk to load the dialplan into (looked in /usr/sbin and the sandbox root"
            f" {asterisk_roots()[1]}): install Asterisk, or run 'python -m devtools sandbox up'"
        )
    try:
        loaded = throwaway.load(texts, chosen)
    except throwaway.ThrowawayError as exc:
        raise CheckError(f"the throwaway Asterisk under {chosen}: {exc}") from exc
    environment = Environment(
        applications=loaded.applications,
        sounds=_sounds(chosen),
        loaded=loaded.lines,
        ami_username=ami_username,
    )
    findings = check(Site.read(texts), environment)
    return Report(directory, findings, loaded.version, loaded.log)


def _sounds(root: Path) -> frozenset[str] | None:
    """``nl/switchboard/closed`` for each prompt file under ``root``'s sounds directory
    (None when the host has no sounds directory at all: then not judged)."""
    sounds = root / SOUNDS
    if not sounds.is_dir():
        return None
    found: set[str] = set()
    for language in prompt_texts.LANGUAGES:
        try:
            directory = inside_root(root, sounds / language) / "switchboard"
        except OSError:
            continue
        if directory.is_dir():
            found.update(f"{language}/switchboard/{p.stem}" for p in directory.iterdir())
    return frozenset(found)

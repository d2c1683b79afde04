"""A throwaway Asterisk that loads an admin's dialplan and says what it holds.

Asterisk's ``pbx_config`` logs a line it cannot use and goes on: ``dialplan reload``
"succeeds" with lines missing. The only faithful judge of what Asterisk keeps is
Asterisk, so :func:`load` starts the host's own binary as a separate instance: its own
``asterisk.conf`` (every directory private, in a temporary directory), ``modules.conf``
loading ``pbx_config`` alone, the manager and HTTP server off, so it opens no network
port and shares nothing with a live Asterisk on the same host (not its control socket,
not its astdb, not its logs). It answers ``dialplan show`` and is stopped.

In a checkout the binary is the sandbox's (``root``: its Debian tree, run under
``chroot``, which needs root); on a PBX host it is ``/usr/sbin/asterisk``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ASTERISK = "usr/sbin/asterisk"
BOOT_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 15.0
#: Files of the admin's directory the throwaway instance gets its own of.
OWN_FILES = frozenset(
    {"asterisk.conf", "modules.conf", "manager.conf", "http.conf", "logger.conf", "cli.conf"}
)
_SHOW_LINE = re.compile(r"\[(?P<file>[^\]\s:]+):(?P<line>\d+)\]\s*$")
_LOG_LINE = re.compile(
    r"^\[[^\]]*\]\s+(?P<level>WARNING|ERROR|NOTICE)\[\d+\][^:]*:\s+(?P<source>\S+):\d+\s+"
    r"\S+:\s+(?P<message>.*)$"
)
_PR_SET_PDEATHSIG = 1
_CHILD_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "TERM": "dumb"}


class ThrowawayError(RuntimeError):
    """The throwaway Asterisk could not be run; the message says why."""


@dataclass(frozen=True)
class Loaded:
    """What the throwaway Asterisk made of the files."""

    version: str
    #: (file name, line) of every priority and hint it holds (``dialplan show``)
    lines: frozenset[tuple[str, int]]
    #: its warnings and errors while loading, as logged
    log: tuple[str, ...]
    #: application name (lower case) -> the modules that register it, from its own
    #: documentation (``core-en_US.xml``); empty when the host has none
    applications: Mapping[str, frozenset[str]]


def find_root(candidates: tuple[Path, ...]) -> Path | None:
    """The first of ``candidates`` holding an Asterisk binary."""
    return next((c for c in candidates if (c / ASTERISK).is_file()), None)


def load(texts: Mapping[str, str], root: Path, *, timeout_s: float = BOOT_TIMEOUT_S) -> Loaded:
    """Load ``texts`` (a configuration directory by file name) into a throwaway Asterisk
    found under ``root`` (``/``: the host's own) and report what it holds."""
    binary = root / ASTERISK
    if not binary.is_file():
        raise ThrowawayError(f"no Asterisk at {binary}")
    chrooted = root.resolve() != Path("/")
    if chrooted and os.geteuid() != 0:
        raise ThrowawayError(f"running the Asterisk under {root} needs root (chroot)")
    module_dir = _module_dir(root)
    try:
        with _private_dir(root) as (outside, inside):
            _write_config(outside, inside, texts, module_dir, chrooted=chrooted)
            prefix = ["chroot", str(root)] if chrooted else []
            command = [*prefix, "/" + ASTERISK, "-C", f"{inside}/etc/asterisk.conf"]
            process = subprocess.Popen(
                [*command, "-f", "-n", "-q"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=_CHILD_ENV,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            try:
                _wait_booted(command, process, timeout_s, outside)
                show = _run(command, "dialplan show")
                version = _run(command, "core show version").split(" built by")[0].strip()
            finally:
                _stop(command, process)
            log = _log_lines(outside / "log" / "messages.log")
    except OSError as exc:
        raise ThrowawayError(f"{exc.strerror or exc} ({exc.filename or root})") from exc
    lines = frozenset(
        (m.group("file"), int(m.group("line")))
        for m in (_SHOW_LINE.search(line) for line in show.splitlines())
        if m
    )
    return Loaded(version, lines, log, applications(root))


def applications(root: Path) -> dict[str, frozenset[str]]:
    """Application name (lower case) -> the modules registering it (VoiceMail: app_voicemail
    or one of its storage variants), from the host's Asterisk documentation."""
    docs = sorted((root / "usr/share/asterisk/documentation").glob("core-*.xml"))
    if not docs:
        return {}
    try:
        text = docs[0].read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    found: dict[str, set[str]] = {}
    for name, module in re.findall(r'<application name="([^"]+)"[^>]*\bmodule="([^"]+)"', text):
        found.setdefault(name.lower(), set()).add(module)
    return {name: frozenset(modules) for name, modules in found.items()}


def _die_with_parent() -> None:
    """In the child: the kernel kills it when the check that started it dies, however
    (a SIGKILL leaves no ``finally`` to stop it)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _module_dir(root: Path) -> str:
    for pattern in ("usr/lib/*/asterisk/modules", "usr/lib/asterisk/modules"):
        for path in sorted(root.glob(pattern)):
            if (path / "pbx_config.so").is_file():
                return "/" + str(path.relative_to(root))
    raise ThrowawayError(f"no pbx_config.so under {root}/usr/lib: is Asterisk installed?")


@contextlib.contextmanager
def _private_dir(root: Path) -> Iterator[tuple[Path, str]]:
    """A new directory inside ``root``'s /tmp: (its path here, its path for Asterisk)."""
    tmp = root / "tmp"
    outside = Path(tempfile.mkdtemp(prefix="switchboard-check-", dir=tmp))
    try:
        os.chmod(outside, 0o700)
        yield outside, "/" + str(outside.resolve().relative_to(root.resolve()))
    finally:
        shutil.rmtree(outside, ignore_errors=True)


def _write_config(
    outside: Path, inside: str, texts: Mapping[str, str], module_dir: str, *, chrooted: bool
) -> None:
    """The private directories and configuration; the admin's files as they are, but
    for the ones the instance must have its own of. Under chroot a file included by an
    absolute path is not there: it is copied under ``etc/_abs`` and the include points
    at the copy."""
    for sub in ("etc", "run", "log", "lib", "spool", "cache"):
        (outside / sub).mkdir()
    etc = outside / "etc"
    moved = {name: f"{inside}/etc/_abs{name}" for name in texts if chrooted and os.path.isabs(name)}
    for name, text in texts.items():
        if name in OWN_FILES or ".." in Path(name).parts:
            continue
        if os.path.isabs(name):
            if not chrooted:
                continue  # the host's own Asterisk reads it where it is
            destination = etc / "_abs" / name.lstrip("/")
        else:
            destination = etc / name
        for original, copy in moved.items():
            text = text.replace(original, copy)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(text, encoding="utf-8")
    _write_own_files(etc, inside, module_dir)


def _write_own_files(etc: Path, inside: str, module_dir: str) -> None:
    """asterisk.conf with every directory private, pbx_config the only module, no
    manager, no HTTP server, a log of its warnings."""
    (etc / "asterisk.conf").write_text(
        "[directories]\n"
        f"astetcdir => {inside}/etc\n"
        f"astmoddir => {module_dir}\n"
        f"astvarlibdir => {inside}/lib\n"
        f"astdbdir => {inside}/lib\n"
        f"astkeydir => {inside}/lib\n"
        "astdatadir => /usr/share/asterisk\n"
        "astagidir => /usr/share/asterisk/agi-bin\n"
        f"astspooldir => {inside}/spool\n"
        f"astrundir => {inside}/run\n"
        f"astlogdir => {inside}/log\n"
        f"astcachedir => {inside}/cache\n"
        "astsbindir => /usr/sbin\n"
        "[options]\nverbose = 0\ndebug = 0\nhideconnect = yes\n"
        "documentation_language = en_US\n",
        encoding="utf-8",
    )
    (etc / "modules.conf").write_text(
        "[modules]\nautoload = no\nload => pbx_config.so\n", encoding="utf-8"
    )
    (etc / "manager.conf").write_text("[general]\nenabled = no\n", encoding="utf-8")
    (etc / "http.conf").write_text("[general]\nenabled = no\n", encoding="utf-8")
    (etc / "logger.conf").write_text(
        "[logfiles]\nmessages.log => notice,warning,error\n", encoding="utf-8"
    )


def _run(command: list[str], cli: str) -> str:
    try:
        result = subprocess.run(
            [*command, "-rx", cli],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            env=_CHILD_ENV,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ThrowawayError(f"'{cli}' did not answer within {COMMAND_TIMEOUT_S:.0f} s") from exc
    if result.returncode != 0:
        raise ThrowawayError(f"'{cli}' failed: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def _wait_booted(
    command: list[str], process: subprocess.Popen[bytes], timeout_s: float, outside: Path
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = "\n".join(_log_lines(outside / "log" / "messages.log")[-5:])
            raise ThrowawayError(f"Asterisk exited at start (status {process.returncode}) {tail}")
        with contextlib.suppress(ThrowawayError):
            if "fully booted" in _run(command, "core waitfullybooted").lower():
                return
        time.sleep(0.1)
    raise ThrowawayError(f"Asterisk did not boot within {timeout_s:.0f} s")


def _stop(command: list[str], process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ThrowawayError):
        _run(command, "core stop now")
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def _log_lines(path: Path) -> tuple[str, ...]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    return tuple(line for line in text.splitlines() if _LOG_LINE.match(line))

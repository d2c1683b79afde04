"""A real Asterisk 22 for development and tests, in a chroot, on loopback only.

The sandbox root is a Debian (sid) ``minbase`` tree with Debian's ``asterisk``
package, built once with debootstrap into a cache directory outside the repo
(``/var/cache/switchboard/sandbox-root``, or ``$SWITCHBOARD_SANDBOX_ROOT``).
``Sandbox.up()`` installs the project's ``dialplans/`` as the complete
``/etc/asterisk`` of that root, adds small generated ``*_site.conf`` files with
the sandbox's ports and AMI secret, and runs ``asterisk -f`` under ``chroot``
as the ``asterisk`` user, detached from the caller so it keeps running.

Everything binds to 127.0.0.1:

* AMI on :data:`AMI_PORT` (user :data:`AMI_USERNAME`, secret :data:`AMI_SECRET`)
* PJSIP/UDP on :data:`SIP_PORT` (the trunk: SIPp callers send INVITEs here)
* the dialplan's FastAGI requests go to ``agi://127.0.0.1:14573``, where the
  switchboard service (not Asterisk) listens
* demo phones are SIPp UAS processes on ``127.0.0.1:16000+ext``

If FastAGI fails, the dialplan runs the classic AGI script
``agi-bin/switchboard-agi-recognize`` inside the chroot, which has no Python of its
own: ``up()`` bind-mounts the Python that runs it (its virtualenv, the installation
that virtualenv was made from, and this checkout) read-only at the same paths inside
the root, and the script is a wrapper that execs that Python (see
:func:`classic_agi_mounts`). Its DSN comes from :meth:`Sandbox.configure_classic_agi`.

Command line: ``python -m devtools sandbox up|down|restart|status|cli CMD``.
Needs root (debootstrap, chroot, mount).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from switchboard import prompts
from switchboard.core import prompt_texts
from switchboard.dialplan.files import inside_root

LOOPBACK = "127.0.0.1"
AMI_PORT = 15038
SIP_PORT = 15060
FASTAGI_HOST = LOOPBACK
FASTAGI_PORT = 14573
AMI_USERNAME = "switchboard"
#: Fixed, public demo secret: the sandbox AMI only listens on loopback.
AMI_SECRET = "sandbox-demo-secret"
#: Demo phone ``ext`` is played by a SIPp UAS on ``PHONE_PORT_BASE + int(ext)``.
PHONE_PORT_BASE = 16000
#: Outgoing calls on the trunk go to this port (a SIPp stand-in for the PSTN).
PSTN_PORT = PHONE_PORT_BASE
#: RTP (call audio) port range of the sandbox Asterisk.
RTP_START = 17000
RTP_END = 17999
OPERATOR_EXTENSION = "100"
PHONE_EXTENSIONS: tuple[str, ...] = (OPERATOR_EXTENSION, *(str(n) for n in range(200, 210)))

ROOT_ENV = "SWITCHBOARD_SANDBOX_ROOT"
DEFAULT_ROOT = Path("/var/cache/switchboard/sandbox-root")
DEFAULT_DIALPLANS = Path(__file__).resolve().parent.parent / "dialplans"

DEBIAN_SUITE = "sid"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
#: Packages installed into the root besides debootstrap's minbase.  libexpat1: the
#: one library a Debian-built python3 (mounted in for the classic AGI script, see
#: classic_agi_mounts) needs that the root lacks.
ROOT_PACKAGES: tuple[str, ...] = ("asterisk", "asterisk-moh-opsound-gsm", "libexpat1")

BUILD_TIMEOUT_S = 20 * 60
BOOT_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
CLI_TIMEOUT_S = 30.0

_ASTERISK = "/usr/sbin/asterisk"
#: Preloaded into Asterisk, see _LOOPBACK_GUARD_C.
_GUARD_SO = "/usr/local/lib/switchboard/loopback-guard.so"
#: PJSIP creates a DNS resolver whose sockets bind to 0.0.0.0 and [::] and
#: that no Asterisk setting can move or disable (it is created whenever
#: /etc/resolv.conf yields a nameserver, and glibc always yields one).  This
#: LD_PRELOAD shim rewrites wildcard binds to the loopback address, so that
#: whatever a module does, the sandbox cannot listen beyond 127.0.0.1/::1.
_LOOPBACK_GUARD_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    static bind_fn real_bind;
    if (!real_bind)
        real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
    if (addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in a;
        memcpy(&a, addr, sizeof a);
        if (a.sin_addr.s_addr == htonl(INADDR_ANY)) {
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real_bind(fd, (const struct sockaddr *)&a, sizeof a);
        }
    } else if (addr && addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 a;
        memcpy(&a, addr, sizeof a);
        if (IN6_IS_ADDR_UNSPECIFIED(&a.sin6_addr)) {
            a.sin6_addr = in6addr_loopback;
            return real_bind(fd, (const struct sockaddr *)&a, sizeof a);
        }
    }
    return real_bind(fd, addr, len);
}
"""
#: The sandbox needs no DNS; PJSIP's resolver then only talks to loopback.
_SANDBOX_RESOLV_CONF = "# python -m devtools sandbox: no DNS\nnameserver 127.0.0.1\n"
_MARKER = ".switchboard-sandbox.json"
#: Changing one of these needs a restart; anything else is applied by a reload.
_RESTART_FILES = frozenset({"asterisk.conf", "modules.conf"})
#: Directories Asterisk writes to, relative to the root.
_ASTERISK_DIRS = (
    "etc/asterisk",
    "var/lib/asterisk",
    "var/log/asterisk",
    "var/spool/asterisk",
    "var/cache/asterisk",
    "run/asterisk",
)
#: Asterisk's AGI script directory inside the root (astagidir, dialplans/asterisk.conf).
AGI_BIN_DIR = "/usr/share/asterisk/agi-bin"
#: The classic AGI script's name, as the dialplan's AGI() calls it.
CLASSIC_AGI_SCRIPT = "switchboard-agi-recognize"
#: The switchboard config the classic AGI script reads inside the root. The sandbox
#: writes none by itself (see Sandbox.configure_classic_agi): without it the script
#: exits at once with "no DSN" (AGISTATUS=FAILURE) and the call goes on unrecognised.
CLASSIC_AGI_CONFIG = "/etc/switchboard/switchboard.toml"
#: Interpreter prefixes shared with the root's own system: these are never mounted whole.
_SYSTEM_PREFIXES = frozenset({Path("/"), Path("/usr"), Path("/usr/local")})
_CHILD_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/var/lib/asterisk",
    "TERM": "dumb",
}


class SandboxError(RuntimeError):
    """Something the user can act on; the message says what."""


@dataclass(frozen=True)
class SandboxSettings:
    """Where the sandbox lives and what it listens on (all on 127.0.0.1)."""

    root: Path
    ami_port: int = AMI_PORT
    sip_port: int = SIP_PORT
    fastagi_host: str = FASTAGI_HOST
    fastagi_port: int = FASTAGI_PORT
    ami_username: str = AMI_USERNAME
    ami_secret: str = AMI_SECRET
    dialplans: Path = DEFAULT_DIALPLANS
    rtp_start: int = RTP_START
    rtp_end: int = RTP_END

    @classmethod
    def from_env(cls) -> SandboxSettings:
        """Default settings; the root can be moved with $SWITCHBOARD_SANDBOX_ROOT."""
        root = os.environ.get(ROOT_ENV)
        return cls(root=Path(root) if root else DEFAULT_ROOT)

    @property
    def fastagi_url(self) -> str:
        return f"agi://{self.fastagi_host}:{self.fastagi_port}"

    @property
    def cache_dir(self) -> Path:
        """Directory holding the root and the sandbox's pid, log and lock files."""
        return self.root.parent

    def _state_file(self, suffix: str) -> Path:
        return self.cache_dir / f"{self.root.name}.{suffix}"

    @property
    def pid_file(self) -> Path:
        return self._state_file("pid")

    @property
    def console_log(self) -> Path:
        """Asterisk's stdout/stderr."""
        return self._state_file("console.log")

    @property
    def build_log(self) -> Path:
        return self._state_file("build.log")

    @property
    def lock_file(self) -> Path:
        return self._state_file("lock")

    @property
    def messages_log(self) -> Path:
        """Asterisk's own log (logger.conf), seen from outside the chroot."""
        return self.root / "var/log/asterisk/messages.log"


@dataclass(frozen=True)
class SandboxStatus:
    root_built: bool
    running: bool
    pid: int | None
    version: str | None


def site_files(settings: SandboxSettings) -> dict[str, str]:
    """The generated ``*_site.conf`` files that the shipped configs ``#tryinclude``."""
    header = (
        "; Generated by devtools.sandbox for the test sandbox: do not edit,\n"
        "; it is rewritten on every 'python -m devtools sandbox up'.\n"
        "; The shipped config #tryincludes it so that these values win\n"
        "; (see dialplans/README.md).\n\n"
    )
    return {
        "pjsip_site.conf": header + f"[transport-udp](+)\nbind = {LOOPBACK}:{settings.sip_port}\n",
        "manager_site.conf": header
        + f"[general](+)\nport = {settings.ami_port}\nbindaddr = {LOOPBACK}\n\n"
        + f"[{settings.ami_username}](+)\nsecret = {settings.ami_secret}\n",
        "extensions_site.conf": header
        + f"[globals](+)\nSWITCHBOARD_FASTAGI = {settings.fastagi_url}\n",
        "rtp_site.conf": header
        + f"[general](+)\nrtpstart = {settings.rtp_start}\nrtpend = {settings.rtp_end}\n",
    }


def _is_within(path: Path, other: Path) -> bool:
    return path == other or other in path.parents


def classic_agi_mounts(
    *,
    executable: Path | None = None,
    prefix: Path | None = None,
    base_prefix: Path | None = None,
    source: Path | None = None,
) -> list[Path]:
    """Host paths the classic AGI script needs inside the root, at the same paths.

    They are what the Python running this module is made of (the defaults): its
    virtualenv (``prefix``), the installation the virtualenv was made from
    (``base_prefix``) and the directory holding the project's packages (``source``:
    the checkout for an editable install). A path inside another one is left out.

    A Python installed in a system prefix (``/usr``, Debian's ``python3``) cannot be
    mounted whole over the root's own ``/usr``: then its standard library directory
    and its interpreter binary (and the symlinks leading to it, which
    :meth:`Sandbox._install_classic_agi` recreates) are listed instead.
    """
    executable = Path(sys.executable) if executable is None else executable
    prefix = Path(sys.prefix) if prefix is None else prefix
    base_prefix = Path(sys.base_prefix) if base_prefix is None else base_prefix
    source = Path(__file__).resolve().parent.parent if source is None else source
    wanted = [prefix, source]
    if base_prefix in _SYSTEM_PREFIXES:
        wanted.append(Path(sysconfig.get_paths()["stdlib"]))
        wanted.append(executable.resolve())
    else:
        wanted.append(base_prefix)
    mounts: list[Path] = []
    for path in sorted(set(wanted), key=lambda p: (len(p.parts), str(p))):
        if not any(_is_within(path, outer) for outer in mounts):
            mounts.append(path)
    return mounts


def classic_agi_wrapper(python: Path) -> str:
    """The shell script Asterisk runs as ``AGI(switchboard-agi-recognize,...)``."""
    return f"""#!/bin/sh
# Generated by devtools.sandbox on every 'python -m devtools sandbox up': do not edit.
# The classic AGI script (pbx_agi/classic_agi.py), run with the Python that ran
# 'sandbox up'. That Python, its virtualenv and the checkout are bind-mounted
# read-only at the same paths inside this root.  -I: ignore PYTHON* variables,
# user site-packages and the current directory.
SWITCHBOARD_CONFIG={CLASSIC_AGI_CONFIG}
export SWITCHBOARD_CONFIG
exec {python} -I -m pbx_agi.classic_agi "$@"
"""


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _same_file(a: Path, b: Path) -> bool:
    try:
        first, second = a.stat(), b.stat()
    except OSError:
        return False
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def _mounts_under(path: Path) -> list[Path]:
    """Mount points at or below ``path``, deepest first."""
    prefix = str(path.resolve()) if path.exists() else str(path)
    found: list[Path] = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            mount_point = line.split()[4].replace("\\040", " ")
            if mount_point == prefix or mount_point.startswith(prefix + "/"):
                found.append(Path(mount_point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _unmount_all_under(path: Path) -> None:
    for mount_point in _mounts_under(path):
        result = subprocess.run(
            ["umount", str(mount_point)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            # Busy (e.g. a process still has a file open there): detach it.
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, check=False)


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (reaping it if it is our child)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def _proc_root(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/root")
    except OSError:
        return None


def _proc_exe_is_asterisk(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(cmdline) and cmdline[0] in (_ASTERISK.encode(), b"asterisk")


class Sandbox:
    """Build, start, stop and query the sandbox Asterisk."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.root = settings.root

    # ----------------------------------------------------------------- public

    def up(self) -> None:
        """Make sure the sandbox runs with the current configs (idempotent).

        Builds the root if missing, (re)installs ``dialplans/`` and the site
        files, starts Asterisk (or reloads it if the configs changed) and waits
        until it is fully booted.
        """
        self._require_root_user()
        with self._locked():
            if not self._root_built():
                self._build_root()
            self._ensure_packages()
            changed = self._install_configs()
            self._install_prompts()
            try:
                self._install_classic_agi()
            except SandboxError as exc:
                # Only the fallback is missing then: FastAGI calls work as before, and a
                # call that needs the script gets AGISTATUS=NOTFOUND/FAILURE and goes on.
                print(f"Warning: no classic AGI script in the sandbox: {exc}", file=sys.stderr)
            pid = self._running_pid()
            if pid is not None and changed & _RESTART_FILES:
                self._stop(pid)
                pid = None
            if pid is None:
                pid = self._start()
                self._wait_fully_booted(pid)
            else:
                self._wait_fully_booted(pid)
                if changed:
                    self._cli("core reload")
                    self._wait_fully_booted(pid)

    def down(self) -> None:
        """Stop Asterisk (gracefully, then by force) and unmount /proc."""
        self._require_root_user()
        with self._locked():
            pid = self._running_pid()
            if pid is not None:
                self._stop(pid)
            if self.root.exists() and _mounts_under(self.root):
                _unmount_all_under(self.root)
            self.settings.pid_file.unlink(missing_ok=True)

    def restart(self) -> None:
        self.down()
        self.up()

    def status(self) -> SandboxStatus:
        built = self._root_built()
        pid = self._running_pid()
        version: str | None = None
        if built:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                result = subprocess.run(
                    ["chroot", str(self.root), _ASTERISK, "-V"],
                    capture_output=True,
                    text=True,
                    timeout=CLI_TIMEOUT_S,
                    env=_CHILD_ENV,
                    check=False,
                )
                if result.returncode == 0:
                    version = result.stdout.strip() or None
        return SandboxStatus(root_built=built, running=pid is not None, pid=pid, version=version)

    def cli(self, command: str) -> str:
        """Run an Asterisk CLI command (``asterisk -rx``) and return its output."""
        if self._running_pid() is None:
            raise SandboxError(
                "the sandbox Asterisk is not running: run 'python -m devtools sandbox up'"
            )
        return self._cli(command)

    def configure_classic_agi(self, config_text: str | None) -> None:
        """Write (or with ``None`` remove) the classic AGI script's switchboard config.

        It is the TOML an admin would write, at :data:`CLASSIC_AGI_CONFIG` inside the
        root, readable by the ``asterisk`` user only (it holds the DSN). The script
        reads it on every call: no reload needed.
        """
        self._require_root_user()
        path = self.root / CLASSIC_AGI_CONFIG.lstrip("/")
        if config_text is None:
            path.unlink(missing_ok=True)
            return
        _, gid = self._asterisk_ids()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(config_text, encoding="utf-8")
        os.chown(tmp, 0, gid)
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)

    # --------------------------------------------------------------- building

    def _root_built(self) -> bool:
        return (self.root / _ASTERISK.lstrip("/")).is_file()

    def _require_root_user(self) -> None:
        if os.geteuid() != 0:
            raise SandboxError(
                "the sandbox needs root (debootstrap, chroot and mount): run it as root"
            )

    def _build_root(self) -> None:
        if shutil.which("debootstrap") is None:
            raise SandboxError("debootstrap not found: apt-get install debootstrap")
        cache = self.settings.cache_dir
        cache.mkdir(parents=True, exist_ok=True)
        self._remove_stale_builds()
        tmp = cache / f".{self.root.name}.build-{os.getpid()}"
        cmd = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(ROOT_PACKAGES)}",
            DEBIAN_SUITE,
            str(tmp),
            DEBIAN_MIRROR,
        ]
        log_path = self.settings.build_log
        print(
            f"Building the sandbox root in {self.root} (about a minute; log: {log_path})",
            file=sys.stderr,
        )
        started = time.monotonic()
        try:
            with log_path.open("wb") as log:
                log.write(("$ " + " ".join(cmd) + "\n").encode())
                log.flush()
                try:
                    result = subprocess.run(
                        cmd,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        timeout=BUILD_TIMEOUT_S,
                        check=False,
                    )
                except subprocess.TimeoutExpired as exc:
                    raise SandboxError(
                        f"debootstrap did not finish within {BUILD_TIMEOUT_S} s; "
                        f"last lines of {log_path}:\n{log_tail(log_path)}"
                    ) from exc
            if result.returncode != 0:
                raise SandboxError(
                    f"debootstrap failed (exit {result.returncode}); "
                    f"last lines of {log_path}:\n{log_tail(log_path)}"
                )
            if not (tmp / _ASTERISK.lstrip("/")).is_file():
                raise SandboxError(f"debootstrap finished but {_ASTERISK} is missing in {tmp}")
            # Downloaded .deb files are not needed any more (~100 MB).
            subprocess.run(
                ["chroot", str(tmp), "apt-get", "clean"],
                capture_output=True,
                env=_CHILD_ENV,
                check=False,
            )
            self._write_marker(tmp, ROOT_PACKAGES)
            _unmount_all_under(tmp)
            try:
                os.rename(tmp, self.root)
            except OSError as exc:
                if self._root_built():  # someone else finished first
                    return
                raise SandboxError(f"cannot move the new root to {self.root}: {exc}") from exc
        finally:
            if tmp.exists():
                _unmount_all_under(tmp)
                shutil.rmtree(tmp, ignore_errors=True)
        print(f"Sandbox root built in {time.monotonic() - started:.0f} s", file=sys.stderr)

    def _remove_stale_builds(self) -> None:
        """Remove half-built roots left by interrupted builds."""
        for stale in self.settings.cache_dir.glob(f".{self.root.name}.build-*"):
            pid_text = stale.name.rsplit("-", 1)[-1]
            if pid_text.isdigit() and int(pid_text) != os.getpid() and pid_alive(int(pid_text)):
                continue  # another process is building right now
            _unmount_all_under(stale)
            if not _mounts_under(stale):
                shutil.rmtree(stale, ignore_errors=True)

    @staticmethod
    def _write_marker(root: Path, packages: Sequence[str]) -> None:
        marker = {
            "suite": DEBIAN_SUITE,
            "mirror": DEBIAN_MIRROR,
            "packages": sorted(packages),
            "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (root / _MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")

    def _ensure_packages(self) -> None:
        """Install packages added to ROOT_PACKAGES since the root was built."""
        marker_path = self.root / _MARKER
        try:
            have = set(json.loads(marker_path.read_text(encoding="utf-8"))["packages"])
        except (OSError, ValueError, KeyError, TypeError):
            have = set()
        missing = [p for p in ROOT_PACKAGES if p not in have]
        if not missing:
            return
        dpkg = subprocess.run(
            ["chroot", str(self.root), "dpkg-query", "-W", "-f=${Status}\\n", *missing],
            capture_output=True,
            text=True,
            env=_CHILD_ENV,
            check=False,
        )
        if dpkg.returncode != 0 or dpkg.stdout.count("install ok installed") != len(missing):
            print(f"Installing {' '.join(missing)} into {self.root}", file=sys.stderr)
            # apt needs the host's DNS; Asterisk gets the sandbox's again at start.
            with contextlib.suppress(OSError):
                shutil.copyfile("/etc/resolv.conf", self.root / "etc/resolv.conf")
            for cmd in (
                # The mirror may serve a Release file past its Valid-Until date.
                ["apt-get", "-o", "Acquire::Check-Valid-Until=false", "update"],
                ["apt-get", "install", "-y", "--no-install-recommends", *missing],
                ["apt-get", "clean"],
            ):
                result = subprocess.run(
                    ["chroot", str(self.root), *cmd],
                    capture_output=True,
                    text=True,
                    env={**_CHILD_ENV, "DEBIAN_FRONTEND": "noninteractive"},
                    timeout=BUILD_TIMEOUT_S,
                    check=False,
                )
                if result.returncode != 0:
                    raise SandboxError(
                        f"{' '.join(cmd)} failed in {self.root}:\n{result.stdout[-2000:]}"
                        f"{result.stderr[-2000:]}"
                    )
        self._write_marker(self.root, sorted(have | set(missing)))

    # ---------------------------------------------------------------- configs

    def _asterisk_ids(self) -> tuple[int, int]:
        """uid and gid of the 'asterisk' user inside the root (not the host's)."""
        uid = gid = None
        for line in (self.root / "etc/passwd").read_text(encoding="utf-8").splitlines():
            fields = line.split(":")
            if len(fields) > 3 and fields[0] == "asterisk":
                uid, gid = int(fields[2]), int(fields[3])
        if uid is None or gid is None:
            raise SandboxError(f"no 'asterisk' user in {self.root}/etc/passwd: is the root broken?")
        return uid, gid

    def desired_configs(self) -> dict[str, bytes]:
        """Everything /etc/asterisk should contain: dialplans/*.conf plus site files."""
        source = self.settings.dialplans
        if not source.is_dir():
            raise SandboxError(f"dialplans directory not found: {source}")
        files = {p.name: p.read_bytes() for p in sorted(source.glob("*.conf")) if p.is_file()}
        if "modules.conf" not in files:
            raise SandboxError(f"{source}/modules.conf is missing")
        for name, text in site_files(self.settings).items():
            if name in files:
                raise SandboxError(f"{source}/{name} would be overwritten by the sandbox")
            files[name] = text.encode()
        return files

    def _install_configs(self) -> set[str]:
        """Make ROOT/etc/asterisk hold exactly our configs; return the changed names."""
        uid, gid = self._asterisk_ids()
        for rel in _ASTERISK_DIRS:
            d = self.root / rel
            d.mkdir(parents=True, exist_ok=True)
            os.chown(d, uid, gid)
        etc = self.root / "etc/asterisk"
        os.chmod(etc, 0o750)
        desired = self.desired_configs()
        changed: set[str] = set()
        for entry in etc.iterdir():
            if entry.name in desired and entry.is_file() and not entry.is_symlink():
                continue
            # Stock sample configs (and manager.d/) would load and bind ports.
            changed.add(entry.name)
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        for name, content in desired.items():
            path = etc / name
            try:
                current: bytes | None = path.read_bytes()
            except FileNotFoundError:
                current = None
            if current != content:
                changed.add(name)
                tmp = path.with_name(f".{name}.tmp")
                tmp.write_bytes(content)
                os.replace(tmp, path)
            os.chown(path, uid, gid)
            os.chmod(path, 0o640)
        return changed

    # -------------------------------------------------------- classic AGI script

    def _install_prompts(self) -> None:
        """The callers' prompts (`switchboard prompts build`) in the root's sounds
        directory, spoken again when the catalogue changed since."""
        sounds = self.root / "usr/share/asterisk/sounds"
        catalogue = Path(prompt_texts.__file__)
        for language in prompt_texts.LANGUAGES:
            # Debian's sounds/en links to /etc/alternatives/...: absolute inside the root.
            directory = self._inside_root(sounds / language)
            manifest = directory / "switchboard" / prompts.MANIFEST
            if manifest.exists() and manifest.stat().st_mtime >= catalogue.stat().st_mtime:
                continue
            try:
                prompts.build(sounds, [language], language_dirs={language: directory})
            except prompts.PromptError as exc:
                # The calls still work: Asterisk skips a prompt it cannot find.
                print(f"Warning: no {language} prompts in the sandbox: {exc}", file=sys.stderr)

    def _inside_root(self, path: Path) -> Path:
        """``path`` (inside the root) with its symbolic links followed as the chroot's
        Asterisk sees them: an absolute link target is a path inside the root."""
        try:
            return inside_root(self.root, path)
        except OSError as exc:
            raise SandboxError(str(exc)) from exc

    def _install_classic_agi(self) -> None:
        """Mount this Python read-only into the root and write the AGI wrapper (idempotent).

        Cheap when nothing changed: one read of /proc/self/mountinfo and one small
        file comparison. Mounts stay until ``down()``, which unmounts everything
        under the root; being read-only, they also survive an ``rm -rf`` of the root.
        """
        mounted = set(_mounts_under(self.root)) if self.root.exists() else set()
        for source in classic_agi_mounts():
            self._bind_read_only(source, mounted)
        # A Python from /usr: recreate the symlinks from the venv's bin/python to the
        # binary (e.g. /usr/bin/python3 -> python3.11), which live in the root's /usr.
        link = Path(sys.executable)
        for _ in range(10):
            if not link.is_symlink():
                break
            target = Path(os.readlink(link))
            inside = self.root.resolve() / str(link).lstrip("/")
            if not inside.exists() and not inside.is_symlink():
                inside.parent.mkdir(parents=True, exist_ok=True)
                inside.symlink_to(target)
            link = target if target.is_absolute() else link.parent / target
        script = self.root / AGI_BIN_DIR.lstrip("/") / CLASSIC_AGI_SCRIPT
        content = classic_agi_wrapper(Path(sys.executable))
        with contextlib.suppress(OSError):
            if script.read_text(encoding="utf-8") == content:
                return
        script.parent.mkdir(parents=True, exist_ok=True)
        tmp = script.with_name(f".{script.name}.tmp")
        tmp.write_text(content, encoding="utf-8")
        os.chmod(tmp, 0o755)
        os.replace(tmp, script)

    def _bind_read_only(self, source: Path, mounted: set[Path]) -> None:
        """Bind-mount host path ``source`` read-only at the same path inside the root."""
        # Resolved, to compare with /proc/self/mountinfo: a second mount on top of
        # the first on every 'up' is what this must never do.
        root = self.root.resolve()
        target = root / str(source).lstrip("/")
        if target in mounted:
            if _same_file(source, target):
                return
            # The host path was deleted and made anew (a fresh clone at the same
            # path): the old mount still shows the deleted tree, so mount again.
            subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)
        if _is_within(root, source) or _is_within(source, root):
            raise SandboxError(f"cannot mount {source} into the sandbox root {root}")
        # The asterisk user must be able to pass through every directory on the way
        # (the root's own /root is 0700, and pyenv lives in /root/.pyenv).
        for parent in reversed(target.parents):
            if not _is_within(parent, root) or parent == root:
                continue
            if not parent.exists():
                parent.mkdir(mode=0o755)
            elif not parent.stat().st_mode & 0o001:
                parent.chmod(parent.stat().st_mode | 0o001)
        if source.is_dir():
            target.mkdir(exist_ok=True)
        else:
            target.touch(exist_ok=True)
        bind = ["mount", "--bind", str(source), str(target)]
        result = subprocess.run(bind, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SandboxError(f"{' '.join(bind)} failed: {result.stderr.strip()}")
        # A bind mount starts writable; never leave it so (rm -rf of the root would
        # then reach the host's files).
        remount = ["mount", "-o", "remount,bind,ro", str(target)]
        result = subprocess.run(remount, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            subprocess.run(["umount", str(target)], capture_output=True, check=False)
            raise SandboxError(f"{' '.join(remount)} failed: {result.stderr.strip()}")
        mounted.add(target)

    # ------------------------------------------------------------- processes

    def _running_pid(self) -> int | None:
        """Pid of the Asterisk running in our root, from the pid file or /proc."""
        root = str(self.root.resolve()) if self.root.exists() else str(self.root)
        candidates: list[int] = []
        with contextlib.suppress(OSError, ValueError):
            candidates.append(int(self.settings.pid_file.read_text(encoding="utf-8").strip()))
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                candidates.append(int(entry.name))
        for pid in candidates:
            if _proc_root(pid) == root and _proc_exe_is_asterisk(pid) and pid_alive(pid):
                # "asterisk -rx" clients also live in the root; the daemon is
                # the one with -f in its command line.
                with contextlib.suppress(OSError):
                    args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                    if b"-f" in args:
                        return pid
        return None

    def _mount_proc(self) -> None:
        proc = self.root / "proc"
        proc.mkdir(exist_ok=True)
        if not os.path.ismount(proc):
            result = subprocess.run(
                ["mount", "-t", "proc", "proc", str(proc)],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise SandboxError(f"cannot mount /proc in {self.root}: {result.stderr.strip()}")
        for dev in ("null", "zero", "random", "urandom", "tty"):
            if not (self.root / "dev" / dev).exists():
                raise SandboxError(f"{self.root}/dev/{dev} is missing: rebuild the root")

    def _ensure_loopback_guard(self) -> None:
        """Compile the LD_PRELOAD loopback guard into the root (host gcc)."""
        target = self.root / _GUARD_SO.lstrip("/")
        source = target.with_suffix(".c")
        try:
            if source.read_text(encoding="utf-8") == _LOOPBACK_GUARD_C and target.is_file():
                return
        except OSError:
            pass
        gcc = shutil.which("gcc") or shutil.which("cc")
        if gcc is None:
            raise SandboxError(
                "gcc not found (needed once to build the sandbox's loopback guard): "
                "apt-get install gcc libc6-dev"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        source.write_text(_LOOPBACK_GUARD_C, encoding="utf-8")
        tmp = target.with_name(target.name + ".tmp")
        result = subprocess.run(
            [gcc, "-shared", "-fPIC", "-O2", "-o", str(tmp), str(source), "-ldl"],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            source.unlink(missing_ok=True)
            raise SandboxError(f"cannot build the loopback guard:\n{result.stderr.strip()}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)

    def _start(self) -> int:
        self._mount_proc()
        self._ensure_loopback_guard()
        (self.root / "etc/resolv.conf").write_text(_SANDBOX_RESOLV_CONF, encoding="utf-8")
        (self.root / "run/asterisk/asterisk.ctl").unlink(missing_ok=True)
        cmd = [
            "chroot",
            str(self.root),
            # Set LD_PRELOAD inside the root only (chroot itself runs outside).
            "/usr/bin/env",
            f"LD_PRELOAD={_GUARD_SO}",
            _ASTERISK,
            "-f",  # foreground: we are its parent, no fork
            "-n",  # no colours in the console log
            "-U",
            "asterisk",
            "-G",
            "asterisk",
        ]
        with self.settings.console_log.open("wb") as log:
            log.write(f"=== {time.strftime('%F %T')} $ {' '.join(cmd)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the CLI/test run that started it
                close_fds=True,
                env=_CHILD_ENV,
            )
        self.settings.pid_file.write_text(f"{proc.pid}\n", encoding="utf-8")
        return proc.pid

    def _stop(self, pid: int) -> None:
        with contextlib.suppress(SandboxError, subprocess.SubprocessError):
            self._cli("core stop now", timeout=STOP_TIMEOUT_S)
        if self._wait_exit(pid, STOP_TIMEOUT_S):
            return
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            if self._wait_exit(pid, wait):
                return
        raise SandboxError(f"Asterisk (pid {pid}) does not stop, even after SIGKILL")

    @staticmethod
    def _wait_exit(pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return True
            time.sleep(0.1)
        return not pid_alive(pid)

    def _cli(self, command: str, *, timeout: float = CLI_TIMEOUT_S) -> str:
        try:
            result = subprocess.run(
                ["chroot", str(self.root), _ASTERISK, "-rx", command],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=_CHILD_ENV,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"'asterisk -rx {command}' timed out after {timeout} s") from exc
        if result.returncode != 0:
            raise SandboxError(
                f"'asterisk -rx {command}' failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()}"
            )
        return result.stdout

    def _wait_fully_booted(self, pid: int, timeout: float = BOOT_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        last_error = ""
        while True:
            if not pid_alive(pid):
                raise SandboxError(f"Asterisk exited during startup.\n{self._log_tails()}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxError(
                    f"Asterisk did not become fully booted within {timeout:.0f} s "
                    f"({last_error}).\n{self._log_tails()}"
                )
            try:
                out = self._cli("core waitfullybooted", timeout=max(1.0, remaining))
                if "fully booted" in out.lower():
                    return
                last_error = out.strip()
            except SandboxError as exc:  # control socket not there yet
                last_error = str(exc)
            time.sleep(0.2)

    def _log_tails(self) -> str:
        parts = []
        for path in (self.settings.console_log, self.settings.messages_log):
            tail = log_tail(path)
            if tail:
                parts.append(f"--- last lines of {path} ---\n{tail}")
        return "\n".join(parts) or "(no Asterisk log output)"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise up/down across processes (several test runs may share it)."""
        cache = self.settings.cache_dir
        try:
            cache.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.settings.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SandboxError(f"cannot use cache directory {cache}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def main(argv: list[str]) -> int:
    """``python -m devtools sandbox up|down|restart|status|cli CMD``."""
    parser = argparse.ArgumentParser(
        prog="python -m devtools sandbox",
        description="Run a real Asterisk 22 in a chroot on 127.0.0.1 for development and tests.",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("up", help="build if needed, install configs, start or reload")
    sub.add_parser("down", help="stop Asterisk and unmount")
    sub.add_parser("restart", help="down, then up")
    sub.add_parser("status", help="show whether the sandbox is built and running")
    cli_parser = sub.add_parser("cli", help="run an Asterisk CLI command (asterisk -rx)")
    cli_parser.add_argument("command", nargs="+", help='e.g. "queue show switchboard"')
    args = parser.parse_args(argv)

    settings = SandboxSettings.from_env()
    sandbox = Sandbox(settings)
    try:
        if args.action == "up":
            started = time.monotonic()
            sandbox.up()
            status = sandbox.status()
            print(
                f"Sandbox up in {time.monotonic() - started:.1f} s: {status.version}, "
                f"pid {status.pid}\n"
                f"  AMI     {LOOPBACK}:{settings.ami_port} "
                f"user {settings.ami_username} secret {settings.ami_secret}\n"
                f"  SIP     udp {LOOPBACK}:{settings.sip_port} (trunk)\n"
                f"  FastAGI {settings.fastagi_url} (switchboard listens there)\n"
                f"  phones  SIPp on {LOOPBACK}:{PHONE_PORT_BASE}+ext"
            )
        elif args.action == "down":
            sandbox.down()
            print("Sandbox stopped")
        elif args.action == "restart":
            sandbox.restart()
            print("Sandbox restarted")
        elif args.action == "status":
            st = sandbox.status()
            for key, value in dataclasses.asdict(st).items():
                print(f"{key}: {value}")
            print(f"root: {settings.root}")
            return 0 if st.running else 3
        elif args.action == "cli":
            sys.stdout.write(sandbox.cli(" ".join(args.command)))
    except SandboxError as exc:
        print(f"python -m devtools sandbox: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

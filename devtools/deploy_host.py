"""A booted Debian host for testing the Ansible role: ``systemd-nspawn -b`` of a
debootstrapped root, reached by Ansible's ``community.docker.nsenter`` connection.

The base root is Debian (sid, because sid packages Asterisk 22; Debian 12 and 13 do
not) ``minbase`` plus only what a freshly installed host has: systemd as init, dbus,
python3 and ca-certificates. It is built once with debootstrap into the cache
directory outside the repo (``/var/cache/switchboard/deploy-host-base``, or
``$SWITCHBOARD_DEPLOY_HOST_BASE``) and reused, like the sandbox's root. Everything
the product needs (PostgreSQL, Asterisk, python3-venv, ...) is the role's to install.

Each run makes a fresh root from the base (an overlay whose upper layer takes every
change, or a ``cp -a --reflink=auto`` copy without overlayfs) in a run directory of its
own under ``deploy-host-runs/NAME`` and boots it with ``systemd-nspawn -b --register=no
--keep-unit`` in the host's network namespace (so apt and pip inside reach the
registries, and the deployed services' ports are the host's: give them ports of
their own). :meth:`DeployHost.stop` powers it off and removes the run copy;
:func:`remove_stale_runs` removes what a killed run left behind.

Command line: ``python -m devtools deploy-host build|boot NAME|stop NAME|clean``.
Needs root (debootstrap, systemd-nspawn, nsenter).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devtools.sandbox import log_tail, pid_alive

CACHE_DIR = Path("/var/cache/switchboard")
BASE_ENV = "SWITCHBOARD_DEPLOY_HOST_BASE"
DEFAULT_BASE = CACHE_DIR / "deploy-host-base"
DEBIAN_SUITE = "sid"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
#: What a freshly installed Debian host has besides minbase; nothing of the product's.
BASE_PACKAGES: tuple[str, ...] = ("systemd-sysv", "dbus", "python3", "ca-certificates")
BUILD_TIMEOUT_S = 20 * 60
BOOT_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
_MARKER = ".switchboard-deploy-host.json"
#: Bumped when :func:`_prepare_base` changes: a cached base is prepared again (cheap).
PREPARED_VERSION = 2
_RUN_STATE = "run.json"
#: The environment of every command started here, inside the host or not.
CHILD_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root"}
#: What community.docker.nsenter enters; :meth:`DeployHost.run` enters the same.
NSENTER_FLAGS = ("--ipc", "--mount", "--net", "--pid", "--uts")
#: sid's systemd (262) refuses the legacy (v1) cgroup hierarchy that systemd-nspawn
#: picks by itself on a host whose /sys/fs/cgroup is a hybrid tmpfs: give the
#: container the unified (v2) hierarchy, which the host has at /sys/fs/cgroup/unified.
NSPAWN_ENV = {"SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1"}


class DeployHostError(RuntimeError):
    """Something the user can act on; the message says what."""


@dataclass(frozen=True)
class Bind:
    """A host directory seen inside the booted host at ``inside``."""

    source: Path
    inside: str
    read_only: bool = True

    def argument(self) -> str:
        """The ``systemd-nspawn --bind[-ro]=`` argument for this bind."""
        flag = "--bind-ro" if self.read_only else "--bind"
        return f"{flag}={self.source}:{self.inside}"


def base_root() -> Path:
    """Where the cached base root lives ($SWITCHBOARD_DEPLOY_HOST_BASE overrides)."""
    value = os.environ.get(BASE_ENV)
    return Path(value) if value else DEFAULT_BASE


def runs_dir(base: Path | None = None) -> Path:
    """The directory holding one directory per run, beside the base root."""
    base = base_root() if base is None else base
    return base.parent / "deploy-host-runs"


def _start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (field 22 of its stat), to tell a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _parent(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    return None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _require_root() -> None:
    if os.geteuid() != 0:
        raise DeployHostError("the deploy host needs root (debootstrap, systemd-nspawn, nsenter)")


def _marker(base: Path) -> dict[str, object]:
    try:
        marker = json.loads((base / _MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return marker if isinstance(marker, dict) else {}


def _write_marker(root: Path) -> None:
    marker = {
        "suite": DEBIAN_SUITE,
        "mirror": DEBIAN_MIRROR,
        "packages": sorted(BASE_PACKAGES),
        "prepared": PREPARED_VERSION,
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (root / _MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def base_built(base: Path | None = None) -> bool:
    """Whether the base root exists and holds every package of :data:`BASE_PACKAGES`."""
    base = base_root() if base is None else base
    marker = _marker(base)
    packages = marker.get("packages")
    return (
        marker.get("suite") == DEBIAN_SUITE
        and isinstance(packages, list)
        and sorted(packages) == sorted(BASE_PACKAGES)
        and (base / "sbin/init").exists()
    )


def build_base(base: Path | None = None, *, log: Path | None = None) -> Path:
    """Build the base root with debootstrap unless it is built already; return it.

    Safe to call from several processes at once (a lock file beside the base): one
    builds, the others wait and reuse. A base whose marker names other packages or
    another suite is built anew. Takes a minute or two; the log is beside the base.
    """
    _require_root()
    base = base_root() if base is None else base
    with _locked(base.with_name(base.name + ".lock")):
        if base_built(base):
            if _marker(base).get("prepared") != PREPARED_VERSION:
                _prepare_base(base)
                _write_marker(base)
            return base
        if shutil.which("debootstrap") is None:
            raise DeployHostError("debootstrap not found: apt-get install debootstrap")
        log = base.with_name(base.name + ".build.log") if log is None else log
        tmp = base.with_name(f".{base.name}.build-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(BASE_PACKAGES)}",
            DEBIAN_SUITE,
            str(tmp),
            DEBIAN_MIRROR,
        ]
        print(f"Building the deploy host's base root in {base} (log: {log})", file=sys.stderr)
        try:
            with log.open("wb") as out:
                out.write(("$ " + " ".join(cmd) + "\n").encode())
                out.flush()
                result = subprocess.run(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=BUILD_TIMEOUT_S,
                    env=CHILD_ENV,
                    check=False,
                )
            if result.returncode != 0:
                raise DeployHostError(
                    f"debootstrap failed (exit {result.returncode}); last lines of {log}:\n"
                    f"{log_tail(log)}"
                )
            _prepare_base(tmp)
            _write_marker(tmp)
            if base.exists():
                shutil.rmtree(base)
            os.rename(tmp, base)
        except subprocess.TimeoutExpired as exc:
            raise DeployHostError(f"debootstrap took longer than {BUILD_TIMEOUT_S} s") from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return base


def _prepare_base(root: Path) -> None:
    """What an installed host has that debootstrap leaves out, and no more."""
    subprocess.run(
        ["chroot", str(root), "apt-get", "clean"], env=CHILD_ENV, capture_output=True, check=False
    )
    (root / "etc/hostname").write_text("deploy-host\n", encoding="utf-8")
    # Empty: systemd-nspawn gives every boot a machine id of its own.
    (root / "etc/machine-id").write_text("", encoding="utf-8")
    # apt's mirror may serve a Release file past its Valid-Until date, which must not
    # break a test run.
    (root / "etc/apt/apt.conf.d/99deploy-host").write_text(
        'Acquire::Check-Valid-Until "false";\n', encoding="utf-8"
    )
    # A throwaway host: dpkg need not fsync every file it unpacks (what debootstrap
    # itself does); the packages and what the role does with them are the same.
    (root / "etc/dpkg/dpkg.cfg.d/99deploy-host-unsafe-io").write_text(
        "force-unsafe-io\n", encoding="utf-8"
    )
    _trust_local_cas(root)


def _trust_local_cas(root: Path) -> None:
    """The certificate authorities this machine adds to Debian's (its own
    ``/usr/local/share/ca-certificates``, e.g. an egress proxy's), trusted inside the
    host too, so that pip there reaches the registries as this machine does."""
    local = Path("/usr/local/share/ca-certificates")
    certificates = sorted(local.glob("*.crt")) if local.is_dir() else []
    if not certificates:
        return
    target = root / "usr/local/share/ca-certificates"
    with contextlib.suppress(OSError):
        if all((target / c.name).read_bytes() == c.read_bytes() for c in certificates) and len(
            list(target.glob("*.crt"))
        ) == len(certificates):
            return  # the base root has them already
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.glob("*.crt"):
        stale.unlink()
    for certificate in certificates:
        shutil.copyfile(certificate, target / certificate.name)
    result = subprocess.run(
        ["chroot", str(root), "update-ca-certificates"],
        capture_output=True,
        text=True,
        env=CHILD_ENV,
        check=False,
    )
    if result.returncode != 0:
        raise DeployHostError(f"update-ca-certificates failed in {root}: {result.stderr.strip()}")


@dataclass
class DeployHost:
    """One booted copy of the base root.

    Contract: :meth:`boot` returns once systemd inside says ``running`` or
    ``degraded``; :attr:`leader_pid` is then the host's PID 1 as this machine sees it
    (what ``ansible_nsenter_pid`` must be). :meth:`stop` is idempotent, powers the
    host off (killing it if it does not go) and removes the run directory.
    """

    name: str
    base: Path = field(default_factory=base_root)
    binds: Sequence[Bind] = ()
    nspawn: subprocess.Popen[bytes] | None = None
    leader_pid: int | None = None

    @property
    def run_dir(self) -> Path:
        return runs_dir(self.base) / self.name

    @property
    def root(self) -> Path:
        """The host's root directory, seen from this machine."""
        return self.run_dir / "root"

    @property
    def console_log(self) -> Path:
        return self.run_dir / "console.log"

    def boot(self, timeout: float = BOOT_TIMEOUT_S) -> None:
        """Make a fresh root from the base, boot it, wait until systemd is up."""
        _require_root()
        if not base_built(self.base):
            raise DeployHostError(f"no base root at {self.base}: call build_base() first")
        if shutil.which("systemd-nspawn") is None:
            raise DeployHostError("systemd-nspawn not found: apt-get install systemd-container")
        remove_stale_runs(self.base)
        if self.run_dir.exists():
            raise DeployHostError(f"{self.run_dir} is in use by another run")
        self.run_dir.mkdir(parents=True)
        _fresh_root(self.base, self.run_dir)
        _trust_local_cas(self.root)
        for bind in self.binds:
            bind.source.mkdir(parents=True, exist_ok=True)
        cmd = [
            "systemd-nspawn",
            "--boot",
            f"--directory={self.root}",
            f"--machine={self.name}",
            # No machined here (and none needed): do not register, stay in our own unit.
            "--register=no",
            "--keep-unit",
            "--console=passive",
            "--resolv-conf=copy-host",
            "--timezone=off",
            *(bind.argument() for bind in self.binds),
        ]
        group = _make_cgroup(self.name)
        if group is not None:
            # systemd-nspawn (--keep-unit, no systemd on this machine) puts the host
            # under its own cgroup: a group of this run's, removed again by stop().
            cmd = ["sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$@"', "sh", *cmd]
        with self.console_log.open("wb") as out:
            out.write(("$ " + " ".join(cmd) + "\n").encode())
            out.flush()
            self.nspawn = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**CHILD_ENV, **NSPAWN_ENV},
                start_new_session=True,
            )
        self._write_state()
        try:
            self.leader_pid = self._find_leader(timeout)
            self._write_state()
            self._wait_running(timeout)
        except BaseException:
            self.stop()
            raise

    def _write_state(self) -> None:
        nspawn = self.nspawn.pid if self.nspawn else None
        state = {
            "nspawn_pid": nspawn,
            "nspawn_start": _start_time(nspawn) if nspawn else None,
            "leader_pid": self.leader_pid,
            "owner_pid": os.getpid(),
        }
        (self.run_dir / _RUN_STATE).write_text(json.dumps(state) + "\n", encoding="utf-8")

    def _find_leader(self, timeout: float) -> int:
        """The pid of the host's init: the child of systemd-nspawn in a new pid namespace."""
        assert self.nspawn is not None
        ours = os.readlink("/proc/self/ns/pid")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.nspawn.poll() is not None:
                raise DeployHostError(
                    f"systemd-nspawn exited ({self.nspawn.returncode}) before the host booted:\n"
                    f"{log_tail(self.console_log)}"
                )
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                pid = int(entry.name)
                if _parent(pid) != self.nspawn.pid:
                    continue
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/ns/pid") != ours:
                        return pid
            time.sleep(0.05)
        raise DeployHostError(f"no container leader after {timeout:.0f} s")

    def _wait_running(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            if self.nspawn is not None and self.nspawn.poll() is not None:
                raise DeployHostError(
                    f"the host stopped while booting:\n{log_tail(self.console_log)}"
                )
            result = self.run(["systemctl", "is-system-running"], check=False, timeout=10)
            state = result.stdout.strip()
            if state in ("running", "degraded"):
                return
            time.sleep(0.2)
        raise DeployHostError(
            f"systemd did not come up within {timeout:.0f} s (is-system-running: {state!r}):\n"
            f"{log_tail(self.console_log)}"
        )

    def nsenter(self, command: Sequence[str]) -> list[str]:
        """``command`` prefixed to run inside the host, as Ansible's connection does."""
        if self.leader_pid is None:
            raise DeployHostError(f"{self.name} is not booted")
        return ["nsenter", *NSENTER_FLAGS, f"--target={self.leader_pid}", "--", *command]

    def run(
        self,
        command: Sequence[str],
        *,
        check: bool = True,
        timeout: float = 60.0,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` inside the host as root; with ``check``, a non-zero exit
        raises :class:`DeployHostError` with its output."""
        result = subprocess.run(
            self.nsenter(command),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=CHILD_ENV,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            check=False,
        )
        if check and result.returncode != 0:
            raise DeployHostError(
                f"{' '.join(command)} exited {result.returncode} in {self.name}:\n"
                f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
            )
        return result

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Power the host off (SIGTERM to systemd-nspawn: a clean shutdown), kill it
        if it does not go within ``timeout``, and remove the run directory."""
        if self.nspawn is not None and self.nspawn.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.nspawn.send_signal(signal.SIGTERM)
            try:
                self.nspawn.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.nspawn.pid, signal.SIGKILL)
                self.nspawn.wait(10)
        if self.leader_pid is not None and pid_alive(self.leader_pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.leader_pid, signal.SIGKILL)
        self.leader_pid = None
        _remove_cgroup(self.name)
        _remove_run_dir(self.run_dir)


def _cgroup_path(name: str) -> Path | None:
    """Where this run's cgroup goes in the unified (v2) hierarchy, if there is one."""
    for root in (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")):
        if (root / "cgroup.procs").exists() and (root / "cgroup.subtree_control").exists():
            return root / f"switchboard-deploy-{name}"
    return None


def _make_cgroup(name: str) -> Path | None:
    group = _cgroup_path(name)
    if group is None:
        return None
    try:
        group.mkdir(exist_ok=True)
    except OSError:
        return None
    return group


def _remove_cgroup(name: str) -> None:
    """Remove this run's cgroup and what the host left in it (empty once it stopped)."""
    group = _cgroup_path(name)
    if group is None or not group.is_dir():
        return
    for directory in sorted(
        (p for p in group.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
    ):
        with contextlib.suppress(OSError):
            directory.rmdir()
    with contextlib.suppress(OSError):
        group.rmdir()


def _fresh_root(base: Path, run_dir: Path) -> None:
    """``run_dir/root``: the base root as a fresh host, which the base never sees change.

    An overlay (the base read-only below, ``run_dir/upper`` taking every change) costs
    nothing to make; where overlayfs is missing, a copy (``cp -a --reflink=auto``) is
    made instead, which took 4 to 40 s here depending on the disk's load.
    """
    root, upper, work = run_dir / "root", run_dir / "upper", run_dir / "work"
    for directory in (root, upper, work):
        directory.mkdir()
    mount = subprocess.run(
        [
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={base},upperdir={upper},workdir={work}",
            str(root),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if mount.returncode == 0:
        return
    root.rmdir()
    copy = subprocess.run(
        ["cp", "-a", "--reflink=auto", str(base), str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if copy.returncode != 0:
        raise DeployHostError(f"cannot copy {base}: {copy.stderr.strip()}")


def _mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mountinfo", encoding="utf-8") as mounts:
        return any(line.split()[4] == target for line in mounts)


def _remove_run_dir(run_dir: Path) -> None:
    """Unmount the run's root (its overlay) and remove the run directory. The binds
    were made in the host's own mount namespace: none is here."""
    root = run_dir / "root"
    if _mounted(root):
        result = subprocess.run(["umount", str(root)], capture_output=True, check=False)
        if result.returncode != 0:
            subprocess.run(["umount", "-l", str(root)], capture_output=True, check=False)
    if run_dir.exists():
        # Even through a mount still there, an overlay's base is never written to.
        shutil.rmtree(run_dir, ignore_errors=True)


def remove_stale_runs(base: Path | None = None) -> list[Path]:
    """Stop and remove runs whose owning process is gone; return the removed dirs."""
    removed: list[Path] = []
    directory = runs_dir(base)
    if not directory.is_dir():
        return removed
    for run_dir in sorted(directory.iterdir()):
        try:
            state = json.loads((run_dir / _RUN_STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {}
        owner = state.get("owner_pid")
        if isinstance(owner, int) and owner != os.getpid() and pid_alive(owner):
            continue
        nspawn = state.get("nspawn_pid")
        if isinstance(nspawn, int) and _start_time(nspawn) == state.get("nspawn_start"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(nspawn, signal.SIGKILL)
        leader = state.get("leader_pid")
        if isinstance(leader, int) and _parent(leader) in (nspawn, 1) and pid_alive(leader):
            with contextlib.suppress(ProcessLookupError):
                os.kill(leader, signal.SIGKILL)
        _remove_cgroup(run_dir.name)
        _remove_run_dir(run_dir)
        removed.append(run_dir)
    return removed


def main(argv: list[str]) -> int:
    """``python -m devtools deploy-host build|boot NAME|stop NAME|clean``."""
    parser = argparse.ArgumentParser(
        prog="python -m devtools deploy-host",
        description="A booted Debian host (systemd-nspawn) for testing the Ansible role.",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("build", help="build the cached base root if missing")
    boot = sub.add_parser("boot", help="boot a fresh copy, print its leader pid, keep it up")
    boot.add_argument("name")
    sub.add_parser("clean", help="remove runs left behind by killed processes")
    args = parser.parse_args(argv)
    try:
        if args.action == "build":
            print(build_base())
        elif args.action == "boot":
            build_base()
            host = DeployHost(args.name)
            host.boot()
            print(
                f"{host.name} up, leader pid {host.leader_pid}; root {host.root}. Ctrl-C stops it.",
                flush=True,
            )
            try:
                assert host.nspawn is not None
                host.nspawn.wait()
            except KeyboardInterrupt:
                pass
            finally:
                host.stop()
        elif args.action == "clean":
            for path in remove_stale_runs():
                print(f"removed {path}")
    except DeployHostError as exc:
        print(f"python -m devtools deploy-host: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""SIPp helpers: outside callers on the sandbox trunk, and demo phones.

Both run ``sipp`` (Debian package ``sip-tester``) as a child process on
127.0.0.1, never through a shell, with SIPp's message and error traces in a
fresh temporary directory (``proc.log_dir``).

* :func:`place_call` / :func:`run_call` -- an outside caller (``tests/sipp/
  caller.xml``): INVITE to the trunk with the given caller number and display
  name, stays ``duration_s`` after being answered, then hangs up (Asterisk
  hanging up first is fine too).
* :func:`start_phone` -- demo extension ``ext`` (``tests/sipp/phone.xml``):
  listens on 127.0.0.1:16000+ext, rings, answers after ``answer_after_s``,
  handles any number of calls until stopped.

The caller name is attacker-controlled in real life; here it is passed to
SIPp as one argv element and escaped as a SIP quoted-string, so quotes,
backslashes, brackets or non-ASCII characters arrive as the same name, and
line breaks cannot inject headers.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from devtools.sandbox import LOOPBACK, PHONE_PORT_BASE, SIP_PORT

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "tests" / "sipp"
CALLER_SCENARIO = SCENARIO_DIR / "caller.xml"
PHONE_SCENARIO = SCENARIO_DIR / "phone.xml"
#: A phone that answers every call "486 Busy Here" (``start_phone(..., busy=True)``).
BUSY_PHONE_SCENARIO = SCENARIO_DIR / "phone_busy.xml"
#: What answered phones send as audio: one second of a-law silence, looped.
AUDIO_FILE = SCENARIO_DIR / "silence.alaw"
#: A caller who hangs up (CANCEL) while the call still rings.
CALLER_CANCEL_SCENARIO = SCENARIO_DIR / "caller_cancel.xml"
#: The number the sandbox trunk receives calls on (any digits work).
DEFAULT_DIALED = "0201234567"
#: SIPp's media port for phone ``ext`` is ``PHONE_MEDIA_PORT_BASE + 4 * ext``
#: (SIPp uses up to 4 consecutive ports for audio and video).
PHONE_MEDIA_PORT_BASE = 20000
#: "Until the other side hangs up" for a phone: a day.
_FOREVER_MS = 86_400_000
_SIP_USER = re.compile(r"[A-Za-z0-9+*._~-]{1,64}")


class SippError(RuntimeError):
    """sipp is missing, did not start, or did not finish in time."""


class SippProcess(subprocess.Popen[bytes]):
    """A running sipp with its trace files in :attr:`log_dir`."""

    log_dir: Path
    role: str
    control_port: int
    #: Local SIP port, and where the calls go (callers only).
    sip_port: int
    remote: tuple[str, int] | None

    @property
    def messages_file(self) -> Path:
        """Every SIP message sent and received (``-trace_msg``)."""
        return self.log_dir / "messages.log"

    @property
    def errors_file(self) -> Path:
        """Unexpected messages and aborted calls (``-trace_err``)."""
        return self.log_dir / "errors.log"

    @property
    def output_file(self) -> Path:
        """sipp's stdout and stderr (statistics screens)."""
        return self.log_dir / "output.log"

    # (Popen already has an "errors" attribute, hence the *_log names.)
    def message_log(self) -> str:
        return _read(self.messages_file)

    def error_log(self) -> str:
        return _read(self.errors_file)

    def output_log(self) -> str:
        return _read(self.output_file)

    def stop(self, timeout: float = 5.0) -> int:
        """Terminate sipp (then kill it) and return its exit code.

        sipp does not hang up its calls when it is terminated, and Asterisk
        would keep such a call (in the queue, say) forever: for a caller
        stopped mid-call we send the BYE ourselves.
        """
        was_running = self.poll() is None
        if was_running:
            self.terminate()
            try:
                self.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        returncode = self.wait()
        if was_running and self.role == "caller":
            with contextlib.suppress(OSError):
                _hang_up_abandoned_call(self)
        return returncode


@dataclass(frozen=True)
class SippResult:
    """Outcome of :func:`run_call`."""

    returncode: int
    duration_s: float
    log_dir: Path
    messages: str
    errors: str
    output: str

    @property
    def ok(self) -> bool:
        """True if the call completed as the scenario expects (exit code 0)."""
        return self.returncode == 0


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def sipp_binary() -> str:
    path = shutil.which("sipp")
    if path is None:
        raise SippError("sipp not found: apt-get install sip-tester")
    return path


def sip_quoted_string_content(name: str) -> str:
    """``name`` escaped for use between the quotes of a SIP display name.

    Backslash and double quote are escaped (RFC 3261 quoted-pair); control
    characters, including CR and LF, become spaces so they cannot end the
    header line.
    """
    cleaned = "".join(" " if ord(ch) < 0x20 or ord(ch) == 0x7F else ch for ch in name)
    return cleaned.replace("\\", "\\\\").replace('"', '\\"')


def _check_sip_user(value: str, what: str) -> str:
    if not _SIP_USER.fullmatch(value):
        raise ValueError(
            f"{what} must be 1-64 characters of A-Z a-z 0-9 + * . _ ~ -, got {value!r}"
        )
    return value


def free_udp_port(host: str = LOOPBACK, count: int = 1) -> int:
    """A UDP port on ``host`` such that ``count`` consecutive ports are free."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((host, 0))
            base = int(probe.getsockname()[1])
        if base + count > 65535:
            continue
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(s)
                s.bind((host, port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise SippError(f"no {count} consecutive free UDP ports on {host}")


def _udp_port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _sip_messages(trace: str) -> list[tuple[str, str]]:
    """(direction, message) pairs from a sipp -trace_msg file."""
    result: list[tuple[str, str]] = []
    for block in re.split(r"^-{20,}.*$", trace, flags=re.MULTILINE):
        head, _, body = block.strip("\n").partition("\n")
        if "message sent" in head:
            result.append(("sent", body.strip("\n")))
        elif "message received" in head:
            result.append(("received", body.strip("\n")))
    return result


def _header(message: str, name: str) -> str | None:
    match = re.search(rf"^{re.escape(name)}:[ \t]*(.*?)\r?$", message, re.MULTILINE | re.IGNORECASE)
    return match.group(1) if match else None


def _hang_up_abandoned_call(proc: SippProcess) -> None:
    """Send BYE for a call that sipp answered but never ended (sipp was stopped)."""
    if proc.remote is None:
        return
    messages = _sip_messages(proc.message_log())
    if any(m.startswith("BYE ") for _, m in messages):
        return  # the call was ended by one side or the other
    answer = next(
        (
            m
            for d, m in reversed(messages)
            if d == "received"
            and m.startswith("SIP/2.0 200")
            and (_header(m, "CSeq") or "").endswith("INVITE")
        ),
        None,
    )
    if answer is None:
        return
    from_, to, call_id = _header(answer, "From"), _header(answer, "To"), _header(answer, "Call-ID")
    contact = re.search(r"<([^>]+)>", _header(answer, "Contact") or "")
    if not (from_ and to and call_id):
        return
    host, port = proc.remote
    target = contact.group(1) if contact else f"sip:{host}:{port}"
    branch = f"z9hG4bK-stop-{time.monotonic_ns()}"
    bye = (
        f"BYE {target} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {LOOPBACK}:{proc.sip_port};branch={branch};rport\r\n"
        f"From: {from_}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n"
        "CSeq: 99 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, proc.sip_port))
        sock.settimeout(0.5)
        for _ in range(3):
            sock.sendto(bye.encode(), (host, port))
            try:
                reply = sock.recv(65535).decode("utf-8", "replace")
            except TimeoutError:
                continue
            if reply.startswith("SIP/2.0 ") and "BYE" in (_header(reply, "CSeq") or ""):
                return


def _spawn(
    role: str,
    args: Sequence[str],
    log_dir: Path | None,
    *,
    sip_port: int,
    remote: tuple[str, int] | None = None,
) -> SippProcess:
    directory = log_dir or Path(tempfile.mkdtemp(prefix=f"switchboard-sipp-{role}-"))
    directory.mkdir(parents=True, exist_ok=True)
    # The scenarios' rtp_stream names its audio file relative to sipp's working
    # directory, read when the scenario loads.
    shutil.copyfile(AUDIO_FILE, directory / AUDIO_FILE.name)
    control_port = free_udp_port(LOOPBACK)
    cmd = [
        sipp_binary(),
        *args,
        "-nostdin",
        # SIPp's remote-control socket: loopback only, and a port of its own
        # (the default 8888 on 0.0.0.0 collides between parallel runs).
        "-ci",
        LOOPBACK,
        "-cp",
        str(control_port),
        "-trace_msg",
        "-message_file",
        str(directory / "messages.log"),
        "-trace_err",
        "-error_file",
        str(directory / "errors.log"),
        # Statistics screen every 10 s instead of every second.
        "-f",
        "10",
    ]
    (directory / "command.txt").write_text(
        "\n".join(cmd) + "\n", encoding="utf-8"
    )  # one argument per line, for debugging
    with (directory / "output.log").open("wb") as out:
        proc = SippProcess(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=directory,
            # Its own session: a Ctrl-C meant for the demo must not kill sipp before
            # the demo has hung its calls up properly.
            start_new_session=True,
        )
    proc.log_dir = directory
    proc.role = role
    proc.control_port = control_port
    proc.sip_port = sip_port
    proc.remote = remote
    return proc


# One key the caller presses in the call, as SIP INFO (application/dtmf-relay, which
# res_pjsip_dtmf_info hands to the dialplan as a DTMF frame).
_KEY_PRESS = """
  <pause milliseconds="{pause_ms}"/>
  <send retrans="500">
    <![CDATA[
      INFO [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      {parties}
      [routes]
      Call-ID: [call_id]
      CSeq: {cseq} INFO
      Contact: {contact}
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal={key}
      Duration=160
    ]]>
  </send>
  <recv response="200"/>
"""
_KEYS = frozenset("0123456789*#")


def keys_scenario(
    keys: Sequence[tuple[float, str]], directory: Path, *, phone: bool = False
) -> Path:
    """The caller's (or with ``phone``, the phone's) scenario with ``keys`` pressed once
    answered: each (seconds after the previous press, or after the answer, key). Written
    into ``directory``."""
    if phone:
        parties = "From: [$to_hdr];tag=[pid]SIPpTag01[call_number]\n      To: [$from_hdr]"
        contact = "<sip:[local_ip]:[local_port];transport=[transport]>"
    else:
        parties = (
            'From: "[caller_name]" <sip:[caller_number]@[local_ip]:[local_port]>'
            ";tag=[pid]SIPpTag00[call_number]\n"
            "      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]"
        )
        contact = "<sip:[caller_number]@[local_ip]:[local_port];transport=[transport]>"
    presses = []
    for i, (pause_s, key) in enumerate(keys):
        if key not in _KEYS or pause_s < 0:
            raise ValueError(f"not a key press: {(pause_s, key)!r}")
        presses.append(
            _KEY_PRESS.format(
                pause_ms=round(pause_s * 1000),
                cseq=10 + i,
                key=key,
                parties=parties,
                contact=contact,
            )
        )
    base = PHONE_SCENARIO if phone else CALLER_SCENARIO
    text = base.read_text(encoding="utf-8")
    text = text.replace("CSeq: 2 BYE", "CSeq: 100 BYE").replace("CSeq: 1 BYE", "CSeq: 100 BYE")
    text = text.replace('  <label id="talking"/>', "".join(presses) + '  <label id="talking"/>', 1)
    path = directory / ("phone_keys.xml" if phone else "caller_keys.xml")
    path.write_text(text, encoding="utf-8")
    return path


def place_call(
    number: str,
    name: str | None,
    *,
    duration_s: float,
    sip_port: int = SIP_PORT,
    host: str = LOOPBACK,
    dialed: str = DEFAULT_DIALED,
    timeout_s: float | None = None,
    local_port: int | None = None,
    log_dir: Path | None = None,
    scenario: Path = CALLER_SCENARIO,
    audio_port: int | None = None,
    keys: Sequence[tuple[float, str]] = (),
) -> SippProcess:
    """Start one outside call to the trunk at ``host:sip_port``, in the background.

    The caller presents ``number`` (From user) and ``name`` (From display name,
    ``None`` for none), dials ``dialed``, stays ``duration_s`` seconds after
    being answered and hangs up.  sipp gives up after ``timeout_s`` (default
    ``duration_s + 30``) and then exits non-zero.  Wait for it, or ``stop()`` it.
    ``audio_port``: the caller's SDP offers this port on ``host`` for the audio it
    receives (a test listening to what the caller hears), instead of sipp's own.
    ``keys``: keys the caller presses once answered (:func:`keys_scenario`); ``-d``
    then counts from the last press.
    """
    _check_sip_user(number, "caller number")
    _check_sip_user(dialed, "dialled number")
    if duration_s < 0:
        raise ValueError("duration_s must not be negative")
    timeout = duration_s + 30.0 if timeout_s is None else timeout_s
    port = local_port or free_udp_port(host)
    media_port = free_udp_port(host, count=4)
    if keys:
        log_dir = log_dir or Path(tempfile.mkdtemp(prefix="switchboard-sipp-caller-"))
        log_dir.mkdir(parents=True, exist_ok=True)
        scenario = keys_scenario(keys, log_dir)
    args = [
        f"{host}:{sip_port}",
        "-sf",
        str(scenario),
        "-i",
        host,
        "-mi",
        host,
        "-p",
        str(port),
        "-mp",
        str(media_port),
        "-m",
        "1",
        "-s",
        dialed,
        "-d",
        str(round(duration_s * 1000)),
        "-timeout",
        f"{max(1, round(timeout))}s",
        "-timeout_error",
        "-key",
        "caller_number",
        number,
        "-key",
        "caller_name",
        sip_quoted_string_content(name or ""),
        "-key",
        "audio_port",
        str(media_port if audio_port is None else audio_port),
    ]
    return _spawn("caller", args, log_dir, sip_port=port, remote=(host, sip_port))


def run_call(
    number: str,
    name: str | None,
    *,
    duration_s: float,
    sip_port: int = SIP_PORT,
    host: str = LOOPBACK,
    dialed: str = DEFAULT_DIALED,
    timeout_s: float | None = None,
    log_dir: Path | None = None,
    scenario: Path = CALLER_SCENARIO,
) -> SippResult:
    """Like :func:`place_call`, but wait for the call to end and return the result."""
    timeout = duration_s + 30.0 if timeout_s is None else timeout_s
    started = time.monotonic()
    proc = place_call(
        number,
        name,
        duration_s=duration_s,
        sip_port=sip_port,
        host=host,
        dialed=dialed,
        timeout_s=timeout,
        log_dir=log_dir,
        scenario=scenario,
    )
    try:
        returncode = proc.wait(timeout + 10.0)
    except subprocess.TimeoutExpired:
        proc.stop()
        raise SippError(
            f"sipp caller did not exit within {timeout + 10.0:.0f} s; logs in {proc.log_dir}"
        ) from None
    return SippResult(
        returncode=returncode,
        duration_s=time.monotonic() - started,
        log_dir=proc.log_dir,
        messages=proc.message_log(),
        errors=proc.error_log(),
        output=proc.output_log(),
    )


def start_phone(
    ext: str,
    *,
    answer_after_s: float,
    hang_up_after_s: float | None = None,
    port: int | None = None,
    host: str = LOOPBACK,
    log_dir: Path | None = None,
    scenario: Path = PHONE_SCENARIO,
    ready_timeout_s: float = 5.0,
    busy: bool = False,
    keys: Sequence[tuple[float, str]] = (),
) -> SippProcess:
    """Start demo phone ``ext``: a SIPp UAS on ``host:16000+ext`` (or ``port``).

    It rings (180) for ``answer_after_s`` seconds, answers, and stays in the
    call until the other side hangs up, or until ``hang_up_after_s`` seconds
    have passed if given.  It takes any number of calls; ``stop()`` it when
    done.  Returns once the phone is listening.  A ``busy`` phone answers every
    call "486 Busy Here" instead of ringing. ``keys``: keys it presses in every call
    once answered (:func:`keys_scenario`), before it stays.
    """
    if not ext.isdigit():
        raise ValueError(f"extension must be digits, got {ext!r}")
    if answer_after_s < 0 or (hang_up_after_s is not None and hang_up_after_s < 0):
        raise ValueError("answer_after_s and hang_up_after_s must not be negative")
    sip_port = port if port is not None else PHONE_PORT_BASE + int(ext)
    if _udp_port_in_use(host, sip_port):
        raise SippError(f"phone {ext}: {host}:{sip_port}/udp is already in use")
    hold_ms = _FOREVER_MS if hang_up_after_s is None else round(hang_up_after_s * 1000)
    media_port = PHONE_MEDIA_PORT_BASE + 4 * int(ext)
    if port is not None or media_port + 4 > 65535 or _udp_port_in_use(host, media_port):
        media_port = free_udp_port(host, count=4)
    if keys:
        log_dir = log_dir or Path(tempfile.mkdtemp(prefix=f"switchboard-sipp-phone{ext}-"))
        log_dir.mkdir(parents=True, exist_ok=True)
        scenario = keys_scenario(keys, log_dir, phone=True)
    args = [
        "-sf",
        str(BUSY_PHONE_SCENARIO if busy else scenario),
        "-i",
        host,
        "-mi",
        host,
        "-p",
        str(sip_port),
        "-mp",
        str(media_port),
        "-d",
        str(round(answer_after_s * 1000)),
        "-key",
        "hold_ms",
        str(hold_ms),
    ]
    proc = _spawn(f"phone{ext}", args, log_dir, sip_port=sip_port)
    deadline = time.monotonic() + ready_timeout_s
    while not _udp_port_in_use(host, sip_port):
        if proc.poll() is not None or time.monotonic() > deadline:
            with contextlib.suppress(Exception):
                proc.stop()
            raise SippError(
                f"phone {ext} did not start listening on {host}:{sip_port}:\n"
                f"{proc.output_log()[-2000:]}{proc.error_log()[-2000:]}"
            )
        time.sleep(0.05)
    return proc

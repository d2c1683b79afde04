"""The AGI wire protocol, as pure synchronous functions (no sockets, no asyncio).

Three jobs:

* read the environment block Asterisk sends first (``agi_xxx: value`` lines up
  to a blank line) into an :class:`AGIEnvironment`;
* build command lines that Asterisk's ``res_agi`` reads back exactly as meant,
  however hostile the values in them (caller names are caller-controlled);
* parse the status lines Asterisk answers with into an :class:`AGIResult`.

How Asterisk reads a command line (``res/res_agi.c``), which the quoting here is
written against:

* ``run_agi`` reads a line with ``fgets`` into a 2048-byte buffer
  (``AGI_BUF_LEN``). A line longer than 2047 bytes is cut there and the rest of
  it is read as the *next command*; a NUL byte ends the C string early and the
  next line is glued on after it. So a command line must be at most
  :data:`MAX_COMMAND_BYTES` bytes including its ``\\n``, and must hold no NUL.
* ``parse_args`` splits it into words: space and tab separate words unless
  quoted or escaped; ``"`` toggles quoting (a quote that opens after whitespace
  starts a word, so ``""`` is an empty word); ``\\`` makes the next character
  literal, inside quotes or not, whatever it is (``\\n`` is the letter ``n``,
  not a newline), and a trailing lone ``\\`` is dropped.

So ``"`` + value with every ``\\`` and ``"`` backslash-escaped + ``"`` is read
back as exactly the value, as one word, provided the value holds no line
break, NUL or other control character: those are removed first.
"""

from __future__ import annotations

import logging
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl

from panoramisk.utils import parse_agi_result, re_kv

__all__ = [
    "MAX_AGI_ARGUMENTS",
    "MAX_COMMAND_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_LINES",
    "AGICommandError",
    "AGICommandTooLong",
    "AGIEnvironment",
    "AGIError",
    "AGIHeaderIncomplete",
    "AGIHeaderTooLarge",
    "AGIProtocolError",
    "AGIResult",
    "EnvironmentReader",
    "MSetWriter",
    "RememberedResults",
    "ReplyReader",
    "app_argument_escape",
    "format_command",
    "get_variable_command",
    "mset_commands",
    "parse_environment",
    "parse_result_line",
    "quote_argument",
    "sanitise_value",
    "set_variable_command",
    "validate_variable_name",
]

log = logging.getLogger(__name__)

#: Upper bound on the whole environment block, in bytes.
MAX_HEADER_BYTES = 64 * 1024
#: Upper bound on the number of lines in the environment block (blank line included).
MAX_HEADER_LINES = 200
#: Longest command line Asterisk reads as one command, ``\n`` included
#: (``fgets`` into ``char buf[AGI_BUF_LEN]`` with ``AGI_BUF_LEN`` = 2048).
MAX_COMMAND_BYTES = 2047


class AGIError(Exception):
    """Base class of every AGI error raised by ``pbx_agi``."""


class AGIProtocolError(AGIError):
    """Asterisk (or whatever is on the other end) sent something that is not AGI."""


class AGIHeaderTooLarge(AGIProtocolError):
    """The environment block is larger than we accept."""


class AGIHeaderIncomplete(AGIProtocolError):
    """The connection ended before the blank line that closes the environment block."""


class AGICommandTooLong(AGIError, ValueError):
    """The command line would not fit in Asterisk's 2048-byte command buffer."""


class AGICommandError(AGIError):
    """Asterisk answered a command with something other than success."""

    def __init__(self, command: str, result: AGIResult) -> None:
        super().__init__(f"{command!r} failed: {result.raw!r}")
        self.command = command
        self.result = result


# ---------------------------------------------------------------------------
# Environment block
# ---------------------------------------------------------------------------

_UNKNOWN = "unknown"  # what Asterisk sends for an absent caller id (S_OR(..., "unknown"))
_HEADER_KEY = re.compile(r"^[A-Za-z0-9_]+$")
_ARG_KEY = re.compile(r"^agi_arg_(\d+)$")


_NO_PARAMS: Mapping[str, str] = MappingProxyType({})


def _none_if_unknown(value: str | None) -> str | None:
    if value is None or value == "" or value == _UNKNOWN:
        return None
    return value


@dataclass(frozen=True)
class AGIEnvironment:
    """The environment block of one AGI request.

    ``raw`` holds every well-formed ``agi_xxx: value`` line as sent (the
    separating ``": "`` removed, nothing else stripped). Lines that were not of
    that form are kept, decoded, in ``malformed_lines``.
    """

    raw: Mapping[str, str]
    network_script: str
    query: str = ""
    params: Mapping[str, str] = field(default_factory=dict)
    arguments: tuple[str, ...] = ()
    malformed_lines: tuple[str, ...] = ()

    @classmethod
    def from_headers(
        cls, headers: Mapping[str, str], malformed_lines: Iterable[str] = ()
    ) -> AGIEnvironment:
        return cls._of(dict(headers), tuple(malformed_lines))

    @classmethod
    def _of(
        cls,
        raw: dict[str, str],
        malformed_lines: tuple[str, ...],
        arguments: tuple[str, ...] | None = None,
    ) -> AGIEnvironment:
        """From a dict of our own (kept, not copied): once per call while the line rings.
        ``arguments``, when the caller knows them already, saves looking for them."""
        script = raw.get("agi_network_script", "")
        path, _, query = script.partition("?")
        if arguments is None:
            arguments = _arguments(raw)
        env = cls.__new__(cls)
        # What the frozen dataclass's __init__ would set, in one step instead of six
        # object.__setattr__ calls.
        env.__dict__.update(
            raw=MappingProxyType(raw),
            network_script=path.strip("/"),
            query=query,
            params=MappingProxyType(dict(parse_qsl(query, keep_blank_values=True)))
            if query
            else _NO_PARAMS,
            arguments=arguments,
            malformed_lines=malformed_lines,
        )
        return env

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.raw.get(key, default)

    @property
    def request(self) -> str | None:
        return self.raw.get("agi_request")

    @property
    def caller_id(self) -> str | None:
        """Caller number, or None when Asterisk has none (it sends ``unknown``)."""
        return _none_if_unknown(self.raw.get("agi_callerid"))

    @property
    def caller_id_name(self) -> str | None:
        """Caller name, or None when Asterisk has none (it sends ``unknown``)."""
        return _none_if_unknown(self.raw.get("agi_calleridname"))

    @property
    def channel(self) -> str | None:
        return self.raw.get("agi_channel")

    @property
    def unique_id(self) -> str | None:
        return self.raw.get("agi_uniqueid")

    @property
    def linked_id(self) -> str | None:
        """``agi_linkedid`` when the dialplan or a patched Asterisk sends it."""
        return self.raw.get("agi_linkedid") or None

    @property
    def extension(self) -> str | None:
        return self.raw.get("agi_extension")

    @property
    def context(self) -> str | None:
        return self.raw.get("agi_context")

    @property
    def language(self) -> str | None:
        return self.raw.get("agi_language")


def _arguments(raw: Mapping[str, str]) -> tuple[str, ...]:
    """The values of agi_arg_1, agi_arg_2, ... in argument order."""
    if "agi_arg_" not in "\n".join(raw):  # one scan in C instead of a loop per key
        return ()
    args: list[tuple[int, str]] = []
    for key, value in raw.items():
        m = _ARG_KEY.fullmatch(key) if key.startswith("agi_arg_") else None
        if m:
            args.append((int(m.group(1)), value))
    return tuple(value for _, value in sorted(args))


# The blank line that ends the block: at the very start, or after a line end.
_BLOCK_END = re.compile(rb"(?:^|\n)\r?\n")
# One well-formed line without CR, as the line-by-line reading below takes it apart: the
# key up to the first colon, one space after it dropped. Every quantifier is possessive:
# a key cannot end before a colon nor a value before a line end, so giving characters
# back never finds another match, and without it a line that fails costs its length
# once, not once per way to split it.
_HEADER_LINE = re.compile(r"^([A-Za-z0-9_]++): ?+([^\r\n]*+)$", re.MULTILINE)

# The keys res_agi sends (res/res_agi.c): agi_network and agi_network_script for FastAGI
# (launch_netscript), then those of setup_env, then agi_arg_1 .. agi_arg_127 (its
# MAX_ARGS is 128, and argv[0] is the script). Only blocks made of these are learnt.
_ASTERISK_KEYS = frozenset(
    {
        "agi_network",
        "agi_network_script",
        "agi_request",
        "agi_channel",
        "agi_language",
        "agi_type",
        "agi_uniqueid",
        "agi_version",
        "agi_callerid",
        "agi_calleridname",
        "agi_callingpres",
        "agi_callingani2",
        "agi_callington",
        "agi_callingtns",
        "agi_dnid",
        "agi_rdnis",
        "agi_context",
        "agi_extension",
        "agi_priority",
        "agi_enhanced",
        "agi_accountcode",
        "agi_threadid",
    }
)
#: The highest N of the ``agi_arg_N`` lines res_agi sends (MAX_ARGS - 1).
MAX_AGI_ARGUMENTS = 127
# agi_arg_%d as res_agi prints it: no sign, no leading zero.
_ASTERISK_ARG_KEY = re.compile(r"agi_arg_([1-9][0-9]{0,2})")


def _sent_by_asterisk(keys: tuple[str, ...]) -> bool:
    """Whether res_agi could have sent these keys (no key twice): none of another name,
    so no more than the 22 it names and agi_arg_1 .. agi_arg_127, 149 lines."""
    for key in keys:
        if key in _ASTERISK_KEYS:
            continue
        m = _ASTERISK_ARG_KEY.fullmatch(key)
        if m is None or int(m.group(1)) > MAX_AGI_ARGUMENTS:
            return False
    return True


def parse_environment(
    data: bytes | str,
    *,
    max_bytes: int = MAX_HEADER_BYTES,
    max_lines: int = MAX_HEADER_LINES,
) -> AGIEnvironment:
    """Parse an environment block up to its blank line (or the end of ``data``).

    Whole lines are decoded (so a UTF-8 sequence split across TCP reads is no
    concern); bytes that are not UTF-8 become U+FFFD and the rest of the value
    is kept. Only LF ends a line, as for Asterisk; a CR before it is dropped.
    Malformed lines, and repeats of a key already seen (the first one wins: a
    line smuggled in through a caller name cannot override the route), are
    reported in ``malformed_lines``, never raised. Only a block over the size
    bounds raises :class:`AGIHeaderTooLarge`.

    Stateless; :class:`EnvironmentReader` reads the same, faster for layouts it has
    seen before. The cost is linear in the size of the block, whatever its content.
    """
    return _read_environment(data, (), max_bytes, max_lines)[0]


class EnvironmentReader:
    """Reads environment blocks exactly as :func:`parse_environment`, learning layouts.

    res_agi sends the same keys in the same order on every call (per Asterisk version
    and number of AGI arguments), and reading a block line by line is much of a call's
    cost while the line rings. The first :attr:`max_layouts` layouts (keys in order) of
    well-formed blocks are remembered, and a block in one of them is read in one regex
    match. Only a layout res_agi could send is learnt: its keys and no other (so at
    most 149 lines, with agi_arg_1 .. agi_arg_127), so that no client can make the
    reader keep long or arbitrary layouts. And only Asterisk teaches it: the FastAGI
    server reads blocks from its allowed peers alone, refusing a stranger before it
    has sent a byte.

    Reading costs time linear in the size of the block, for every input. One reader
    per server: the layouts it learns are those of the Asterisk that calls it.
    """

    __slots__ = ("_layouts", "max_layouts")

    def __init__(self, max_layouts: int = 8) -> None:
        self.max_layouts = max_layouts
        self._layouts: list[_Layout] = []

    @property
    def layouts(self) -> tuple[tuple[str, ...], ...]:
        """The keys of each layout learnt so far, in the order learnt."""
        return tuple(layout.keys for layout in self._layouts)

    def read(self, data: bytes | str) -> AGIEnvironment:
        """:func:`parse_environment` of ``data``, with the default size bounds."""
        env, keys = _read_environment(data, self._layouts, MAX_HEADER_BYTES, MAX_HEADER_LINES)
        if keys is not None and len(self._layouts) < self.max_layouts and _sent_by_asterisk(keys):
            self._layouts.append(_Layout(keys))
        return env


def _read_environment(
    data: bytes | str, layouts: Sequence[_Layout], max_bytes: int, max_lines: int
) -> tuple[AGIEnvironment, tuple[str, ...] | None]:
    """The environment in ``data``, and the keys of its block when that block was
    well-formed, had no key twice and matched none of ``layouts`` (else None)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    # The usual block (no CR before its end, as Asterisk sends it) ends at the first
    # "\n\n"; with a CR about, or none, the regex finds the first blank line.
    blank = raw.find(b"\n\n")
    if blank > 0 and b"\r" not in raw[: blank + 2]:
        start, stop = blank, blank + 2
    elif (end := _BLOCK_END.search(raw)) is not None:
        start, stop = end.start(), end.end()
    else:
        start, stop = -1, len(raw)
    block = raw[:stop]
    if len(block) > max_bytes:
        raise AGIHeaderTooLarge(f"AGI environment block exceeds {max_bytes} bytes")
    if block.count(b"\n") + (not block.endswith(b"\n")) > max_lines:
        raise AGIHeaderTooLarge(f"AGI environment block exceeds {max_lines} lines")
    if start > 0:
        body = block[:start].decode("utf-8", errors="replace")
        # The keys Asterisk sent on an earlier call, in the same order: one match.
        for layout in layouts:
            m = layout.pattern.fullmatch(body)
            if m is not None:
                values = m.groups()
                return AGIEnvironment._of(
                    dict(zip(layout.keys, values, strict=True)),
                    (),
                    tuple([values[i] for i in layout.arguments]) if layout.arguments else (),
                ), None
        # Every line well-formed and no key twice: all of it in one regex pass.
        pairs = _HEADER_LINE.findall(body)
        if len(pairs) == body.count("\n") + 1:
            headers = dict(pairs)
            if len(headers) == len(pairs):
                return AGIEnvironment._of(headers, ()), tuple(headers)
    return _parse_lines(block), None


class _Layout:
    """The keys of a well-formed environment block, in order, as one regex.

    A block with exactly these keys in this order, every line well-formed, is read in
    one match; a value is what ``_HEADER_LINE`` would take. The regex has no choice to
    go back on (possessive quantifiers, literal keys), so a block that differs from the
    layout costs at most one pass over it: with ``": ?([^\\r\\n]*)"`` a line's space
    could be taken two ways, and a block matching k lines and then differing cost 2**k.
    """

    __slots__ = ("arguments", "keys", "pattern")

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys
        self.pattern = re.compile("\n".join(re.escape(k) + r": ?+([^\r\n]*+)" for k in keys))
        # Where agi_arg_1, agi_arg_2, ... are among the values, in argument order.
        numbered = [
            (int(m.group(1)), i) for i, key in enumerate(keys) if (m := _ARG_KEY.fullmatch(key))
        ]
        self.arguments = tuple(i for _, i in sorted(numbered))


def _parse_lines(block: bytes) -> AGIEnvironment:
    """Line by line, for any block: reports malformed and repeated lines."""
    lines = block.decode("utf-8", errors="replace").split("\n")
    if lines[-1] == "":
        lines.pop()
    headers: dict[str, str] = {}
    malformed: list[str] = []
    for line in lines:
        if line.endswith("\r"):
            line = line[:-1]
        if not line:
            break
        key, sep, value = line.partition(":")
        if not sep or not _HEADER_KEY.fullmatch(key) or key in headers:
            malformed.append(line)
            continue
        headers[key] = value[1:] if value.startswith(" ") else value
    return AGIEnvironment._of(headers, tuple(malformed))


# ---------------------------------------------------------------------------
# Command lines
# ---------------------------------------------------------------------------

# Every C0 and C1 control character, DEL, and the two Unicode line/paragraph
# separators (so the result is one line even for str.splitlines()).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_COMMAND_WORDS = re.compile(r"^[A-Za-z]+(?: [A-Za-z]+)*$")
# Our own variable names: plain (optionally ``_``/``__`` for inheritance) or a
# dialplan function with simple arguments, e.g. CALLERID(name).
_VARIABLE_NAME = re.compile(r"^_{0,2}[A-Za-z][A-Za-z0-9_]{0,63}(?:\([A-Za-z0-9_,.-]{0,64}\))?$")


def sanitise_value(value: str) -> str:
    """Remove control characters (CR, LF, NUL, tab, ...) and replace lone surrogates."""
    if value.isprintable():  # no Cc, Cs, Zl, Zp (nor other non-space separators)
        return value
    return _SURROGATE.sub("\ufffd", _UNSAFE.sub("", value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def quote_argument(value: str) -> str:
    """Quote one AGI argument so res_agi's parse_args reads back ``sanitise_value(value)``."""
    return '"' + _escape(sanitise_value(value)) + '"'


def _line_bytes(line: str) -> int:
    return len(line.encode("utf-8")) + 1  # + the "\n" the session appends


def format_command(command: str, *args: str) -> str:
    """Build one AGI command line (without its trailing ``\\n``).

    ``command`` is the command's words (``"SET VARIABLE"``, ``"EXEC"``), which
    are ours and must be letters; every argument is sanitised and quoted.
    Raises :class:`AGICommandTooLong` when Asterisk would split the line.
    """
    if not _COMMAND_WORDS.fullmatch(command):
        raise ValueError(f"not an AGI command name: {command!r}")
    line = " ".join([command, *(quote_argument(a) for a in args)])
    if _line_bytes(line) > MAX_COMMAND_BYTES:
        raise AGICommandTooLong(
            f"{command} line is {_line_bytes(line)} bytes; Asterisk reads at most "
            f"{MAX_COMMAND_BYTES} per command and would run the rest as another command"
        )
    return line


def validate_variable_name(name: str) -> str:
    if not _VARIABLE_NAME.fullmatch(name):
        raise ValueError(f"invalid channel variable name: {name!r}")
    return name


def _fit_value(prefix: str, value: str) -> str:
    """Longest prefix of ``value`` whose quoted form still fits after ``prefix``."""
    budget = MAX_COMMAND_BYTES - _line_bytes(prefix + ' ""')
    used = 0
    for i, ch in enumerate(value):
        cost = len(ch.encode("utf-8")) + (1 if ch in '\\"' else 0)
        if used + cost > budget:
            return value[:i]
        used += cost
    return value


def set_variable_command(name: str, value: str) -> str:
    """``SET VARIABLE "name" "value"`` with the value sanitised and quoted.

    A value too long for one command line is cut (on a character boundary) so
    that the line fits: the alternative, letting Asterisk split it, would run
    the tail of a caller-controlled value as a command.
    """
    validate_variable_name(name)
    clean = sanitise_value(value)
    prefix = f"SET VARIABLE {quote_argument(name)}"
    return format_command("SET VARIABLE", name, _fit_value(prefix, clean))


def get_variable_command(name: str) -> str:
    return format_command("GET VARIABLE", validate_variable_name(name))


# ---------------------------------------------------------------------------
# Many variables in one command: EXEC MSet
# ---------------------------------------------------------------------------
#
# Every command is a round trip with Asterisk while the line rings, so variables go
# in ``EXEC MSet name=value,name=value``. How Asterisk reads that argument
# (``pbx_builtin_setvar_multiple`` in main/pbx_variables.c, on top of
# ``__ast_app_separate_args`` in main/app.c):
#
# * it is split on ``,`` with ``remove_chars``: ``(``/``)`` and ``[``/``]`` nest
#   and ``"`` toggles quoting, and a comma inside any of them does not split;
#   unescaped ``"`` are removed; ``\`` is removed and makes the next character
#   literal. A lone ``\`` at the very end reads past the string's end in C.
# * each piece is split once more, on its first ``=`` outside brackets and quotes
#   (quotes and backslashes removed, but only in the name: the value is what is
#   left after that ``=``, as it is).
# * Asterisk 22 takes up to 99 pieces, older ones 24; pieces beyond the last are
#   left in it unsplit.
#
# So a backslash before each of those characters makes any value literal; ``|``
# (the separator of Asterisk 1.4, which ``res_agi`` compatibility mode turns into a
# comma) is escaped as well. ``EXEC`` passes the argument on without substituting
# ``${...}``.

#: Pairs per MSet, within what every Asterisk version splits (24, the last unsplit).
MSET_MAX_PAIRS = 23
_APP_SPECIAL = re.compile(r'[\\"(),\[\]|]')
_MSET_PREFIX = 'EXEC "MSet" "'
_MSET_OVERHEAD = len(_MSET_PREFIX) + 2  # the closing quote and the "\n"


def app_argument_escape(value: str) -> str:
    """``value`` with every character ``ast_app_separate_args`` would interpret escaped."""
    if _APP_SPECIAL.search(value) is None:  # the usual case, and sub() is slow
        return value
    return _APP_SPECIAL.sub(r"\\\g<0>", value)


def _mset_cost(ch: str) -> int:
    """Bytes ``ch`` of a value takes in the command line, escapes included."""
    if ch in '\\"':
        return 4  # \ or " -> app escape \\ or \" -> AGI escape of both characters
    if ch in "(),[]|":
        return 3  # \, -> \\,
    return len(ch.encode("utf-8"))


def _mset_line(pieces: list[str]) -> str:
    return _MSET_PREFIX + _escape(",".join(pieces)) + '"'


def _mset_head(name: str) -> str:
    # Our own names; they hold no character that needs escaping except the parentheses
    # of CALLERID(name), which nest and need none either.
    return validate_variable_name(name) + "="


class MSetWriter:
    """``EXEC MSet`` lines (:meth:`lines`), remembering each variable name it has checked.

    A route sets the same names on every call, and checking them is a good part of a
    call's budget while the line rings (bench/recognition.py): the first
    ``max_names`` names are checked once each and kept, the rest each time.
    """

    __slots__ = ("_heads", "_max_names")

    def __init__(self, max_names: int = 256) -> None:
        self._heads: dict[str, str] = {}  # name -> "NAME="
        self._max_names = max_names

    def _head(self, name: str) -> str:
        head = self._heads.get(name)
        if head is None:
            head = _mset_head(name)
            if len(self._heads) < self._max_names:
                self._heads[name] = head
        return head

    def _all_heads(self, names: Iterable[str]) -> list[str]:
        try:
            return list(map(self._heads.__getitem__, names))  # every name seen before
        except KeyError:
            return [self._head(name) for name in names]

    def lines(self, variables: Mapping[str, str]) -> list[str]:
        """``EXEC MSet`` lines that set every variable, in order, to its sanitised value.

        Usually one line. Only when the values would not fit one line (2047 bytes) or
        one MSet are they spread over more lines; a single value too long for a line
        of its own is cut on a character boundary, never split into a second command.
        """
        heads = self._all_heads(variables)
        values = variables.values()
        if _APP_SPECIAL.search("".join(values)) is not None:  # something to escape
            values = map(app_argument_escape, values)  # type: ignore[assignment]
        pieces = list(map(operator.add, heads, values))
        if not pieces:
            return []
        line = sanitise_value(_mset_line(pieces))  # removing control characters commutes
        if len(pieces) <= MSET_MAX_PAIRS and _line_bytes(line) <= MAX_COMMAND_BYTES:
            return [line]
        return self._packed(variables)

    def _packed(self, variables: Mapping[str, str]) -> list[str]:
        budget = MAX_COMMAND_BYTES - _MSET_OVERHEAD
        lines: list[str] = []
        batch: list[str] = []
        used = 0
        for name, value in variables.items():
            head = self._head(name)
            clean = sanitise_value(value)
            cost = len(head.encode("utf-8")) + sum(_mset_cost(ch) for ch in clean)
            if cost > budget:  # too long even alone: cut to what fits
                cost, kept = len(head.encode("utf-8")), 0
                for ch in clean:
                    if cost + _mset_cost(ch) > budget:
                        break
                    cost, kept = cost + _mset_cost(ch), kept + 1
                clean = clean[:kept]
            if batch and (used + 1 + cost > budget or len(batch) == MSET_MAX_PAIRS):
                lines.append(_mset_line(batch))
                batch, used = [], 0
            used += cost + (1 if batch else 0)
            batch.append(head + app_argument_escape(clean))
        lines.append(_mset_line(batch))
        return lines


def mset_commands(variables: Mapping[str, str]) -> list[str]:
    """:meth:`MSetWriter.lines` of a writer of its own: for a process that sets
    variables once (the classic AGI script) or a test."""
    return MSetWriter().lines(variables)


# ---------------------------------------------------------------------------
# Replies
# ---------------------------------------------------------------------------

_STATUS_LINE = re.compile(r"^(?P<code>\d{3})(?:[ -](?P<rest>.*))?$")
# "200 result= (timeout)": GET DATA with no digits. panoramisk's re_kv needs a
# non-empty value, so it would lose the "(timeout)".
_EMPTY_RESULT = re.compile(r"^result=(?:\s+\((?P<data>.*)\))?(?:\s|$)")


@dataclass(frozen=True)
class AGIResult:
    """One reply from Asterisk.

    ``code`` is the status (200, 510, 511, 520...); ``result`` the text after
    ``result=`` (``""`` when there is none); ``data`` the text in parentheses
    after it; ``extra`` any further ``key=value`` pairs (``endpos=1234``);
    ``error`` panoramisk's classification (``AGIAppError`` for ``result=-1``,
    ``AGIResultHangup`` for ``(hangup)``, ``AGIInvalidCommand``,
    ``AGIUsageError``...); ``usage`` the text of a ``520-`` usage block.
    """

    code: int
    result: str = ""
    data: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    raw: str = ""
    usage: str = ""

    @property
    def ok(self) -> bool:
        """Status 200 and not ``result=-1``."""
        return self.code == 200 and self.result != "-1"

    @property
    def result_int(self) -> int | None:
        try:
            return int(self.result)
        except ValueError:
            return None

    def with_usage(self, usage: str) -> AGIResult:
        return replace(self, usage=usage)


def parse_result_line(line: str) -> AGIResult:
    """Parse one status line (``200 result=1 (value)``) into an :class:`AGIResult`.

    Built on ``panoramisk.utils.parse_agi_result`` (classification) and its
    ``re_kv`` (the ``key=value (data)`` pairs), with its gaps filled: it drops
    the status code and value for ``result=-1`` and ``(hangup)``, loses
    ``(timeout)`` after an empty ``result=``, and raises on anything without a
    numeric code. ``HANGUP`` is not a reply and is rejected here: the session
    handles it out of band.
    """
    text = line.rstrip("\r\n")
    m = _STATUS_LINE.fullmatch(text)
    if m is None:
        raise AGIProtocolError(f"not an AGI status line: {text!r}")
    code = int(m.group("code"))
    rest = m.group("rest") or ""
    try:
        parsed: dict[str, Any] = parse_agi_result(text)
    except (ValueError, TypeError, AttributeError) as exc:  # pragma: no cover - guarded above
        raise AGIProtocolError(f"unparsable AGI status line: {text!r}") from exc
    error = parsed.get("error")
    result = ""
    data = ""
    extra: dict[str, str] = {}
    if code == 200:
        for key, value, kv_data in re_kv.findall(rest):
            if key == "result" and not result:
                result, data = value, kv_data
            else:
                extra[key] = value
        if not result:
            empty = _EMPTY_RESULT.match(rest)
            if empty is not None:
                data = empty.group("data") or ""
    return AGIResult(
        code=code,
        result=result,
        data=data,
        extra=MappingProxyType(extra),
        error=error if isinstance(error, str) else None,
        raw=text,
    )


ResultParser = Callable[[str], AGIResult]


class RememberedResults:
    """:func:`parse_result_line` that parses each short reply once.

    Short replies repeat ("200 result=1") and AGIResult is immutable, so a server's
    readers share one of these (bench/fastagi_roundtrip.py); long ones are parsed each
    time, so a peer cannot fill it with big lines.
    """

    __slots__ = ("_parse",)

    def __init__(self, size: int = 1024) -> None:
        self._parse = lru_cache(maxsize=size)(parse_result_line)

    def __call__(self, line: str) -> AGIResult:
        return self._parse(line) if len(line) <= 200 else parse_result_line(line)


# Lines that are neither a status line nor HANGUP (e.g. the tail of an environment block
# cut short by a newline inside a caller name) are skipped with a warning, up to this
# many per reply.
MAX_STRAY_LINES = 200
_USAGE_END = "520 End of proper usage."


class ReplyReader:
    """Asterisk's reply to a command, fed one line at a time.

    ``100 Trying`` lines are skipped, a ``520-`` usage block is read up to ``520 End of
    proper usage.``, and a ``HANGUP`` line, which Asterisk sends on its own when the
    channel hangs up, sets :attr:`hung_up` and is otherwise ignored, so replies never
    shift by one. Pure: the FastAGI server feeds it from a task or straight from the
    socket callback.
    """

    __slots__ = ("_first", "_parse", "_stray", "_usage", "channel", "hung_up", "route")

    def __init__(self, channel: str, route: str, parse: ResultParser = parse_result_line) -> None:
        self.channel = channel
        self.route = route
        self._parse = parse
        self.hung_up = False
        self._usage: list[str] | None = None
        self._first = ""
        self._stray = 0

    def feed(self, line: str, command: str) -> AGIResult | None:
        """The reply to ``command`` once ``line`` completes it, else None.

        Raises :class:`AGIProtocolError` after :data:`MAX_STRAY_LINES` unreadable lines.
        """
        usage = self._usage
        if usage is not None:
            if not (line.startswith("520 ") or line.endswith(_USAGE_END)):
                usage.append(line)
                return None
            if not line.startswith("520 "):
                usage.append(line[: -len(_USAGE_END)])
            self._usage = None
            return self._parse(self._first).with_usage("\n".join(usage))
        if line == "HANGUP":
            if not self.hung_up:
                log.info("channel %s hung up during route %r", self.channel, self.route)
            self.hung_up = True
            return None
        if line.startswith("100 ") or line == "100":
            return None  # "100 result=0 Trying..."
        if line.startswith("520-"):
            self._first, self._usage = line, []
            return None
        try:
            result = self._parse(line)
        except AGIProtocolError:
            self._stray += 1
            log.warning(
                "ignoring non-AGI line %r awaiting reply to %r on channel %s",
                line[:200],
                command,
                self.channel,
            )
            if self._stray >= MAX_STRAY_LINES:
                raise
            return None
        self._stray = 0
        return result

"""Asterisk's configuration file syntax, read the way Asterisk's config parser reads it.

Pure: :func:`parse` works on the texts of a configuration directory (a mapping from a
file name relative to that directory to its text, see :mod:`switchboard.dialplan.files`).
It follows ``#include`` and ``#tryinclude`` (relative names are relative to the
configuration directory, not to the including file; ``*`` and ``?`` globs as Asterisk's
glob), drops ``;`` comments (``\\;`` is a semicolon) and ``;-- ... --;`` block comments,
and yields every ``key = value`` / ``key => value`` line with its file, its line number,
its section and the section's options (``[name](!)``, ``[name](+)``, ``[name](template)``).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

#: How deep ``#include`` may nest before it is a loop (Asterisk stops at a file that
#: includes itself; a chain this long is one in practice).
MAX_INCLUDE_DEPTH = 16
_INCLUDE = re.compile(r'^#\s*(include|tryinclude)\s+(?:"([^"]*)"|<([^>]*)>|(\S+))\s*$')
_SECTION = re.compile(r"^\[([^\]]*)\](?:\(([^)]*)\))?\s*$")


@dataclass(frozen=True)
class Where:
    """A line of a configuration file, as a finding names it: ``file:line``."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Entry:
    """One ``key = value`` or ``key => value`` line of a section.

    ``comment`` is the text after the line's ``;`` (a suppression lives there) and
    ``comment_above`` the comment lines right above it, with no blank line between.
    """

    where: Where
    section: str
    key: str
    value: str
    arrow: bool
    comment: str = ""
    comment_above: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    where: Where
    name: str
    options: tuple[str, ...]

    @property
    def is_template(self) -> bool:
        return "!" in self.options

    @property
    def appends(self) -> bool:
        return "+" in self.options

    @property
    def templates(self) -> tuple[str, ...]:
        return tuple(o for o in self.options if o not in ("!", "+"))


@dataclass(frozen=True)
class Problem:
    """Something in the files themselves Asterisk would complain about or skip."""

    where: Where
    rule: str
    message: str


@dataclass
class ConfigFile:
    """A parsed configuration file with everything it includes, in Asterisk's order."""

    name: str
    sections: list[Section] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    #: (file, line) -> the comment on that line and the comment lines right above it,
    #: for every line with something on it (entries, sections, #include lines)
    comments: dict[tuple[str, int], tuple[str, ...]] = field(default_factory=dict)

    def section_entries(self, name: str) -> Iterator[Entry]:
        return (e for e in self.entries if e.section == name)


def parse(name: str, texts: Mapping[str, str]) -> ConfigFile:
    """``name`` (e.g. ``extensions.conf``) from ``texts`` with its includes.

    A missing ``name`` gives an empty file (Asterisk runs without most of them); a
    missing ``#include`` is a problem, a missing ``#tryinclude`` is not.
    """
    result = ConfigFile(name)
    if name in texts:
        _read(name, texts, result, section="", depth=0, chain=())
    return result


def strip_comment(line: str) -> tuple[str, str]:
    """(the line without its ``;`` comment, the comment); ``\\;`` is a literal ``;``."""
    out: list[str] = []
    i = 0
    while i < len(line):
        char = line[i]
        if char == "\\" and i + 1 < len(line) and line[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if char == ";":
            return "".join(out), line[i + 1 :].strip()
        out.append(char)
        i += 1
    return "".join(out), ""


def _read(
    name: str,
    texts: Mapping[str, str],
    result: ConfigFile,
    *,
    section: str,
    depth: int,
    chain: tuple[str, ...],
) -> str:
    """Read ``name`` into ``result``; returns the section open at its end (an included
    file's lines go on in the including file's section, and a section it opens stays
    open after it, as in Asterisk)."""
    result.files.append(name)
    in_block = False
    above: list[str] = []
    for number, raw in enumerate(texts[name].splitlines(), start=1):
        where = Where(name, number)
        line = raw
        if in_block:
            end = line.find("--;")
            if end < 0:
                continue
            in_block = False
            line = line[end + 3 :]
        start = line.find(";--")
        if start >= 0 and line.find("--;", start + 3) < 0:
            in_block = True
            line = line[:start]
        elif start >= 0:
            line = line[:start] + line[line.find("--;", start + 3) + 3 :]
        body, comment = strip_comment(line)
        body = body.strip()
        if not body:
            above = [*above, comment] if comment else []
            continue
        result.comments[(name, number)] = (comment, *above)
        include = _INCLUDE.match(body)
        if include:
            above = []
            kind, target = include.group(1), next(g for g in include.groups()[1:] if g)
            section = _include(
                where, kind, target, texts, result, section=section, depth=depth, chain=chain
            )
            continue
        if body.startswith("#"):
            # "#exec" and other directives: what they produce is not ours to read.
            above = []
            continue
        header = _SECTION.match(body)
        if header:
            options = tuple(o.strip() for o in (header.group(2) or "").split(",") if o.strip())
            section = header.group(1).strip()
            result.sections.append(Section(where, section, options))
            above = []
            continue
        key, arrow, value = _split_entry(body)
        if key is None:
            result.problems.append(
                Problem(where, "SB-SYNTAX", f"not a 'key = value' line: {body[:60]!r}")
            )
        elif not section:
            result.problems.append(
                Problem(where, "SB-SYNTAX", f"'{key}' before any [section]: Asterisk skips it")
            )
        else:
            result.entries.append(Entry(where, section, key, value, arrow, comment, tuple(above)))
        above = []
    return section


def _include(
    where: Where,
    kind: str,
    target: str,
    texts: Mapping[str, str],
    result: ConfigFile,
    *,
    section: str,
    depth: int,
    chain: tuple[str, ...],
) -> str:
    names = (
        sorted(n for n in texts if fnmatch.fnmatchcase(n, target))
        if _is_glob(target)
        else ([target] if target in texts else [])
    )
    if not names:
        if kind == "include":
            result.problems.append(
                Problem(where, "SB-INCLUDE-MISSING", f"#include {target}: no such file")
            )
        return section
    for included in names:
        if included in chain or depth >= MAX_INCLUDE_DEPTH:
            result.problems.append(
                Problem(where, "SB-INCLUDE-LOOP", f"#{kind} {included} includes itself")
            )
            continue
        section = _read(
            included, texts, result, section=section, depth=depth + 1, chain=(*chain, included)
        )
    return section


def _is_glob(target: str) -> bool:
    return any(c in target for c in "*?[")


def _split_entry(body: str) -> tuple[str | None, bool, str]:
    """``key => value`` or ``key = value`` (the first ``=`` decides)."""
    equals = body.find("=")
    if equals <= 0:
        return None, False, ""
    arrow = body[equals + 1 : equals + 2] == ">"
    value = body[equals + (2 if arrow else 1) :]
    return body[:equals].strip(), arrow, value.strip()

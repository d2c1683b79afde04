"""``extensions.conf`` as pbx_config builds the dialplan from it, and Asterisk's way of
finding a priority in it.

Pure. :func:`build` numbers priorities as pbx/pbx_config.c ``pbx_load_config`` does
(``n``/``next``, ``s``/``same``, a label, ``+N``, ``hint``; a ``same =>`` goes on from the
last line), copies template contexts (``[ctx](tpl)``) and records what pbx_config would
refuse as problems. :func:`find_step` finds a priority as main/pbx.c
``pbx_find_extension`` does: the context's own extensions in Asterisk's order (an exact
name, then patterns by ``ext_cmp``: position by position, the more specific character
first), then its includes depth-first in the order written, a timed include only inside
its time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from switchboard.dialplan.conf_files import ConfigFile, Entry, Problem, Where
from switchboard.dialplan.expressions import split_application, split_condition
from switchboard.dialplan.timing import build_timing

#: Sections of extensions.conf that are not contexts.
SETTINGS_SECTIONS = frozenset({"general", "globals"})
#: Extensions Asterisk enters by itself (hang-up, invalid, timeout, ...), never dialled.
SPECIAL_EXTENSIONS = frozenset({"h", "i", "t", "T", "e", "a", "o", "fax", "talk"})
_PRIORITY = re.compile(r"^(?P<base>[^+()]+?)(?:\+(?P<offset>\d+))?(?:\((?P<label>[^)]*)\))?$")
_FASTAGI = re.compile(r"^agis?://[^/]*/([^?,]*)")


@dataclass(frozen=True)
class Step:
    """One priority of an extension."""

    where: Where
    context: str
    extension: str
    priority: int
    label: str
    application: str
    data: str
    entry: Entry

    @property
    def text(self) -> str:
        return f"{self.application}({self.data})"


@dataclass(frozen=True)
class Hint:
    """``exten => 100,hint,PJSIP/100,CustomPresence:100``: what a phone's lamp shows."""

    where: Where
    context: str
    extension: str
    devices: str
    entry: Entry


@dataclass(frozen=True)
class Include:
    """``include => other[,timespec]``: another context searched after this one's own."""

    where: Where
    context: str
    target: str
    timing: str
    entry: Entry

    def applies(self, at: datetime | None) -> bool:
        """Whether Asterisk searches it at ``at`` (None: at some time or other)."""
        return at is None or not self.timing or build_timing(self.timing).matches(at)


@dataclass
class Context:
    name: str
    where: Where
    #: extension -> its priorities in the order written
    extensions: dict[str, list[Step]] = field(default_factory=dict)
    includes: list[Include] = field(default_factory=list)
    hints: list[Hint] = field(default_factory=list)
    template: bool = False

    def step(self, extension: str, priority: int) -> Step | None:
        return next((s for s in self.extensions.get(extension, []) if s.priority == priority), None)

    def labelled(self, extension: str, label: str) -> Step | None:
        return next((s for s in self.extensions.get(extension, []) if s.label == label), None)


@dataclass
class Dialplan:
    contexts: dict[str, Context] = field(default_factory=dict)
    globals: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def steps(self) -> list[Step]:
        return [
            s
            for c in self.contexts.values()
            if not c.template
            for ss in c.extensions.values()
            for s in ss
        ]


def build(config: ConfigFile) -> Dialplan:
    """The dialplan ``config`` (a parsed extensions.conf) describes."""
    plan = Dialplan(problems=list(config.problems))
    inherits: dict[str, tuple[str, ...]] = {}
    for section in config.sections:
        if section.name in SETTINGS_SECTIONS:
            continue
        if section.name not in plan.contexts:
            plan.contexts[section.name] = Context(
                section.name, section.where, template=section.is_template
            )
        if section.templates:
            inherits[section.name] = section.templates
    # pbx_config's "last priority", per context.
    last: dict[str, tuple[str, int]] = {}
    for entry in config.entries:
        if entry.section == "globals":
            plan.globals[entry.key] = entry.value
            continue
        if entry.section in SETTINGS_SECTIONS:
            continue
        context = plan.contexts[entry.section]
        key = entry.key.lower()
        if key == "include":
            target, _, timing = entry.value.partition(",")
            context.includes.append(
                Include(entry.where, context.name, target.strip(), timing.strip(), entry)
            )
        elif key in ("exten", "same"):
            _add_priority(plan, context, entry, last)
        elif key in ("switch", "lswitch", "eswitch", "ignorepat"):
            continue
        else:
            plan.problems.append(
                Problem(
                    entry.where,
                    "SB-SYNTAX",
                    f"'{entry.key}' is not a dialplan keyword (exten, same, include): "
                    "Asterisk skips the line",
                )
            )
    for name, templates in inherits.items():
        _inherit(plan, plan.contexts[name], templates)
    return plan


def _inherit(plan: Dialplan, context: Context, templates: tuple[str, ...]) -> None:
    """A context made from templates starts with their extensions and includes."""
    for template_name in templates:
        template = plan.contexts.get(template_name)
        if template is None:
            continue
        for extension, steps in template.extensions.items():
            own = context.extensions.setdefault(extension, [])
            taken = {s.priority for s in own}
            own.extend(replace(s, context=context.name) for s in steps if s.priority not in taken)
        context.includes.extend(replace(i, context=context.name) for i in template.includes)
        context.hints.extend(replace(h, context=context.name) for h in template.hints)


def _add_priority(
    plan: Dialplan, context: Context, entry: Entry, last: dict[str, tuple[str, int]]
) -> None:
    previous_extension, previous = last.get(context.name, ("", 0))
    if entry.key.lower() == "same":
        if not previous_extension:
            plan.problems.append(
                Problem(entry.where, "SB-SYNTAX", "'same =>' with no 'exten =>' before it")
            )
            return
        extension = previous_extension
        priority_text, _, rest = entry.value.partition(",")
    else:
        extension, _, after = _split_extension(entry.value)
        priority_text, _, rest = after.partition(",")
        extension = extension.strip()
    match = _PRIORITY.match(priority_text.strip())
    if not extension or match is None:
        plan.problems.append(
            Problem(
                entry.where,
                "SB-SYNTAX",
                f"invalid priority {priority_text.strip()!r}: Asterisk skips the line",
            )
        )
        return
    base = match.group("base").strip()
    if base == "hint":
        context.hints.append(Hint(entry.where, context.name, extension, rest.strip(), entry))
        # pbx_config: after a hint "n" counts from -1, so a "same => n" is priority 0.
        last[context.name] = (extension, -1)
        return
    number = _priority_number(context, extension, base, previous)
    if number is None:
        plan.problems.append(
            Problem(
                entry.where,
                "SB-SYNTAX",
                f"invalid priority {priority_text.strip()!r}: Asterisk skips the line",
            )
        )
        return
    number += int(match.group("offset") or 0)
    if number < 1:
        plan.problems.append(
            Problem(entry.where, "SB-SYNTAX", "a priority below 1: Asterisk skips the line")
        )
        return
    application, data = split_application(rest.strip())
    step = Step(
        entry.where,
        context.name,
        extension,
        number,
        (match.group("label") or "").strip(),
        application,
        data,
        entry,
    )
    context.extensions.setdefault(extension, []).append(step)
    last[context.name] = (extension, number)


def _priority_number(context: Context, extension: str, base: str, previous: int) -> int | None:
    """pbx_config's priority: ``n``/``next`` after the last, ``s``/``same`` the last, a
    number, or a label of this extension (``label+1``)."""
    if base in ("n", "next"):
        return previous + 1
    if base in ("s", "same"):
        return previous
    if base.isdigit():
        return int(base)
    labelled = context.labelled(extension, base)
    return labelled.priority if labelled else None


def _split_extension(value: str) -> tuple[str, str, str]:
    """The extension name ends at the first comma outside ``[...]`` (``_[1,2]X``)."""
    depth = 0
    for i, char in enumerate(value):
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            return value[:i], ",", value[i + 1 :]
    return value, "", ""


# ------------------------------------------------------------------- matching


def matches(pattern: str, number: str) -> bool:
    """Whether extension ``pattern`` (``_X.``, ``_+X.``, ``s``, ``100``) matches ``number``,
    as Asterisk matches a dialled extension (``/callerid`` parts are ignored)."""
    pattern = pattern.split("/", 1)[0]
    if not pattern.startswith("_"):
        return pattern == number
    return re.fullmatch(pattern_regex(pattern), number) is not None


def pattern_regex(pattern: str) -> str:
    """The regular expression of an extension pattern (``_`` form)."""
    return "".join(_regex_of(kind, text) for kind, text in _pattern_parts(pattern))


def _pattern_parts(pattern: str) -> Iterator[tuple[str, str]]:
    """(kind, text) per position of a pattern: literal, set, N, Z, X, '.', '!'."""
    body = pattern.split("/", 1)[0][1:]
    i = 0
    while i < len(body):
        char = body[i]
        upper = char.upper()
        if upper in "XZN":
            yield upper, upper
        elif char in ".!":
            yield char, char
        elif char == "[" and body.find("]", i) > 0:
            end = body.find("]", i)
            yield "set", body[i + 1 : end]
            i = end
        elif char != "-":  # Asterisk ignores dashes in patterns ("_0X-XXX")
            yield "literal", char
        i += 1


def _regex_of(kind: str, text: str) -> str:
    if kind == "X":
        return "[0-9]"
    if kind == "Z":
        return "[1-9]"
    if kind == "N":
        return "[2-9]"
    if kind == ".":
        return ".+"
    if kind == "!":
        return ".*"
    if kind == "set":
        return "[" + text.replace(",", "").replace("\\", "\\\\") + "]"
    return re.escape(text)


def _rank(pattern: str) -> tuple[tuple[int, str], ...]:
    """ext_cmp's order of a pattern: position by position, how many characters each
    position admits (a literal 1, a set its size, N 8, Z 9, X 10, then '.' and '!')."""
    ranks: list[tuple[int, str]] = []
    for kind, text in _pattern_parts(pattern):
        if kind == "literal":
            ranks.append((1, text))
        elif kind == "set":
            ranks.append((len(set(_set_members(text))), text))
        else:
            ranks.append(({"N": 8, "Z": 9, "X": 10, ".": 11, "!": 12}[kind], text))
    return tuple(ranks)


def _set_members(text: str) -> Iterator[str]:
    i = 0
    while i < len(text):
        if i + 2 < len(text) and text[i + 1] == "-":
            yield from (chr(c) for c in range(ord(text[i]), ord(text[i + 2]) + 1))
            i += 3
        else:
            yield text[i]
            i += 1


def ordered_matches(context: Context, number: str) -> list[str]:
    """The extensions of ``context`` matching ``number``, in the order Asterisk tries
    them: the exact name first, then the patterns, the most specific first."""
    exact = [number] if number in context.extensions else []
    patterns = sorted(
        (e for e in context.extensions if e.startswith("_") and matches(e, number)),
        key=_rank,
    )
    return exact + patterns


def best_match(context: Context, number: str) -> str | None:
    """The extension of ``context`` Asterisk picks first for ``number``."""
    found = ordered_matches(context, number)
    return found[0] if found else None


def search_order(plan: Dialplan, context: Context, at: datetime | None = None) -> list[Context]:
    """``context``, then what it includes, depth-first in the order written (a timed
    include only when ``at`` is inside its time; ``at`` None: every include)."""
    seen: dict[str, Context] = {}

    def visit(current: Context) -> None:
        if current.name in seen:
            return
        seen[current.name] = current
        for include in current.includes:
            target = plan.contexts.get(include.target)
            if target is not None and include.applies(at):
                visit(target)

    visit(context)
    return list(seen.values())


def find_step(
    plan: Dialplan, context_name: str, number: str, priority: int, at: datetime | None = None
) -> Step | None:
    """The priority Asterisk runs for ``number`` at ``context_name``: the first matching
    extension that has it, through the includes (pbx_find_extension)."""
    return _first(plan, context_name, number, at, lambda c, e: c.step(e, priority))


def find_label(
    plan: Dialplan, context_name: str, number: str, label: str, at: datetime | None = None
) -> Step | None:
    """The priority labelled ``label`` for ``number`` at ``context_name``."""
    return _first(plan, context_name, number, at, lambda c, e: c.labelled(e, label))


def _first(
    plan: Dialplan,
    context_name: str,
    number: str,
    at: datetime | None,
    pick: Callable[[Context, str], Step | None],
) -> Step | None:
    context = plan.contexts.get(context_name)
    if context is None:
        return None
    for candidate in search_order(plan, context, at):
        for extension in ordered_matches(candidate, number):
            step = pick(candidate, extension)
            if step is not None:
                return step
    return None


# ------------------------------------------------------------- applications


def fastagi_route(script: str) -> str | None:
    """The route of a FastAGI URL (``agi://host:4573/recognize`` -> ``recognize``); None
    for a classic AGI script."""
    match = _FASTAGI.match(script)
    return match.group(1) if match else None


def execif_applications(data: str) -> list[tuple[str, str]]:
    """The applications an ``ExecIf(cond?App(args):App(args))`` may run: (name, data)."""
    found = []
    for branch in split_condition(data, style="ExecIf")[1:]:
        if branch.strip():
            found.append(split_application(branch.strip()))
    return found

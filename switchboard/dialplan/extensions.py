"""``extensions.conf`` as pbx_config builds the dialplan from it: contexts, extensions,
priorities (numbers, ``n``, ``same``, labels), hints and includes, each with its line.

Pure. What pbx_config would refuse (a ``same`` with no extension before it, a priority
that is not a number) is a problem here as in Asterisk's log; what it silently loads
differently from what an admin meant (a duplicate priority) is a rule of
:mod:`switchboard.dialplan.rules`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from switchboard.dialplan.conf_files import ConfigFile, Entry, Problem, Where
from switchboard.dialplan.expressions import split_application

#: Sections of extensions.conf that are not contexts.
SETTINGS_SECTIONS = frozenset({"general", "globals"})
_PRIORITY = re.compile(r"^(?P<base>\d+|n|s|hint)(?P<offset>[+-]\d+)?(?:\((?P<label>[^)]*)\))?$")


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
    where: Where
    context: str
    extension: str
    devices: str
    entry: Entry


@dataclass(frozen=True)
class Include:
    where: Where
    context: str
    target: str
    timing: str
    entry: Entry


@dataclass
class Context:
    name: str
    where: Where
    #: extension -> its priorities in the order written
    extensions: dict[str, list[Step]] = field(default_factory=dict)
    includes: list[Include] = field(default_factory=list)
    hints: list[Hint] = field(default_factory=list)

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
        return [s for c in self.contexts.values() for ss in c.extensions.values() for s in ss]


def build(config: ConfigFile) -> Dialplan:
    """The dialplan ``config`` (a parsed extensions.conf) describes."""
    plan = Dialplan(problems=list(config.problems))
    for section in config.sections:
        if section.name not in SETTINGS_SECTIONS and section.name not in plan.contexts:
            plan.contexts[section.name] = Context(section.name, section.where)
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
    return plan


def _add_priority(
    plan: Dialplan, context: Context, entry: Entry, last: dict[str, tuple[str, int]]
) -> None:
    if entry.key.lower() == "same":
        previous = last.get(context.name)
        if previous is None:
            plan.problems.append(
                Problem(entry.where, "SB-SYNTAX", "'same =>' with no 'exten =>' before it")
            )
            return
        extension, previous_priority = previous
        priority_text, _, rest = entry.value.partition(",")
    else:
        extension, _, after = _split_extension(entry.value)
        priority_text, _, rest = after.partition(",")
        extension = extension.strip()
        # pbx_config counts "n" on from the last priority it added, whichever
        # extension that was.
        previous_priority = last.get(context.name, ("", 0))[1]
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
    base = match.group("base")
    if base == "hint":
        context.hints.append(Hint(entry.where, context.name, extension, rest.strip(), entry))
        return
    number = (
        previous_priority + 1 if base == "n" else previous_priority if base == "s" else int(base)
    )
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


def matches(pattern: str, number: str) -> bool:
    """Whether extension ``pattern`` (``_X.``, ``_+X.``, ``s``, ``100``) matches ``number``,
    as Asterisk matches a dialled extension (``/callerid`` parts are ignored)."""
    pattern = pattern.split("/", 1)[0]
    if not pattern.startswith("_"):
        return pattern == number
    return re.fullmatch(pattern_regex(pattern), number) is not None


def pattern_regex(pattern: str) -> str:
    """The regular expression of an extension pattern (``_`` form)."""
    out: list[str] = []
    i = 1
    body = pattern.split("/", 1)[0]
    while i < len(body):
        char = body[i]
        upper = char.upper()
        if upper == "X":
            out.append("[0-9]")
        elif upper == "Z":
            out.append("[1-9]")
        elif upper == "N":
            out.append("[2-9]")
        elif char == ".":
            out.append(".+")
        elif char == "!":
            out.append(".*")
        elif char == "[":
            end = body.find("]", i)
            if end < 0:
                out.append(re.escape(char))
            else:
                out.append("[" + body[i + 1 : end].replace(",", "").replace("\\", "\\\\") + "]")
                i = end
        elif char == "-":
            pass  # Asterisk ignores dashes in patterns ("_0X-XXX")
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def best_match(context: Context, number: str) -> str | None:
    """The extension of ``context`` Asterisk picks for ``number``: an exact name first,
    else the most specific matching pattern (fewer wildcard characters win)."""
    if number in context.extensions:
        return number
    candidates = [e for e in context.extensions if e.startswith("_") and matches(e, number)]
    if not candidates:
        return None
    return min(candidates, key=_specificity)


def _specificity(pattern: str) -> tuple[int, int, str]:
    body = pattern.split("/", 1)[0][1:]
    wild = sum(1 for c in body if c in ".!")
    return (wild, -len(body), pattern)

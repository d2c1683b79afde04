"""The findings of ``switchboard dialplan check``: what Asterisk would not do as written.

Pure: every rule reads the parsed files (:class:`Site`) and, for the lines Asterisk skips,
what a throwaway Asterisk held (:class:`switchboard.dialplan.throwaway.Loaded`). Each
finding names its line and a rule id an admin can suppress on that line, with a reason:

    exten => 300,1,Dial(PJSIP/300)  ; switchboard: ignore SB-DEAD-END because the phone hangs up

(or the same comment on the line above).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from switchboard.core import agi_routes, prompt_texts
from switchboard.dialplan.conf_files import ConfigFile, Entry, Where, parse
from switchboard.dialplan.expressions import (
    GotoTarget,
    Scope,
    parse_goto_target,
    split_arguments,
    split_condition,
    substitute,
)
from switchboard.dialplan.extensions import (
    SPECIAL_EXTENSIONS,
    Context,
    Dialplan,
    Step,
    build,
    execif_applications,
    fastagi_route,
    find_label,
    find_step,
    matches,
    ordered_matches,
    search_order,
)
from switchboard.dialplan.timing import END_MINUTE_NOTE, build_timing

#: Rule ids and what each finds (``switchboard dialplan check --rules`` lists them).
RULES: Mapping[str, str] = {
    "SB-SKIPPED": "a line Asterisk skips when it loads the dialplan",
    "SB-SYNTAX": "a line that is not configuration syntax",
    "SB-INCLUDE-MISSING": "an #include of a file that does not exist",
    "SB-INCLUDE-LOOP": "an #include that includes itself",
    "SB-GOTO-TARGET": "a Goto, GotoIf, GotoIfTime, Gosub or include to nowhere",
    "SB-CONTEXT-MISSING": "a context= in pjsip.conf or queues.conf that the dialplan lacks",
    "SB-DEAD-END": "a path of a call that ends without a final application (Hangup, Goto)",
    "SB-DUPLICATE-PRIORITY": "a priority or label defined twice in one extension",
    "SB-APP-NOT-LOADED": "an application whose module modules.conf does not load",
    "SB-APP-UNKNOWN": "an application this Asterisk does not have",
    "SB-TIME-SPEC": "a time spec element Asterisk would skip",
    "SB-AGI-ROUTE": "a FastAGI route the switchboard service does not serve",
    "SB-SOUND-MISSING": "a switchboard prompt missing in a shipped language",
    "SB-HINT-PRESENCE": "a hint without its CustomPresence half",
    "SB-AMI-RIGHTS": "the AMI user's rights short of what the service needs",
    "SB-SUPPRESSION": "a suppression without a reason",
}
#: What the service's AMI user must be granted (manager.conf ``read``/``write``): each
#: class with what needs it (the events the bridge follows, the actions it sends; an
#: action's own reply needs no read class).
AMI_READ = {
    "call": "channels, bridges, dials, hang-ups, device and presence state",
    "agent": "queue callers and members (QueueCallerJoin, AgentCalled, ...)",
    "user": "the dialplan's UserEvents (recognition, fallback, callbacks)",
    "system": "FullyBooted and Reload after an Asterisk restart",
}
AMI_WRITE = {
    "call": "Redirect, Hangup, Setvar, Getvar, BlindTransfer, Atxfer, Park",
    "originate": "Originate (answer from the board, callbacks, announcements)",
    "agent": "QueueAdd, QueueRemove, QueuePause",
    "reporting": "CoreShowChannels after a reconnect",
}
#: Applications after which a call does not go on to the next priority.
FINAL_APPLICATIONS = frozenset(
    {"hangup", "goto", "return", "softhangup", "voicemail", "busy", "congestion"}
)
#: Applications always there (the PBX core registers them; no module to load).
CORE_MODULES = frozenset({"", "builtin", "pbx_builtins", "pbx", "core"})
_SUPPRESSION = re.compile(r"switchboard:\s*ignore\s+([A-Z][A-Z0-9-]*)(?:\s+because\s+(\S.*))?")
_SOUND_APPS = frozenset({"playback", "background", "controlplayback"})


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule} {self.message}"

    def as_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class Environment:
    """What the host tells beyond the files: the applications its Asterisk has (name ->
    module; empty: not known) and the sound files present (``nl/switchboard/closed``
    without extension; ``None``: not known)."""

    applications: Mapping[str, frozenset[str]] = field(default_factory=dict)
    sounds: frozenset[str] | None = None
    #: (file, line) of every priority and hint a throwaway Asterisk held; None: not run
    loaded: frozenset[tuple[str, int]] | None = None
    #: the AMI user the service logs in as
    ami_username: str = "switchboard"


@dataclass
class Site:
    """The configuration files of one Asterisk, parsed."""

    texts: Mapping[str, str]
    extensions: ConfigFile
    dialplan: Dialplan
    pjsip: ConfigFile
    queues: ConfigFile
    modules: ConfigFile
    manager: ConfigFile
    res_parking: ConfigFile

    @classmethod
    def read(cls, texts: Mapping[str, str]) -> Site:
        extensions = parse("extensions.conf", texts)
        return cls(
            texts,
            extensions,
            build(extensions),
            parse("pjsip.conf", texts),
            parse("queues.conf", texts),
            parse("modules.conf", texts),
            parse("manager.conf", texts),
            parse("res_parking.conf", texts),
        )

    def files(self) -> Iterator[ConfigFile]:
        yield from (
            self.extensions, self.pjsip, self.queues, self.modules, self.manager,
            self.res_parking,
        )  # fmt: skip

    def module_contexts(self) -> set[str]:
        """Contexts modules create themselves (res_parking's ``parkedcalls``)."""
        made = {"parkedcalls"} if self.texts.get("res_parking.conf") is not None else set()
        made |= {e.value for e in self.res_parking.entries if e.key == "context"}
        return made

    def trunk_context(self) -> str:
        """Where calls from the provider enter: the context of the endpoint pjsip.conf
        identifies by address (``type = identify``), else ``from-trunk``."""
        identified = {
            e.value
            for e in self.pjsip.entries
            if e.key == "endpoint"
            and any(
                x.section == e.section and x.key == "type" and x.value == "identify"
                for x in self.pjsip.entries
            )
        }
        for entry in self.pjsip.entries:
            if entry.key == "context" and entry.section in identified:
                return entry.value
        return "from-trunk"

    def context_names(self) -> set[str]:
        return set(self.dialplan.contexts) | self.module_contexts()


def check(site: Site, environment: Environment) -> list[Finding]:
    """Every finding, suppressions applied, in file and line order."""
    found: list[Finding] = []
    for rule in _ALL_RULES:
        found.extend(rule(site, environment))
    return sorted(set(_suppressed(site, found)))


# --------------------------------------------------------------------------- rules


def _files_rule(site: Site, _env: Environment) -> Iterator[Finding]:
    for config in site.files():
        for problem in config.problems:
            if problem.rule != "SB-SYNTAX" or config is not site.extensions:
                yield _at(problem.where, problem.rule, problem.message)
    priority_lines = {e.where for e in _priority_entries(site)}
    for problem in site.dialplan.problems:
        # A priority line Asterisk skipped is SB-SKIPPED, with this as its reason; one it
        # loaded after all was read wrongly here, and is no finding.
        held = _held(_env, problem.where)
        if problem.where not in priority_lines or held is None:
            yield _at(problem.where, problem.rule, problem.message)


def _priority_entries(site: Site) -> list[Entry]:
    return [
        e
        for e in site.extensions.entries
        if e.key.lower() in ("exten", "same") and e.section not in ("general", "globals")
    ]


def _skipped_rule(site: Site, env: Environment) -> Iterator[Finding]:
    """Lines with a priority or hint that the throwaway Asterisk does not hold."""
    if env.loaded is None:
        return
    entries = _priority_entries(site)
    if entries and not any(_held(env, e.where) for e in entries):
        # Asterisk refused the whole file (a missing #include does that): one finding.
        cause = next(
            (p.where for p in site.extensions.problems if p.rule == "SB-INCLUDE-MISSING"),
            entries[0].where,
        )
        yield _at(
            cause,
            "SB-SKIPPED",
            f"Asterisk loads none of {site.extensions.name}: not one of its"
            f" {len(entries)} lines is in its dialplan",
        )
        return
    reasons = {p.where: p.message for p in site.dialplan.problems}
    for entry in entries:
        if _held(env, entry.where) is False:
            reason = reasons.get(entry.where, "")
            yield _at(
                entry.where,
                "SB-SKIPPED",
                "Asterisk skips this line when it loads the dialplan"
                + (f": {reason}" if reason else ""),
            )


def _held(env: Environment, where: Where) -> bool | None:
    if env.loaded is None:
        return None
    return (where.file.rsplit("/", 1)[-1], where.line) in env.loaded


def _duplicates_rule(site: Site, _env: Environment) -> Iterator[Finding]:
    for context in site.dialplan.contexts.values():
        for extension, steps in context.extensions.items():
            seen: dict[int, Step] = {}
            labels: dict[str, Step] = {}
            for step in steps:
                first = seen.setdefault(step.priority, step)
                if first is not step:
                    yield _at(
                        step.where,
                        "SB-DUPLICATE-PRIORITY",
                        f"{context.name},{extension},{step.priority} is already {first.where}"
                        f" ({first.text}): Asterisk keeps the first",
                    )
                if step.label:
                    other = labels.setdefault(step.label, step)
                    if other is not step:
                        yield _at(
                            step.where,
                            "SB-DUPLICATE-PRIORITY",
                            f"label {step.label!r} is already {other.where}",
                        )


def _targets_rule(site: Site, _env: Environment) -> Iterator[Finding]:
    names = site.context_names()
    for step in site.dialplan.steps():
        for target in branch_targets(step, site.dialplan.globals):
            problem = _missing(site.dialplan, names, step, target)
            if problem:
                yield _at(step.where, "SB-GOTO-TARGET", f"{step.application}: {problem}")
    for context in site.dialplan.contexts.values():
        for include in context.includes:
            if include.target not in names:
                yield _at(
                    include.where,
                    "SB-GOTO-TARGET",
                    f"include => {include.target}: no such context",
                )


def _contexts_rule(site: Site, _env: Environment) -> Iterator[Finding]:
    names = site.context_names()
    # A template's context is every endpoint's made from it.
    for config, what in ((site.pjsip, "endpoint"), (site.queues, "queue")):
        for entry in config.entries:
            if entry.key == "context":
                if entry.value and entry.value not in names:
                    yield _at(
                        entry.where,
                        "SB-CONTEXT-MISSING",
                        f"{what} [{entry.section}] sends calls to context {entry.value!r},"
                        " which the dialplan does not have",
                    )


def _dead_end_rule(site: Site, _env: Environment) -> Iterator[Finding]:
    """From the context the provider's calls enter (every DID), every path must end in a
    final application: falling off the last priority hangs the caller up without a
    word."""
    plan = site.dialplan
    trunk = plan.contexts.get(site.trunk_context())
    walker = _Walker(plan)
    for context in search_order(plan, trunk) if trunk is not None else []:
        for extension in context.extensions:
            if extension not in SPECIAL_EXTENSIONS:
                walker.walk(context, extension, 1, subroutine=False)
    for step in walker.dead_ends:
        yield _at(
            step.where,
            "SB-DEAD-END",
            f"a call reaching {step.context},{step.extension},{step.priority} ({step.application})"
            " has nowhere to go next: Asterisk hangs up without a word (end it with Hangup()"
            " or a Goto)",
        )


def _applications_rule(site: Site, env: Environment) -> Iterator[Finding]:
    if not env.applications:
        return
    loaded = loaded_modules(site.modules)
    for step in site.dialplan.steps():
        yield from _application_findings(step.where, step.application, env, loaded)
        if step.application.lower() == "execif":
            for inner, _data in execif_applications(step.data):
                yield from _application_findings(step.where, inner, env, loaded)


def _application_findings(
    where: Where, application: str, env: Environment, loaded: Callable[[str], bool]
) -> Iterator[Finding]:
    name = application.lower()
    if not name or "$" in name:
        return
    if name not in env.applications:
        yield _at(where, "SB-APP-UNKNOWN", f"{application}: no such application in this Asterisk")
        return
    modules = env.applications[name]
    if not modules & CORE_MODULES and not any(loaded(m) for m in modules):
        yield _at(
            where,
            "SB-APP-NOT-LOADED",
            f"{application} needs module {' or '.join(sorted(modules))}, which modules.conf"
            " does not load",
        )


def loaded_modules(modules: ConfigFile) -> Callable[[str], bool]:
    """Whether ``modules.conf`` loads a module (``app_dial``), with its autoload setting.
    No modules.conf at all: Asterisk loads nothing."""
    if not modules.files:
        return lambda _module: False
    autoload = False
    listed: set[str] = set()
    refused: set[str] = set()
    for entry in modules.section_entries("modules"):
        key, value = entry.key.lower(), entry.value.removesuffix(".so").strip()
        if key == "autoload":
            autoload = value.lower() in ("yes", "true", "y", "t", "1", "on")
        elif key in ("load", "require", "preload", "preload-require"):
            listed.add(value)
        elif key == "noload":
            refused.add(value)

    def loads(module: str) -> bool:
        return module not in refused and (autoload or module in listed)

    return loads


def _time_spec_rule(site: Site, _env: Environment) -> Iterator[Finding]:
    for step in site.dialplan.steps():
        if step.application.lower() == "gotoiftime":
            spec = step.data.split("?", 1)[0]
            yield from (_at(step.where, "SB-TIME-SPEC", m) for m in time_spec_problems(spec))
        for spec in re.findall(r"IFTIME\(([^?]*)\?", step.data):
            yield from (_at(step.where, "SB-TIME-SPEC", m) for m in time_spec_problems(spec))
    for context in site.dialplan.contexts.values():
        for include in context.includes:
            if include.timing:
                for message in time_spec_problems(include.timing):
                    yield _at(include.where, "SB-TIME-SPEC", message)


def time_spec_problems(spec: str) -> list[str]:
    """What Asterisk's ast_build_timing skips of ``spec``, each noting the end minute."""
    if "$" in spec:
        return []
    return [
        f"{problem}: Asterisk skips it ({END_MINUTE_NOTE})"
        for problem in build_timing(spec).problems
    ]


def _agi_rule(site: Site, _env: Environment) -> Iterator[Finding]:
    for step in site.dialplan.steps():
        if step.application.lower() not in ("agi", "eagi"):
            continue
        script = split_arguments(step.data)[0] if step.data else ""
        route = fastagi_route(substitute(script, _globals_scope(site.dialplan.globals)))
        if route is not None and route not in agi_routes.ROUTES:
            served = ", ".join(sorted(agi_routes.ROUTES))
            yield _at(
                step.where,
                "SB-AGI-ROUTE",
                f"FastAGI route {route!r} is not served by the switchboard service"
                f" (it serves {served})",
            )


def _sounds_rule(site: Site, env: Environment) -> Iterator[Finding]:
    catalogues = {lang: set(prompt_texts.catalogue(lang)) for lang in prompt_texts.LANGUAGES}
    for step in site.dialplan.steps():
        for name in _prompts_played(step):
            for language, names in catalogues.items():
                problem = _prompt_problem(name, language, names, env)
                if problem:
                    yield _at(step.where, "SB-SOUND-MISSING", problem)


def _prompts_played(step: Step) -> Iterator[str]:
    applications = [(step.application, step.data)]
    if step.application.lower() == "execif":
        applications.extend(execif_applications(step.data))
    for application, data in applications:
        name = application.lower()
        if name in _SOUND_APPS and data:
            files = split_arguments(data)[0]
        elif name == "read" and data:
            arguments = split_arguments(data)
            files = arguments[1] if len(arguments) > 1 else ""
        else:
            continue
        for sound in files.split("&"):
            if sound.startswith("switchboard/"):
                yield sound.removeprefix("switchboard/")


def _prompt_problem(name: str, language: str, names: set[str], env: Environment) -> str | None:
    if "${" in name or "$[" in name:
        pattern = ".*".join(re.escape(part) for part in literal_parts(name))
        if not any(re.fullmatch(pattern, known) for known in names):
            return f"no {language} prompt matches switchboard/{name}"
        return None
    if name not in names:
        return f"switchboard/{name} is not a {language} prompt (switchboard prompts build)"
    if env.sounds is not None and f"{language}/switchboard/{name}" not in env.sounds:
        return (
            f"switchboard/{name} is missing in sounds/{language}: run 'switchboard prompts build'"
        )
    return None


def _hints_rule(site: Site, _env: Environment) -> Iterator[Finding]:
    for context in site.dialplan.contexts.values():
        for hint in context.hints:
            devices = [d.strip() for d in hint.devices.split(",")]
            # A phone's hint (not a parking space's or a custom state's).
            if not any(d.startswith("PJSIP/") for d in devices):
                continue
            if not any(d.startswith("CustomPresence:") for d in devices):
                yield _at(
                    hint.where,
                    "SB-HINT-PRESENCE",
                    f"hint {hint.extension} has no CustomPresence:{hint.extension} half:"
                    " the board and the phone's DND key cannot show this person's presence",
                )


def _ami_rule(site: Site, env: Environment) -> Iterator[Finding]:
    user = next((s for s in site.manager.sections if s.name == env.ami_username), None)
    if user is None:
        where = Where("manager.conf", 1)
        yield _at(
            where, "SB-AMI-RIGHTS", f"no [{env.ami_username}] user: the service cannot log in"
        )
        return
    rights: dict[str, tuple[Entry | None, set[str]]] = {
        "read": (None, set()),
        "write": (None, set()),
    }
    for entry in site.manager.section_entries(env.ami_username):
        if entry.key in rights:
            rights[entry.key] = (entry, {r.strip().lower() for r in entry.value.split(",")})
    for key, needed in (("read", AMI_READ), ("write", AMI_WRITE)):
        line, granted = rights[key]
        if "all" in granted:
            continue
        missing = [r for r in needed if r not in granted]
        if missing:
            why = "; ".join(f"{r}: {needed[r]}" for r in missing)
            yield _at(
                line.where if line else user.where,
                "SB-AMI-RIGHTS",
                f"[{env.ami_username}] {key} lacks {', '.join(missing)} ({why})",
            )


_ALL_RULES: tuple[Callable[[Site, Environment], Iterable[Finding]], ...] = (
    _files_rule,
    _skipped_rule,
    _duplicates_rule,
    _targets_rule,
    _contexts_rule,
    _dead_end_rule,
    _applications_rule,
    _time_spec_rule,
    _agi_rule,
    _sounds_rule,
    _hints_rule,
    _ami_rule,
)


# ---------------------------------------------------------------- control flow


def branch_targets(step: Step, globals_: Mapping[str, str]) -> list[GotoTarget]:
    """Where ``step`` may send the call besides its next priority (Goto, GotoIf,
    GotoIfTime, Gosub, GosubIf, ExecIf(...?Goto(...)), Dial's U() subroutine)."""
    name = step.application.lower()
    data = step.data
    texts: list[str] = []
    if name in ("goto", "gosub"):
        texts = [data]
    elif name in ("gotoif", "gotoiftime", "gosubif"):
        _cond, true, false = split_condition(data)
        texts = [t for t in (true, false) if t]
    elif name == "execif":
        texts = [d for app, d in execif_applications(data) if app.lower() in ("goto", "gosub")]
    elif name == "dial":
        arguments = split_arguments(data)
        if len(arguments) > 2:
            for routine in re.findall(r"U\(([^)^]*)", arguments[2]):
                texts.append(routine if "," in routine else f"{routine},s,1")
    targets = []
    for text in texts:
        if name in ("gosub", "gosubif") or "(" in text:
            text = text.split("(", 1)[0]
        try:
            targets.append(parse_goto_target(text.strip()))
        except ValueError:
            continue
    return targets


def _missing(plan: Dialplan, names: set[str], step: Step, target: GotoTarget) -> str | None:
    """Why ``target`` (from ``step``) leads nowhere, or None when it may lead somewhere
    (a part with ``${...}`` in it is not judged)."""
    context_name = target.context if target.context is not None else step.context
    extension = target.extension if target.extension is not None else step.extension
    if "$" in context_name:
        return None
    if context_name not in names:
        return f"no context {context_name!r}"
    context = plan.contexts.get(context_name)
    if context is None or "$" in extension:
        return None  # a context a module makes (parkedcalls), or a computed extension
    if not any(ordered_matches(c, extension) for c in search_order(plan, context)):
        return f"no extension {extension!r} in context {context_name!r}"
    if "$" in target.priority:
        return None
    number = target.number(step.priority)
    if number is not None:
        if find_step(plan, context_name, extension, number) is None:
            return f"no priority {number} in {context_name},{extension}"
    elif find_label(plan, context_name, extension, target.label or "") is None:
        return f"no label {target.label!r} in {context_name},{extension}"
    return None


class _Walker:
    """Follows every path through the dialplan from an extension's first priority."""

    def __init__(self, plan: Dialplan) -> None:
        self.plan = plan
        self.seen: set[tuple[str, str, int]] = set()
        self.dead_ends: list[Step] = []

    def walk(self, context: Context, extension: str, priority: int, *, subroutine: bool) -> None:
        pending = [(context, extension, priority, subroutine)]
        while pending:
            context, extension, priority, subroutine = pending.pop()
            key = (context.name, extension, priority)
            if key in self.seen:
                continue
            self.seen.add(key)
            step = context.step(extension, priority)
            if step is None:
                continue
            name = step.application.lower()
            targets = branch_targets(step, self.plan.globals)
            for target in targets:
                callee = name in ("gosub", "gosubif") or (name == "dial")
                for found in self._resolve(step, target):
                    pending.append((*found, callee or subroutine))
            unconditional = name in FINAL_APPLICATIONS or (
                name in ("gotoif", "gotoiftime") and all(split_condition(step.data)[1:])
            )
            if unconditional:
                continue
            following = context.step(extension, priority + 1)
            if following is not None:
                pending.append((context, extension, priority + 1, subroutine))
            elif not (subroutine and name == "return"):
                self.dead_ends.append(step)

    def _resolve(self, step: Step, target: GotoTarget) -> Iterator[tuple[Context, str, int]]:
        """The priorities ``target`` may lead to (every candidate of a computed one)."""
        context_name = target.context if target.context is not None else step.context
        extension = target.extension if target.extension is not None else step.extension
        if "$" in context_name or context_name not in self.plan.contexts:
            return
        if "$" not in extension and "$" not in target.priority:
            number = target.number(step.priority)
            found = (
                find_step(self.plan, context_name, extension, number)
                if number is not None
                else find_label(self.plan, context_name, extension, target.label or "")
            )
            if found is not None:
                yield self.plan.contexts[found.context], found.extension, found.priority
            return
        context = self.plan.contexts[context_name]
        for name in context.extensions:
            if not _could_be(extension, name):
                continue
            for candidate in context.extensions[name]:
                number = None if "$" in target.priority else target.number(step.priority)
                if (
                    (number is not None and candidate.priority == number)
                    or (candidate.label and candidate.label == target.label)
                    or ("$" in target.priority and candidate.priority == 1)
                ):
                    yield context, name, candidate.priority


def _could_be(target: str, extension: str) -> bool:
    """Whether extension ``target`` (possibly with ``${...}`` in it) may be ``extension``."""
    if "$" not in target:
        return target == extension or matches(extension, target)
    pattern = ".*".join(re.escape(part) for part in literal_parts(target))
    return re.fullmatch(pattern, extension) is not None


def literal_parts(text: str) -> list[str]:
    """The text of ``text`` around its ``${...}`` and ``$[...]`` (nested ones included):
    ``step-${X}`` -> ``["step-", ""]``."""
    parts = [""]
    i = 0
    while i < len(text):
        if text.startswith(("${", "$["), i):
            closer = "}" if text[i + 1] == "{" else "]"
            opener = text[i + 1]
            depth, j = 1, i + 2
            while j < len(text) and depth:
                if text[j] == opener and text[j - 1] == "$":
                    depth += 1
                elif text[j] == closer:
                    depth -= 1
                j += 1
            parts.append("")
            i = j
        else:
            parts[-1] += text[i]
            i += 1
    return parts


def _globals_scope(globals_: Mapping[str, str]) -> Scope:
    return Scope(variables={}, globals=globals_, functions={})


# ------------------------------------------------------------------ suppression


def _suppressed(site: Site, found: list[Finding]) -> Iterator[Finding]:
    comments: dict[tuple[str, int], tuple[str, ...]] = {}
    for config in site.files():
        comments.update(config.comments)
    reasons_missing: set[tuple[str, int]] = set()
    for finding in found:
        ignored = False
        for comment in comments.get((finding.file, finding.line), []):
            for match in _SUPPRESSION.finditer(comment):
                if match.group(1) != finding.rule:
                    continue
                if match.group(2):
                    ignored = True
                else:
                    reasons_missing.add((finding.file, finding.line))
        if not ignored:
            yield finding
    for file, line in sorted(reasons_missing):
        yield Finding(
            file, line, "SB-SUPPRESSION", "a suppression needs its reason: '... because <why>'"
        )


def _at(where: Where, rule: str, message: str) -> Finding:
    return Finding(where.file, where.line, rule, message)

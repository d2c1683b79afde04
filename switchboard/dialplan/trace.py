"""``switchboard dialplan trace``: the route a call would take, priority by priority.

Pure: :func:`trace` walks a :class:`~switchboard.dialplan.extensions.Dialplan` for a
caller (:class:`Situation`) as Asterisk's PBX core would run it on the caller's channel:
every priority substitutes its variables (:mod:`switchboard.dialplan.expressions`),
Goto/GotoIf/GotoIfTime/Gosub/Return/While/ExecIf move through the dialplan, and what
depends on the world is decided the way the situation says: the service answers its
FastAGI routes (``answer``: the caller gives the real routes' answers, see
``switchboard.cli``), a queue or a phone answers or not, the caller presses keys or hangs
up in an application. The steps are the ones Asterisk reports as AMI ``Newexten``
events on the caller's channel, so a trace can be held against a real call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from switchboard.dialplan.expressions import (
    GotoTarget,
    Scope,
    check_condition,
    parse_goto_target,
    split_arguments,
    split_condition,
    substitute,
)
from switchboard.dialplan.extensions import (
    Dialplan,
    Step,
    execif_applications,
    fastagi_route,
    find_label,
    find_step,
    ordered_matches,
    search_order,
)
from switchboard.dialplan.timing import build_timing

#: A loop in the dialplan must not run the trace forever.
MAX_STEPS = 1000
#: A FastAGI route's answer: the channel variables it sets (``CALLERID(name)`` included).
Answer = Callable[[str, list[str], Mapping[str, str]], Mapping[str, str] | None]
#: What an application did (a note, and where the call goes next: None for the next
#: priority), or None: nothing to say, on to the next priority. A call ends by _Hangup.
_Outcome = tuple[str, tuple[str, str, int] | None] | None


@dataclass(frozen=True)
class Situation:
    """A call: who dials what, when, and how the world answers it."""

    did: str
    caller_id: str
    at: datetime
    caller_name: str = ""
    #: what the caller types at each Read(), in order ("" : nothing)
    keys: tuple[str, ...] = ()
    #: whether a queue or a phone that rings picks the call up
    answered: bool = True
    #: the QUEUESTATUS of a queue nobody answers
    queue_status: str = "TIMEOUT"
    #: extensions whose phones are offline (a Dial to them is CHANUNAVAIL)
    unavailable: frozenset[str] = frozenset()
    #: the application the caller hangs up in ("VoiceMail"); "" : they stay to the end
    hangs_up_in: str = ""


@dataclass(frozen=True)
class TraceStep:
    context: str
    extension: str
    priority: int
    application: str
    #: its arguments after substitution
    data: str
    #: what happened there, in words ("" : nothing to say)
    note: str = ""
    where: str = ""

    def __str__(self) -> str:
        head = f"{self.context},{self.extension},{self.priority}"
        return f"{head:<34} {self.application}({self.data})" + (
            f"\n{'':<34}   -> {self.note}" if self.note else ""
        )


@dataclass
class Trace:
    steps: list[TraceStep] = field(default_factory=list)
    end: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    #: functions and expressions the trace could not evaluate
    unknown: list[str] = field(default_factory=list)


def trace(plan: Dialplan, entry_context: str, situation: Situation, answer: Answer) -> Trace:
    """The steps of a call from the trunk into ``entry_context`` (``from-trunk``)."""
    return _Run(plan, situation, answer).run(entry_context)


class _Hangup(Exception):
    def __init__(self, end: str) -> None:
        super().__init__(end)
        self.end = end


class _Run:
    def __init__(self, plan: Dialplan, situation: Situation, answer: Answer) -> None:
        self.plan = plan
        self.situation = situation
        self.answer = answer
        self.result = Trace()
        self.keys = list(situation.keys)
        self.channel: dict[str, str] = {
            "CALLERID(num)": situation.caller_id,
            "CALLERID(name)": situation.caller_name,
            "CHANNEL(language)": "en",
        }
        self.scope = Scope(
            variables=self.result.variables,
            globals=plan.globals,
            functions={
                "CALLERID": self._callerid,
                "CHANNEL": self._channel,
                "DEVICE_STATE": self._device_state,
                "PRESENCE_STATE": lambda _a, _s: "available",
                "DB_EXISTS": lambda _a, _s: "0",
                "DB_DELETE": lambda _a, _s: "",
                "DIALPLAN_EXISTS": self._dialplan_exists,
            },
        )
        self.stack: list[tuple[str, str, int]] = []

    # ------------------------------------------------------------------ running

    def run(self, entry_context: str) -> Trace:
        context = self.plan.contexts.get(entry_context)
        extension = self.situation.did or "s"
        if context is None:
            self.result.end = f"no context {entry_context!r}: Asterisk refuses the call"
            return self.result
        if not any(ordered_matches(c, extension) for c in search_order(self.plan, context)):
            self.result.end = f"no extension of {entry_context} matches {extension!r}"
            return self.result
        position: tuple[str, str, int] | None = (entry_context, extension, 1)
        try:
            for _ in range(MAX_STEPS):
                if position is None:
                    break
                position = self._step(*position)
            else:
                self.result.end = f"stopped after {MAX_STEPS} steps: a loop in the dialplan?"
        except _Hangup as hangup:
            self.result.end = hangup.end
        self.result.unknown = list(dict.fromkeys(self.scope.unknown))
        return self.result

    def _find(self, context_name: str, extension: str, priority: int) -> Step | None:
        return find_step(self.plan, context_name, extension, priority, self.situation.at)

    def _step(self, context: str, extension: str, priority: int) -> tuple[str, str, int] | None:
        step = self._find(context, extension, priority)
        if step is None:
            last = self.result.steps[-1] if self.result.steps else None
            raise _Hangup(
                f"no priority {priority} at {context},{extension}: Asterisk hangs up"
                + (f" after {last.application}" if last else "")
            )
        self.result.variables.update(
            {"CONTEXT": context, "EXTEN": extension, "PRIORITY": str(priority)}
        )
        self.result.variables["EPOCH"] = str(int(self.situation.at.timestamp()))
        data = substitute(step.data, self.scope)
        name = step.application.lower()
        handler = getattr(self, f"_app_{name}", None)
        note = ""
        following: tuple[str, str, int] | None = (context, extension, priority + 1)
        self._record(step, extension, data)
        if handler is not None:
            outcome = handler(step, extension, data)
            if outcome is not None:
                note, jump = outcome
                following = jump or following
        if note:
            last = self.result.steps[-1]
            self.result.steps[-1] = TraceStep(
                last.context,
                last.extension,
                last.priority,
                last.application,
                last.data,
                note,
                last.where,
            )
        return following

    def _record(self, step: Step, extension: str, data: str) -> None:
        self.result.steps.append(
            TraceStep(
                step.context,
                extension,
                step.priority,
                step.application,
                data,
                "",
                str(step.where),
            )
        )
        if self.situation.hangs_up_in and step.application.lower() == (
            self.situation.hangs_up_in.lower()
        ):
            raise _Hangup(f"the caller hangs up in {step.application}")

    def _goto(self, step: Step, extension: str, target: GotoTarget) -> tuple[str, str, int]:
        context = target.context if target.context is not None else step.context
        exten = target.extension if target.extension is not None else extension
        number = target.number(step.priority)
        if number is not None:
            return context, exten, number
        found = find_label(self.plan, context, exten, target.label or "", self.situation.at)
        if found is None:
            raise _Hangup(f"no label {target.priority!r} at {context},{exten}: Asterisk hangs up")
        return context, exten, found.priority

    # -------------------------------------------------------------- applications

    def _app_set(self, step: Step, extension: str, data: str) -> _Outcome:
        name, _, value = data.partition("=")
        name = name.strip()
        # Asterisk strips at most two underscores (inheritance marks), no more.
        name = name[2:] if name.startswith("__") else name.removeprefix("_")
        if "(" in name:
            self.channel[_function_key(name)] = value
        else:
            self.result.variables[name] = value
        return None

    def _app_mset(self, step: Step, extension: str, data: str) -> _Outcome:
        for assignment in split_arguments(data):
            self._app_set(step, extension, assignment)
        return None

    def _app_goto(self, step: Step, extension: str, data: str) -> _Outcome:
        return "", self._goto(step, extension, _target(data))

    def _app_gotoif(self, step: Step, extension: str, data: str) -> _Outcome:
        condition, true, false = split_condition(data)
        branch = true if check_condition(condition) else false
        if not branch:
            return None
        return "", self._goto(step, extension, _target(branch))

    def _app_gotoiftime(self, step: Step, extension: str, data: str) -> _Outcome:
        spec, _, branches = data.partition("?")
        true, _, false = branches.partition(":")
        matched = build_timing(spec).matches(self.situation.at)
        branch = true if matched else false
        note = f"{self.situation.at:%a %H:%M} {'matches' if matched else 'does not match'}"
        if not branch:
            return note, None
        return note, self._goto(step, extension, _target(branch))

    def _app_gosub(self, step: Step, extension: str, data: str) -> _Outcome:
        self.stack.append((step.context, extension, step.priority + 1))
        return "", self._goto(step, extension, _target(data.split("(", 1)[0]))

    def _app_return(self, step: Step, extension: str, data: str) -> _Outcome:
        if not self.stack:
            raise _Hangup("Return() with no Gosub: Asterisk hangs up")
        return "", self.stack.pop()

    def _app_execif(self, step: Step, extension: str, data: str) -> _Outcome:
        condition, true, false = split_condition(data, style="ExecIf")
        branch = true if check_condition(condition) else false
        if not branch.strip():
            return None
        ((application, inner),) = execif_applications(f"1?{branch}")
        handler = getattr(self, f"_app_{application.lower()}", None)
        outcome = handler(step, extension, inner) if handler is not None else None
        note = outcome[0] if outcome and outcome[0] else f"runs {application}({inner})"
        # A Goto or Gosub inside moves the call as it would on its own line.
        return note, outcome[1] if outcome else None

    def _app_while(self, step: Step, extension: str, data: str) -> _Outcome:
        if check_condition(data):
            return None
        end = self._matching(step, extension, forward=True)
        return "", (step.context, extension, end + 1)

    def _app_endwhile(self, step: Step, extension: str, data: str) -> _Outcome:
        return "", (step.context, extension, self._matching(step, extension, forward=False))

    def _matching(self, step: Step, extension: str, *, forward: bool) -> int:
        context = self.plan.contexts[step.context]
        steps = sorted(context.extensions.get(step.extension, []), key=lambda s: s.priority)
        order = [
            s
            for s in steps
            if (s.priority > step.priority if forward else s.priority < step.priority)
        ]
        if not forward:
            order.reverse()
        depth = 0
        opener, closer = ("while", "endwhile") if forward else ("endwhile", "while")
        for candidate in order:
            name = candidate.application.lower()
            if name == opener:
                depth += 1
            elif name == closer:
                if depth == 0:
                    return candidate.priority
                depth -= 1
        raise _Hangup(f"While/EndWhile unmatched at {step.where}")

    def _app_hangup(self, step: Step, extension: str, data: str) -> _Outcome:
        raise _Hangup("Hangup()")

    def _app_agi(self, step: Step, extension: str, data: str) -> _Outcome:
        arguments = split_arguments(data)
        route = fastagi_route(arguments[0] if arguments else "")
        if route is None:
            # A classic AGI script: the trace assumes it answers like the service.
            self.result.variables["AGISTATUS"] = "SUCCESS"
            return "a classic AGI script (not traced)", None
        # What the route reads of the channel: its variables and its caller ID.
        channel = {**self.result.variables, **self.channel}
        answered = self.answer(route, arguments[1:], channel)
        if answered is None:
            self.result.variables["AGISTATUS"] = "FAILURE"
            return f"the service does not serve {route!r}: AGISTATUS=FAILURE", None
        for name, value in answered.items():
            if "(" in name:
                self.channel[_function_key(name)] = value
            else:
                self.result.variables[name] = value
        self.result.variables["AGISTATUS"] = "SUCCESS"
        said = " ".join(f"{k}={v}" for k, v in answered.items() if v)
        return f"{route}: {said or 'nothing set'}", None

    def _app_queue(self, step: Step, extension: str, data: str) -> _Outcome:
        queue = split_arguments(data)[0] if data else ""
        if self.situation.answered:
            raise _Hangup(f"answered in queue {queue}")
        self.result.variables["QUEUESTATUS"] = self.situation.queue_status
        return f"nobody answers: QUEUESTATUS={self.situation.queue_status}", None

    def _app_dial(self, step: Step, extension: str, data: str) -> _Outcome:
        target = split_arguments(data)[0] if data else ""
        devices = [d.split("/", 1)[-1].split("@", 1)[0] for d in target.split("&")]
        if devices and all(d in self.situation.unavailable for d in devices):
            status = "CHANUNAVAIL"
        elif self.situation.answered:
            raise _Hangup(f"answered by {target}")
        else:
            status = "NOANSWER"
        self.result.variables["DIALSTATUS"] = status
        return f"DIALSTATUS={status}", None

    def _app_voicemail(self, step: Step, extension: str, data: str) -> _Outcome:
        self.result.variables["VMSTATUS"] = "SUCCESS"
        return "the caller leaves a message: VMSTATUS=SUCCESS", None

    def _app_read(self, step: Step, extension: str, data: str) -> _Outcome:
        arguments = split_arguments(data)
        keys = self.keys.pop(0) if self.keys else ""
        if arguments:
            self.result.variables[arguments[0]] = keys
        return f"the caller types {keys!r}" if keys else "the caller types nothing", None

    def _app_playback(self, step: Step, extension: str, data: str) -> _Outcome:
        return None

    # ----------------------------------------------------------------- functions

    def _callerid(self, argument: str, _scope: Scope) -> str:
        field_name = argument.strip().lower()
        if field_name == "all":
            name, number = self.channel["CALLERID(name)"], self.channel["CALLERID(num)"]
            return f'"{name}" <{number}>' if name else f"<{number}>"
        return self.channel.get(f"CALLERID({field_name})", "")

    def _channel(self, argument: str, _scope: Scope) -> str:
        key = argument.strip().lower()
        if key == "name":
            return "PJSIP/trunk-00000001"
        if key == "endpoint":
            return "trunk"
        return self.channel.get(f"CHANNEL({key})", "")

    def _device_state(self, argument: str, _scope: Scope) -> str:
        device = argument.strip().split("/", 1)[-1]
        return "UNAVAILABLE" if device in self.situation.unavailable else "NOT_INUSE"

    def _dialplan_exists(self, argument: str, _scope: Scope) -> str:
        parts = [p.strip() for p in argument.split(",")]
        context, extension, priority = (*parts, "", "", "")[:3]
        if not extension:
            return "1" if context in self.plan.contexts else "0"
        return "1" if self._find(context, extension, int(priority or "1")) else "0"


def _target(text: str) -> GotoTarget:
    """A Goto target, or the end of the call: Asterisk hangs up on one it cannot read."""
    try:
        return parse_goto_target(text)
    except ValueError as exc:
        raise _Hangup(f"invalid Goto target {text!r} ({exc}): Asterisk hangs up") from exc


def _function_key(name: str) -> str:
    function, _, argument = name.partition("(")
    return f"{function.strip().upper()}({argument.rstrip(')').strip().lower()})"

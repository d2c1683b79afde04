"""What Asterisk 22 evaluates in an application's arguments, modelled in pure Python.

A dialplan tracer needs the argument string a priority's application really receives:
:func:`substitute` does Asterisk's variable substitution (``${VAR}``, ``${VAR:off:len}``,
``${FUNC(args)}``, ``$[expression]``, nested, left to right), :func:`evaluate` is the
``$[...]`` expression parser, and the ``split_*`` / :func:`parse_goto_target` /
:func:`check_condition` helpers cut the substituted text the way the applications do.

Each piece follows the Asterisk source it names (the ``asterisk/asterisk`` repository,
the 22 branch): ``main/pbx_variables.c`` (substitution, ``parse_variable_name``,
``substring``, ``pbx_builtin_setvar_helper``), ``main/ast_expr2.fl`` and
``main/ast_expr2.y`` (the expression lexer and grammar), ``main/pbx_functions.c``
(``func_args``), ``main/app.c`` (``__ast_app_separate_args``, ``ast_get_encoded_char``),
``pbx/pbx_config.c`` (``App(args)`` on a priority line), ``main/pbx_builtins.c``
(GotoIf), ``apps/app_exec.c`` (ExecIf), ``main/pbx.c`` (``pbx_checkcondition``,
``pbx_parseable_goto``), ``funcs/func_logic.c``, ``funcs/func_strings.c`` and
``funcs/func_cut.c`` (the builtin functions).

Where the model is not exact, by design:

* Regular expressions (``REGEX()``, ``$[a : b]``, ``$[a =~ b]``) are POSIX extended
  expressions in Asterisk (glibc ``regcomp``); here they are translated to Python's
  :mod:`re` (bracket classes such as ``[[:digit:]]``, ``$`` only at the very end,
  ``.`` matching a newline). Python picks the leftmost-*first* alternative where POSIX
  picks the leftmost-*longest*: a match/no-match answer is the same, a captured group
  or match length may differ for ambiguous alternations.
* ``$[]`` numbers are exact rationals; Asterisk uses ``long double`` (64 mantissa bits on
  x86-64), so results differ past about 19 significant digits. Results print as
  Asterisk's ``%.18Lg`` (``3``, ``3.5``, ``1e+18``), negative zero included.
* Lengths and offsets count UTF-8 bytes, as Asterisk's ``strlen`` does; a substring that
  cuts a multi-byte character loses that character (Asterisk would pass the broken bytes).
* Asterisk's fixed buffers are kept: an application's data is at most 8191 bytes, a
  variable's value, a function's result and a nested substitution at most 4095, and
  substitution nests at most 15 deep (``MAX_VARIABLE_SUB_RECURSE_DEPTH``). What Asterisk
  cuts silently or logs is recorded in :attr:`Scope.errors`, never raised.
* Math functions inside ``$[]`` (``SQRT(2)``...) other than ABS, FLOOR, CEIL, ROUND, RINT
  and TRUNC are not modelled: they are recorded as errors and give 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

#: A dialplan function: called with its argument text (already substituted) and the
#: scope; returns its value. To fail as Asterisk's ``read`` callback returning -1 (nothing
#: is inserted), append a message to ``scope.errors`` and return "".
FunctionImpl = Callable[[str, "Scope"], str]

#: ``MAX_VARIABLE_SUB_RECURSE_DEPTH`` in main/pbx_variables.c.
MAX_SUBSTITUTION_DEPTH = 15
#: ``EXT_DATA_SIZE - 1``: the room pbx.c gives an application's substituted data.
APPLICATION_DATA_LIMIT = 8191
#: ``VAR_BUF_SIZE - 1``: a value, a function result or a nested substitution.
VARIABLE_BUFFER_LIMIT = 4095
#: The workspace ``op_func`` in ast_expr2.y gives a function called inside ``$[]``.
_EXPRESSION_FUNCTION_LIMIT = 511
_INT_MAX = 2**31 - 1
_BLANKS = "".join(chr(c) for c in range(33))  # ast_strip: every byte below 33
_C_SPACE = " \t\n\v\f\r"  # isspace() in the C locale, which scanf skips


class ExpressionError(ValueError):
    """A ``$[...]`` Asterisk's parser rejects (a syntax error).

    Asterisk logs a warning and the expression's value is then ``"0"`` (``ast_expr`` writes
    "0" when the parser produced no value); :func:`substitute` does the same and records
    the message in :attr:`Scope.errors`.
    """


@dataclass
class Scope:
    """The variables a channel sees (channel variables over globals) and the functions
    it may call.

    ``variables`` holds the channel's variables under their names without the
    inheritance underscores (``Set(__X=1)`` stores ``X``); the caller puts Asterisk's
    builtin variables there too (``EXTEN``, ``CONTEXT``, ``PRIORITY``, ``EPOCH``,
    ``CHANNEL``, ``UNIQUEID``...). In Asterisk those builtins win over a channel variable
    of the same name. Names are case-sensitive, as in Asterisk (``strcmp``).

    ``functions`` are dialplan functions the caller provides (``CALLERID``, ``CHANNEL``,
    ``DEVICE_STATE``...); they win over :data:`BUILTIN_FUNCTIONS`. Function names are
    case-sensitive too (``ast_custom_function_find`` uses ``strcmp``).
    """

    variables: dict[str, str] = field(default_factory=dict)
    globals: Mapping[str, str] = field(default_factory=dict)
    functions: Mapping[str, FunctionImpl] = field(default_factory=dict)
    #: functions neither the builtins nor ``functions`` know, in the order met (each
    #: time met); Asterisk logs "Function X not registered" and inserts nothing
    unknown: list[str] = field(default_factory=list)
    #: what Asterisk would log as a warning or error while substituting (syntax errors,
    #: missing braces, bad function arguments, cut values), in the order met
    errors: list[str] = field(default_factory=list)
    #: writes to functions (``Set(CHANNEL(language)=nl)``, ``SET(DB(k)=v)``) as
    #: (``NAME(args)``, value), in order: the caller decides what they change
    function_writes: list[tuple[str, str]] = field(default_factory=list)
    # How deep function calls nest right now (a guard, see _run_function).
    _nesting: int = field(default=0, init=False, repr=False, compare=False)

    def get(self, name: str) -> str:
        """The value of ``${name}``: the channel variable, else the global, else ""."""
        if name in self.variables:
            return self.variables[name]
        return self.globals.get(name, "")

    def set(self, name: str, value: str) -> None:
        """``pbx_builtin_setvar_helper``: set a channel variable (up to two leading
        underscores, the inheritance marks, are not part of the name), or record a
        write to a function when ``name`` ends with ``)``."""
        if name.endswith(")"):
            self.function_writes.append((name, value))
            return
        for _ in range(2):
            if name.startswith("_"):
                name = name[1:]
        self.variables[name] = value

    def function(self, name: str) -> FunctionImpl | None:
        """The implementation of function ``name``: the caller's, else the builtin."""
        found = self.functions.get(name)
        return found if found is not None else BUILTIN_FUNCTIONS.get(name)


# ------------------------------------------------------------------ small C helpers


def _clip(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` UTF-8 bytes, and whether it was cut."""
    data = text.encode()
    if len(data) <= limit:
        return text, False
    return data[:limit].decode(errors="ignore"), True


def _to_c_int(value: int) -> int:
    """What glibc's scanf ``%d`` stores: strtol's value (clamped to a 64-bit long), cast
    to a 32-bit int."""
    value = max(-(2**63), min(2**63 - 1, value))
    value &= 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


def _scan_int(text: str, width: int | None = 30) -> tuple[int, str] | None:
    """scanf ``%30d`` (``width`` None: ``atoi``'s unbounded strtol): the int read and the
    text after it, or None when no digits start ``text`` (after blanks)."""
    rest = text.lstrip(_C_SPACE)
    limit = len(rest) if width is None else min(width, len(rest))
    end = 1 if limit and rest[0] in "+-" else 0
    start = end
    while end < limit and rest[end] in "0123456789":
        end += 1
    if end == start:
        return None
    number = _digits_to_int(rest[start:end])
    return _to_c_int(-number if rest[0] == "-" else number), rest[end:]


def _digits_to_int(digits: str) -> int:
    """int(digits), also past Python's 4300-digit conversion limit."""
    value = 0
    for start in range(0, len(digits), 1000):
        chunk = digits[start : start + 1000]
        value = value * 10 ** len(chunk) + int(chunk)
    return value


def _atoi(text: str) -> int:
    scanned = _scan_int(text, width=None)
    return 0 if scanned is None else scanned[0]


def _strip(text: str) -> str:
    """ast_strip: blanks (any byte below 33) off both ends."""
    return text.strip(_BLANKS)


def check_condition(condition: str) -> bool:
    """``pbx_checkcondition`` (main/pbx.c), the truth GotoIf, ExecIf, IF, While use:
    empty is false, text that starts with an integer (scanf ``%d``) is that integer's
    truth, any other text is true. So ``"0.5"`` and ``"0abc"`` are false, ``"abc"`` true."""
    if not condition:
        return False
    scanned = _scan_int(condition)
    return True if scanned is None else scanned[0] != 0


# --------------------------------------------------------------- argument splitting


def _separate(
    text: str | None, delimiter: str, *, remove_chars: bool, limit: int | None
) -> list[str]:
    """``__ast_app_separate_args`` (main/app.c), with ``limit`` its ``arraylen``."""
    if not text:
        return []
    fields: list[str] = []
    paren = bracket = 0
    quote = False
    i, n = 0, len(text)
    ended_on_delimiter = False
    while i < n and (limit is None or len(fields) < limit - 1):
        current: list[str] = []
        ended_on_delimiter = False
        while i < n:
            char = text[i]
            if char == "(":
                paren += 1
            elif char == ")":
                paren = max(0, paren - 1)
            elif char == "[":
                bracket += 1
            elif char == "]":
                bracket = max(0, bracket - 1)
            elif char == '"' and delimiter != '"':
                quote = not quote
                if remove_chars:
                    i += 1
                    continue
            elif char == "\\":
                # The next character is literal: neither a delimiter nor a quote.
                if not remove_chars:
                    current.append(char)
                if i + 1 < n:
                    current.append(text[i + 1])
                i += 2
                continue
            elif char == delimiter and not paren and not quote and not bracket:
                i += 1
                ended_on_delimiter = True
                break
            current.append(char)
            i += 1
        fields.append("".join(current))
    if i < n:
        fields.append(text[i:])  # the last field: the rest, not parsed at all
    elif ended_on_delimiter:
        fields.append("")  # "a," is two arguments, the second empty
    return fields


def split_arguments(args: str, delimiter: str = ",", *, limit: int | None = None) -> list[str]:
    """``ast_app_separate_args`` with ``delimiter``: an application's arguments.

    The delimiter splits except inside parentheses, square brackets or double quotes;
    double quotes are removed, a backslash makes the next character literal (and is
    removed). ``""`` has no argument at all (``[]``), ``"a,"`` two. ``limit`` is how many
    arguments the application declares (``AST_APP_ARG``): the last one then takes the
    rest of the text *unparsed* (its quotes and backslashes stay). Asterisk's state
    (parentheses, quote) carries over from one argument to the next, as here.
    """
    return _separate(args, delimiter, remove_chars=True, limit=limit)


def split_application(command: str) -> tuple[str, str]:
    """``'Dial(PJSIP/100,30,t)'`` -> ``('Dial', 'PJSIP/100,30,t')``; ``'Hangup'`` or
    ``'Hangup()'`` -> ``('Hangup', '')``.

    As pbx/pbx_config.c reads a priority line: the name ends at the first ``(``, the data
    at the *last* ``)`` (anything after it is dropped; no ``)`` at all: the rest, which
    Asterisk warns about). There is no ``App,args`` form any more: a comma is part of
    the name. Text before the ``(`` holding ``${`` or ``$[`` is all name, with no data
    (``exten => 100,hint,DAHDI/${GLOBAL(x)}``). Blanks before the name are skipped.
    """
    if "(" not in command:
        return command.lstrip(_BLANKS), ""
    name, _, rest = command.partition("(")
    if "${" in name or "$[" in name:
        return command.lstrip(_BLANKS), ""
    end = rest.rfind(")")
    return name.lstrip(_BLANKS), rest[:end] if end >= 0 else rest


def split_condition(
    args: str, *, style: Literal["GotoIf", "ExecIf", "IF"] = "GotoIf"
) -> tuple[str, str, str]:
    """``cond?true:false`` -> ``(cond, true, false)``; a missing part is "".

    The three readers differ, so say which one:

    * ``"GotoIf"`` (main/pbx_builtins.c, also GotoIfTime): plain ``strsep``: the first
      ``?``, then the first ``:`` after it, whatever the brackets or quotes.
    * ``"ExecIf"`` (apps/app_exec.c): the first ``?`` and then the first ``:`` *outside*
      parentheses, brackets and quotes (quotes kept), so ``Log(NOTICE,a: b)`` stays
      whole. Its old syntax ``cond,App,args`` (a comma before the first ``?``, or no
      ``?``) is returned as ``(cond, "App(args)", "")``. An empty true-and-false part is
      an error in Asterisk (ExecIf fails, and the channel hangs up).
    * ``"IF"`` (funcs/func_logic.c ``IF()``): like ExecIf, but quotes and backslashes are
      removed from the condition and the true part (not the false part), and each part
      is stripped of blanks.
    """
    if style == "GotoIf":
        condition, question, branches = args.partition("?")
        if not question:
            return condition, "", ""
        true, _, false = branches.partition(":")
        return condition, true, false
    if style == "ExecIf":
        first_comma, first_question = args.find(","), args.find("?")
        if first_question < 0 or 0 <= first_comma < first_question:
            old = _separate(args, ",", remove_chars=True, limit=3)
            condition = old[0] if old else ""
            application = old[1] if len(old) > 1 else ""
            if len(old) > 2:
                application += f"({old[2]})"
            return condition, application, ""
    remove = style == "IF"
    first = _separate(args, "?", remove_chars=remove, limit=2)
    condition = first[0] if first else ""
    second = _separate(first[1] if len(first) > 1 else None, ":", remove_chars=remove, limit=2)
    true = second[0] if second else ""
    false = second[1] if len(second) > 1 else ""
    if style == "IF":
        return _strip(condition), _strip(true), _strip(false)
    return condition, true, false


@dataclass(frozen=True)
class GotoTarget:
    """Where Goto, GotoIf's branch and Gosub send the channel.

    ``priority`` is the text as written: a number (``"1"``, also ``" 2 "``), a relative
    number (``"+1"``, ``"-2"``: from the current priority), or a label; see
    :meth:`number` and :attr:`label`.
    """

    context: str | None  # None: the current context
    extension: str | None  # None: the current extension
    priority: str

    def _relative(self) -> tuple[int, str]:
        if self.priority[:1] in ("+", "-"):
            return (1 if self.priority[0] == "+" else -1), self.priority[1:]
        return 0, self.priority

    def number(self, current: int) -> int | None:
        """The priority number (``current``: the channel's priority, for ``+N``/``-N``),
        or None when it is a label. As ``pbx_parse_location``: a number is what scanf
        ``%d`` reads with nothing but blanks after it."""
        mode, text = self._relative()
        scanned = _scan_int(text)
        if scanned is None or scanned[1].strip(_C_SPACE):
            return None
        return current + mode * scanned[0] if mode else scanned[0]

    @property
    def label(self) -> str | None:
        """The label to look up (a leading ``+``/``-`` dropped, as Asterisk does), or
        None when the priority is a number."""
        return self._relative()[1] if self.number(0) is None else None


def parse_goto_target(target: str) -> GotoTarget:
    """``[[context,]extension,]priority`` (``pbx_parseable_goto``, main/pbx.c): one part is
    a priority, two are extension and priority, three context, extension and priority.

    Parts are not stripped (Asterisk does not: ``Goto(ctx, s, 1)`` looks for extension
    ``" s"``); an empty context or extension means the current one. Raises ValueError
    for an empty target or priority, and for more than three parts, which Asterisk
    silently ignores past the third (almost certainly a mistake in the dialplan).
    """
    if not target:
        raise ValueError("Goto requires an argument ([[context,]extension,]priority)")
    parts = target.split(",")
    if len(parts) > 3:
        raise ValueError(
            f"Goto target {target!r} has {len(parts)} parts: at most three "
            "(context,extension,priority); Asterisk ignores the rest"
        )
    context: str | None = None
    extension: str | None = None
    if len(parts) == 3:
        context, extension, priority = parts
    elif len(parts) == 2:
        extension, priority = parts
    else:
        (priority,) = parts
    if not priority:
        raise ValueError(f"Goto target {target!r}: the priority is empty")
    return GotoTarget(context or None, extension or None, priority)


# ------------------------------------------------------------------- substitution


class _Output:
    """The buffer Asterisk substitutes into: ``limit`` bytes, the rest dropped."""

    def __init__(self, limit: int | None) -> None:
        self.parts: list[str] = []
        self.room = limit
        self.cut = False

    def full(self) -> bool:
        return self.room is not None and self.room <= 0

    def add(self, text: str, *, reserve: int = 0) -> None:
        if self.room is None:
            self.parts.append(text)
            return
        text, cut = _clip(text, max(0, self.room - reserve))
        self.cut = self.cut or cut
        self.room -= len(text.encode())
        self.parts.append(text)

    def text(self) -> str:
        return "".join(self.parts)


def substitute(text: str, scope: Scope) -> str:
    """Asterisk's variable substitution of one application-argument string
    (``pbx_substitute_variables_helper_full``): ``${VAR}``, ``${VAR:offset:length}``,
    ``${FUNC(args)}`` (nested), ``$[expression]`` (evaluated after its inner
    substitution), recursively, left to right.

    Never raises. What Asterisk logs is recorded in ``scope.errors`` (an expression's
    syntax error: the value is then "0", as in Asterisk), unknown functions in
    ``scope.unknown`` (their value is ""). Functions run as they are met, so their side
    effects (``SHIFT``, ``SET``) happen even where the text is not used afterwards
    (both branches of an ``ExecIf`` line are substituted before ExecIf runs).
    A substituted value is never substituted again: ``${X}`` whose value is ``${Y}``
    gives the text ``${Y}``.
    """
    return _substitute(text, scope, APPLICATION_DATA_LIMIT, 0)


def _matching_end(
    text: str, start: int, opener: str, closer: str, other: str
) -> tuple[int, bool, bool]:
    """Asterisk's scan for the end of ``${...}`` (opener ``{``) or ``$[...]`` (``[``) whose
    body starts at ``start``: (index after the closer or the text's end, whether it was
    found, whether the body needs a substitution of its own)."""
    depth, i, n, needsub = 1, start, len(text), False
    while depth and i < n:
        char = text[i]
        following = text[i + 1] if i + 1 < n else ""
        if char == "$" and following == opener:
            needsub = True
            depth += 1
            i += 1
        elif char == opener:
            depth += 1
        elif char == closer:
            depth -= 1
        elif char == "$" and following == other:
            # The other kind nests without counting: its own brackets are not ours.
            needsub = True
            i += 1
        i += 1
    return i, depth == 0, needsub


def _substitute(text: str, scope: Scope, limit: int | None, depth: int) -> str:
    if depth >= MAX_SUBSTITUTION_DEPTH:
        scope.errors.append(
            "Exceeded maximum variable substitution recursion depth "
            f"({MAX_SUBSTITUTION_DEPTH}) - possible infinite recursion in dialplan?"
        )
        return ""
    out = _Output(limit)
    i, n = 0, len(text)
    while i < n and not out.full():
        dollar = text.find("$", i)
        if dollar < 0:
            out.add(text[i:])
            break
        kind = text[dollar + 1 : dollar + 2]
        if kind not in ("{", "["):
            out.add(text[i : dollar + 1])  # a '$' that starts nothing is text
            i = dollar + 1
            continue
        out.add(text[i:dollar])
        start = dollar + 2
        if kind == "{":
            end, closed, needsub = _matching_end(text, start, "{", "}", "[")
            body = text[start : end - 1] if closed else text[start:end]
            if not closed:
                scope.errors.append("Error in extension logic (missing '}')")
        else:
            end, closed, needsub = _matching_end(text, start, "[", "]", "{")
            body = text[start : end - 1] if closed else text[start:end]
            if not closed:
                scope.errors.append("Error in extension logic (missing ']')")
        i = end
        body, cut = _clip(body, VARIABLE_BUFFER_LIMIT)
        if cut:
            # Asterisk copies the body into a VAR_BUF_SIZE buffer without a bound check
            # (a stack overflow there); here it is cut and said.
            scope.errors.append(f"a ${kind} reference longer than 4095 bytes, cut")
        if needsub:
            body = _substitute(body, scope, VARIABLE_BUFFER_LIMIT, depth + 1)
        if kind == "{":
            value = _variable_or_function(body, scope)
            if value is not None:
                out.add(value)
        else:
            try:
                result = evaluate(body, scope)
            except ExpressionError as error:
                scope.errors.append(str(error))
                result = "0"
            # ast_expr copies with ast_copy_string: one byte of the room is the NUL.
            out.add(result, reserve=1)
    if out.cut:
        scope.errors.append(f"substitution cut to {limit} bytes, as Asterisk's buffer")
    return out.text()


def _parse_variable_name(name: str) -> tuple[str, int, int, bool]:
    """``parse_variable_name``: (name without ``:offset:length``, offset, length, whether
    it is a function call); the split is at the first ``:`` outside parentheses."""
    parens = 0
    is_function = False
    for index, char in enumerate(name):
        if char == "(":
            is_function = True
            parens += 1
        elif char == ")":
            parens -= 1
        elif char == ":" and parens == 0:
            offset, length = 0, _INT_MAX
            scanned = _scan_int(name[index + 1 :])
            if scanned is not None:
                offset, rest = scanned
                if rest.startswith(":"):
                    second = _scan_int(rest[1:])
                    if second is not None:
                        length = second[0]
            return name[:index], offset, length, is_function
    return name, 0, _INT_MAX, is_function


def _substring(value: str, offset: int, length: int) -> str:
    """``substring`` (main/pbx_variables.c) on the value's bytes: a negative offset counts
    from the end, a negative length leaves that many bytes off the end."""
    data = value.encode()
    total = len(data)
    if offset == 0 and length >= total:
        return value
    if offset < 0:
        offset = max(0, total + offset)
    if offset >= total:
        return ""
    if 0 <= length < total - offset:
        data = data[offset : offset + length]
    elif length < 0:
        data = data[offset : total + length] if total > offset - length else b""
    else:
        data = data[offset:]
    return data.decode(errors="ignore")


def _variable_or_function(body: str, scope: Scope) -> str | None:
    """The value ``${body}`` inserts, or None when Asterisk inserts nothing."""
    name, offset, length, is_function = _parse_variable_name(body)
    if is_function:
        value = _call_function(name, scope, VARIABLE_BUFFER_LIMIT)
        if value is None:
            return None
    else:
        value, cut = _clip(scope.get(name), VARIABLE_BUFFER_LIMIT)
        if cut:
            scope.errors.append(f"the value of {name} cut to 4095 bytes, as Asterisk's buffer")
    return _substring(value, offset, length)


def _call_function(call: str, scope: Scope, limit: int) -> str | None:
    """``ast_func_read`` of ``NAME(args)``: the name ends at the first ``(``, the arguments
    at the last ``)``. None: the function is unknown."""
    name, _, args = call.partition("(")
    end = args.rfind(")")
    if end >= 0:
        args = args[:end]
    else:
        scope.errors.append(f"Can't find trailing parenthesis for function '{call}'?")
    implementation = scope.function(name)
    if implementation is None:
        scope.errors.append(f"Function {name} not registered")
        scope.unknown.append(name)
        return None
    value, cut = _clip(_run_function(implementation, name, args, scope), limit)
    if cut:
        scope.errors.append(f"the value of {name}() cut to {limit} bytes, as Asterisk's buffer")
    return value


#: Functions reading variables (CUT, SHIFT, POP) substitute again, with no depth bound in
#: Asterisk (ast_str_substitute_variables); here calls nest at most this deep.
_MAX_FUNCTION_NESTING = 15


def _run_function(implementation: FunctionImpl, name: str, args: str, scope: Scope) -> str:
    """Call a function; what goes wrong in it is recorded, never raised (the caller's
    functions are written for sane dialplans, the text may be anything)."""
    if scope._nesting >= _MAX_FUNCTION_NESTING:
        return _fail(scope, f"{name}(): functions nested more than {_MAX_FUNCTION_NESTING} deep")
    scope._nesting += 1
    try:
        return implementation(args, scope)
    except Exception as error:  # any bug or refusal in a function must not end the trace
        return _fail(scope, f"{name}({args}) failed: {error!r}")
    finally:
        scope._nesting -= 1


# ---------------------------------------------------------------------- builtins


def _fail(scope: Scope, message: str) -> str:
    scope.errors.append(message)
    return ""


def _read_variable(name: str, scope: Scope) -> str:
    """What a function reads as ``${name}`` (CUT, SHIFT, POP substitute exactly that)."""
    return _substitute("${" + name + "}", scope, None, 0)


def _encoded_char(text: bytes) -> tuple[int, int] | None:
    """``ast_get_encoded_char`` (main/app.c): (the byte, bytes consumed), or None when
    it fails (empty text, a bad ``\\x``)."""
    if not text:
        return None
    if text[0] != 0x5C:  # not a backslash
        return text[0], 1
    escape = text[1:2]
    if escape in (b"n", b"r", b"t"):
        return {b"n": 10, b"r": 13, b"t": 9}[escape], 2
    hexdigits = b"0123456789ABCDEFabcdef"
    if escape == b"x":
        digits = b""
        for byte in text[2:4]:
            if byte not in hexdigits:
                break
            digits += bytes([byte])
        if not digits:
            return None
        return int(digits, 16), 2 + len(digits)
    if escape == b"0":
        value, consumed = 0, 2
        while consumed < len(text) and text[consumed] in b"01234567":
            value = (value * 8 + text[consumed] - 48) & 0xFF  # a C char overflows
            consumed += 1
        return value, consumed
    if not escape:
        return 0, 2  # a lone trailing backslash: the NUL after it
    return escape[0], 2


def _func_if(args: str, scope: Scope) -> str:
    first = _separate(args, "?", remove_chars=True, limit=2)
    second = _separate(first[1] if len(first) > 1 else None, ":", remove_chars=True, limit=2)
    if not first or not first[0] or not second:
        return _fail(scope, f"IF({args}): Syntax IF(<expr>?[<true>][:<false>])")
    condition, true, false = split_condition(args, style="IF")
    return true if check_condition(condition) else false


def _func_set(args: str, scope: Scope) -> str:
    name, equals, value = args.partition("=")
    if not name or not equals:
        return _fail(scope, "Syntax SET(<varname>=[<value>])")
    value = _strip(value)
    scope.set(_strip(name), value)
    return value


def _func_len(args: str, scope: Scope) -> str:
    return str(len(args.encode()))


def _func_cut(args: str, scope: Scope) -> str:
    fields = _separate(args, ",", remove_chars=True, limit=3)
    if len(fields) < 3:
        return _fail(scope, "Syntax: CUT(<varname>,<char-delim>,<range-spec>) - missing argument!")
    name, delimiter_text, spec = fields
    value = _read_variable(name, scope).encode()
    encoded = _encoded_char(delimiter_text.encode())
    delimiter = bytes([encoded[0]]) if encoded is not None else b"-"
    if not value:
        return ""
    pieces = value.split(delimiter) if delimiter != b"\0" else [value]
    out: list[bytes] = []
    field_number = 1
    position = 0  # the next piece not yet passed
    for part in spec.split("&"):
        bounds = _cut_range(part)
        if bounds is None:
            return _fail(scope, "Usage: CUT(<varname>,<char-delim>,<range-spec>)")
        start, stop = bounds
        while position < len(pieces) and field_number < start:
            position += 1
            field_number += 1
        while position < len(pieces) and field_number <= stop:
            out.append(pieces[position])
            position += 1
            field_number += 1
        if position >= len(pieces):
            break
    return delimiter.join(out).decode(errors="ignore")


def _cut_range(spec: str) -> tuple[int, int] | None:
    """func_cut.c's four sscanf forms: ``a-b``, ``-b``, ``a-``, ``a``."""
    first = _scan_int(spec)
    if first is not None and first[1].startswith("-"):
        second = _scan_int(first[1][1:])
        if second is not None:
            return first[0], second[0]
    if spec.startswith("-"):
        stop = _scan_int(spec[1:])
        if stop is not None:
            return 1, stop[0]
    if first is not None and first[1][:1] == "-":
        return first[0], _INT_MAX
    if first is not None:
        return first[0], first[0]
    return None


def _func_filter(args: str, scope: Scope) -> str:
    fields = _separate(args, ",", remove_chars=False, limit=2)
    if len(fields) < 2:
        return _fail(scope, "Usage: FILTER(<allowed-chars>,<string>)")
    allowed_spec, string = fields[0].encode(), fields[1].encode()
    allowed: set[int] = set()
    while allowed_spec:
        first = _encoded_char(allowed_spec)
        if first is None:
            return _fail(scope, f"FILTER({args}): bad character in the allowed list")
        low, consumed = first
        allowed_spec = allowed_spec[consumed:]
        if allowed_spec[:1] == b"-":
            second = _encoded_char(allowed_spec[1:])
            high, consumed = second if second is not None else (low, 0)
            allowed_spec = allowed_spec[consumed + 1 :]
            byte = low
            while byte != high:  # a range may wrap past 255, as the C loop does
                allowed.add(byte)
                byte = (byte + 1) & 0xFF
            allowed.add(high)
        else:
            allowed.add(low)
    allowed.discard(0)
    return bytes(b for b in string if b in allowed).decode(errors="ignore")


def _shift_pop(command: str) -> FunctionImpl:
    beginning = command == "SHIFT"

    def shift_pop(args: str, scope: Scope) -> str:
        fields = _separate(args, ",", remove_chars=True, limit=2)
        if not fields or not fields[0]:
            return _fail(scope, f"{command} requires a variable name")
        name = fields[0]
        delimiter = ","
        if len(fields) > 1 and fields[1]:
            encoded = _encoded_char(fields[1].encode())
            delimiter = chr(encoded[0]) if encoded is not None else "\0"
        value = _read_variable(name, scope)
        if not value:
            return ""  # nothing to shift: Asterisk returns -1 without a word
        where = value.find(delimiter) if beginning else value.rfind(delimiter)
        if delimiter == "\0":
            where = len(value)  # strchr finds the terminating NUL
        if where < 0:
            scope.set(name, "")
            return value
        head, tail = value[:where], value[where + 1 :]
        scope.set(name, tail if beginning else head)
        return head if beginning else tail

    return shift_pop


def _func_regex(args: str, scope: Scope) -> str:
    fields = _separate(args, '"', remove_chars=True, limit=3)
    if len(fields) != 3:
        return _fail(
            scope,
            "REGEX: Unexpected arguments: should have been in the form '\"<regex>\" <string>'",
        )
    _, pattern, string = fields
    if string[:1] in (" ", "\t"):
        string = string[1:]
    try:
        compiled = _compile_ere(pattern)
    except re.error as error:
        return _fail(scope, f"REGEX: Malformed input REGEX({args}): {error}")
    return "1" if compiled.search(string) else "0"


_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}
_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}

#: The functions modelled here (Asterisk's own, same names and behaviour); the caller's
#: :attr:`Scope.functions` win over them.
BUILTIN_FUNCTIONS: Mapping[str, FunctionImpl] = {
    "IF": _func_if,
    "ISNULL": lambda args, scope: "0" if args else "1",
    "EXISTS": lambda args, scope: "1" if args else "0",
    "SET": _func_set,
    "LEN": _func_len,
    "CUT": _func_cut,
    "FILTER": _func_filter,
    "SHIFT": _shift_pop("SHIFT"),
    "POP": _shift_pop("POP"),
    "REGEX": _func_regex,
    # toupper()/tolower() in Asterisk's C.UTF-8 locale change ASCII letters only.
    "TOUPPER": lambda args, scope: args.translate(_UPPER),
    "TOLOWER": lambda args, scope: args.translate(_LOWER),
}
#: Builtins Asterisk registers with only a ``read2`` callback, which ``$[F(x)]`` cannot
#: call (ast_expr2.y op_func uses ``read``).
_READ2_ONLY = frozenset({"SHIFT", "POP"})


# ------------------------------------------------------------ regular expressions

_POSIX_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v",
    "blank": " \\t",
    "punct": "!-/:-@\\[-`{-~",
    "xdigit": "0-9A-Fa-f",
    "cntrl": "\\x00-\\x1f\\x7f",
    "print": "\\x20-\\x7e",
    "graph": "\\x21-\\x7e",
}


def _compile_ere(pattern: str) -> re.Pattern[str]:
    """A POSIX extended regular expression (glibc ``regcomp(REG_EXTENDED)``) as Python's
    closest equivalent. Raises re.error where either would refuse the pattern."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            if i + 1 >= n:
                raise re.error("trailing backslash")
            escaped = pattern[i + 1]
            i += 2
            if escaped in "wWsSbB" or escaped in "123456789":
                out.append("\\" + escaped)  # GNU extensions and back-references
            elif escaped in "<>":
                out.append("\\b")
            elif escaped == "`":
                out.append("\\A")
            elif escaped == "'":
                out.append("\\Z")
            else:
                out.append(re.escape(escaped))  # \d is a plain d in POSIX
            continue
        if char == "[":
            i = _bracket(pattern, i, out)
            continue
        if char == "(" and pattern[i + 1 : i + 2] == "?":
            raise re.error("Invalid preceding regular expression")
        out.append("\\Z" if char == "$" else char)  # POSIX '$' is the very end only
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _bracket(pattern: str, start: int, out: list[str]) -> int:
    """Translate the bracket expression at ``start``; the index after it."""
    i = start + 1
    items = ["["]
    if pattern[i : i + 1] == "^":
        items.append("^")
        i += 1
    first = True
    while True:
        if i >= len(pattern):
            raise re.error("Unmatched [, [^, [:, [., or [=")
        char = pattern[i]
        if char == "]" and not first:
            i += 1
            break
        first = False
        if char == "[" and pattern[i + 1 : i + 2] in (":", ".", "="):
            kind = pattern[i + 1]
            end = pattern.find(kind + "]", i + 2)
            if end < 0:
                raise re.error("Unmatched [, [^, [:, [., or [=")
            name = pattern[i + 2 : end]
            i = end + 2
            if kind == ":":
                if name not in _POSIX_CLASSES:
                    raise re.error("Invalid character class name")
                items.append(_POSIX_CLASSES[name])
            else:
                items.append("".join(re.escape(c) for c in name))
            continue
        # Everything is literal inside POSIX brackets, backslash included; '-' ranges.
        items.append(char if char == "-" else re.escape(char))
        i += 1
    items.append("]")
    out.append("".join(items))
    return i


# -------------------------------------------------------------------- expressions

_NUMBER, _NUMERIC_STRING, _STRING = 0, 1, 2
_LDBL_MAX = Fraction(118973149535723176502) * Fraction(10) ** (4932 - 20)


class _Val:
    """A ``struct val`` of ast_expr2.y: a number, or a string that may look numeric.

    ``to_number`` turns a numeric string into a number in place, as the C does: an
    operator that returns its operand returns it converted.
    """

    __slots__ = ("kind", "negative_zero", "number", "text")

    def __init__(self, kind: int, text: str = "", number: Fraction = Fraction(0)) -> None:
        self.kind = kind
        self.text = text
        self.number = number
        self.negative_zero = False

    @classmethod
    def of_number(cls, number: Fraction, negative_zero: bool = False) -> _Val:
        if abs(number) > _LDBL_MAX:
            raise ExpressionError("a number beyond long double's range (Asterisk: inf)")
        value = cls(_NUMBER, number=number)
        value.negative_zero = negative_zero and number == 0
        return value

    @classmethod
    def made(cls, text: str) -> _Val:
        """``make_str``: numeric when made of digits and dots only."""
        numeric = bool(text) and all(c in "0123456789." for c in text)
        return cls(_NUMERIC_STRING if numeric else _STRING, text)

    def negative(self) -> bool:
        """The sign bit: below zero, or minus zero."""
        return self.number < 0 or self.negative_zero

    def to_number(self) -> bool:
        if self.kind == _NUMBER:
            return True
        if self.kind == _STRING:
            return False
        number, negative_zero = _strtold(self.text)
        self.kind, self.number, self.negative_zero = _NUMBER, number, negative_zero
        return True

    def to_string(self) -> None:
        if self.kind == _NUMBER:
            self.kind, self.text = _STRING, _format_number(self)

    def zero_or_null(self) -> bool:
        if self.kind == _NUMBER:
            return self.number == 0
        return self.text == "" or (self.to_number() and self.number == 0)

    def strip_quotes(self) -> None:
        """``strip_quotes``: when the text starts and ends with '"', every '"' goes."""
        if self.kind != _NUMBER and self.text[:1] == '"' and self.text[-1:] == '"':
            self.text = self.text.replace('"', "")

    def result(self) -> str:
        return _format_number(self) if self.kind == _NUMBER else self.text


_STRTOLD = re.compile(r"[ \t\n\v\f\r]*([+-]?)([0-9]*)(?:\.([0-9]*))?")


def _strtold(text: str) -> tuple[Fraction, bool]:
    """strtold's value of the longest decimal prefix (0 when there is none), and whether
    it is minus zero."""
    match = _STRTOLD.match(text)
    assert match is not None  # the pattern matches the empty prefix at least
    sign, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
    if not whole and not fraction:
        return Fraction(0), False
    value = Fraction(_digits_to_int(whole or "0")) + Fraction(
        _digits_to_int(fraction or "0"), 10 ** len(fraction)
    )
    if abs(value) > _LDBL_MAX:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise ExpressionError(
            f"Conversion of {shown} to number under/overflowed! (beyond long double: "
            "Asterisk goes on with a broken value)"
        )
    return (-value, value == 0) if sign == "-" else (value, False)


def _format_number(value: _Val) -> str:
    """printf ``%.18Lg``."""
    number = value.number
    if number == 0:
        return "-0" if value.negative_zero else "0"
    sign = "-" if number < 0 else ""
    magnitude = abs(number)
    exponent = (
        (magnitude.numerator.bit_length() - magnitude.denominator.bit_length()) * 30103 // 100000
    )
    while Fraction(10) ** exponent > magnitude:
        exponent -= 1
    while Fraction(10) ** (exponent + 1) <= magnitude:
        exponent += 1
    scaled = magnitude * Fraction(10) ** (17 - exponent)
    digits = round(scaled)  # round half to even, as glibc's printf
    if digits >= 10**18:
        digits //= 10
        exponent += 1
    text = str(digits)
    if -4 <= exponent < 18:
        if exponent >= 0:
            whole, decimals = text[: exponent + 1], text[exponent + 1 :]
        else:
            whole, decimals = "0", "0" * (-exponent - 1) + text
        decimals = decimals.rstrip("0")
        return sign + whole + ("." + decimals if decimals else "")
    mantissa = text[0] + ("." + text[1:].rstrip("0") if text[1:].rstrip("0") else "")
    return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


# The lexer (ast_expr2.fl): two-character operators before one-character ones, as
# flex's longest match; "||", "&&", "==" are the same tokens as "|", "&", "=".
_OPERATORS2 = {
    "||": "|",
    "&&": "&",
    "==": "=",
    "=~": "=~",
    "~~": "~~",
    ">=": ">=",
    "<=": "<=",
    "!=": "!=",
    "::": "::",
}
_OPERATORS1 = frozenset("|&=><!+,-*/%?:()")
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.';\\_^#@")
_TRAIL_STOP = frozenset("-\t\r \n$():?%/+=*<>!|&")


def _token_unit(text: str, i: int) -> int:
    """The length of one unit of flex's TOKEN pattern at ``i`` (0: none)."""
    char = text[i]
    if char in _TOKEN_CHARS or ord(char) >= 0x80:
        return 1
    if char == "$" and i + 1 < len(text) and text[i + 1] != "{":
        return 2
    return 0


def _lex(text: str) -> list[tuple[str, _Val | None]]:
    """Tokens: (operator, None) or ("TOKEN", value). Characters no rule matches are
    skipped, as flex's default rule echoes them and goes on."""
    tokens: list[tuple[str, _Val | None]] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in " \t\r\n":
            i += 1
        elif text[i : i + 2] in _OPERATORS2:
            tokens.append((_OPERATORS2[text[i : i + 2]], None))
            i += 2
        elif char in _OPERATORS1:
            tokens.append((char, None))
            i += 1
        elif char == '"':
            close = text.find('"', i + 1)
            if close < 0:
                i += 1  # an unpaired quote matches no rule
                continue
            tokens.append(("TOKEN", _Val(_STRING, text[i : close + 1])))
            i = close + 1
        else:
            end = i
            while end < n and (unit := _token_unit(text, end)):
                end += unit
            if text[end : end + 2] == "${":
                gathered = _gather_variable(text, end)
                if gathered is None:
                    break  # end of input inside ${: flex ends the token stream
                end = gathered
                tokens.append(("TOKEN", _Val(_STRING, text[i:end])))
            elif end > i:
                numeric = re.fullmatch(r"[0-9]+(\.[0-9]+)?", text[i:end]) is not None
                tokens.append(("TOKEN", _Val(_NUMERIC_STRING if numeric else _STRING, text[i:end])))
            else:
                end = i + 1  # no rule: skipped
            i = end
    return tokens


def _gather_variable(text: str, start: int) -> int | None:
    """flex's ``var`` and ``trail`` states: a ``${...}`` left in the expression and the
    text glued to it make one TOKEN. The index after it, None at an unclosed one."""
    i, n = start, len(text)
    while text[i : i + 2] == "${":
        i += 2
        depth = 0
        while depth >= 0:
            if i >= n:
                return None
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
            i += 1
        while i < n and text[i] not in _TRAIL_STOP:
            i += 1
    return i


_BINARY_PRECEDENCE = {
    "|": 2,
    "&": 3,
    "=": 4,
    ">": 4,
    "<": 4,
    ">=": 4,
    "<=": 4,
    "!=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
    ":": 8,
    "=~": 8,
    "~~": 8,
}
_PREFIX_PRECEDENCE = 7  # %right TOK_COMPL, which unary minus borrows
_CONDITIONAL_PRECEDENCE = 1  # %left TOK_COND TOK_COLONCOLON, the lowest


@dataclass
class _Pending:
    """An entry of the operator stack: what still waits for its operands."""

    kind: Literal["binary", "prefix", "paren", "function", "cond", "ternary"]
    operator: str = ""
    precedence: int = 0
    values: list[_Val] = field(default_factory=list)


def evaluate(expression: str, scope: Scope | None = None) -> str:
    """The value of a ``$[...]`` body that has already been substituted (ast_expr2.y).

    Operators from the lowest: ``? ::`` (conditional), ``|``, ``&``, comparisons
    (``= == != < > <= >=``), ``+ -``, ``* / %``, unary ``!`` and ``-``, then the regex
    operators ``:`` and ``=~`` and the concatenation ``~~``; all left-associative.
    A comparison is numeric when neither side is a non-numeric string, else it compares
    the texts. Quoted strings keep their quotes (``"10" < "9"`` compares the texts
    ``"10"`` and ``"9"``: true; ``"abc" = abc`` is false); only ``:``, ``=~`` and ``~~``
    strip them. ``|`` and ``&`` give an operand, not 1 (``$[2 & 3]`` is 2, ``$[0 | 5]``
    is 5). Truth is "1"/"0"; numbers print as ``%.18Lg``. An empty expression is "".
    ``NAME(args)`` calls a dialplan function of ``scope`` (when given) or a math one.

    Raises ExpressionError on a syntax error. Works without recursion, so no nesting
    depth can exhaust Python's stack.
    """
    tokens = _lex(expression)
    if not tokens:
        return ""
    return _Parser(tokens, expression, scope).run().result()


class _Parser:
    """An operator-precedence parser with explicit stacks that makes bison's choices for
    this grammar (every operator %left but ``!``, unary minus at ``!``'s precedence)."""

    def __init__(
        self, tokens: list[tuple[str, _Val | None]], source: str, scope: Scope | None
    ) -> None:
        self.tokens = tokens
        self.source = source
        self.scope = scope
        self.values: list[_Val] = []
        self.pending: list[_Pending] = []

    def error(self, what: str) -> ExpressionError:
        return ExpressionError(f"ast_yyerror(): syntax error: {what}; Input:\n{self.source}")

    def run(self) -> _Val:
        expect_operand = True
        i = 0
        while i < len(self.tokens):
            kind, value = self.tokens[i]
            following = self.tokens[i + 1][0] if i + 1 < len(self.tokens) else "$end"
            i += 1
            if expect_operand:
                if kind == "TOKEN" and value is not None:
                    if following == "(":
                        i += 1
                        if i < len(self.tokens) and self.tokens[i][0] == ")":
                            raise self.error("unexpected ')' after a function name")
                        self.pending.append(_Pending("function", operator=value.text))
                    else:
                        self.values.append(value)
                        expect_operand = False
                elif kind == "(":
                    self.pending.append(_Pending("paren"))
                elif kind in ("-", "!"):
                    self.pending.append(_Pending("prefix", kind, _PREFIX_PRECEDENCE))
                else:
                    raise self.error(f"unexpected '{kind}', expecting an operand")
                continue
            if kind in _BINARY_PRECEDENCE:
                self.reduce(_BINARY_PRECEDENCE[kind])
                self.pending.append(_Pending("binary", kind, _BINARY_PRECEDENCE[kind]))
                expect_operand = True
            elif kind == "?":
                self.reduce(_CONDITIONAL_PRECEDENCE)
                self.pending.append(_Pending("cond", values=[self.values.pop()]))
                expect_operand = True
            elif kind == "::":
                self.reduce(_CONDITIONAL_PRECEDENCE)
                if not self.pending or self.pending[-1].kind != "cond":
                    raise self.error("unexpected '::' without '?'")
                top = self.pending[-1]
                top.kind, top.precedence = "ternary", _CONDITIONAL_PRECEDENCE
                top.values.append(self.values.pop())
                expect_operand = True
            elif kind == ")":
                self.reduce(0)
                closed = self.pending.pop() if self.pending else None
                if closed is None or closed.kind not in ("paren", "function"):
                    raise self.error("unexpected ')'")
                if closed.kind == "function":
                    closed.values.append(self.values.pop())
                    self.values.append(self.call(closed.operator, closed.values))
            elif kind == ",":
                self.reduce(0)
                if not self.pending or self.pending[-1].kind != "function":
                    raise self.error("unexpected ','")
                top = self.pending[-1]
                top.values.append(self.values.pop())
                # "arglist ','" is allowed: an empty argument before ',' or ')'.
                while i < len(self.tokens) and self.tokens[i][0] == ",":
                    top.values.append(_Val.made(""))
                    i += 1
                if i < len(self.tokens) and self.tokens[i][0] == ")":
                    top.values.append(_Val.made(""))
                    i += 1
                    self.pending.pop()
                    self.values.append(self.call(top.operator, top.values))
                else:
                    expect_operand = True
            else:
                raise self.error(f"unexpected {kind if kind != 'TOKEN' else '<token>'}")
        if expect_operand:
            raise self.error("unexpected $end, expecting an operand")
        self.reduce(0)
        if self.pending:
            raise self.error("unexpected $end")
        return self.values[0]

    def reduce(self, precedence: int) -> None:
        """Apply the stacked operators that bind at least as tightly as ``precedence``
        (left associativity), stopping at parentheses, calls and an open ``?``."""
        while self.pending and self.pending[-1].kind in ("binary", "prefix", "ternary"):
            top = self.pending[-1]
            if top.precedence < precedence:
                return
            self.pending.pop()
            if top.kind == "binary":
                right = self.values.pop()
                self.values.append(_binary(top.operator, self.values.pop(), right))
            elif top.kind == "prefix":
                operand = self.values.pop()
                self.values.append(
                    _negate(operand) if top.operator == "-" else _complement(operand)
                )
            else:
                condition, true = top.values
                self.values.append(_conditional(condition, true, self.values.pop()))

    def call(self, name: str, arguments: list[_Val]) -> _Val:
        """``op_func``: a math function, else a dialplan function read with the arguments
        joined by commas (numbers printed ``%.18Lg``)."""
        if not name or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789" for c in name):
            return self.note(f"Error! '{name}' is not possibly a function name!")
        if name in _MATH:
            if len(arguments) != 1:
                return self.note(f"Wrong args to {name}() function")
            argument = arguments[0]
            argument.to_number()
            if argument.kind != _NUMBER:
                argument = _Val.of_number(Fraction(0))
            return _Val.of_number(
                _MATH[name](argument.number), argument.negative_zero and name != "ABS"
            )
        if name in _MATH_UNMODELLED:
            return self.note(f"{name}() inside $[] is not modelled here")
        if self.scope is None:
            return self.note(f"Error! '{name}' doesn't appear to be an available function!")
        implementation = self.scope.function(name)
        if implementation is None:
            self.scope.unknown.append(name)
            return self.note(f"Error! '{name}' doesn't appear to be an available function!")
        if name in _READ2_ONLY and name not in self.scope.functions:
            return self.note(f"Error! Function '{name}' cannot be read!")
        joined = ",".join(a.result() for a in arguments)
        text, _ = _clip(
            _run_function(implementation, name, joined, self.scope), _EXPRESSION_FUNCTION_LIMIT
        )
        if all(c in "-0123456789. \t" for c in text):  # is_really_num
            number, negative_zero = _strtold(text)
            return _Val.of_number(number, negative_zero)
        return _Val.made(text)

    def note(self, message: str) -> _Val:
        if self.scope is not None:
            self.scope.errors.append(message)
        return _Val.of_number(Fraction(0))


def _round_half_away(number: Fraction) -> int:
    whole = int(abs(number) + Fraction(1, 2))
    return -whole if number < 0 else whole


_MATH: Mapping[str, Callable[[Fraction], Fraction]] = {
    "ABS": abs,
    "FLOOR": lambda x: Fraction(x.numerator // x.denominator),
    "CEIL": lambda x: Fraction(-(-x.numerator // x.denominator)),
    "TRUNC": lambda x: Fraction(int(x)),
    "ROUND": lambda x: Fraction(_round_half_away(x)),
    "RINT": lambda x: Fraction(round(x)),
}
_MATH_UNMODELLED = frozenset(
    "COS SIN TAN ACOS ASIN ATAN ATAN2 POW SQRT EXP EXP2 EXP10 LOG LOG2 LOG10 REMAINDER".split()
)


def _compare(operator: str, left: _Val, right: _Val) -> bool:
    if left.kind == _STRING or right.kind == _STRING:
        left.to_string()
        right.to_string()
        # strcoll in Asterisk's C.UTF-8 locale: code point order, as Python's.
        order = (left.text > right.text) - (left.text < right.text)
    else:
        left.to_number()
        right.to_number()
        order = (left.number > right.number) - (left.number < right.number)
    return {"=": order == 0, "!=": order != 0, "<": order < 0, ">": order > 0,
            "<=": order <= 0, ">=": order >= 0}[operator]  # fmt: skip


def _binary(operator: str, left: _Val, right: _Val) -> _Val:
    """The ``op_*`` functions of ast_expr2.y, warnings and all their fallbacks."""
    if operator == "|":
        return right if left.zero_or_null() else left
    if operator == "&":
        if left.zero_or_null() or right.zero_or_null():
            return _Val.of_number(Fraction(0))
        return left
    if operator in ("=", "!=", "<", ">", "<=", ">="):
        return _Val.of_number(Fraction(int(_compare(operator, left, right))))
    if operator in (":", "=~", "~~"):
        return _regex_operator(operator, left, right)
    if operator == "+":
        if not left.to_number():
            return right if right.to_number() else _Val.of_number(Fraction(0))
        if not right.to_number():
            return left
        return _Val.of_number(
            left.number + right.number, left.negative_zero and right.negative_zero
        )
    if operator == "-":
        if not left.to_number():
            return (
                _Val.of_number(-right.number) if right.to_number() else _Val.of_number(Fraction(0))
            )
        if not right.to_number():
            return left
        return _Val.of_number(
            left.number - right.number,
            left.negative_zero and right.number == 0 and not right.negative_zero,
        )
    if not left.to_number():
        return _Val.of_number(Fraction(0))
    if not right.to_number():
        return _Val.of_number(Fraction(_INT_MAX if operator == "/" else 0))
    sign = left.negative() != right.negative()
    if operator == "*":
        return _Val.of_number(left.number * right.number, sign)
    if right.number == 0:
        # Division by zero gives INT_MAX; a remainder by zero gives the divisor (0).
        return _Val.of_number(Fraction(_INT_MAX)) if operator == "/" else right
    if operator == "/":
        return _Val.of_number(left.number / right.number, sign)
    quotient = left.number / right.number
    remainder = left.number - int(quotient) * right.number  # fmodl: the dividend's sign
    return _Val.of_number(remainder, left.negative())


def _negate(operand: _Val) -> _Val:
    if not operand.to_number():
        return _Val.of_number(Fraction(0))
    return _Val.of_number(-operand.number, not operand.negative())


def _complement(operand: _Val) -> _Val:
    """``op_compl``: a string's truth is its atoi(), "" and "0" being false."""
    if operand.kind == _NUMBER:
        truth = operand.number != 0
    elif operand.text in ("", "0"):
        truth = False
    else:
        truth = _atoi(operand.text) != 0
    return _Val.of_number(Fraction(int(not truth)))


def _conditional(condition: _Val, true: _Val, false: _Val) -> _Val:
    """``op_cond``: a string is false when empty, ``""`` or ``0``."""
    if condition.kind == _STRING:
        return true if condition.text not in ("", '""', "0") else false
    condition.to_number()
    return true if condition.number != 0 else false


def _regex_operator(operator: str, left: _Val, right: _Val) -> _Val:
    left.to_string()
    right.to_string()
    left.strip_quotes()
    right.strip_quotes()
    if operator == "~~":
        return _Val.made(left.text + right.text)
    try:
        compiled = _compile_ere(right.text)
    except re.error:
        return _Val.made("")  # Asterisk: "regcomp() error", an empty string
    match = compiled.search(left.text)
    if match is not None and (operator == "=~" or match.start() == 0):
        if compiled.groups and match.group(1) is not None:
            return _Val.made(match.group(1))
        return _Val.of_number(Fraction(len(match.group(0).encode())))
    return _Val.of_number(Fraction(0)) if not compiled.groups else _Val.made("")

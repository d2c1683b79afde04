"""switchboard.dialplan.expressions: what Asterisk 22 makes of an application's arguments.

The expected values come from Asterisk's source (asterisk/asterisk, the 22 branch); where
they are not what one would guess, the comment names the file and function checked.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from switchboard.dialplan.expressions import (
    APPLICATION_DATA_LIMIT,
    BUILTIN_FUNCTIONS,
    MAX_SUBSTITUTION_DEPTH,
    ExpressionError,
    GotoTarget,
    Scope,
    check_condition,
    evaluate,
    parse_goto_target,
    split_application,
    split_arguments,
    split_condition,
    substitute,
)

EXTENSIONS_CONF = Path(__file__).resolve().parents[2] / "dialplans" / "extensions.conf"

#: The [globals] of dialplans/extensions.conf the tests below rely on.
GLOBALS = {
    "SWITCHBOARD_FASTAGI": "agi://127.0.0.1:4573",
    "SWITCHBOARD_AGI_TIMEOUT": "5",
    "SWITCHBOARD_QUEUE": "switchboard",
    "SWITCHBOARD_QUEUE_TIMEOUT": "120",
    "SWITCHBOARD_FALLBACK_NOBODY": "operator,backoffice,voicemail,goodbye",
    "SWITCHBOARD_FALLBACK_WAITED": "operator,backoffice,voicemail,goodbye",
    "SWITCHBOARD_RING_TIMEOUT": "30",
    "SWITCHBOARD_OUTBOUND_TIMEOUT": "60",
    "SWITCHBOARD_LANGUAGE": "nl",
    "SWITCHBOARD_PREFERRED_TIMEOUT": "15",
}


def channel(channel_name: str = "PJSIP/trunk-00000001", **variables: str) -> Scope:
    """A scope like the tracer's: the functions the world answers, given by the caller."""
    state = {"language": "en", "endpoint": "201"}

    def channel_function(argument: str, scope: Scope) -> str:
        return channel_name if argument == "name" else state.get(argument, "")

    return Scope(
        variables=dict(variables),
        globals=GLOBALS,
        functions={
            "CALLERID": lambda a, s: {"num": "0612345678", "all": '"" <0612345678>'}.get(a, ""),
            "CHANNEL": channel_function,
            "DEVICE_STATE": lambda a, s: "INUSE" if a == "PJSIP/202" else "NOT_INUSE",
            "DB_EXISTS": lambda a, s: "1" if a == "forward/202" else "0",
            "DB_DELETE": lambda a, s: "",
            "PRESENCE_STATE": lambda a, s: "dnd" if a == "CustomPresence:201,value" else "",
            "DIALPLAN_EXISTS": lambda a, s: "1" if a.endswith("step-operator,1") else "0",
        },
    )


def sub(text: str, **variables: str) -> str:
    scope = channel(**variables)
    result = substitute(text, scope)
    assert scope.errors == [], scope.errors
    assert scope.unknown == [], scope.unknown
    return result


# ------------------------------------------------------------------ variables


def test_an_unset_variable_is_empty_and_a_channel_variable_wins_over_the_global() -> None:
    assert sub("[${NOPE}]") == "[]"
    assert sub("${SWITCHBOARD_QUEUE}") == "switchboard"
    assert sub("${SWITCHBOARD_QUEUE}", SWITCHBOARD_QUEUE="support") == "support"


def test_variable_names_are_case_sensitive() -> None:
    # pbx_variables.c ast_str_retrieve_variable compares names with strcmp.
    assert sub("${switchboard_queue}") == ""


def test_text_around_and_dollars_that_start_nothing_are_copied() -> None:
    assert sub("a$b$ ${SWITCHBOARD_QUEUE}$") == "a$b$ switchboard$"
    assert sub("$$[1 + 1]") == "$2"


@pytest.mark.parametrize(
    ("reference", "value"),
    [
        ("${EXTEN:3}", "0612345678"),  # *21<number>: the number
        ("${EXTEN:2}", "10612345678"),  # **<extension>: what follows the two stars
        ("${EXTEN:-4}", "5678"),
        ("${EXTEN:1:2}", "21"),
        ("${EXTEN:-4:2}", "56"),
        ("${EXTEN:3:-2}", "06123456"),  # a negative length leaves that many off the end
        ("${EXTEN:-100:3}", "*21"),  # an offset before the start is the start
        ("${EXTEN:100}", ""),
        ("${EXTEN:0:0}", ""),
        ("${EXTEN:}", "*210612345678"),
        # sscanf("%30d:%30d") reads nothing from ":3": offset 0, the whole length.
        ("${EXTEN::3}", "*210612345678"),
        ("${EXTEN:x}", "*210612345678"),
    ],
)
def test_substrings_follow_pbx_variables_substring(reference: str, value: str) -> None:
    assert sub(reference, EXTEN="*210612345678") == value


def test_the_offset_is_substituted_first_as_in_the_read_back_loop() -> None:
    # [switchboard-callback] readback: Set(SB_DIGIT=${SB_CALLBACK_SAY:${SB_I}:1}).
    digits = [
        sub("${SB_CALLBACK_SAY:${SB_I}:1}", SB_CALLBACK_SAY="+3161", SB_I=str(i)) for i in range(6)
    ]
    assert digits == ["+", "3", "1", "6", "1", ""]


def test_a_substituted_value_is_not_substituted_again() -> None:
    assert sub("${A}", A="${B}", B="no") == "${B}"
    assert sub("${A}", A="$[1 + 1]") == "$[1 + 1]"


def test_a_name_may_itself_be_substituted() -> None:
    assert sub("${SB_${KIND}}", KIND="OPEN", SB_OPEN="no") == "no"


def test_lengths_and_offsets_count_bytes_as_asterisk_does() -> None:
    assert sub("${LEN(${A})}", A="é") == "2"
    # Offset 2 is inside the é: the half character is lost, not passed on broken.
    assert sub("${A:2}", A="aéb") == "b"


# ------------------------------------------------------------------ functions


def test_the_callers_functions_are_called_with_their_substituted_arguments() -> None:
    assert sub("${CALLERID(num)}") == "0612345678"
    assert sub("${DEVICE_STATE(PJSIP/${X})}", X="202") == "INUSE"


def test_the_callers_functions_win_over_the_builtins() -> None:
    scope = Scope(functions={"LEN": lambda a, s: "many"})
    assert substitute("${LEN(abc)}", scope) == "many"


def test_an_unknown_function_is_recorded_and_gives_nothing() -> None:
    scope = Scope()
    assert substitute("[${GLOBAL(x)}][${len(abc)}]", scope) == "[][]"
    # Function names are case-sensitive too (pbx_functions.c uses strcmp).
    assert scope.unknown == ["GLOBAL", "len"]


def test_a_functions_value_takes_a_substring() -> None:
    assert sub("${CUT(T,-,1):-3}", T="PJSIP/100-0000001a") == "100"


def test_a_failing_caller_function_is_recorded_not_raised() -> None:
    def broken(argument: str, scope: Scope) -> str:
        return str(int(argument))

    scope = Scope(functions={"BROKEN": broken})
    assert substitute("[${BROKEN(abc)}]", scope) == "[]"
    assert "BROKEN(abc) failed" in scope.errors[0]


def test_nested_functions_run_inside_out_left_to_right() -> None:
    met: list[str] = []

    def note(argument: str, scope: Scope) -> str:
        met.append(argument)
        return argument.upper()

    scope = Scope(functions={"NOTE": note})
    assert substitute("${NOTE(a${NOTE(b)})}${NOTE(c)}", scope) == "ABC"
    assert met == ["b", "aB", "c"]


@pytest.mark.parametrize(
    ("call", "value"),
    [
        ("${IF(1?yes:no)}", "yes"),
        ("${IF(0?yes:no)}", "no"),
        ("${IF(abc?yes:no)}", "yes"),  # pbx_checkcondition: text is true
        ("${IF(0.5?yes:no)}", "no"),  # ... but a number is its %d value: 0
        ("${IF(1?:no)}", ""),
        ("${IF(0?:no)}", "no"),
        ("${IF(1?T)}", "T"),
        ("${IF(0?T)}", ""),
        ("${IF( 1 ? a b : c )}", "a b"),  # func_logic.c acf_if ast_strip()s each part
        ('${IF(1?"x:y":z)}', "x:y"),  # the true part is split with quotes, then unquoted
        ('${IF(0?x:"z")}', '"z"'),  # the false part is the unparsed rest: quotes stay
        ("${IF(1?a:b:c)}", "a"),
        ("${IF(0?a:b:c)}", "b:c"),
        ("${ISNULL()}", "1"),
        ("${ISNULL(x)}", "0"),
        ("${EXISTS()}", "0"),
        ("${EXISTS(x)}", "1"),
        ("${LEN()}", "0"),
        ("${LEN(a,b)}", "3"),
        ("${TOUPPER(aBé)}", "ABé"),  # toupper() in C.UTF-8: ASCII letters only
        ("${TOLOWER(AbÉ)}", "abÉ"),
        ("${FILTER(0123456789+,+31 6-12)}", "+31612"),
        ("${FILTER(0-9a-c,x1b2z)}", "1b2"),
        ("${FILTER(\\x41,ABA)}", "AA"),  # ast_get_encoded_char decodes \x41
        ('${REGEX("^PJSIP/[0-9]+-" PJSIP/100-0000001a)}', "1"),
        ('${REGEX("^PJSIP/[0-9]+-" PJSIP/trunk-0000001a)}', "0"),
        ('${REGEX("^PJSIP/[0-9]+$" PJSIP/100)}', "1"),
        ('${REGEX("^PJSIP/[0-9]+$" PJSIP/100-1)}', "0"),
        ('${REGEX("^[[:digit:]]{3}$" 123)}', "1"),
        ('${REGEX("b" abc)}', "1"),  # regexec searches: not anchored
        ('${REGEX("^$" )}', "1"),  # one blank after the pattern is skipped: the empty string
        # The argument splitter eats backslashes: "a\.b" reaches regcomp as "a.b".
        ('${REGEX("a\\.b" axb)}', "1"),
        ('${REGEX("a\\\\.b" axb)}', "0"),
    ],
)
def test_builtin_functions(call: str, value: str) -> None:
    assert sub(call) == value


@pytest.mark.parametrize(
    ("spec", "value"),
    [("1", "PJSIP/100"), ("2", "0000001a"), ("3", ""), ("1-2", "PJSIP/100-0000001a"),
     ("-1", "PJSIP/100"), ("2-", "0000001a"), ("1&2", "PJSIP/100-0000001a")],
)  # fmt: skip
def test_cut_reads_the_named_variable_and_takes_fields(spec: str, value: str) -> None:
    # [phones] not-taken: Set(SB_TRANSFERER=${CUT(BLINDTRANSFER,-,1)}).
    assert sub(f"${{CUT(BLINDTRANSFER,-,{spec})}}", BLINDTRANSFER="PJSIP/100-0000001a") == value


def test_cut_of_an_empty_variable_is_empty_and_bad_uses_are_recorded() -> None:
    assert sub("${CUT(NOPE,-,1)}") == ""
    for bad in ("${CUT(X,-)}", "${CUT(X,-,x)}"):
        scope = Scope(variables={"X": "a-b"})
        assert substitute(bad, scope) == ""
        assert scope.errors


def test_shift_takes_the_first_item_and_leaves_the_rest_in_the_variable() -> None:
    # [switchboard-fallback] chain: Set(SB_FALLBACK_STEP=${SHIFT(SB_FALLBACK_STEPS)}).
    scope = channel(SB_FALLBACK_STEPS="operator,backoffice,goodbye")
    steps = [substitute("${SHIFT(SB_FALLBACK_STEPS)}", scope) for _ in range(4)]
    assert steps == ["operator", "backoffice", "goodbye", ""]
    assert scope.variables["SB_FALLBACK_STEPS"] == ""
    assert scope.errors == []


def test_shift_of_a_global_writes_the_rest_to_the_channel() -> None:
    scope = channel()
    assert substitute("${SHIFT(SWITCHBOARD_FALLBACK_NOBODY)}", scope) == "operator"
    assert scope.variables["SWITCHBOARD_FALLBACK_NOBODY"] == "backoffice,voicemail,goodbye"
    assert GLOBALS["SWITCHBOARD_FALLBACK_NOBODY"].startswith("operator")


def test_pop_and_a_delimiter_of_ones_own() -> None:
    scope = Scope(variables={"L": "a|b|c"})
    assert substitute("${POP(L,|)}", scope) == "c"
    assert scope.variables["L"] == "a|b"
    assert substitute("${SHIFT(L,|)}", scope) == "a"
    assert scope.variables["L"] == "b"


def test_set_assigns_and_gives_the_value() -> None:
    scope = Scope()
    assert substitute("${SET(__X= 1 )}", scope) == "1"
    assert scope.variables == {"X": "1"}
    assert substitute("${SET(CHANNEL(language)=nl)}", scope) == "nl"
    assert scope.function_writes == [("CHANNEL(language)", "nl")]


def test_scope_set_drops_two_inheritance_underscores_at_most() -> None:
    # pbx_variables.c pbx_builtin_setvar_helper / chanvars.c ast_var_name.
    scope = Scope()
    scope.set("__SWITCHBOARD_DID", "0201234567")
    scope.set("___ODD", "1")
    assert scope.variables == {"SWITCHBOARD_DID": "0201234567", "_ODD": "1"}


def test_the_builtins_are_the_ones_documented() -> None:
    assert {"IF", "ISNULL", "EXISTS", "LEN", "CUT", "FILTER", "SHIFT", "POP", "REGEX",
            "SET", "TOLOWER", "TOUPPER"} <= set(BUILTIN_FUNCTIONS)  # fmt: skip


# ---------------------------------------------------------------- expressions


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("10 - 2 - 3", "5"),  # left-associative
        ("100 / 10 / 5", "2"),
        ("1 | 0 & 0", "1"),  # & binds tighter than |
        ("0 & 1 | 2", "2"),
        ("1 = 1 & 2 = 2", "1"),  # comparisons tighter than &
        ("2 + 3 = 5", "1"),  # + tighter than comparisons
        ("1 < 2 = 1", "1"),  # comparisons are left-associative among themselves
        ("- 2 * 3", "-6"),
        ("!0 + 1", "2"),  # unary ! tighter than +
        ("! 1 = 0", "1"),  # (!1) = 0
        ("abc : ab = 2", "1"),  # ':' binds tightest of all (ast_expr2.y %left order)
        ("! abc : x", "1"),  # !(abc : x)
        ("1 ? 2 :: 3", "2"),
        ("0 ? 2 :: 3", "3"),
        ("1 | 0 ? a :: b", "a"),  # ?: is the lowest
        ("1 ? 0 :: 1 ? x :: y", "y"),  # ((1 ? 0 :: 1) ? x :: y): left-associative
        ("1 ? 0 ? a :: b :: c", "b"),
        ("1+1", "2"),  # operators need no blanks around them
        ("1 || 0", "1"),
        ("1 && 0", "0"),
        ("2 == 2", "1"),
    ],
)
def test_operator_precedence_and_associativity(expression: str, value: str) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("10 < 9", "0"),  # both numbers: numeric
        ("9 < 10", "1"),
        ("010 = 10", "1"),
        ("1.0 = 1", "1"),
        ("1.5 > 1.25", "1"),
        ("abc < abd", "1"),  # a non-number: the texts (strcoll in C.UTF-8)
        ("10 < abc", "1"),
        ("abc = abc", "1"),
        # Quoted strings keep their quotes: they are strings, compared as text, quotes
        # included (ast_expr2.fl SET_STRING; only : =~ ~~ call strip_quotes).
        ('"10" < "9"', "1"),
        ('"abc" = abc', "0"),
        ('"abc" = "abc"', "1"),
        ('"" = ""', "1"),
        ('"5" + 1', "1"),  # '"5"' is not a number: + gives the other operand
        ('"abc"', '"abc"'),
    ],
)
def test_numbers_compare_as_numbers_and_anything_else_as_text(expression: str, value: str) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("3 * 2", "6"),
        ("7 / 2", "3.5"),  # long double division, printed %.18Lg
        ("10 / 3", "3.33333333333333333"),
        ("1.5 + 1.5", "3"),
        ("999999999999999999 + 1", "1e+18"),
        ("0.0001 * 1", "0.0001"),
        ("0.00001 * 1", "1e-05"),
        ("1 / 0", "2147483647"),  # op_div: division by zero gives INT_MAX
        ("7 % 0", "0"),
        ("7 % 3", "1"),
        ("-7 % 3", "-1"),  # fmodl: the dividend's sign
        ("-0", "-0"),  # a long double's minus zero prints
        ("0 - 0", "0"),
        ("--1", "1"),
        ("007", "007"),  # a lone number keeps its text
        ("007 + 0", "7"),
        ("007 | 1", "7"),  # | tested it as a number: it is one now
        ("abc + 1", "1"),  # a non-number operand of + is skipped
        ("abc - 1", "-1"),
        ("abc * 2", "0"),
        (".5 + 1", "1"),  # ".5" is not a number token (the lexer wants a digit first)
        ("2 & 3", "2"),  # op_and gives its left operand
        ("0 | 5", "5"),
        ("3 | 5", "3"),
        ('"" | x', '""'),  # '""' is a two-character string: not null
        ("0 & x", "0"),
        ("!abc", "1"),  # op_compl on text: atoi
        ("!5", "0"),
        ("!0.5", "1"),
        ('"" ? a :: b', "b"),  # op_cond treats '""' as false
        ("abc =~ b", "1"),  # match length
        ("abc =~ bc", "2"),
        ("abc : b", "0"),  # ':' is anchored at the start
        ("abc : ab", "2"),
        ('abc =~ "b(c)"', "c"),  # a group gives its text
        ('abc =~ "x(y)"', ""),
        ('"a" ~~ "b"', "ab"),
        ("ABS(-3)", "3"),
        ("FLOOR(2.5) + CEIL(2.5)", "5"),
        ("ROUND(2.5) + RINT(2.5)", "5"),  # round() away from zero, rint() to even
        ("", ""),
        ("  ", ""),
    ],
)
def test_expression_values(expression: str, value: str) -> None:
    assert evaluate(expression) == value


def test_functions_inside_an_expression_are_the_scopes() -> None:
    scope = Scope(variables={"X": "abcd"})
    assert evaluate("LEN(abcd) + 1", scope) == "5"
    assert evaluate("UNKNOWN(1) + 1", scope) == "1"
    assert scope.unknown == ["UNKNOWN"]
    assert evaluate("SHIFT(X)", scope) == "0"  # SHIFT has only read2: op_func cannot call it
    assert scope.variables["X"] == "abcd"


@pytest.mark.parametrize(
    "expression",
    ["1 +", "(1", "1)", "1 2", "1,2", "? 1 :: 2", "1 ? 2", "1 :: 2", "= 1", "F()", "()", "!"],
)
def test_syntax_errors_raise(expression: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expression)


def test_a_syntax_error_in_substitution_is_recorded_and_gives_zero() -> None:
    # ast_expr2.fl ast_expr: no value from the parser -> "0" (and a logged warning).
    scope = channel()
    assert substitute("Set(SB_CALLBACK_TRIES=$[${SB_CALLBACK_TRIES} + 1])", scope) == (
        "Set(SB_CALLBACK_TRIES=0)"
    )
    assert "syntax error" in scope.errors[0]


def test_an_empty_operand_is_a_syntax_error_but_quotes_make_it_a_string() -> None:
    scope = channel()
    assert substitute("$[${AGISTATUS} = SUCCESS]", scope) == "0"
    assert len(scope.errors) == 1
    assert sub('$["${AGISTATUS}" = "SUCCESS"]') == "0"
    assert sub('$["${AGISTATUS}" = ""]') == "1"


# ----------------------------------------------------------- argument splitting


@pytest.mark.parametrize(
    ("args", "parts"),
    [
        ("", []),
        ("a", ["a"]),
        ("a,b,c", ["a", "b", "c"]),
        ("a,", ["a", ""]),
        (",a", ["", "a"]),
        ("SB_CALLBACK_NUMBER,,20,,1,15", ["SB_CALLBACK_NUMBER", "", "20", "", "1", "15"]),
        ('a,"b,c",d', ["a", "b,c", "d"]),  # quotes protect and are removed
        ('"a"b"c"', ["abc"]),
        ("a(b,c),d", ["a(b,c)", "d"]),
        ("a[b,c],d", ["a[b,c]", "d"]),
        ("a\\,b,c", ["a,b", "c"]),  # a backslash makes the next character literal
        ('a\\"b', ['a"b']),
        ("a\\\\b", ["a\\b"]),
        ("a\\", ["a"]),
        ("a(b,c", ["a(b,c"]),  # an unclosed parenthesis swallows the rest
        ('a"b,c', ["ab,c"]),
        ("a)b,c", ["a)b", "c"]),  # a stray ')' does not count below zero
    ],
)
def test_split_arguments_as_ast_app_separate_args(args: str, parts: list[str]) -> None:
    assert split_arguments(args) == parts


def test_split_arguments_limit_leaves_the_last_argument_unparsed() -> None:
    assert split_arguments("a,b,c", limit=2) == ["a", "b,c"]
    assert split_arguments('x,"y",z', limit=2) == ["x", '"y",z']
    assert split_arguments("a?b?c", "?") == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("command", "parts"),
    [
        ("Dial(PJSIP/100,30,t)", ("Dial", "PJSIP/100,30,t")),
        ("Hangup", ("Hangup", "")),
        ("Hangup()", ("Hangup", "")),
        ("Answer()", ("Answer", "")),
        ("  NoOp(x)", ("NoOp", "x")),
        ("Dial(x)y", ("Dial", "x")),  # the data ends at the last ')'
        ("Set(A=${IF($[1]?a:b)})", ("Set", "A=${IF($[1]?a:b)}")),
        ("NoOp(abc", ("NoOp", "abc")),  # pbx_config warns, keeps the rest
        ("Dial,PJSIP/100", ("Dial,PJSIP/100", "")),  # no App,args form any more
        ("PJSIP/${X}(y)", ("PJSIP/${X}(y)", "")),  # a hint-like value: all name
        ("PJSIP/100,CustomPresence:100", ("PJSIP/100,CustomPresence:100", "")),
    ],
)
def test_split_application_as_pbx_config(command: str, parts: tuple[str, str]) -> None:
    assert split_application(command) == parts


@pytest.mark.parametrize(
    ("args", "parts"),
    [
        ("1?recognised", ("1", "recognised", "")),
        ("0?goodbye,1", ("0", "goodbye,1", "")),
        ("1?:goodbye,1", ("1", "", "goodbye,1")),
        ("1?done:switchboard-inbound,s,waiting", ("1", "done", "switchboard-inbound,s,waiting")),
        ("1", ("1", "", "")),
        ("?a:b", ("", "a", "b")),
        # pbx_builtins.c pbx_builtin_gotoif: plain strsep, parentheses or not.
        ("1?a(b:c):d", ("1", "a(b", "c):d")),
    ],
)
def test_split_condition_for_gotoif(args: str, parts: tuple[str, str, str]) -> None:
    assert split_condition(args) == parts


@pytest.mark.parametrize(
    ("args", "parts"),
    [
        (
            "1?Log(WARNING,Failed for 0612 (classic AGI script: AGISTATUS=FAILURE), x)",
            ("1", "Log(WARNING,Failed for 0612 (classic AGI script: AGISTATUS=FAILURE), x)", ""),
        ),
        ("1?UserEvent(R,Confidence: high,Id: 7)", ("1", "UserEvent(R,Confidence: high,Id: 7)", "")),
        ("0?Playback(a):Playback(b)", ("0", "Playback(a)", "Playback(b)")),
        ('1?NoOp("a:b")', ("1", 'NoOp("a:b")', "")),  # raw: the quotes stay
        # apps/app_exec.c: a comma before the first '?' is the old syntax.
        ("1,Playback,hello", ("1", "Playback(hello)", "")),
    ],
)  # fmt: skip
def test_split_condition_for_execif_respects_parentheses(
    args: str, parts: tuple[str, str, str]
) -> None:
    assert split_condition(args, style="ExecIf") == parts


def test_split_condition_for_if_unquotes_and_strips() -> None:
    assert split_condition(' 1 ? "a" : "b" ', style="IF") == ("1", "a", '"b"')


# -------------------------------------------------------------------- goto


@pytest.mark.parametrize(
    ("target", "parsed"),
    [
        ("recognised", GotoTarget(None, None, "recognised")),
        ("goodbye,1", GotoTarget(None, "goodbye", "1")),
        ("switchboard-inbound,s,waiting", GotoTarget("switchboard-inbound", "s", "waiting")),
        ("switchboard-fallback,TIMEOUT,1", GotoTarget("switchboard-fallback", "TIMEOUT", "1")),
        (",s,1", GotoTarget(None, "s", "1")),  # empty: the current one (ast_explicit_goto)
        ("ctx, s,1", GotoTarget("ctx", " s", "1")),  # not stripped
    ],
)
def test_parse_goto_target(target: str, parsed: GotoTarget) -> None:
    assert parse_goto_target(target) == parsed


@pytest.mark.parametrize("target", ["", "a,b,c,d", "s,"])
def test_parse_goto_target_refuses(target: str) -> None:
    with pytest.raises(ValueError, match="Goto"):
        parse_goto_target(target)


def test_goto_priorities_numbers_relative_numbers_and_labels() -> None:
    assert GotoTarget(None, None, "3").number(1) == 3
    assert GotoTarget(None, None, " 3 ").number(1) == 3
    assert GotoTarget(None, None, "+2").number(5) == 7
    assert GotoTarget(None, None, "-1").number(5) == 4
    assert GotoTarget(None, None, "queue").number(5) is None
    assert GotoTarget(None, None, "queue").label == "queue"
    assert GotoTarget(None, None, "3").label is None
    assert GotoTarget(None, None, "3a").label == "3a"


@pytest.mark.parametrize(
    ("condition", "truth"),
    [("", False), ("0", False), ("1", True), ("-1", True), (" 1", True), ("abc", True),
     ("0.5", False), ("0abc", False), ("1abc", True), ("00", False),
     ("4294967296", False)],  # scanf %d: strtol's value cast to int: 0
)  # fmt: skip
def test_check_condition_as_pbx_checkcondition(condition: str, truth: bool) -> None:
    assert check_condition(condition) is truth


# ------------------------------------------------- dialplans/extensions.conf


def test_inbound_recognition_lines() -> None:
    assert sub(
        "Inbound call from ${CALLERID(all)} to ${SWITCHBOARD_DID}", SWITCHBOARD_DID="0201234567"
    ) == ('Inbound call from "" <0612345678> to 0201234567')
    assert sub("TIMEOUT(absolute)=${SWITCHBOARD_AGI_TIMEOUT}") == "TIMEOUT(absolute)=5"
    assert (
        sub(
            "${SWITCHBOARD_FASTAGI}/hours,${SWITCHBOARD_QUEUE},${SWITCHBOARD_DID}",
            SWITCHBOARD_DID="020",
        )
        == "agi://127.0.0.1:4573/hours,switchboard,020"
    )
    gotoif = '$["${AGISTATUS}" = "SUCCESS"]?recognised'
    assert sub(gotoif, AGISTATUS="SUCCESS") == "1?recognised"
    assert sub(gotoif, AGISTATUS="FAILURE") == "0?recognised"
    assert sub(gotoif) == "0?recognised"


def test_recognition_failed_log_keeps_its_colon_inside_the_log() -> None:
    line = (
        '$["${AGISTATUS}" != "SUCCESS"]?Log(WARNING,Recognition failed for ${CALLERID(num)} '
        "(classic AGI script: AGISTATUS=${AGISTATUS}), continuing without it)"
    )
    data = sub(line, AGISTATUS="NOTFOUND")
    condition, true, false = split_condition(data, style="ExecIf")
    assert (condition, false) == ("1", "")
    assert split_application(true) == (
        "Log",
        "WARNING,Recognition failed for 0612345678 (classic AGI script: AGISTATUS=NOTFOUND), "
        "continuing without it",
    )


def test_recognition_event_only_with_a_confidence() -> None:
    line = "$[!${ISNULL(${SB_CONFIDENCE})}]?UserEvent(Recognition,Confidence: ${SB_CONFIDENCE})"
    assert sub(line, SB_CONFIDENCE="high") == "1?UserEvent(Recognition,Confidence: high)"
    assert sub(line) == "0?UserEvent(Recognition,Confidence: )"


def test_the_callers_language_or_the_sites() -> None:
    line = (
        "CHANNEL(language)=${IF($[${LEN(${SB_LANGUAGE})}]?${SB_LANGUAGE}:${SWITCHBOARD_LANGUAGE})}"
    )
    assert sub(line, SB_LANGUAGE="en") == "CHANNEL(language)=en"
    assert sub(line) == "CHANNEL(language)=nl"


def test_queue_priority_and_the_preferred_receptionist() -> None:
    line = "QUEUE_PRIO=${IF($[${ISNULL(${SB_QUEUE_PRIORITY})}]?0:${SB_QUEUE_PRIORITY})}"
    assert sub(line) == "QUEUE_PRIO=0"
    assert sub(line, SB_QUEUE_PRIORITY="10") == "QUEUE_PRIO=10"
    assert sub("$[${ISNULL(${SB_PREFERRED_EXTENSION})}]?waiting") == "1?waiting"
    line = '$["${DEVICE_STATE(PJSIP/${SB_PREFERRED_EXTENSION})}" != "NOT_INUSE"]?waiting'
    assert sub(line, SB_PREFERRED_EXTENSION="202") == "1?waiting"
    assert sub(line, SB_PREFERRED_EXTENSION="203") == "0?waiting"
    line = "PJSIP/${SB_PREFERRED_EXTENSION},${SWITCHBOARD_PREFERRED_TIMEOUT},t"
    assert split_arguments(sub(line, SB_PREFERRED_EXTENSION="203")) == ["PJSIP/203", "15", "t"]


def test_the_first_moment_in_the_queue_is_kept() -> None:
    line = "$[${ISNULL(${SB_QUEUE_SINCE})}]?Set(SB_QUEUE_SINCE=${EPOCH})"
    assert sub(line, EPOCH="1700000000") == "1?Set(SB_QUEUE_SINCE=1700000000)"
    assert (
        sub(line, EPOCH="1700000099", SB_QUEUE_SINCE="1700000000")
        == "0?Set(SB_QUEUE_SINCE=1700000099)"
    )
    line = "${SWITCHBOARD_QUEUE},t,,,${SWITCHBOARD_QUEUE_TIMEOUT}"
    assert split_arguments(sub(line)) == ["switchboard", "t", "", "", "120"]
    assert parse_goto_target(sub("switchboard-fallback,${QUEUESTATUS},1", QUEUESTATUS="FULL")) == (
        GotoTarget("switchboard-fallback", "FULL", "1")
    )


def test_the_fallback_chain_walks_its_steps() -> None:
    scope = channel(QUEUESTATUS="TIMEOUT")
    substitute("SB_FALLBACK_STEPS=${SWITCHBOARD_FALLBACK_WAITED}", scope)  # the Set() data
    scope.variables["SB_FALLBACK_STEPS"] = GLOBALS["SWITCHBOARD_FALLBACK_WAITED"]
    reason = (
        "SB_FALLBACK_REASON="
        "${IF($[${ISNULL(${SB_FALLBACK_REASON})}]?${QUEUESTATUS}:${SB_FALLBACK_REASON})}"
    )
    assert substitute(reason, scope) == "SB_FALLBACK_REASON=TIMEOUT"
    scope.variables["SB_FALLBACK_REASON"] = "CLOSED"
    assert substitute(reason, scope) == "SB_FALLBACK_REASON=CLOSED"
    seen = []
    for _ in range(5):
        step = substitute("${SHIFT(SB_FALLBACK_STEPS)}", scope)
        scope.variables["SB_FALLBACK_STEP"] = step
        empty = substitute("$[${ISNULL(${SB_FALLBACK_STEP})}]?goodbye,1", scope)
        exists = substitute(
            "${DIALPLAN_EXISTS(switchboard-fallback,step-${SB_FALLBACK_STEP},1)}?:goodbye,1", scope
        )
        seen.append((step, empty, exists))
    assert seen == [
        ("operator", "0?goodbye,1", "1?:goodbye,1"),
        ("backoffice", "0?goodbye,1", "0?:goodbye,1"),
        ("voicemail", "0?goodbye,1", "0?:goodbye,1"),
        ("goodbye", "0?goodbye,1", "0?:goodbye,1"),
        ("", "1?goodbye,1", "0?:goodbye,1"),
    ]
    assert split_condition("1?:goodbye,1") == ("1", "", "goodbye,1")
    assert scope.errors == [] and scope.unknown == []


def test_closed_route_then_goodbye() -> None:
    assert sub("SB_FALLBACK_STEPS=${SB_CLOSED_ROUTE},goodbye", SB_CLOSED_ROUTE="urgent") == (
        "SB_FALLBACK_STEPS=urgent,goodbye"
    )
    assert sub("SB_FALLBACK_STEPS=${SB_CLOSED_ROUTE},goodbye") == "SB_FALLBACK_STEPS=,goodbye"


def test_the_announcement_words() -> None:
    line = (
        'switchboard/expected-wait${IF($["${SB_ANNOUNCE_MINUTES_MORE}" = "yes"]?-more-than)}'
        "&switchboard/n-${SB_ANNOUNCE_MINUTES}"
        '&switchboard/${IF($["${SB_ANNOUNCE_MINUTES}" = "1"]?minute:minutes)}'
    )
    assert sub(line, SB_ANNOUNCE_MINUTES="1") == (
        "switchboard/expected-wait&switchboard/n-1&switchboard/minute"
    )
    assert sub(line, SB_ANNOUNCE_MINUTES="15", SB_ANNOUNCE_MINUTES_MORE="yes") == (
        "switchboard/expected-wait-more-than&switchboard/n-15&switchboard/minutes"
    )


def test_callback_tries_count_up_and_give_up_after_three() -> None:
    scope = channel(SB_CALLBACK_TRIES="0")
    for expected in ("1", "2", "3", "4"):
        data = substitute("SB_CALLBACK_TRIES=$[${SB_CALLBACK_TRIES} + 1]", scope)
        assert data == f"SB_CALLBACK_TRIES={expected}"
        scope.variables["SB_CALLBACK_TRIES"] = expected
    assert substitute("$[${SB_CALLBACK_TRIES} > 3]?back", scope) == "1?back"
    assert sub("$[${SB_CALLBACK_TRIES} > 3]?back", SB_CALLBACK_TRIES="3") == "0?back"


def test_the_read_back_loop() -> None:
    scope = channel(SB_CALLBACK_SAY="+316", SB_I="0")
    said = []
    while check_condition(substitute("$[${SB_I} < ${LEN(${SB_CALLBACK_SAY})}]", scope)):
        scope.variables["SB_DIGIT"] = substitute("${SB_CALLBACK_SAY:${SB_I}:1}", scope)
        said.append(
            substitute('switchboard/${IF($["${SB_DIGIT}" = "+"]?plus:n-${SB_DIGIT})}', scope)
        )
        scope.variables["SB_I"] = substitute("$[${SB_I} + 1]", scope)
    assert said == ["switchboard/plus", "switchboard/n-3", "switchboard/n-1", "switchboard/n-6"]
    assert scope.variables["SB_I"] == "4"


@pytest.mark.parametrize(
    ("minute", "condition"),
    [("30", "1"), ("0", "0"), ("", "0")],
)
def test_the_minute_after_the_hour_is_said_unless_zero(minute: str, condition: str) -> None:
    line = '$["${SB_CALLBACK_FROM_MINUTE}" != "0" & ${LEN(${SB_CALLBACK_FROM_MINUTE})}]?Playback(x)'
    assert sub(line, SB_CALLBACK_FROM_MINUTE=minute) == f"{condition}?Playback(x)"


@pytest.mark.parametrize(
    ("minute", "condition"),
    # op_and returns its left operand: LEN("30") is 2, and 2 is what ExecIf tests.
    [("30", "2"), ("0", "0"), ("", "0")],
)
def test_reopening_minute_condition_is_the_length_when_true(minute: str, condition: str) -> None:
    line = '$[${LEN(${SB_REOPENS_MINUTE})} & "${SB_REOPENS_MINUTE}" != "0"]?Playback(x)'
    assert sub(line, SB_REOPENS_MINUTE=minute) == f"{condition}?Playback(x)"


def test_dutch_says_hour() -> None:
    line = '$["${CHANNEL(language)}" = "nl" & ${LEN(${SB_REOPENS_DAY})}]?Playback(switchboard/hour)'
    scope = channel(SB_REOPENS_DAY="monday")
    assert substitute(line, scope) == "0?Playback(switchboard/hour)"  # the channel speaks en
    assert sub("$[${LEN(${SB_CALLBACK_PLACE})}]?x", SB_CALLBACK_PLACE="3") == "1?x"


@pytest.mark.parametrize(
    ("channel_name", "options"),
    [("PJSIP/200-0000001a", "tT"), ("PJSIP/trunk-0000001a", "t"), ("Local/202@phones-1;2", "t")],
)
def test_transfer_keys_only_for_our_phones(channel_name: str, options: str) -> None:
    ours = '${IF($[${REGEX("^PJSIP/[0-9]+-" ${CHANNEL(name)})}]?T)}'
    line = "PJSIP/100,${SWITCHBOARD_RING_TIMEOUT},t" + ours
    scope = channel(channel_name)
    assert split_arguments(substitute(line, scope)) == ["PJSIP/100", "30", options]
    outside = "PJSIP/${EXTEN}@trunk,${SWITCHBOARD_OUTBOUND_TIMEOUT}," + ours
    scope = channel(channel_name, EXTEN="0612345678")
    assert split_arguments(substitute(outside, scope)) == [
        "PJSIP/0612345678@trunk", "60", options.removeprefix("t")
    ]  # fmt: skip
    assert scope.errors == [] and scope.unknown == []


def test_forward_and_blind_transfer_back() -> None:
    assert sub("${DB_EXISTS(forward/${EXTEN})}?forward", EXTEN="202") == "1?forward"
    assert sub("${DB_EXISTS(forward/${EXTEN})}?forward", EXTEN="203") == "0?forward"
    assert sub("$[${ISNULL(${BLINDTRANSFER})}]?done") == "1?done"
    scope = channel(BLINDTRANSFER="PJSIP/100-0000001a")
    scope.variables["SB_TRANSFERER"] = substitute("${CUT(BLINDTRANSFER,-,1)}", scope)
    assert substitute('$[${REGEX("^PJSIP/[0-9]+$" ${SB_TRANSFERER})}]?:done', scope) == "1?:done"
    scope.variables["SB_TRANSFERER"] = "Local/100@phones"
    assert substitute('$[${REGEX("^PJSIP/[0-9]+$" ${SB_TRANSFERER})}]?:done', scope) == "0?:done"
    line = "$[${ISNULL(${SWITCHBOARD_DID})}]?done:switchboard-inbound,s,waiting"
    assert split_condition(sub(line, SWITCHBOARD_DID="020")) == (
        "0",
        "done",
        "switchboard-inbound,s,waiting",
    )


def test_star_codes() -> None:
    line = "DB(forward/${CHANNEL(endpoint)})=${FILTER(0123456789+,${EXTEN:3})}"
    assert sub(line, EXTEN="*21+31 (6) 12") == "DB(forward/201)=+31612"
    assert sub("${DB_DELETE(forward/${CHANNEL(endpoint)})}") == ""
    assert sub("PJSIP/${EXTEN:2}", EXTEN="**202") == "PJSIP/202"
    scope = channel()
    scope.variables["SB_DND_EXT"] = substitute("${CHANNEL(endpoint)}", scope)
    assert (
        substitute('$["${PRESENCE_STATE(CustomPresence:${SB_DND_EXT},value)}" = "dnd"]?off', scope)
        == "1?off"
    )
    assert substitute("PRESENCE_STATE(CustomPresence:${SB_DND_EXT})=dnd,,", scope) == (
        "PRESENCE_STATE(CustomPresence:201)=dnd,,"
    )


def test_callback_dial_arguments() -> None:
    line = (
        "PJSIP/${SB_CALLBACK_NUMBER}@trunk,${SWITCHBOARD_OUTBOUND_TIMEOUT},"
        "U(switchboard-callback-accept)"
    )
    assert split_arguments(sub(line, SB_CALLBACK_NUMBER="+31612345678")) == [
        "PJSIP/+31612345678@trunk", "60", "U(switchboard-callback-accept)"
    ]  # fmt: skip


def _priorities(text: str) -> list[str]:
    """The application part of every exten/same line of an extensions.conf."""
    found = []
    for raw in text.splitlines():
        line = re.sub(r"(?<!\\);.*", "", raw).strip()
        match = re.match(r"(exten|same)\s*=>\s*(.*)", line)
        if not match:
            continue
        fields = match.group(2).split(",", 2 if match.group(1) == "exten" else 1)
        found.append(fields[-1])
    return found


def test_every_priority_of_extensions_conf_substitutes_cleanly() -> None:
    text = EXTENSIONS_CONF.read_text()
    section = text.split("[globals]", 1)[1].split("\n[", 1)[0]
    globals_ = dict(
        (name.strip(), value.strip())
        for name, _, value in (
            line.partition("=")
            for line in section.splitlines()
            if "=" in line and not line.startswith(";")
        )
    )
    priorities = _priorities(text)
    assert len(priorities) > 150
    constructs = 0
    for command in priorities:
        application, data = split_application(command)
        assert re.fullmatch(r"[A-Za-z]+|PJSIP/\d+,CustomPresence:\d+", application), command
        # SB_I and SB_CALLBACK_TRIES are set before use; unset, $[${SB_I} < 2] would
        # read $[ < 2]: a syntax error ("0"), in Asterisk too.
        counters = {"SB_I": "0", "SB_CALLBACK_TRIES": "0"}
        for values in (counters, {**counters, "SB_LANGUAGE": "en", "SB_CALLBACK_SAY": "06"}):
            scope = channel(EXTEN="0612345678", **values)
            scope.globals = globals_
            substitute(data, scope)
            assert scope.unknown == [], command
            assert scope.errors == [], command
        constructs += data.count("${") + data.count("$[")
    assert constructs > 200


# ---------------------------------------------------------------- hostile input


def test_substitution_nests_fifteen_deep_as_asterisk() -> None:
    def nested(depth: int) -> str:
        return "${V" * depth + "}" * depth

    names = {"V": "1", "V1": "2", **{f"V{i}": str(i + 1) for i in range(1, 40)}}
    scope = Scope(variables=names)
    assert substitute(nested(MAX_SUBSTITUTION_DEPTH), scope) == "15"
    assert scope.errors == []
    assert substitute(nested(MAX_SUBSTITUTION_DEPTH + 1), scope) != "16"
    assert "recursion depth" in scope.errors[0]


def test_a_thousand_nested_references_record_an_error_and_return() -> None:
    scope = Scope(variables={"A": "x"})
    assert substitute("${" * 1000 + "A" + "}" * 1000, scope) == ""
    assert scope.errors and "recursion depth" in scope.errors[0]
    scope = Scope()
    assert substitute("$[" * 1000 + "1" + "]" * 1000, scope) == ""
    assert "recursion depth" in scope.errors[0]


def test_deep_parentheses_in_an_expression_do_not_recurse() -> None:
    assert evaluate("(" * 20000 + "1" + ")" * 20000) == "1"
    assert evaluate("!" * 20001 + "0") == "1"
    assert evaluate(" + ".join(["1"] * 5000)) == "5000"


def test_long_text_is_cut_where_asterisks_buffers_end() -> None:
    scope = Scope(variables={"L": "y" * 100_000})
    result = substitute("${L}${L}${L}", scope)
    assert result == "y" * APPLICATION_DATA_LIMIT
    assert any("4095" in e for e in scope.errors)
    # The value is cut to 4095 bytes, then "LEN(" + value + ")" to the 4095 bytes of the
    # nested substitution's buffer: LEN sees 4091 and no closing parenthesis.
    scope = Scope(variables={"L": "y" * 100_000})
    assert substitute("${LEN(${L})}", scope) == "4091"
    assert any("trailing parenthesis" in e for e in scope.errors)


def test_huge_numbers_are_refused_not_mishandled() -> None:
    assert evaluate("9" * 60 + " + 1") == "1e+60"
    # Past long double's range Asterisk prints inf; the model refuses (ExpressionError).
    with pytest.raises(ExpressionError, match="long double"):
        evaluate(" * ".join(["9" * 600] * 12))
    with pytest.raises(ExpressionError, match="long double"):
        evaluate("9" * 5000 + " + 0")
    assert evaluate("9" * 5000) == "9" * 5000  # a lone number is never converted


@pytest.mark.parametrize(
    ("text", "value", "error"),
    [
        ("${A", "val", "missing '}'"),  # Asterisk looks up what there is
        ("$[1 + 2", "3", "missing ']'"),
        ("${LEN(abc}", "3", "trailing parenthesis"),
        ("$[(1]", "0", "syntax error"),
        ("${IF(}", "", "IF"),
        ("${${", "", "missing '}'"),
        ('${REGEX("[" x)}', "", "REGEX"),  # the '[' hides the closing quote from the splitter
        ('${REGEX("(" x)}', "", "REGEX"),
        ("${A{}", "", "missing '}'"),  # a plain '{' counts too: the name is "A{}"
    ],
)
def test_unbalanced_input_behaves_as_asterisk(text: str, value: str, error: str | None) -> None:
    scope = Scope(variables={"A": "val"})
    assert substitute(text, scope) == value
    if error is None:
        assert scope.errors == []
    else:
        assert any(error in e for e in scope.errors), scope.errors


def test_literal_braces_and_brackets_pass() -> None:
    assert sub("}}} ]]] {x} [y]") == "}}} ]]] {x} [y]"


def test_random_text_never_raises() -> None:
    generator = random.Random(20261201)
    alphabet = ["${", "$[", "}", "]", "(", ")", "{", "[", "$", ":", "?", ",", '"', "\\", " ",
                "a", "1", "-", "!", "&", "|", "=~", "::", "IF(", "LEN(", "SHIFT(", "CUT(",
                "REGEX(", "\"^", "é"]  # fmt: skip
    for _ in range(3000):
        text = "".join(generator.choice(alphabet) for _ in range(generator.randint(1, 40)))
        scope = Scope(variables={"a": "1", "a1": "${a}"})
        result = substitute(text, scope)
        assert isinstance(result, str)
        split_arguments(text)
        split_condition(text, style="ExecIf")
        split_application(text)
        try:
            evaluate(text)
        except ExpressionError:
            pass


def test_a_function_that_substitutes_itself_is_stopped() -> None:
    def loop(argument: str, scope: Scope) -> str:
        return substitute("${LOOP(" + argument + ")}", scope)

    scope = Scope(functions={"LOOP": loop})
    assert substitute("${LOOP(x)}", scope) == ""
    assert any("nested more than" in e for e in scope.errors)


def test_evaluate_without_a_scope_knows_no_dialplan_function() -> None:
    assert evaluate("LEN(abc) + 1") == "1"
    assert evaluate("len(abc)") == "0"  # not even a possible function name (op_func)

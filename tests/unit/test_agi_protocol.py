"""The AGI wire protocol: environment parsing, command quoting, reply parsing.

The quoting tests check our command lines against a Python transcription of
what Asterisk's res_agi.c does with them: ``run_agi()`` reading lines with
``fgets`` into a 2048-byte buffer, then ``parse_args()`` splitting a line into
words. Both models are used by test_fastagi.py as well.
"""

from __future__ import annotations

import signal
import time
import timeit
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from pbx_agi import agi_protocol
from pbx_agi.agi_protocol import (
    MAX_COMMAND_BYTES,
    MSET_MAX_PAIRS,
    AGICommandTooLong,
    AGIHeaderTooLarge,
    AGIProtocolError,
    EnvironmentReader,
    app_argument_escape,
    format_command,
    get_variable_command,
    mset_commands,
    parse_environment,
    parse_result_line,
    quote_argument,
    sanitise_value,
    set_variable_command,
    validate_variable_name,
)
from tests.asterisk_model import (
    asterisk_mset,
    asterisk_parse_args,
    asterisk_separate_args,
    variables_set,
)

# ---------------------------------------------------------------------------
# Models of res_agi.c (asterisk/asterisk, res/res_agi.c)
# ---------------------------------------------------------------------------

AGI_BUF_LEN = 2048


def run_agi_read_commands(stream: bytes) -> list[bytes]:
    """The command lines ``run_agi()`` hands to ``agi_handle_command()`` for
    everything a FastAGI server wrote, then closed (``agi->fast`` is set)."""
    commands: list[bytes] = []
    pos = 0
    while True:
        cstr = b""  # the C string in buf
        room = AGI_BUF_LEN  # "len"
        eof = False
        while room > 1:
            # fgets(buf + buflen, len, readf): at most len-1 bytes, through '\n'
            if pos >= len(stream):
                eof = True
                break
            end = min(pos + room - 1, len(stream))
            newline = stream.find(b"\n", pos, end)
            if newline != -1:
                end = newline + 1
            chunk = stream[pos:end]
            pos = end
            short = not chunk.endswith(b"\n") and len(chunk) < room - 1
            cstr = (cstr + chunk).split(b"\0", 1)[0]  # buflen = strlen(buf)
            if short:  # fgets hit end of file
                eof = True
                break
            if cstr.endswith(b"\n"):
                break
            room = AGI_BUF_LEN - len(cstr)
        if not cstr:  # "Program terminated"
            return commands
        commands.append(cstr[:-1] if cstr.endswith(b"\n") else cstr)
        if eof:
            return commands


class TestModels:
    """The models must reproduce the C behaviour they stand for, or the
    quoting tests below prove nothing."""

    @pytest.mark.parametrize(
        ("line", "argv"),
        [
            (b"SET VARIABLE A B", [b"SET", b"VARIABLE", b"A", b"B"]),
            (b'VERBOSE "a b"  \t 1', [b"VERBOSE", b"a b", b"1"]),
            (b'X ""', [b"X", b""]),
            (b'X "" ""', [b"X", b"", b""]),
            (b'X "a"b', [b"X", b"ab"]),
            (b'X a"b c"', [b"X", b"ab c"]),
            (b"X a\\ b", [b"X", b"a b"]),
            (b'X "a\\"b"', [b"X", b'a"b']),
            (b'X "a\\\\b"', [b"X", b"a\\b"]),
            (b"X \\n", [b"X", b"n"]),  # an escape is never a control character
            (b"X a\\", [b"X", b"a"]),  # a trailing lone backslash vanishes
            (b"X a\0 b", [b"X", b"a"]),
        ],
    )
    def test_parse_args(self, line: bytes, argv: list[bytes]) -> None:
        assert asterisk_parse_args(line) == argv

    def test_run_agi_splits_lines_and_long_lines(self) -> None:
        assert run_agi_read_commands(b"A 1\nB 2\n") == [b"A 1", b"B 2"]
        long = b"X " + b"a" * 3000 + b"\n"
        assert [len(c) for c in run_agi_read_commands(long)] == [2047, 955]

    def test_run_agi_nul_glues_the_next_line_on(self) -> None:
        assert run_agi_read_commands(b"A x\0junk\nB y\n") == [b"A xB y"]

    @pytest.mark.parametrize(
        ("buf", "delim", "arraylen", "argv"),
        [
            (b"a,b", b",", 99, [b"a", b"b"]),
            (b"a,", b",", 99, [b"a", b""]),  # a delimiter at the end: one more, empty
            (b",", b",", 99, [b"", b""]),
            (b'a"b,c"d,e', b",", 99, [b"ab,cd", b"e"]),  # quotes hide the comma, removed
            (b"f(a,b),c", b",", 99, [b"f(a,b)", b"c"]),  # parentheses nest
            (b"g[a,b],c", b",", 99, [b"g[a,b]", b"c"]),
            (b"x(y,z", b",", 99, [b"x(y,z"]),  # unclosed: swallows every later comma
            (b"a\\,b,c", b",", 99, [b"a,b", b"c"]),  # a backslash makes it literal
            (b"a\\\\b", b",", 99, [b"a\\b"]),
            (b"a,b,c", b",", 2, [b"a", b"b,c"]),  # array full: the rest as it is
            (b'a,"b\\c', b",", 2, [b"a", b'"b\\c']),
            (b"N=v=w", b"=", 2, [b"N", b"v=w"]),
            (b'CALLERID(name)=a"b\\', b"=", 2, [b"CALLERID(name)", b'a"b\\']),
        ],
    )
    def test_app_separate_args(
        self, buf: bytes, delim: bytes, arraylen: int, argv: list[bytes]
    ) -> None:
        assert asterisk_separate_args(buf, delim, True, arraylen) == argv

    def test_app_separate_args_lone_backslash_at_the_end_is_undefined(self) -> None:
        with pytest.raises(OverflowError):
            asterisk_separate_args(b"a\\", b",", True, 99)

    def test_mset_model_catches_a_comma_smuggled_into_a_value(self) -> None:
        assert asterisk_mset(b"SB_NAME=Bob,SB_VIP=1") == [(b"SB_NAME", b"Bob"), (b"SB_VIP", b"1")]
        assert asterisk_mset(b"SB_NAME=Bob (x,SB_VIP=1") == [(b"SB_NAME", b"Bob (x,SB_VIP=1")]

    def test_models_catch_a_naively_quoted_injection(self) -> None:
        evil = 'Bob"\nEXEC System "rm -rf /'
        naive = f'SET VARIABLE NAME "{evil}"\n'.encode()
        commands = run_agi_read_commands(naive)
        assert len(commands) == 2
        assert asterisk_parse_args(commands[1])[:2] == [b"EXEC", b"System"]


# ---------------------------------------------------------------------------
# Quoting
# ---------------------------------------------------------------------------

EVIL_NAMES = [
    'Bob "The Boss"',
    "back\\slash\\",
    "line\nbreak",
    "carriage\rreturn",
    "Bob\nEXEC System rm -rf /",
    'Bob"\nEXEC System "rm -rf /',
    "nul\0byte",
    "tab\there",
    "\\",
    '"',
    "",
    "José Zoë 😀",
    "vertical\x0bform\x0cfeed\x1bescape\x7fdel\x85nel\u2028ls",
]


@pytest.mark.parametrize("value", EVIL_NAMES)
def test_set_variable_is_one_command_that_asterisk_reads_back_as_the_sanitised_value(
    value: str,
) -> None:
    line = (set_variable_command("CALLER_NAME", value) + "\n").encode()
    commands = run_agi_read_commands(line)
    assert len(commands) == 1
    assert asterisk_parse_args(commands[0]) == [
        b"SET",
        b"VARIABLE",
        b"CALLER_NAME",
        sanitise_value(value).encode(),
    ]


@pytest.mark.parametrize(
    ("value", "clean"),
    [
        ("Bob\nEXEC System rm -rf /", "BobEXEC System rm -rf /"),
        ("a\r\n\0b", "ab"),
        ("José\u2028Zoë", "JoséZoë"),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
        ('keep "quotes" and \\ and spaces', 'keep "quotes" and \\ and spaces'),
    ],
)
def test_sanitise_value(value: str, clean: str) -> None:
    assert sanitise_value(value) == clean


def test_quote_argument_exact_bytes() -> None:
    assert quote_argument('a "b" \\c') == '"a \\"b\\" \\\\c"'
    assert quote_argument("") == '""'


def test_a_caller_value_too_long_for_one_line_is_cut_not_split_into_a_second_command() -> None:
    value = "A" * 3000 + "\nEXEC System rm -rf /"
    line = set_variable_command("CALLER_NAME", value) + "\n"
    assert len(line.encode()) <= MAX_COMMAND_BYTES
    commands = run_agi_read_commands(line.encode())
    assert len(commands) == 1
    argv = asterisk_parse_args(commands[0])
    assert argv[:3] == [b"SET", b"VARIABLE", b"CALLER_NAME"]
    assert len(argv) == 4 and set(argv[3]) == {ord("A")}


def test_cutting_never_splits_an_escape_or_a_multibyte_character() -> None:
    for filler in ('"', "\\", "é", "😀"):
        line = set_variable_command("V", filler * 2000) + "\n"
        (command,) = run_agi_read_commands(line.encode())
        value = asterisk_parse_args(command)[3].decode()  # strict: whole characters
        assert set(value) == {filler}


def test_format_command_refuses_a_line_asterisk_would_split() -> None:
    with pytest.raises(AGICommandTooLong):
        format_command("VERBOSE", "x" * MAX_COMMAND_BYTES)


@pytest.mark.parametrize("command", ["SET\nVARIABLE", "NOOP\n", "EXEC ${X}", "", "NOOP\0"])
def test_format_command_refuses_odd_command_words(command: str) -> None:
    with pytest.raises(ValueError):
        format_command(command)


@pytest.mark.parametrize("name", ["CALLER_NAME", "__INHERITED", "CALLERID(name)", "CDR(userfield)"])
def test_variable_names_accepted(name: str) -> None:
    assert validate_variable_name(name) == name
    assert asterisk_parse_args(get_variable_command(name).encode())[2] == name.encode()


@pytest.mark.parametrize(
    "name", ["", "A B", "A\n", "${X}", '"A"', "1ABC", "A;B", "X" * 100, "CALLERID(na me)"]
)
def test_variable_names_rejected(name: str) -> None:
    with pytest.raises(ValueError):
        validate_variable_name(name)
    with pytest.raises(ValueError):
        set_variable_command(name, "v")


any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=300)


@given(any_text)
def test_quote_argument_property(value: str) -> None:
    quoted = quote_argument(value)
    line = f"VERBOSE {quoted}"
    assert len(line.splitlines()) == 1
    raw = line.encode("utf-8")  # never raises: surrogates are gone
    assert not set(raw) & {0, ord("\n"), ord("\r")}
    assert asterisk_parse_args(raw) == [b"VERBOSE", sanitise_value(value).encode()]
    assert sanitise_value(sanitise_value(value)) == sanitise_value(value)


@given(st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"))))
def test_sanitise_keeps_ordinary_text_intact(value: str) -> None:
    assert sanitise_value(value) == value


@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=2500))
def test_set_variable_property(value: str) -> None:
    line = set_variable_command("CALLER_NAME", value) + "\n"
    commands = run_agi_read_commands(line.encode())
    assert len(commands) == 1
    argv = asterisk_parse_args(commands[0])
    assert argv[:3] == [b"SET", b"VARIABLE", b"CALLER_NAME"]
    assert len(argv) == 4
    clean = sanitise_value(value)
    got = argv[3].decode()
    assert clean.startswith(got)
    if len(quote_argument(clean).encode()) <= 1900:
        assert got == clean


# ---------------------------------------------------------------------------
# EXEC MSet
# ---------------------------------------------------------------------------

MSET_NASTY = [
    *EVIL_NAMES,
    "Jansen, Piet",
    "SB_VIP=1",
    "Bob,SB_VIP=1",
    "Bob\\,SB_VIP=1",
    'Bob",SB_VIP=1,"',
    "(unclosed, SB_VIP=1",
    "closed) (twice))",
    "[bracket, SB_VIP=1",
    "x|SB_VIP=1",
    "${SHELL(id)} $[1+1] ${CALLERID(num)}",
    "semi;colon 'single' `tick` a=b=c",
    "trailing\\",
    "trailing\\\\",
    " leading and trailing spaces ",
    "\u202eright-to-left",
]


def mset_result(commands: list[str]) -> dict[str, str]:
    """What Asterisk sets for these lines: each must reach it as one MSet command."""
    for line in commands:
        assert run_agi_read_commands((line + "\n").encode()) == [line.encode()]
        assert asterisk_parse_args(line.encode())[:2] == [b"EXEC", b"MSet"]
        assert len(asterisk_parse_args(line.encode())) == 3
    return variables_set(commands)


@pytest.mark.parametrize("value", MSET_NASTY)
def test_mset_sets_every_value_exactly_however_hostile(value: str) -> None:
    variables = {"CALLERID(name)": value, "SB_A": value, "SB_VIP": "0", "SB_B": ""}
    commands = mset_commands(variables)
    assert len(commands) == 1
    assert mset_result(commands) == {name: sanitise_value(v) for name, v in variables.items()}


def test_mset_line_is_the_quoted_app_argument() -> None:
    variables = {"SB_A": 'Jansen, "Piet" (\\)', "CALLERID(name)": "x|y"}
    assert mset_commands(variables) == [
        format_command(
            "EXEC",
            "MSet",
            ",".join(f"{name}={app_argument_escape(v)}" for name, v in variables.items()),
        )
    ]
    assert app_argument_escape('a,b(c)[d]"e\\f|g=h') == 'a\\,b\\(c\\)\\[d\\]\\"e\\\\f\\|g=h'


def test_mset_refuses_a_name_that_is_not_ours() -> None:
    with pytest.raises(ValueError):
        mset_commands({"SB_A=1,SB_B": "x"})


def test_values_too_many_or_too_long_for_one_line_spread_over_several() -> None:
    many = {f"SB_V{i}": str(i) for i in range(MSET_MAX_PAIRS + 5)}
    assert len(mset_commands(many)) == 2
    assert mset_result(mset_commands(many)) == many
    wide = {"SB_A": "a" * 1500, "SB_B": "b" * 1500, "SB_C": "c"}
    assert len(mset_commands(wide)) == 2
    assert mset_result(mset_commands(wide)) == wide


def test_a_value_too_long_for_a_line_of_its_own_is_cut_not_split() -> None:
    commands = mset_commands({"SB_A": "x", "SB_LONG": "é,\\" * 1000, "SB_B": "y"})
    assert all(len(c.encode()) + 1 <= MAX_COMMAND_BYTES for c in commands)
    got = mset_result(commands)
    assert got["SB_A"] == "x" and got["SB_B"] == "y"
    assert 300 < len(got["SB_LONG"]) < 3000
    assert ("é,\\" * 1000).startswith(got["SB_LONG"])


mset_values = st.dictionaries(
    st.sampled_from(["CALLERID(name)", "SB_A", "SB_B", "SB_C", "__SB_D"]),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=60),
    min_size=1,
)


@given(mset_values)
def test_mset_property(variables: dict[str, str]) -> None:
    commands = mset_commands(variables)
    assert len(commands) == 1
    assert mset_result(commands) == {name: sanitise_value(v) for name, v in variables.items()}


@given(st.dictionaries(st.sampled_from(["SB_A", "SB_B"]), any_text.map(lambda t: t * 8)))
def test_mset_property_long_values(variables: dict[str, str]) -> None:
    got = mset_result(mset_commands(variables))
    assert got.keys() == variables.keys()
    for name, value in variables.items():
        assert sanitise_value(value).startswith(got[name])


# ---------------------------------------------------------------------------
# Environment block
# ---------------------------------------------------------------------------

HEADERS = (
    "agi_network: yes\n"
    "agi_network_script: recognize?lang=fr&vip=\n"
    "agi_request: agi://127.0.0.1:4573/recognize?lang=fr&vip=\n"
    "agi_channel: PJSIP/trunk-00000001\n"
    "agi_language: fr\n"
    "agi_type: PJSIP\n"
    "agi_uniqueid: 1700000000.1\n"
    "agi_version: 20.5.0\n"
    "agi_callerid: +33612345678\n"
    'agi_calleridname: José Zoë: "le boss"\n'
    "agi_callingpres: 0\n"
    "agi_callingani2: 0\n"
    "agi_callington: 0\n"
    "agi_callingtns: 0\n"
    "agi_dnid: 100\n"
    "agi_rdnis: unknown\n"
    "agi_context: from-trunk\n"
    "agi_extension: 100\n"
    "agi_priority: 2\n"
    "agi_enhanced: 0.0\n"
    "agi_accountcode: \n"
    "agi_threadid: 140245091038912\n"
    "agi_arg_1: first\n"
    "agi_arg_2: second, with comma\n"
    "\n"
)


def test_parse_environment_typical_block() -> None:
    env = parse_environment(HEADERS.encode())
    assert env.network_script == "recognize"
    assert env.query == "lang=fr&vip="
    assert dict(env.params) == {"lang": "fr", "vip": ""}
    assert env.arguments == ("first", "second, with comma")
    assert env.caller_id == "+33612345678"
    assert env.caller_id_name == 'José Zoë: "le boss"'
    assert env.channel == "PJSIP/trunk-00000001"
    assert env.unique_id == "1700000000.1"
    assert env.linked_id is None
    assert env.extension == "100"
    assert env.context == "from-trunk"
    assert env.raw["agi_accountcode"] == ""
    assert env.raw["agi_rdnis"] == "unknown"
    assert env.malformed_lines == ()


def test_unknown_caller_is_none() -> None:
    env = parse_environment("agi_callerid: unknown\nagi_calleridname: unknown\n\n")
    assert env.caller_id is None and env.caller_id_name is None


def test_linked_id_and_leading_slash_and_crlf() -> None:
    env = parse_environment(
        b"agi_network_script: /recognize/\r\nagi_linkedid: 1700000000.0\r\n\r\n"
    )
    assert env.network_script == "recognize"
    assert env.linked_id == "1700000000.0"


def test_malformed_lines_are_reported_not_fatal() -> None:
    env = parse_environment(
        b"agi_network_script: r\n"
        b"this line has no colon\n"
        b"agi bad key: x\n"
        b": no key\n"
        b"agi_calleridname: Jos\xe9 Smith\n"  # Latin-1, not UTF-8
        b"agi_network_script: spoofed\n"
        b"\n"
        b"agi_after_blank: ignored\n"
    )
    assert env.network_script == "r"  # a repeated key never overrides the first
    assert env.caller_id_name == "Jos\ufffd Smith"  # the rest of the value survives
    assert env.malformed_lines == (
        "this line has no colon",
        "agi bad key: x",
        ": no key",
        "agi_network_script: spoofed",
    )
    assert "agi_after_blank" not in env.raw


def test_header_line_count_is_bounded() -> None:
    block = "".join(f"agi_x{i}: {i}\n" for i in range(250)) + "\n"
    with pytest.raises(AGIHeaderTooLarge, match="200 lines"):
        parse_environment(block)


def test_header_size_is_bounded() -> None:
    block = "agi_calleridname: " + "x" * (70 * 1024) + "\n\n"
    with pytest.raises(AGIHeaderTooLarge, match="bytes"):
        parse_environment(block)


header_lines = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(
                ["agi_callerid", "agi_calleridname", "agi_network_script", "agi_arg_1", "x"]
            ),
            st.sampled_from([": ", ":", ":  ", " : "]),
            st.text(alphabet=st.sampled_from(["a", " ", ":", "\r", "é", "\ufffd", "\n"])),
        ).map("".join),
        st.binary(max_size=12).map(lambda b: b.decode("latin-1")),
    ),
    max_size=8,
)


def block_of(data: bytes) -> bytes:
    """``data`` up to its first blank line, as the line-by-line reading takes it."""
    end = agi_protocol._BLOCK_END.search(data)
    return data[: end.end()] if end else data


@given(header_lines, st.sampled_from(["\n", "\r\n", ""]), st.binary(max_size=4))
def test_the_quick_reading_of_a_block_is_the_line_by_line_reading(
    lines: list[str], blank: str, after: bytes
) -> None:
    raw = "".join(line + "\n" for line in lines).encode("utf-8", "surrogatepass")
    raw = raw.replace(b"\xc3\xa9", b"\xc3")  # some bytes that are not UTF-8
    data = raw + blank.encode() + after
    expected = agi_protocol._parse_lines(block_of(data))
    assert parse_environment(data) == expected
    reader = EnvironmentReader()
    assert reader.read(data) == expected
    # Again, now that its layout (keys in order) may have been learnt from the first.
    assert reader.read(data) == expected


def test_only_the_first_few_layouts_are_learnt_and_others_are_still_read() -> None:
    reader = EnvironmentReader(max_layouts=3)
    for n in range(1, 6):
        block = "agi_network_script: r\n" + "".join(f"agi_arg_{i}: {i}\n" for i in range(1, n))
        assert reader.read(block + "\n").arguments == tuple(str(i) for i in range(1, n))
    assert reader.layouts == tuple(
        ("agi_network_script", *(f"agi_arg_{i}" for i in range(1, n))) for n in range(1, 4)
    )


def test_a_learnt_layout_reads_the_next_block_only_when_every_line_fits_it() -> None:
    reader = EnvironmentReader()
    first = "agi_network: yes\nagi_network_script: recognize\nagi_callerid: 0612345678\n\n"
    assert reader.read(first).caller_id == "0612345678"
    assert reader.layouts == (("agi_network", "agi_network_script", "agi_callerid"),)
    # The same keys, but a line smuggled in between: not read as that layout.
    smuggled = (
        "agi_network: yes\nagi_network_script: recognize\nagi_network_script: evil\n"
        "agi_callerid: 0612345678\n\n"
    )
    env = reader.read(smuggled)
    assert env.network_script == "recognize"
    assert env.malformed_lines == ("agi_network_script: evil",)
    # Arguments come out in their order, however the layout lists them.
    with_args = "agi_network_script: r\nagi_arg_2: b\nagi_arg_10: c\nagi_arg_1: a\n\n"
    assert reader.read(with_args).arguments == ("a", "b", "c")
    assert len(reader.layouts) == 2
    assert reader.read(with_args.replace("b", "B")).arguments == ("a", "B", "c")


def test_layouts_belong_to_their_reader_and_parse_environment_learns_none() -> None:
    first, second = EnvironmentReader(), EnvironmentReader()
    parse_environment(HEADERS)
    assert first.layouts == ()
    first.read(HEADERS)
    assert len(first.layouts) == 1
    assert second.layouts == ()


# res_agi's own keys, in the order it sends them to a FastAGI server (launch_netscript,
# then setup_env in res/res_agi.c), before agi_arg_1 .. agi_arg_127 (MAX_ARGS is 128).
ASTERISK_KEYS = [line.partition(":")[0] for line in HEADERS.splitlines()[:22]]


def asterisk_block(arguments: int, extra: str = "") -> str:
    lines = [f"{key}: x" for key in ASTERISK_KEYS]
    lines += [f"agi_arg_{n}: {n}" for n in range(1, arguments + 1)]
    return "\n".join(lines) + "\n" + extra + "\n"


@pytest.mark.parametrize(
    "block",
    [
        asterisk_block(2, "agi_x1: 1\n"),
        asterisk_block(2, "agi_linkedid: 1700000000.0\n"),  # a dialplan's, not res_agi's
        asterisk_block(2, "AGI_CALLERID: 1\n"),
        asterisk_block(2, "agi_arg_0: 0\n"),
        asterisk_block(2, "agi_arg_03: 3\n"),  # res_agi prints %d: never a leading zero
        asterisk_block(agi_protocol.MAX_AGI_ARGUMENTS + 1),  # one more than res_agi sends
        "".join(f"agi_x{n}: {n}\n" for n in range(199)) + "\n",
    ],
    ids=["unknown", "linkedid", "upper-case", "arg-0", "arg-03", "150-lines", "199-lines"],
)
def test_a_client_cannot_teach_a_layout_res_agi_never_sends(block: str) -> None:
    reader = EnvironmentReader()
    expected = agi_protocol._parse_lines(block.encode())
    assert expected.malformed_lines == ()  # well-formed: only its keys keep it out
    assert reader.read(block) == expected
    assert reader.layouts == ()


def test_the_longest_layout_res_agi_sends_is_learnt() -> None:
    assert agi_protocol.MAX_AGI_ARGUMENTS == 127  # MAX_ARGS - 1 in res/res_agi.c
    reader = EnvironmentReader()
    block = asterisk_block(agi_protocol.MAX_AGI_ARGUMENTS)
    assert reader.read(block).arguments == tuple(str(n) for n in range(1, 128))
    assert [len(keys) for keys in reader.layouts] == [149]


# How much more a block that departs from a learnt layout may cost per byte than reading
# a block of that layout line by line: the departure costs one failed match per layout
# and one more regex pass, 1 to 2 times as much; reading it with a regex that
# backtracks costs 2**k for k lines that fit, some 100,000 times as much at 22 lines.
LINEAR_BOUND = 20


def seconds_per_byte(read: Callable[[bytes], object], block: bytes) -> float:
    """The best of five timings of ``read(block)``, per byte: the best, to leave out
    what else the machine was doing; each of enough calls to take a millisecond."""
    started = time.perf_counter()
    read(block)
    number = max(1, int(1e-3 / max(time.perf_counter() - started, 1e-7)))
    best = min(timeit.repeat(lambda: read(block), number=number, repeat=5)) / number
    return best / len(block)


def assert_linear(reader: EnvironmentReader, near_miss: bytes, plain: bytes) -> None:
    """Reading ``near_miss`` costs, per byte, at most LINEAR_BOUND times the line-by-line
    reading of ``plain``, a block of the same layout and about the same size."""
    baseline = seconds_per_byte(agi_protocol._parse_lines, plain)
    cost = seconds_per_byte(reader.read, near_miss)
    assert cost <= LINEAR_BOUND * baseline, (
        f"{cost / baseline:.0f} times the cost per byte of reading a plain block "
        f"({len(near_miss)} bytes)"
    )


def test_a_block_that_departs_from_a_learnt_layout_at_its_end_is_read_in_linear_time() -> None:
    standard = "".join(HEADERS.splitlines(keepends=True)[:22])  # no agi_arg_N
    reader = EnvironmentReader()
    reader.read(standard + "\n")
    assert len(reader.layouts) == 1
    near_miss = (standard + "malformed\n\n").encode()
    env = reader.read(near_miss)
    assert env.malformed_lines == ("malformed",)
    assert env.caller_id_name == 'José Zoë: "le boss"'
    assert env == agi_protocol._parse_lines(near_miss)
    assert_linear(reader, near_miss, (standard + "\n").encode())


def asterisk_lines(arguments: int) -> st.SearchStrategy[list[tuple[str, str]]]:
    """The keys res_agi sends with ``arguments`` AGI arguments, each with a value."""
    keys = ASTERISK_KEYS + [f"agi_arg_{n}" for n in range(1, arguments + 1)]
    value = st.text(alphabet=st.sampled_from(["a", " ", ":", "é", "0"]), max_size=12)
    return st.tuples(*(value for _ in keys)).map(
        lambda values: list(zip(keys, values, strict=True))
    )


MUTATIONS = [
    "malformed",  # the line replaced by one with no colon
    "space before colon",  # "agi_x : v": not a key
    "extra space",  # "agi_x:  v": well-formed, the value starts with a space
    "leading spaces",  # "agi_x:    v"
    "renamed",  # another key
    "repeated",  # the line again, after itself
    "inserted",  # a line of another key
    "dropped",
    "cr",  # a CR before its LF
]


# A hang guard, not a performance expectation: a regex that backtracks exponentially takes
# years at 100 lines, and Hypothesis would go on trying examples after a test timeout.
HANG_GUARD_S = 2.0


@contextmanager
def hang_guard(seconds: float) -> Iterator[None]:
    """Fail the test when the block takes more than ``seconds``: SIGALRM interrupts even
    a regex match. An alarm set before (pytest-timeout's) is set again afterwards."""

    def expire(signum: int, frame: object) -> None:
        raise AssertionError(f"still reading after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.01))


@st.composite
def near_misses(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A block of a layout res_agi sends, and the same with one line changed."""
    lines = [f"{k}: {v}" for k, v in draw(st.integers(0, 127).flatmap(asterisk_lines))]
    where = draw(st.integers(0, len(lines) - 1))
    key, _, value = lines[where].partition(": ")
    changed = list(lines)
    match draw(st.sampled_from(MUTATIONS)):
        case "malformed":
            changed[where] = "malformed"
        case "space before colon":
            changed[where] = f"{key} : {value}"
        case "extra space":
            changed[where] = f"{key}:  {value}"
        case "leading spaces":
            changed[where] = f"{key}:    {value}"
        case "renamed":
            changed[where] = f"{key}x: {value}"
        case "repeated":
            changed.insert(where + 1, lines[where])
        case "inserted":
            changed.insert(where, "agi_linkedid: 1700000000.0")
        case "dropped":
            del changed[where]
        case "cr":
            changed[where] += "\r"
    return ("\n".join(lines) + "\n\n").encode(), ("\n".join(changed) + "\n\n").encode()


# No shrinking: each smaller variant would be timed again, slowly and with more noise, and
# the example found already names the layout size, the line and the change.
@settings(deadline=None, max_examples=60, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(near_misses())
def test_a_block_that_departs_from_a_learnt_layout_is_read_in_linear_time(
    blocks: tuple[bytes, bytes],
) -> None:
    plain, near_miss = blocks
    reader = EnvironmentReader()
    reader.read(plain)
    assert len(reader.layouts) == 1  # learnt: the near miss is tried against it
    with hang_guard(HANG_GUARD_S):
        assert reader.read(near_miss) == agi_protocol._parse_lines(block_of(near_miss))
        assert_linear(reader, near_miss, plain)


# ---------------------------------------------------------------------------
# Replies
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "code", "result", "data", "ok"),
    [
        ("200 result=1", 200, "1", "", True),
        ("200 result=0\n", 200, "0", "", True),
        ("200 result=1 (José Zoë)", 200, "1", "José Zoë", True),
        ("200 result=1 ()", 200, "1", "", True),
        ("200 result=1 (a) b=(c)", 200, "1", "a) b=(c", True),
        ("200 result=-1", 200, "-1", "", False),
        ("200 result=-1 (hangup)", 200, "-1", "hangup", False),
        ("200 result= (timeout)", 200, "", "timeout", True),
        ("510 Invalid or unknown command", 510, "", "", False),
        ("511 Command Not Permitted on a dead channel", 511, "", "", False),
        ("520 Invalid command syntax.  Proper usage not available.", 520, "", "", False),
    ],
)
def test_parse_result_line(line: str, code: int, result: str, data: str, ok: bool) -> None:
    parsed = parse_result_line(line)
    assert (parsed.code, parsed.result, parsed.data, parsed.ok) == (code, result, data, ok)


def test_parse_result_extra_pairs_and_classification() -> None:
    parsed = parse_result_line("200 result=1 (timeout) endpos=12345")
    assert parsed.data == "timeout"
    assert dict(parsed.extra) == {"endpos": "12345"}
    assert parsed.result_int == 1
    assert parse_result_line("200 result=-1").error == "AGIAppError"
    assert parse_result_line("510 Invalid or unknown command").error == "AGIInvalidCommand"


@pytest.mark.parametrize("line", ["HANGUP", "", "garbage", "agi_callingpres: 0", "20 result=1"])
def test_parse_result_line_rejects_non_status_lines(line: str) -> None:
    with pytest.raises(AGIProtocolError):
        parse_result_line(line)

"""Models of what Asterisk does with the AGI commands we send (from res_agi.c and
pbx_variables.c), so tests can assert the variables a channel ends up with."""

from __future__ import annotations

from collections.abc import Iterable

MAX_ARGS = 128


def asterisk_parse_args(line: bytes) -> list[bytes]:
    """``static int parse_args(char *s, int *max, const char *argv[])``, transcribed."""
    s = line.split(b"\0", 1)[0]  # while (*s): a C string ends at its first NUL
    argv: list[bytearray] = []
    quoted = escaped = False
    whitespace = True
    for c in s:
        normal = False
        if c == ord('"'):
            if escaped:  # an escaped quote is a literal quote
                normal = True
            else:
                quoted = not quoted
                if quoted and whitespace:  # a quote after whitespace starts a word
                    if len(argv) >= MAX_ARGS:  # no bound check on this path in C
                        raise OverflowError("argv[] overflow in res_agi parse_args")
                    argv.append(bytearray())
                    whitespace = False
                escaped = False
        elif c in (ord(" "), ord("\t")):
            if not quoted and not escaped:
                whitespace = True  # *(cur++) = '\0': ends the word
            else:
                normal = True
        elif c == ord("\\"):
            if escaped:
                normal = True
            else:
                escaped = True
        else:
            normal = True
        if normal:
            if whitespace:
                if len(argv) >= MAX_ARGS - 1:
                    continue  # "Too many arguments, truncating": char dropped
                argv.append(bytearray())
                whitespace = False
            argv[-1].append(c)
            escaped = False
    return [bytes(a) for a in argv]


def variables_set(commands: Iterable[str]) -> dict[str, str]:
    """The channel variables ``SET VARIABLE`` and ``EXEC MSet`` lines leave behind."""
    variables: dict[str, str] = {}
    for command in commands:
        argv = [a.decode() for a in asterisk_parse_args(command.encode())]
        if argv[:2] == ["SET", "VARIABLE"] and len(argv) >= 4:
            variables[argv[2]] = argv[3]
        elif argv[:2] == ["EXEC", "MSet"] and len(argv) >= 3:
            # MSet: comma-separated name=value pairs, surrounding quotes stripped.
            for pair in argv[2].split(","):
                name, _, value = pair.partition("=")
                variables[name] = value.strip('"')
    return variables

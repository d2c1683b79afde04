"""Models of what Asterisk does with the AGI commands we send (from res_agi.c, app.c and
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


def asterisk_separate_args(
    buf: bytes, delim: bytes, remove_chars: bool, arraylen: int
) -> list[bytes]:
    """``__ast_app_separate_args`` (main/app.c), transcribed: how an application
    splits its argument string (``AST_STANDARD_APP_ARGS``: ``,`` and remove_chars)."""
    sep = delim[0]
    s = buf.split(b"\0", 1)[0]
    argv: list[bytes] = []
    paren = bracket = 0
    quote = False
    pos = 0
    wasdelim = -1
    while pos < len(s) and len(argv) < arraylen - 1:
        arg = bytearray()
        while pos < len(s):
            c = s[pos]
            if c == ord("("):
                paren += 1
            elif c == ord(")"):
                paren = max(paren - 1, 0)
            elif c == ord("["):
                bracket += 1
            elif c == ord("]"):
                bracket = max(bracket - 1, 0)
            elif c == ord('"') and sep != ord('"'):
                quote = not quote
                if remove_chars:  # the quote is removed
                    pos += 1
                    continue
            elif c == ord("\\"):
                if pos + 1 >= len(s):
                    # memmove, then scan++ steps over the terminating NUL: C reads on
                    # past the string. Nothing we send may end like this.
                    raise OverflowError("lone backslash at the end: read past the string")
                if not remove_chars:
                    arg.append(c)
                arg.append(s[pos + 1])  # taken literally
                pos += 2
                continue
            elif c == sep and not paren and not quote and not bracket:
                wasdelim = pos
                pos += 1
                break
            arg.append(c)
            pos += 1
        argv.append(bytes(arg))
    # The rest, as it is, when the array is full; or an empty argument after a
    # delimiter at the very end.
    if pos < len(s) or (pos > 0 and pos - 1 == wasdelim):
        argv.append(bytes(s[pos:]))
    return argv


def asterisk_mset(data: bytes) -> list[tuple[bytes, bytes]]:
    """``pbx_builtin_setvar_multiple`` (main/pbx_variables.c): the name/value pairs MSet
    sets, in order. Asterisk 22 splits up to 99 pairs."""
    pairs = []
    for piece in asterisk_separate_args(data, b",", True, 99):
        pair = asterisk_separate_args(piece, b"=", True, 2)
        if len(pair) == 2:
            pairs.append((pair[0], pair[1]))
    return pairs


def variables_set(commands: Iterable[str]) -> dict[str, str]:
    """The channel variables ``SET VARIABLE`` and ``EXEC MSet`` lines leave behind."""
    variables: dict[str, str] = {}
    for command in commands:
        argv = asterisk_parse_args(command.encode())
        if argv[:2] == [b"SET", b"VARIABLE"] and len(argv) >= 4:
            variables[argv[2].decode()] = argv[3].decode()
        elif argv[:2] == [b"EXEC", b"MSet"] and len(argv) >= 3:
            for name, value in asterisk_mset(argv[2]):
                variables[name.decode()] = value.decode()
    return variables

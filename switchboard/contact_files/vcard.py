"""vCard files (3.0 and 4.0, as phones and Outlook export them)."""

from __future__ import annotations

import codecs
import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass

from switchboard.contact_files.common import (
    MAX_ROW_CHARS,
    ContactImportError,
    ImportedContact,
    ImportResult,
    Language,
    Row,
    RowProblem,
    clean,
    decode,
    decode_leniently,
    drop_duplicates,
    finish,
    one_line,
    show,
)

# --------------------------------------------------------------------------- vCard


@dataclass
class _Property:
    line: int
    name: str
    params: dict[str, list[str]]
    value: str


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Unfolded vCard lines with the physical line each starts on.

    A line starting with a space or tab continues the previous one (RFC 6350 3.2); in
    vCard 2.1 a quoted-printable value ending in '=' continues on the next line.
    """
    current: list[str] = []
    start = 0
    for number, line in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        if current and line[:1] in {" ", "\t"}:
            current.append(line[1:])
            continue
        if current and current[-1].endswith("=") and _is_quoted_printable(current[0]):
            current[-1] = current[-1][:-1]
            current.append(line)
            continue
        if current:
            yield start, "".join(current)
        current, start = ([line], number) if line.strip() else ([], 0)
    if current:
        yield start, "".join(current)


def _is_quoted_printable(first_line: str) -> bool:
    head = first_line.split(":", 1)[0].upper()
    return "QUOTED-PRINTABLE" in head


def _split_unquoted(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _parse_property(line: int, text: str) -> _Property | None:
    quoted = False
    for i, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            head, value = text[:i], text[i + 1 :]
            break
    else:
        return None
    name, *raw_params = _split_unquoted(head, ";")
    name = name.rsplit(".", 1)[-1].strip().upper()  # 'item1.TEL' is a TEL
    params: dict[str, list[str]] = {}
    for raw in raw_params:
        key, sep, values = raw.partition("=")
        if not sep:  # vCard 2.1: TEL;CELL;VOICE:...
            key, values = "TYPE", key
        for v in _split_unquoted(values, ","):
            params.setdefault(key.strip().upper(), []).append(v.strip().strip('"'))
    value = _decode_value(value, params)
    return _Property(line, name, params, value)


def _decode_value(value: str, params: dict[str, list[str]]) -> str:
    encoding = [e.upper() for e in params.get("ENCODING", [])]
    if "QUOTED-PRINTABLE" not in encoding:
        return value
    raw = quopri.decodestring(value.encode("utf-8"))
    charset = (params.get("CHARSET") or ["utf-8"])[0]
    try:
        return raw.decode(charset)
    except (LookupError, ValueError):  # unknown charset, or bytes not in it
        return decode_leniently(raw)


def _unescape(value: str) -> str:
    return re.sub(
        r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value, flags=re.DOTALL
    )


def _components(value: str) -> list[str]:
    """A structured value (N, ADR, ORG) split on unescaped ';', each part unescaped."""
    parts, current = [], []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            current.append(char + next(chars, ""))
        elif char == ";":
            parts.append(_unescape("".join(current)))
            current = []
        else:
            current.append(char)
    parts.append(_unescape("".join(current)))
    return parts


def _types(prop: _Property) -> list[str]:
    return [t.lower() for v in prop.params.get("TYPE", []) for t in v.split(",") if t]


# Pictures and keys may be big; we never read them, so their size is no problem.
_UNUSED_BIG_PROPERTIES = frozenset({"PHOTO", "LOGO", "SOUND", "KEY"})
_NEVER_CALLS = frozenset({"fax", "pager", "textphone"})
_TEL_LABELS = {"cell": "mobile"}


def parse_vcards(data: bytes, *, region: str) -> ImportResult:
    """Read contacts from a .vcf file of one or more vCards (2.1, 3.0, 4.0)."""
    text = decode(data)
    cards: list[tuple[int, list[_Property]]] = []
    result = ImportResult()
    current: tuple[int, list[_Property]] | None = None
    for line, logical in _logical_lines(text):
        if len(logical) > MAX_ROW_CHARS:
            name = re.split(r"[;:]", logical, maxsplit=1)[0].rsplit(".", 1)[-1].upper()
            if current is not None and name not in _UNUSED_BIG_PROPERTIES:
                result.problems.append(
                    RowProblem(
                        line,
                        f"this {name} is longer than {MAX_ROW_CHARS // 1024 // 1024} MB; ignored",
                    )
                )
            continue
        prop = _parse_property(line, logical)
        if prop is None:
            if current is not None:
                result.problems.append(
                    RowProblem(line, f"{show(logical)} is not a vCard line; ignored")
                )
            continue
        if prop.name == "BEGIN" and prop.value.strip().upper() == "VCARD":
            if current is not None:
                result.problems.append(
                    RowProblem(
                        line,
                        f"the card from line {current[0]} has no END:VCARD before the next card",
                    )
                )
                cards.append(current)
            current = (line, [])
        elif prop.name == "END" and prop.value.strip().upper() == "VCARD":
            if current is not None:
                cards.append(current)
                current = None
        elif current is not None:
            current[1].append(prop)
    if current is not None:
        result.problems.append(
            RowProblem(current[0], "this card has no END:VCARD (is the file cut off?)")
        )
        cards.append(current)
    if not cards:
        raise ContactImportError("no vCards in this file (no BEGIN:VCARD); is it a .vcf file?")

    provided = {"company", "email", "notes", "address", "external_id"}
    for start, props in cards:
        names = {p.name for p in props}
        provided |= {"vip"} if "CATEGORIES" in names else set()
        provided |= {"language"} if "LANG" in names else set()
        contact = _vcard(start, props, region, result.problems)
        if contact is not None:
            result.contacts.append(contact)
    result.provided = frozenset(provided)
    drop_duplicates(result)
    return result


def _preferred(props: list[_Property]) -> list[_Property]:
    """Properties with PREF (3.0 TYPE=pref, 4.0 PREF=1) first, otherwise in file order."""

    def rank(prop: _Property) -> int:
        pref = prop.params.get("PREF", [])
        if pref and re.fullmatch(r"[0-9]{1,3}", pref[0]):
            return int(pref[0])
        return 0 if "pref" in _types(prop) else 101

    return sorted(props, key=rank)


def _vcard(
    start: int, props: list[_Property], region: str, problems: list[RowProblem]
) -> ImportedContact | None:
    row = Row(start, region, problems)
    by_name: dict[str, list[_Property]] = {}
    for prop in props:
        by_name.setdefault(prop.name, []).append(prop)

    def first(name: str) -> _Property | None:
        found = _preferred(by_name.get(name, []))
        return found[0] if found else None

    name = ""
    if (fn := first("FN")) is not None:
        name = one_line(_unescape(fn.value))
    if not name and (n := first("N")) is not None:
        family, given, additional, *_ = [*_components(n.value), "", "", ""]
        name = " ".join(p for p in map(one_line, (given, additional, family)) if p)
    company = None
    if (org := first("ORG")) is not None:
        company = one_line(_components(org.value)[0]) or None

    for tel in by_name.get("TEL", []):
        if _NEVER_CALLS & set(_types(tel)):
            continue
        value = re.sub(r"(?i)^tel:", "", _unescape(tel.value).strip())
        labels = [_TEL_LABELS.get(t, t) for t in _types(tel) if t not in {"voice", "pref"}]
        row.add_numbers(value, ",".join(labels) or None, f" for {name}" if name else "", tel.line)

    email = None
    for prop in _preferred(by_name.get("EMAIL", [])):
        if (email := row.email(_unescape(prop.value), "", prop.line)) is not None:
            break
    address = None
    if (adr := first("ADR")) is not None:
        parts = [*_components(adr.value), "", "", "", "", "", "", ""][:7]
        _box, extended, street, city, state, postcode, country = map(one_line, parts)
        address = ", ".join(
            p for p in (street, extended, f"{postcode} {city}".strip(), state, country) if p
        )
    notes = "\n".join(note for p in by_name.get("NOTE", []) if (note := clean(_unescape(p.value))))
    vip = any(
        c.strip().casefold() == "vip"
        for p in by_name.get("CATEGORIES", [])
        for c in _split_unquoted(p.value, ",")
    )
    language: Language = "nl"
    if (lang := first("LANG")) is not None:
        language = row.language(lang.value, " (LANG)", lang.line)
    uid = first("UID")
    return finish(
        row,
        name=name,
        company=company,
        external_id=(one_line(_unescape(uid.value)) or None) if uid else None,
        email=email,
        notes=notes or None,
        vip=vip,
        language=language,
        address=address or None,
    )


def looks_like_vcard(data: bytes) -> bool:
    """Whether the file starts like a vCard file (whatever its name says)."""
    head = data[:4096]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = head.decode("utf-16", errors="ignore")
    else:
        text = head.decode("utf-8", errors="ignore")
    return text.lstrip("\ufeff \t\r\n").upper().startswith("BEGIN:VCARD")

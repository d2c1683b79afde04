"""What every contact file reads into: the types, the decoding of bytes into text, and
the rules for one row's values (numbers, VIP, language, the name)."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from typing import Literal

from switchboard.core.contacts import EMAIL, MAX_NAME_CHARS, LabelledNumber
from switchboard.core.numbers import NumberKind, normalise

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROW_CHARS = 1024 * 1024
MAX_EXTERNAL_ID_CHARS = 200  # migration 0002

Language = Literal["nl", "en"]

# Contact columns a file may or may not carry. Name and numbers are always carried.
OPTIONAL_FIELDS = frozenset({"company", "email", "notes", "vip", "language", "address"})
IMPORT_FIELDS = OPTIONAL_FIELDS | {"external_id"}


class ContactImportError(ValueError):
    """The file cannot be read at all; the message says why, for a receptionist."""


@dataclass(frozen=True)
class RowProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class ImportedContact:
    line: int  # where the row (or BEGIN:VCARD) starts in the file
    name: str
    company: str | None = None
    numbers: tuple[LabelledNumber, ...] = ()
    email: str | None = None
    notes: str | None = None
    vip: bool = False
    language: Language = "nl"
    address: str | None = None
    external_id: str | None = None
    # False when one of the row's numbers was refused: the file is then not trusted to
    # list all of the contact's numbers, so numbers already stored are kept.
    all_numbers_read: bool = True
    # Fields whose value in the file was refused (email, vip, language): a re-import
    # leaves what is stored for them, rather than wiping it over a typo.
    refused: frozenset[str] = frozenset()


@dataclass
class ImportResult:
    contacts: list[ImportedContact] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    # The optional fields the file carries (see IMPORT_FIELDS). A re-import only
    # overwrites these; a file without a VIP column leaves VIP flags alone.
    provided: frozenset[str] = IMPORT_FIELDS


# --------------------------------------------------------------------------- decoding

# Windows-1252 as Windows itself decodes it: the five bytes cp1252 leaves undefined
# become the C1 control characters of the same value (and are then cleaned away).
_CP1252 = {
    byte: codecs.decode(bytes([byte]), "cp1252", errors="ignore") or chr(byte)
    for byte in range(0x80, 0xA0)
}
_CP1252_TABLE = str.maketrans({chr(b): c for b, c in _CP1252.items()})


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def check_file_size(size: int) -> None:
    """Refuse a file over MAX_FILE_BYTES before reading it."""
    if size > MAX_FILE_BYTES:
        raise ContactImportError(
            f"the file is {size / 1024 / 1024:.1f} MB; files over"
            f" {MAX_FILE_BYTES // 1024 // 1024} MB are refused (split it into smaller files)"
        )


def decode(data: bytes) -> str:
    """The file's text: BOM, else UTF-8, else Windows-1252. Refuses what is no text."""
    check_file_size(len(data))
    if data.startswith(b"PK\x03\x04"):
        raise ContactImportError(
            "this is an Excel workbook (.xlsx) or another zip file, not a CSV file:"
            " in Excel choose 'Save as' > 'CSV UTF-8' and import that"
        )
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ContactImportError(
            "this is an old Excel (.xls) or Outlook (.msg) file, not a CSV file:"
            " save or export it as CSV and import that"
        )
    if data.startswith(codecs.BOM_UTF8):
        try:
            text = data[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ContactImportError(
                f"line {_line_of(data, exc.start + 3)}: the file says it is UTF-8 but is not"
            ) from None
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise ContactImportError(
                "the file says it is UTF-16 (Excel 'Unicode text') but is not"
            ) from None
    else:
        if (nul := data.find(b"\x00")) >= 0:
            raise ContactImportError(
                f"line {_line_of(data, nul)}: the file holds binary data; is it really a"
                " CSV or vCard file?"
            )
        text = decode_leniently(data)
    if "\x00" in text:
        raise ContactImportError("the file holds binary data; is it really a CSV or vCard file?")
    return text


def decode_leniently(data: bytes) -> str:
    """UTF-8, else Windows-1252; never fails."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1").translate(_CP1252_TABLE)


# Control characters and lone surrogates (which PostgreSQL and terminals refuse).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def clean(value: str) -> str:
    """A value as stored: no control characters, Unix newlines, no outer blanks."""
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()


def one_line(value: str) -> str:
    return " ".join(clean(value).split())


def show(value: str, limit: int = 40) -> str:
    """A value quoted for a message, short enough to read."""
    value = one_line(value)
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


# --------------------------------------------------------------------------- values


class Row:
    """Collects one contact's values and the problems found in them."""

    def __init__(self, line: int, region: str, problems: list[RowProblem]) -> None:
        self.line = line
        self.region = region
        self.problems = problems
        self.numbers: dict[str, LabelledNumber] = {}
        self.all_numbers_read = True
        self.refused: set[str] = set()

    def problem(self, message: str, line: int | None = None) -> None:
        self.problems.append(RowProblem(line or self.line, message))

    def add_numbers(self, raw: str, label: str | None, where: str, line: int | None = None) -> None:
        for piece in _split_numbers(raw):
            number = normalise(piece, self.region)
            if number.kind is NumberKind.PUBLIC and number.e164:
                self.numbers.setdefault(number.e164, LabelledNumber(number.e164, label))
                continue
            self.all_numbers_read = False
            self.problem(_number_message(piece, number.kind, where), line)

    def email(self, raw: str, where: str, line: int | None = None) -> str | None:
        candidates = [p for p in re.split(r"[\s,;]+", clean(raw)) if p]
        if not candidates:
            return None
        email = re.sub(r"(?i)^mailto:", "", candidates[0])
        if EMAIL.fullmatch(email):
            return email
        self.problem(f"{show(raw)}{where} is not an e-mail address", line)
        self.refused.add("email")
        return None

    def vip(self, raw: str, where: str) -> bool:
        value = one_line(raw).casefold()
        if value in _YES:
            return True
        if value not in _NO:
            self.problem(f"{show(raw)}{where} is not yes or no; VIP left as it was")
            self.refused.add("vip")
        return False

    def language(self, raw: str, where: str, line: int | None = None) -> Language:
        value = one_line(raw).casefold()
        if value in _DUTCH:
            return "nl"
        if value in _ENGLISH or value.startswith("en-"):
            return "en"
        if value.startswith(("nl-", "nl_")):
            return "nl"
        self.problem(
            f"{show(raw)}{where} is not Dutch or English; language left as it was"
            " (Dutch for a new contact)",
            line,
        )
        self.refused.add("language")
        return "nl"


_YES = frozenset({"yes", "y", "ja", "j", "1", "true", "waar", "x", "vip", "✓", "✔"})
_NO = frozenset({"", "no", "n", "nee", "0", "false", "onwaar", "-"})
_DUTCH = frozenset({"", "nl", "nld", "dut", "dutch", "nederlands", "ned", "vlaams", "flemish"})
_ENGLISH = frozenset({"en", "eng", "english", "engels", "uk", "gb", "us"})
_SCIENTIFIC = re.compile(r"\d[.,]\d+e\+?\d+", re.IGNORECASE)


def _split_numbers(raw: str) -> list[str]:
    """One cell may hold several numbers: '020 123 4567, 06 1234 5678' (or ::: in Google
    exports). A '/' is a separator only where both sides are numbers by themselves, since
    '020/1234567' is one number written the old way."""
    text = re.sub(r"\s", " ", raw).replace("\u2013", "-").replace("\u2011", "-")
    pieces = []
    for part in re.split(r"[,;\n]|:::", text):
        part = part.strip()
        if not part:
            continue
        if "/" in part and normalise(part).kind is not NumberKind.PUBLIC:
            halves = [h.strip() for h in part.split("/")]
            if all(normalise(h).kind is NumberKind.PUBLIC for h in halves):
                pieces.extend(halves)
                continue
        pieces.append(part)
    return pieces


def _number_message(raw: str, kind: NumberKind, where: str) -> str:
    shown = f"{show(raw)}{where}"
    if kind is NumberKind.INTERNAL:
        return f"{shown} is not a phone number (too short; an internal extension?)"
    if _SCIENTIFIC.fullmatch(raw.strip()):
        return (
            f"{shown} is not a phone number"
            " (Excel turned it into a number; format the column as text)"
        )
    return f"{shown} is not a phone number"


def finish(
    row: Row,
    *,
    name: str,
    company: str | None,
    external_id: str | None,
    email: str | None,
    notes: str | None,
    vip: bool,
    language: Language,
    address: str | None,
) -> ImportedContact | None:
    """Checks common to CSV rows and vCards; None (with a problem) for a row to skip."""
    name = name or (company or "")
    if not name:
        row.problem("no name or company; row skipped")
        return None
    if len(name) > MAX_NAME_CHARS:
        row.problem(f"the name is longer than {MAX_NAME_CHARS} characters; row skipped")
        return None
    if external_id is not None and len(external_id) > MAX_EXTERNAL_ID_CHARS:
        row.problem(f"the ID is longer than {MAX_EXTERNAL_ID_CHARS} characters; row skipped")
        return None
    return ImportedContact(
        line=row.line,
        name=name,
        company=company,
        numbers=tuple(row.numbers.values()),
        email=email,
        notes=notes,
        vip=vip,
        language=language,
        address=address,
        external_id=external_id,
        all_numbers_read=row.all_numbers_read,
        refused=frozenset(row.refused),
    )


def drop_duplicates(result: ImportResult) -> None:
    """A file listing one contact twice (same ID; or, without IDs, same name, company and
    e-mail) keeps the first and reports the others, which re-import could not tell apart."""
    seen: dict[tuple[str, ...], int] = {}
    kept = []
    for contact in result.contacts:
        if contact.external_id:
            key: tuple[str, ...] = ("id", contact.external_id)
            what = f"the ID {show(contact.external_id)}"
        else:
            key = ("person", contact.name, contact.company or "", (contact.email or "").lower())
            what = f"{show(contact.name)}" + (f" ({contact.company})" if contact.company else "")
        if key in seen:
            result.problems.append(
                RowProblem(
                    contact.line,
                    f"{what} was already imported from line {seen[key]}; this row was skipped",
                )
            )
            continue
        seen[key] = contact.line
        kept.append(contact)
    result.contacts = kept
    result.problems.sort(key=lambda p: p.line)

"""Contacts from the files receptionists really have: CSV exports and vCards.

This is the pure parsing core: bytes in, an :class:`ImportResult` out. No database, no
files, no clock. Storing the result is :mod:`switchboard.store.contacts`'s job.

What it promises:

- A file it cannot read at all (too large, a spreadsheet instead of CSV, no vCards, a
  column the mapping names but the file lacks) raises :class:`ContactImportError`, and
  nothing else: arbitrary bytes never raise any other exception.
- Everything else is read row by row. A bad value is reported as a :class:`RowProblem`
  with the physical line in the file where its row (or vCard property) starts, counting
  multi-line quoted cells and folded vCard lines. Nothing good is lost: a row with one bad
  and one good number imports the good one and reports the bad one.
- Numbers are normalised to E.164 with :func:`switchboard.numbers.normalise`; withheld,
  internal and invalid numbers are refused.
- Encoding: a BOM (UTF-8 or UTF-16) wins; otherwise UTF-8, otherwise Windows-1252 (which
  never fails). The CSV delimiter is sniffed from the header line (``,`` ``;`` tab ``|``),
  or taken from Excel's ``sep=;`` first line.
"""

from __future__ import annotations

import codecs
import csv
import io
import quopri
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
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


# --------------------------------------------------------------------------- mapping

MAPPABLE_FIELDS = (
    "name",
    "first_name",
    "middle_name",
    "last_name",
    "company",
    "phone",
    "email",
    "notes",
    "vip",
    "language",
    "address",
    "external_id",
)


@dataclass(frozen=True)
class ColumnMapping:
    """Which column header holds which of our fields.

    The name is ``name``, or else ``first_name`` + ``middle_name`` (Dutch
    *tussenvoegsel*) + ``last_name``; a row without any name uses its company.
    Several phone columns are allowed, and several address columns (street, postcode,
    city, ...) joined with ", ".
    """

    name: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    phones: tuple[str, ...] = ()
    email: str | None = None
    notes: str | None = None
    vip: str | None = None
    language: str | None = None
    address: tuple[str, ...] = ()
    external_id: str | None = None

    def columns(self) -> list[str]:
        """Every header this mapping refers to."""
        found: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            found.extend(value if isinstance(value, tuple) else [value] if value else [])
        return found

    def with_overrides(self, assignments: Iterable[str]) -> ColumnMapping:
        """Apply ``field=Header`` assignments (the CLI's ``--map``).

        ``phone`` and ``address`` may be given several times; given at all, they replace
        the guessed columns. ``field=`` (nothing after ``=``) switches a field off.
        """
        single: dict[str, str | None] = {}
        multi: dict[str, list[str]] = {}
        for assignment in assignments:
            key, sep, header = assignment.partition("=")
            key = key.strip().lower().replace("-", "_")
            if not sep or key not in MAPPABLE_FIELDS:
                raise ContactImportError(
                    f"--map {assignment!r}: expected FIELD=Header with FIELD one of "
                    + ", ".join(MAPPABLE_FIELDS)
                )
            header = header.strip()
            if key in {"phone", "address"}:
                multi.setdefault(key, [])
                if header:
                    multi[key].append(header)
            else:
                single[key] = header or None
        mapping = replace(self, **single)  # type: ignore[arg-type]
        if "phone" in multi:
            mapping = replace(mapping, phones=tuple(multi["phone"]))
        if "address" in multi:
            mapping = replace(mapping, address=tuple(multi["address"]))
        return mapping

    def describe(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                if value:
                    parts.append(f"{f.name}={' + '.join(value)}")
            elif value:
                parts.append(f"{f.name}={value}")
        return ", ".join(parts)


def _header_key(header: str) -> str:
    """'E-mail Address' and 'e-mailaddress' are the same column to a guesser."""
    return re.sub(r"[^0-9a-z]", "", header.casefold())


_NAME_HEADERS = {
    "naam",
    "name",
    "fullname",
    "volledigenaam",
    "displayname",
    "weergavenaam",
    "contactpersoon",
    "contactname",
    "contact",
}
_FIRST_HEADERS = {"voornaam", "firstname", "givenname", "roepnaam", "voornamen"}
_MIDDLE_HEADERS = {"tussenvoegsel", "tussenvoegsels", "middlename", "middelstenaam"}
_LAST_HEADERS = {"achternaam", "lastname", "familyname", "surname", "familienaam"}
_COMPANY_HEADERS = {
    "bedrijf",
    "bedrijfsnaam",
    "company",
    "companyname",
    "organisatie",
    "organization",
    "organisation",
    "organizationname",
    "organization1name",
    "firma",
    "accountname",
}
_EMAIL_HEADERS = {
    "email",
    "emailadres",
    "emailaddress",
    "email1",
    "email1value",
    "emailadres1",
    "mail",
    "emailhome",
    "emailwork",
}
_NOTES_HEADERS = {
    "notes",
    "note",
    "notities",
    "notitie",
    "opmerkingen",
    "opmerking",
    "memo",
    "toelichting",
    "comments",
    "comment",
}
_VIP_HEADERS = {"vip", "isvip"}
_LANGUAGE_HEADERS = {"taal", "language", "voorkeurstaal", "preferredlanguage", "lang"}
_ID_HEADERS = {
    "id",
    "contactid",
    "externalid",
    "uid",
    "klantnummer",
    "klantid",
    "relatienummer",
    "relatieid",
    "debiteurnummer",
}
# Address parts in the order they are joined.
_ADDRESS_HEADER_GROUPS = (
    {"adres", "address", "straat", "street", "businessstreet", "werkadresstraat"},
    {"postcode", "postalcode", "zip", "zipcode", "businesspostalcode", "werkadrespostcode"},
    {"plaats", "woonplaats", "stad", "city", "businesscity", "werkadresplaats"},
    {"land", "country", "businesscountryregion", "countryregion", "werkadreslandregio"},
)
_PHONE_WORDS = frozenset({"tel", "gsm", "mobiel", "mobile", "cell", "mobielnummer", "telnr"})
# Columns that hold someone else's number, one that never calls, or no number at all.
_NOT_A_CALLER = frozenset(
    {"fax", "assistant", "assistants", "assistent", "pager", "telex", "tty", "tdd", "radio"}
    | {"callback", "type", "label", "soort"}
)


def _is_phone_header(header: str) -> bool:
    words = re.findall(r"[a-z]+", header.casefold())
    key = "".join(words)
    if "companymain" in key or "hoofd" in key:
        return False  # the company's switchboard belongs to all its people, not this one
    return any(w in _PHONE_WORDS or "phone" in w or "telefoon" in w for w in words) and not any(
        w in _NOT_A_CALLER or "fax" in w for w in words
    )


def guess_mapping(headers: Sequence[str]) -> ColumnMapping:
    """A mapping for common Dutch and English exports (Excel, Outlook, Google, CRMs)."""
    keyed = [(h, _header_key(h)) for h in headers if h.strip()]

    def first(candidates: set[str]) -> str | None:
        return next((h for h, key in keyed if key in candidates), None)

    phones = tuple(h for h, _key in keyed if _is_phone_header(h))
    address = tuple(h for group in _ADDRESS_HEADER_GROUPS if (h := first(group)) is not None)
    return ColumnMapping(
        name=first(_NAME_HEADERS),
        first_name=first(_FIRST_HEADERS),
        middle_name=first(_MIDDLE_HEADERS),
        last_name=first(_LAST_HEADERS),
        company=first(_COMPANY_HEADERS),
        phones=phones,
        email=first(_EMAIL_HEADERS),
        notes=first(_NOTES_HEADERS),
        vip=first(_VIP_HEADERS),
        language=first(_LANGUAGE_HEADERS),
        address=address,
        external_id=first(_ID_HEADERS),
    )


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
        text = _decode_leniently(data)
    if "\x00" in text:
        raise ContactImportError("the file holds binary data; is it really a CSV or vCard file?")
    return text


def _decode_leniently(data: bytes) -> str:
    """UTF-8, else Windows-1252; never fails."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1").translate(_CP1252_TABLE)


# Control characters and lone surrogates (which PostgreSQL and terminals refuse).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _clean(value: str) -> str:
    """A value as stored: no control characters, Unix newlines, no outer blanks."""
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()


def _one_line(value: str) -> str:
    return " ".join(_clean(value).split())


def _show(value: str, limit: int = 40) -> str:
    """A value quoted for a message, short enough to read."""
    value = _one_line(value)
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


# --------------------------------------------------------------------------- values


class _Row:
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
        candidates = [p for p in re.split(r"[\s,;]+", _clean(raw)) if p]
        if not candidates:
            return None
        email = re.sub(r"(?i)^mailto:", "", candidates[0])
        if EMAIL.fullmatch(email):
            return email
        self.problem(f"{_show(raw)}{where} is not an e-mail address", line)
        self.refused.add("email")
        return None

    def vip(self, raw: str, where: str) -> bool:
        value = _one_line(raw).casefold()
        if value in _YES:
            return True
        if value not in _NO:
            self.problem(f"{_show(raw)}{where} is not yes or no; VIP left as it was")
            self.refused.add("vip")
        return False

    def language(self, raw: str, where: str, line: int | None = None) -> Language:
        value = _one_line(raw).casefold()
        if value in _DUTCH:
            return "nl"
        if value in _ENGLISH or value.startswith("en-"):
            return "en"
        if value.startswith(("nl-", "nl_")):
            return "nl"
        self.problem(
            f"{_show(raw)}{where} is not Dutch or English; language left as it was"
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
    shown = f"{_show(raw)}{where}"
    if kind is NumberKind.INTERNAL:
        return f"{shown} is not a phone number (too short; an internal extension?)"
    if _SCIENTIFIC.fullmatch(raw.strip()):
        return (
            f"{shown} is not a phone number"
            " (Excel turned it into a number; format the column as text)"
        )
    return f"{shown} is not a phone number"


def _finish(
    row: _Row,
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


def _drop_duplicates(result: ImportResult) -> None:
    """A file listing one contact twice (same ID; or, without IDs, same name, company and
    e-mail) keeps the first and reports the others, which re-import could not tell apart."""
    seen: dict[tuple[str, ...], int] = {}
    kept = []
    for contact in result.contacts:
        if contact.external_id:
            key: tuple[str, ...] = ("id", contact.external_id)
            what = f"the ID {_show(contact.external_id)}"
        else:
            key = ("person", contact.name, contact.company or "", (contact.email or "").lower())
            what = f"{_show(contact.name)}" + (f" ({contact.company})" if contact.company else "")
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


# --------------------------------------------------------------------------- CSV


class _RowTooLong(Exception):
    pass


class _Lines:
    """Physical lines for csv.reader, counted, with the size of the row being read."""

    def __init__(self, text: str) -> None:
        self._lines = iter(io.StringIO(text, newline=""))
        self.count = 0
        self.row_chars = 0
        self.eof_inside_row = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        try:
            line = next(self._lines)
        except StopIteration:
            # csv.reader only asks for another line mid-row inside a quoted value.
            self.eof_inside_row = self.row_chars > 0
            raise
        self.count += 1
        self.row_chars += len(line)
        if self.row_chars > MAX_ROW_CHARS:
            raise _RowTooLong
        return line


_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}


def _sniff_delimiter(header_line: str) -> str:
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


class _CsvFile:
    def __init__(self, data: bytes) -> None:
        text = decode(data)
        self.lines = _Lines(text)
        skip, first_line = 0, None
        for line in io.StringIO(text, newline=""):
            skip += 1
            if line.strip():
                first_line = line
                break
        if first_line is None:
            raise ContactImportError("the file is empty")
        if (m := re.fullmatch(r'"?sep=(.)"?[,;\t|]*', first_line.strip())) is not None:
            self.delimiter = m.group(1)
            for _ in range(skip):  # Excel's hint line is no header
                next(self.lines)
            self.lines.row_chars = 0
        else:
            self.delimiter = _sniff_delimiter(first_line)
        self.reader = csv.reader(self.lines, delimiter=self.delimiter)
        self.rows = self._rows()
        header = next(self.rows, None)
        if header is None:
            raise ContactImportError("the file has no header line")
        if header[0] < 0:
            raise ContactImportError(
                f'line {-header[0]}: the header has a quote (") that is never closed'
            )
        self.headers = [_one_line(h) for h in header[1]]

    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line where the row starts, cells) for every non-empty row."""
        if csv.field_size_limit() < MAX_ROW_CHARS:
            csv.field_size_limit(MAX_ROW_CHARS)
        while True:
            start = self.lines.count + 1
            try:
                cells = next(self.reader)
            except StopIteration:
                return
            except _RowTooLong:
                raise ContactImportError(
                    f"line {start}: this row is longer than {MAX_ROW_CHARS // 1024 // 1024} MB;"
                    ' probably a quote (") that is never closed'
                ) from None
            except csv.Error as exc:
                raise ContactImportError(
                    f"line {self.lines.count}: not readable as CSV ({exc})"
                ) from None
            self.lines.row_chars = 0
            if self.lines.eof_inside_row:
                yield -start, cells  # negative: a quote opened on this line never closed
                return
            if any(cell.strip() for cell in cells):
                yield start, cells


def looks_like_vcard(data: bytes) -> bool:
    """Whether the file starts like a vCard file (whatever its name says)."""
    head = data[:4096]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = head.decode("utf-16", errors="ignore")
    else:
        text = head.decode("utf-8", errors="ignore")
    return text.lstrip("\ufeff \t\r\n").upper().startswith("BEGIN:VCARD")


def read_csv_headers(data: bytes) -> list[str]:
    """The column headers of a CSV file (to guess or check a mapping)."""
    return _CsvFile(data).headers


def parse_csv(data: bytes, mapping: ColumnMapping, *, region: str) -> ImportResult:
    """Read contacts from a CSV export; see the module docstring for the promises."""
    table = _CsvFile(data)
    headers = table.headers
    index: dict[str, int] = {}
    for i, header in enumerate(headers):
        index.setdefault(header, i)
        index.setdefault(header.casefold(), i)
    columns: dict[str, int] = {}
    for wanted in mapping.columns():
        found = index.get(_one_line(wanted), index.get(_one_line(wanted).casefold()))
        if found is None:
            raise ContactImportError(
                f"there is no column {wanted!r}; the columns are: "
                + ", ".join(repr(h) for h in headers if h)
            )
        columns[wanted] = found
    missing = []
    if not (mapping.name or mapping.first_name or mapping.last_name or mapping.company):
        missing.append(
            "no column for the name found; say which with --map name=Header"
            " (or first_name=, last_name=)"
        )
    if not mapping.phones:
        missing.append("no phone number column found; say which with --map phone=Header")
    if missing:
        raise ContactImportError(
            "; ".join(missing) + ". The columns are: " + ", ".join(repr(h) for h in headers if h)
        )

    result = ImportResult(provided=frozenset(f for f in IMPORT_FIELDS if getattr(mapping, f)))
    for start, cells in table.rows:
        if start < 0:
            result.problems.append(
                RowProblem(
                    -start,
                    'a quote (") opened in this row is never closed, so the rest of the file'
                    " was read as one value; nothing from this line on was imported",
                )
            )
            break
        contact = _csv_row(start, cells, headers, columns, mapping, region, result, table)
        if contact is not None:
            result.contacts.append(contact)
    _drop_duplicates(result)
    return result


def _csv_row(
    line: int,
    cells: list[str],
    headers: list[str],
    columns: dict[str, int],
    mapping: ColumnMapping,
    region: str,
    result: ImportResult,
    table: _CsvFile,
) -> ImportedContact | None:
    row = _Row(line, region, result.problems)
    extra = cells[len(headers) :]
    if any(cell.strip() for cell in extra):
        row.problem(
            f"this row has {len(cells)} values but the header has {len(headers)} columns"
            f" (a {_DELIMITER_NAMES.get(table.delimiter, table.delimiter)} inside a value"
            " without quotes?); row skipped"
        )
        return None

    def cell(header: str | None) -> str:
        if header is None:
            return ""
        i = columns[header]
        return cells[i] if i < len(cells) else ""

    def where(header: str) -> str:
        return f" in column {header}"

    name = _one_line(cell(mapping.name))
    if not name:
        parts = (cell(mapping.first_name), cell(mapping.middle_name), cell(mapping.last_name))
        name = " ".join(p for p in map(_one_line, parts) if p)
    company = _one_line(cell(mapping.company)) or None
    for header in mapping.phones:
        row.add_numbers(cell(header), header, where(header))
    email = row.email(cell(mapping.email), where(mapping.email)) if mapping.email else None
    vip = row.vip(cell(mapping.vip), where(mapping.vip)) if mapping.vip else False
    language: Language = (
        row.language(cell(mapping.language), where(mapping.language)) if mapping.language else "nl"
    )
    address = ", ".join(
        p for h in mapping.address if (p := ", ".join(_clean(cell(h)).splitlines()))
    )
    return _finish(
        row,
        name=name,
        company=company,
        external_id=_one_line(cell(mapping.external_id)) or None,
        email=email,
        notes=_clean(cell(mapping.notes)) or None,
        vip=vip,
        language=language,
        address=address or None,
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
        return _decode_leniently(raw)


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
                    RowProblem(line, f"{_show(logical)} is not a vCard line; ignored")
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
    _drop_duplicates(result)
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
    row = _Row(start, region, problems)
    by_name: dict[str, list[_Property]] = {}
    for prop in props:
        by_name.setdefault(prop.name, []).append(prop)

    def first(name: str) -> _Property | None:
        found = _preferred(by_name.get(name, []))
        return found[0] if found else None

    name = ""
    if (fn := first("FN")) is not None:
        name = _one_line(_unescape(fn.value))
    if not name and (n := first("N")) is not None:
        family, given, additional, *_ = [*_components(n.value), "", "", ""]
        name = " ".join(p for p in map(_one_line, (given, additional, family)) if p)
    company = None
    if (org := first("ORG")) is not None:
        company = _one_line(_components(org.value)[0]) or None

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
        _box, extended, street, city, state, postcode, country = map(_one_line, parts)
        address = ", ".join(
            p for p in (street, extended, f"{postcode} {city}".strip(), state, country) if p
        )
    notes = "\n".join(note for p in by_name.get("NOTE", []) if (note := _clean(_unescape(p.value))))
    vip = any(
        c.strip().casefold() == "vip"
        for p in by_name.get("CATEGORIES", [])
        for c in _split_unquoted(p.value, ",")
    )
    language: Language = "nl"
    if (lang := first("LANG")) is not None:
        language = row.language(lang.value, " (LANG)", lang.line)
    uid = first("UID")
    return _finish(
        row,
        name=name,
        company=company,
        external_id=(_one_line(_unescape(uid.value)) or None) if uid else None,
        email=email,
        notes=notes or None,
        vip=vip,
        language=language,
        address=address or None,
    )


@dataclass(frozen=True)
class PreviousImport:
    """A contact as an earlier import of the same source left it."""

    id: int
    name: str
    company: str | None = None
    email: str | None = None
    notes: str | None = None
    vip: bool = False
    language: str = "nl"
    address: str | None = None
    external_id: str | None = None
    numbers: dict[str, str | None] = field(default_factory=dict)  # e164 -> label


def match_contacts(
    stored: Sequence[PreviousImport],
    incoming: Sequence[ImportedContact],
    *,
    company_in_file: bool = True,
) -> list[int | None]:
    """For each incoming contact, the id of the stored contact it updates (or None).

    Pure: the rule of the module docstring, with every stored contact taken at most
    once and the lowest id winning a tie.
    """
    matches: list[int | None] = [None] * len(incoming)
    taken: set[int] = set()
    ordered = sorted(stored, key=lambda c: c.id)

    by_id = {c.external_id: c.id for c in ordered if c.external_id is not None}
    for i, contact in enumerate(incoming):
        if contact.external_id is not None and (found := by_id.get(contact.external_id)):
            matches[i] = found
            taken.add(found)

    def claim(i: int, candidates: list[PreviousImport]) -> None:
        for candidate in candidates:
            if candidate.id in taken:
                continue
            if incoming[i].external_id is not None and candidate.external_id is not None:
                continue  # another id in the same list: another contact
            matches[i] = candidate.id
            taken.add(candidate.id)
            return

    emails: dict[str, list[PreviousImport]] = {}
    for c in ordered:
        if c.email:
            emails.setdefault(c.email.casefold(), []).append(c)
    rows_per_email: dict[str, int] = {}
    for contact in incoming:
        if contact.email:
            key = contact.email.casefold()
            rows_per_email[key] = rows_per_email.get(key, 0) + 1
    for i, contact in enumerate(incoming):
        if matches[i] is None and contact.email:
            key = contact.email.casefold()
            if rows_per_email[key] == 1:
                claim(i, emails.get(key, []))

    def person(name: str, company: str | None) -> tuple[str, str | None]:
        return (name, company if company_in_file else None)

    people: dict[tuple[str, str | None], list[PreviousImport]] = {}
    for c in ordered:
        people.setdefault(person(c.name, c.company), []).append(c)
    for i, contact in enumerate(incoming):
        if matches[i] is None:
            claim(i, people.get(person(contact.name, contact.company), []))
    return matches

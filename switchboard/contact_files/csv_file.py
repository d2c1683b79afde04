"""CSV exports (Excel, Outlook, a CRM): which column holds what, and the rows."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields, replace

from switchboard.contact_files.common import (
    IMPORT_FIELDS,
    MAX_ROW_CHARS,
    ContactImportError,
    ImportedContact,
    ImportResult,
    Language,
    Row,
    RowProblem,
    clean,
    decode,
    drop_duplicates,
    finish,
    one_line,
)

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
        self.headers = [one_line(h) for h in header[1]]

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
        found = index.get(one_line(wanted), index.get(one_line(wanted).casefold()))
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
    drop_duplicates(result)
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
    row = Row(line, region, result.problems)
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

    name = one_line(cell(mapping.name))
    if not name:
        parts = (cell(mapping.first_name), cell(mapping.middle_name), cell(mapping.last_name))
        name = " ".join(p for p in map(one_line, parts) if p)
    company = one_line(cell(mapping.company)) or None
    for header in mapping.phones:
        row.add_numbers(cell(header), header, where(header))
    email = row.email(cell(mapping.email), where(mapping.email)) if mapping.email else None
    vip = row.vip(cell(mapping.vip), where(mapping.vip)) if mapping.vip else False
    language: Language = (
        row.language(cell(mapping.language), where(mapping.language)) if mapping.language else "nl"
    )
    address = ", ".join(p for h in mapping.address if (p := ", ".join(clean(cell(h)).splitlines())))
    return finish(
        row,
        name=name,
        company=company,
        external_id=one_line(cell(mapping.external_id)) or None,
        email=email,
        notes=clean(cell(mapping.notes)) or None,
        vip=vip,
        language=language,
        address=address or None,
    )

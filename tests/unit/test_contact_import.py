"""Reading contact files as receptionists have them: CSV exports and vCards."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.contact_files.common import (
    MAX_FILE_BYTES,
    MAX_ROW_CHARS,
    ContactImportError,
    ImportedContact,
    ImportResult,
)
from switchboard.contact_files.csv_file import (
    ColumnMapping,
    guess_mapping,
    parse_csv,
    read_csv_headers,
)
from switchboard.contact_files.vcard import looks_like_vcard, parse_vcards

FIXTURES = Path(__file__).with_name("fixtures")


def read(data: bytes | str, mapping: ColumnMapping | None = None) -> ImportResult:
    raw = data.encode() if isinstance(data, str) else data
    return parse_csv(raw, mapping or guess_mapping(read_csv_headers(raw)), region="NL")


def numbers(contact: ImportedContact) -> list[str]:
    return [n.e164 for n in contact.numbers]


def problems(result: ImportResult) -> list[str]:
    return [str(p) for p in result.problems]


# --------------------------------------------------------------------------- CSV formats

CSV_CASES = {
    "comma, utf-8": (
        b"Name,Company,Phone\nAnna de Vries,Bakkerij,06 1234 5678\n",
        [("Anna de Vries", "Bakkerij", ["+31612345678"])],
    ),
    "utf-8 with BOM (Excel 'CSV UTF-8')": (
        codecs.BOM_UTF8 + "Naam,Telefoon\nJosé Müller,020-5551234\n".encode(),
        [("José Müller", None, ["+31205551234"])],
    ),
    "semicolon with commas inside values (Dutch Excel)": (
        b"Naam;Bedrijf;Telefoon\nBakker, Jan;Bakker, Zonen & Co;010-2345678\n",
        [("Bakker, Jan", "Bakker, Zonen & Co", ["+31102345678"])],
    ),
    "Windows-1252 (Excel 'CSV (gescheiden door lijstscheidingsteken)')": (
        "Naam;Bedrijf;Telefoon\r\nJosé;Café \u2019t Hoekje;030 2345678\r\n".encode("cp1252"),
        [("José", "Café \u2019t Hoekje", ["+31302345678"])],
    ),
    "UTF-16 with tabs (Excel 'Unicode text')": (
        "Naam\tTelefoon\r\nZoë\t0612345678\r\n".encode("utf-16"),
        [("Zoë", None, ["+31612345678"])],
    ),
    "Excel's sep= hint line": (
        b"sep=;\r\nNaam;Telefoon\r\nJan;0612345678\r\n",
        [("Jan", None, ["+31612345678"])],
    ),
    "first, middle and last name (tussenvoegsel)": (
        b"Voornaam;Tussenvoegsel;Achternaam;Mobiel\nAnne;de;Vries;0612345678\n",
        [("Anne de Vries", None, ["+31612345678"])],
    ),
    "a company without a person is named after the company": (
        b"Naam,Bedrijf,Telefoon\n,Gemeente Utrecht,030 286 0000\n",
        [("Gemeente Utrecht", "Gemeente Utrecht", ["+31302860000"])],
    ),
    "several numbers in one cell, and the old 020/1234567 style": (
        b'Name,Phone\nJan,"020/5551234, 06 1234 5678"\nPiet,06 1234 5679 / 06 1234 5670\n',
        [
            ("Jan", None, ["+31205551234", "+31612345678"]),
            ("Piet", None, ["+31612345679", "+31612345670"]),
        ],
    ),
    "blank lines and rows of empty cells are no contacts": (
        b"Naam;Telefoon\n\n;\nJan;0612345678\n;;\n",
        [("Jan", None, ["+31612345678"])],
    ),
    "the same number twice on a row is stored once": (
        b"Naam;Telefoon;Mobiel\nJan;06 1234 5678;+31612345678\n",
        [("Jan", None, ["+31612345678"])],
    ),
}


@pytest.mark.parametrize("data,expected", CSV_CASES.values(), ids=CSV_CASES.keys())
def test_csv_exports_are_read(
    data: bytes, expected: list[tuple[str, str | None, list[str]]]
) -> None:
    result = read(data)
    assert [(c.name, c.company, numbers(c)) for c in result.contacts] == expected
    assert result.problems == []


def test_a_row_without_name_or_company_is_reported_not_guessed() -> None:
    result = read(b"Naam,Bedrijf,Telefoon\n,,0612345678\nJan,,0612345679\n")
    assert [c.name for c in result.contacts] == ["Jan"]
    assert problems(result) == ["line 2: no name or company; row skipped"]


# --------------------------------------------------------------------------- problems


def test_a_bad_number_is_reported_and_the_good_one_on_the_row_imported() -> None:
    result = read("Naam;Telefoon;Mobiel\nJan;020-5551234;06-123\n")
    [jan] = result.contacts
    assert numbers(jan) == ["+31205551234"]
    assert problems(result) == [
        "line 2: '06-123' in column Mobiel is not a phone number"
        " (too short; an internal extension?)"
    ]
    # Not every number was read, so a re-import must not drop numbers already stored.
    assert not jan.all_numbers_read


@pytest.mark.parametrize(
    "cell,message",
    [
        ("06-123", "'06-123' in column Telefoon is not a phone number (too short;"),
        ("anonymous", "'anonymous' in column Telefoon is not a phone number"),
        ("bel receptie", "'bel receptie' in column Telefoon is not a phone number"),
        ("3.16123E+10", "Excel turned it into a number; format the column as text"),
        ("020 555 1234 toestel 12", "'020 555 1234 toestel 12' in column Telefoon is not a"),
    ],
)
def test_numbers_that_cannot_recognise_a_caller_are_refused(cell: str, message: str) -> None:
    result = read(f"Naam;Telefoon\nJan;{cell}\n")
    [jan] = result.contacts
    assert jan.numbers == ()
    [problem] = result.problems
    assert problem.line == 2 and message in problem.message


def test_multi_line_notes_do_not_shift_the_line_numbers_of_later_rows() -> None:
    data = (
        "Naam;Telefoon;Opmerkingen\r\n"  # 1
        'Anna;0612345678;"Belt vaak.\r\n'  # 2
        "Liever 's ochtends;\r\n"  # 3
        '""Spoed"" via mobiel"\r\n'  # 4
        "Bram;06-1;\r\n"  # 5
        'Carla;0612345670;"een\nlf-regel"\n'  # 6-7
        "Dirk;nope;\r\n"  # 8
    )
    result = read(data)
    assert [c.line for c in result.contacts] == [2, 5, 6, 8]
    assert result.contacts[0].notes == 'Belt vaak.\nLiever \'s ochtends;\n"Spoed" via mobiel'
    assert [p.line for p in result.problems] == [5, 8]


def test_a_row_with_more_values_than_columns_is_skipped_not_shifted() -> None:
    # "Acme, Inc." without quotes would put the phone number in the e-mail column.
    result = read(b"Name,Company,Phone\nJan,Acme, Inc.,0612345678\nPiet,Acme,0612345679\n")
    assert [c.name for c in result.contacts] == ["Piet"]
    [problem] = result.problems
    assert problem.line == 2
    assert "4 values but the header has 3 columns (a comma inside a value" in problem.message


def test_a_quote_that_is_never_closed_is_reported_with_its_line() -> None:
    result = read(b'Naam;Telefoon;Notities\nJan;0612345678;"oeps\nPiet;0612345679;\n')
    assert result.contacts == []
    [problem] = result.problems
    assert problem.line == 2 and "never closed" in problem.message
    assert "nothing from this line on was imported" in problem.message


def test_the_same_id_twice_keeps_the_first_row_and_reports_the_second() -> None:
    result = read(b"ID;Naam;Telefoon\nK1;Jan;0612345678\nK2;Piet;0612345679\nK1;Jan B;0612345670\n")
    assert [c.name for c in result.contacts] == ["Jan", "Piet"]
    assert problems(result) == [
        "line 4: the ID 'K1' was already imported from line 2; this row was skipped"
    ]


def test_the_same_person_twice_without_ids_is_reported() -> None:
    result = read(b"Naam;Bedrijf;Telefoon\nJan;Acme;0612345678\nJan;Acme;0612345679\n")
    assert len(result.contacts) == 1
    assert problems(result) == [
        "line 3: 'Jan' (Acme) was already imported from line 2; this row was skipped"
    ]


def test_two_people_of_one_name_with_their_own_e_mail_are_two_contacts() -> None:
    result = read(
        b"Naam;Bedrijf;E-mail;Telefoon\n"
        b"Jan de Vries;Acme;jan1@acme.example;0612345678\n"
        b"Jan de Vries;Acme;jan2@acme.example;0612345679\n"
    )
    assert len(result.contacts) == 2 and result.problems == []


@pytest.mark.parametrize(
    "cell,vip",
    [
        ("ja", True),
        ("Ja", True),
        ("yes", True),
        ("1", True),
        ("true", True),
        ("x", True),
        ("X", True),
        ("nee", False),
        ("no", False),
        ("0", False),
        ("", False),
    ],
)
def test_vip_is_read_from_the_ways_people_write_yes(cell: str, vip: bool) -> None:
    result = read(f"Naam;Telefoon;VIP\nJan;0612345678;{cell}\n")
    assert result.contacts[0].vip is vip
    assert result.problems == []


def test_an_unclear_vip_value_is_reported_and_not_guessed() -> None:
    result = read("Naam;Telefoon;VIP\nJan;0612345678;misschien\n")
    assert result.contacts[0].vip is False
    assert result.contacts[0].refused == {"vip"}  # a stored VIP flag is left alone
    assert problems(result) == [
        "line 2: 'misschien' in column VIP is not yes or no; VIP left as it was"
    ]


@pytest.mark.parametrize(
    "cell,language",
    [
        ("nl", "nl"),
        ("NL", "nl"),
        ("Nederlands", "nl"),
        ("", "nl"),
        ("nl-BE", "nl"),
        ("en", "en"),
        ("English", "en"),
        ("Engels", "en"),
        ("en-GB", "en"),
    ],
)
def test_the_preferred_language_is_dutch_or_english(cell: str, language: str) -> None:
    result = read(f"Naam;Telefoon;Taal\nJan;0612345678;{cell}\n")
    assert result.contacts[0].language == language
    assert result.problems == []


def test_another_language_falls_back_to_dutch_and_says_so() -> None:
    result = read("Naam;Telefoon;Taal\nJan;0612345678;Duits\n")
    assert result.contacts[0].language == "nl"
    assert problems(result) == [
        "line 2: 'Duits' in column Taal is not Dutch or English; language left as it was"
        " (Dutch for a new contact)"
    ]


def test_a_bad_e_mail_is_reported_and_the_contact_kept() -> None:
    result = read(
        "Naam;Telefoon;E-mail\nJan;0612345678;jan(at)acme\nPiet;0612345679;mailto:Piet@Acme.nl\n"
    )
    assert [(c.name, c.email) for c in result.contacts] == [("Jan", None), ("Piet", "Piet@Acme.nl")]
    assert problems(result) == ["line 2: 'jan(at)acme' in column E-mail is not an e-mail address"]


def test_a_name_too_long_for_the_board_is_refused() -> None:
    result = read(f"Naam;Telefoon\n{'A' * 201};0612345678\nJan;0612345679\n")
    assert [c.name for c in result.contacts] == ["Jan"]
    assert problems(result) == ["line 2: the name is longer than 200 characters; row skipped"]


def test_control_characters_never_reach_the_database() -> None:
    result = read(b"Naam;Telefoon;Notities\nJan\x07 \x1b[31mRood;0612345678;a\x0bb\n")
    assert result.contacts[0].name == "Jan [31mRood"
    assert result.contacts[0].notes == "ab"


# --------------------------------------------------------------------------- files refused


def test_a_file_over_20_mb_is_refused() -> None:
    with pytest.raises(ContactImportError, match="over 20 MB are refused"):
        read(b"Naam,Telefoon\n" + b"x" * MAX_FILE_BYTES)


def test_a_row_over_1_mb_is_refused_with_its_line() -> None:
    data = b'Naam;Telefoon;Notities\nJan;0612345678;\nPiet;0612345679;"' + b"x" * MAX_ROW_CHARS
    with pytest.raises(ContactImportError, match=r"line 3: this row is longer than 1 MB"):
        read(data)


@pytest.mark.parametrize(
    "data,message",
    [
        (b"PK\x03\x04\x14\x00\x06\x00", "Excel workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old Excel"),
        (b"Naam,Telefoon\nJan,\x00\x01\x02\n", "line 2: the file holds binary data"),
        (b"", "the file is empty"),
        (b"\n \r\n", "the file is empty"),
        (codecs.BOM_UTF8 + b"Naam\n\xff\n", "line 2: the file says it is UTF-8 but is not"),
    ],
)
def test_files_that_are_no_csv_are_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(ContactImportError, match=message):
        read_csv_headers(data)


def test_a_mapping_naming_a_missing_column_lists_the_columns_there_are() -> None:
    mapping = ColumnMapping(name="Naam", phones=("Tel",))
    with pytest.raises(ContactImportError) as raised:
        read(b"Naam;Telefoon\nJan;0612345678\n", mapping)
    assert str(raised.value) == "there is no column 'Tel'; the columns are: 'Naam', 'Telefoon'"


def test_a_file_without_a_phone_column_asks_for_a_mapping() -> None:
    with pytest.raises(ContactImportError, match="--map phone=Header"):
        read(b"Naam;Adres\nJan;Dorpsstraat 1\n")


def test_a_file_without_a_name_column_asks_for_a_mapping() -> None:
    with pytest.raises(ContactImportError, match="--map name=Header"):
        read(b"Wie;Telefoon\nJan;0612345678\n")


def test_everything_missing_from_a_mapping_is_said_at_once() -> None:
    with pytest.raises(ContactImportError) as raised:
        read(b"Wie;Nummer\nJan;0612345678\n")
    message = str(raised.value)
    assert "--map name=Header" in message and "--map phone=Header" in message
    assert message.endswith("The columns are: 'Wie', 'Nummer'")


# --------------------------------------------------------------------------- mapping


@pytest.mark.parametrize(
    "headers,expected",
    [
        (
            ["Naam", "Bedrijf", "Telefoon", "Mobiel", "E-mail", "Opmerkingen"],
            ColumnMapping(
                name="Naam",
                company="Bedrijf",
                phones=("Telefoon", "Mobiel"),
                email="E-mail",
                notes="Opmerkingen",
            ),
        ),
        (
            ["Voornaam", "Tussenvoegsel", "Achternaam", "Telefoonnummer", "VIP", "Taal"],
            ColumnMapping(
                first_name="Voornaam",
                middle_name="Tussenvoegsel",
                last_name="Achternaam",
                phones=("Telefoonnummer",),
                vip="VIP",
                language="Taal",
            ),
        ),
        (
            ["Name", "Company", "Phone", "Mobile", "Email", "Notes", "Customer", "ID"],
            ColumnMapping(
                name="Name",
                company="Company",
                phones=("Phone", "Mobile"),
                email="Email",
                notes="Notes",
                external_id="ID",
            ),
        ),
        (  # Outlook: the fax, the company's switchboard and the assistant are not this caller
            [
                "First Name",
                "Last Name",
                "Title",
                "Company",
                "Business Fax",
                "Business Phone",
                "Company Main Telephone",
                "Mobile Phone",
                "Assistant's Phone",
                "E-mail Address",
            ],
            ColumnMapping(
                first_name="First Name",
                last_name="Last Name",
                company="Company",
                phones=("Business Phone", "Mobile Phone"),
                email="E-mail Address",
            ),
        ),
        (  # Dutch Outlook
            [
                "Voornaam",
                "Achternaam",
                "Titel",
                "Bedrijf",
                "Telefoon op werk",
                "Fax op werk",
                "Hoofdtelefoon bedrijf",
                "Mobiele telefoon",
                "E-mailadres",
                "Notities",
            ],
            ColumnMapping(
                first_name="Voornaam",
                last_name="Achternaam",
                company="Bedrijf",
                phones=("Telefoon op werk", "Mobiele telefoon"),
                email="E-mailadres",
                notes="Notities",
            ),
        ),
        (
            ["Klantnummer", "Naam", "Adres", "Postcode", "Plaats", "Tel. werk", "Huisnummer"],
            ColumnMapping(
                name="Naam",
                phones=("Tel. werk",),
                address=("Adres", "Postcode", "Plaats"),
                external_id="Klantnummer",
            ),
        ),
    ],
)
def test_common_headers_are_guessed(headers: list[str], expected: ColumnMapping) -> None:
    assert guess_mapping(headers) == expected


def test_map_options_override_the_guess() -> None:
    guessed = ColumnMapping(name="Naam", phones=("Telefoon", "Fax"), notes="Opmerkingen")
    mapping = guessed.with_overrides(
        ["phone=Telefoon", "phone=Privé", "notes=", "company=Klant", "external-id=Nr"]
    )
    assert mapping == ColumnMapping(
        name="Naam", phones=("Telefoon", "Privé"), company="Klant", external_id="Nr"
    )


@pytest.mark.parametrize("assignment", ["telefoon=Tel", "phone", "=Tel"])
def test_a_map_option_that_names_no_field_is_refused(assignment: str) -> None:
    with pytest.raises(ContactImportError, match="expected FIELD=Header"):
        ColumnMapping().with_overrides([assignment])


def test_header_lookup_ignores_case_and_blanks() -> None:
    mapping = ColumnMapping(name="naam", phones=("MOBIEL",))
    result = read(b" Naam ;Mobiel \nJan;0612345678\n", mapping)
    assert numbers(result.contacts[0]) == ["+31612345678"]


def test_only_the_fields_the_file_has_are_provided() -> None:
    # A re-import only overwrites what the file carries: no VIP column, no VIP change.
    result = read(b"Naam;Telefoon;E-mail\nJan;0612345678;jan@acme.example\n")
    assert result.provided == {"email"}


# --------------------------------------------------------------------------- sample files


def test_an_outlook_export() -> None:
    data = (FIXTURES / "outlook_export.csv").read_bytes()
    result = read(data)
    sarah, pieter, lisa = result.contacts
    assert (sarah.name, sarah.company, sarah.email) == (
        "Sarah Connor",
        "Cyberdyne Systems",
        "sarah.connor@cyberdyne.example",
    )
    # Business and mobile; not the fax, the company's main line or the assistant's phone.
    assert numbers(sarah) == ["+442079460958", "+447911123456"]
    assert sarah.notes == 'Prefers English.\nCall back before 16:00, "urgent" only via mobile.'
    assert sarah.address == "221B Baker Street, NW1 6XE, London, United Kingdom"
    assert pieter.name == "Pieter van Dam"
    assert numbers(pieter) == ["+31205551234", "+31205551235", "+31612345678"]
    assert [n.label for n in pieter.numbers] == [
        "Business Phone",
        "Business Phone 2",
        "Mobile Phone",
    ]
    assert lisa.numbers == ()
    assert problems(result) == [
        "line 5: '06-1234' in column Mobile Phone is not a phone number"
        " (too short; an internal extension?)",
        "line 5: 'lisa@example' in column E-mail Address is not an e-mail address",
    ]


def test_a_dutch_crm_export_in_windows_1252() -> None:
    result = read((FIXTURES / "dutch_crm.csv").read_bytes())
    by_id = {c.external_id: c for c in result.contacts}
    assert list(by_id) == ["K-001", "K-002", "K-003", "K-005"]
    jose = by_id["K-001"]
    assert (jose.name, jose.company, jose.vip) == ("José García", "Bakkerij García", True)
    assert numbers(jose) == ["+31102345678", "+31623456789"]
    assert jose.address == "Hoogstraat 12, 3011 PT, Rotterdam"
    anne = by_id["K-002"]
    assert (anne.name, anne.company, anne.language) == (
        "Anne de Vries",
        "Café \u2019t Hoekje",
        "en",
    )
    assert anne.notes == (
        'Spreekt liever Engels.\nLet op: €50 korting "vaste klant";\nniet doorverbinden na 17:00'
    )
    assert numbers(by_id["K-003"]) == ["+31634567890"]
    assert problems(result) == [
        "line 6: '085-12' in column Telefoon is not a phone number"
        " (too short; an internal extension?)",
        "line 6: 'bram@smit' in column E-mail is not an e-mail address",
        "line 7: no name or company; row skipped",
        "line 8: 'misschien' in column VIP is not yes or no; VIP left as it was",
        "line 8: 'fr' in column Taal is not Dutch or English; language left as it was"
        " (Dutch for a new contact)",
    ]


def test_a_vcard_file_with_three_cards() -> None:
    result = parse_vcards((FIXTURES / "three_cards.vcf").read_bytes(), region="NL")
    anna, john, jurgen = result.contacts
    assert (anna.line, anna.name, anna.company) == (1, "Anna de Vries", "Bakkerij De Vries")
    # Mobile and work; the fax never calls.
    assert [(n.e164, n.label) for n in anna.numbers] == [
        ("+31648110001", "mobile"),
        ("+31205551001", "work"),
    ]
    assert anna.email == "anna@devries.example"
    assert anna.address == "Dorpsstraat 1, 3511 AB Utrecht, Nederland"
    assert anna.notes == (
        "Belt meestal over bestellingen.\nLiever niet na 17:00, tenzij het dringend is."
    )
    assert anna.vip and anna.external_id == "urn:uuid:6f1e0c0a-1111-4c1e-9a55-000000000001"
    assert (john.line, john.name, john.company, john.language) == (
        17,
        "John Smith",
        "Smith & Co",
        "en",
    )
    assert numbers(john) == ["+442079460001", "+447911123457"]
    assert (jurgen.name, numbers(jurgen)) == ("Jürgen Müller", ["+31648110003"])
    assert problems(result) == [
        "line 10: '020-12' for Anna de Vries is not a phone number"
        " (too short; an internal extension?)",
        "line 34: 'anonymous' for Jürgen Müller is not a phone number",
    ]


# --------------------------------------------------------------------------- vCard


def vcards(text: str) -> ImportResult:
    return parse_vcards(text.encode(), region="NL")


def test_folded_lines_are_joined_and_later_lines_keep_their_numbers() -> None:
    result = vcards(
        "BEGIN:VCARD\r\n"  # 1
        "VERSION:3.0\r\n"  # 2
        "FN:Maria van der\r\n"  # 3
        "  Berg\r\n"  # 4
        "NOTE:een heel lang\r\n"  # 5
        "\t verhaal\r\n"  # 6
        "TEL;TYPE=CELL:06 12\r\n"  # 7
        " 34 56 78\r\n"  # 8
        "TEL:06-1\r\n"  # 9
        "END:VCARD\r\n"
    )
    [maria] = result.contacts
    assert maria.name == "Maria van der Berg"
    assert maria.notes == "een heel lang verhaal"
    assert numbers(maria) == ["+31612345678"]
    assert [p.line for p in result.problems] == [9]


VCARD_CASES = {
    "several TEL with TYPE params": (
        "BEGIN:VCARD\nVERSION:3.0\nFN:Jan\nTEL;TYPE=HOME:020 555 1234\n"
        "TEL;TYPE=CELL,VOICE:0612345678\nTEL;TYPE=WORK;TYPE=PREF:010 234 5678\nEND:VCARD\n",
        [("+31205551234", "home"), ("+31612345678", "mobile"), ("+31102345678", "work")],
    ),
    "vCard 2.1 bare types": (
        "BEGIN:VCARD\nVERSION:2.1\nN:Jansen;Jan\nTEL;WORK;VOICE:020 555 1234\nEND:VCARD\n",
        [("+31205551234", "work")],
    ),
    "vCard 4.0 tel: URI with grouping": (
        "BEGIN:VCARD\nVERSION:4.0\nFN:Jan\n"
        'item1.TEL;VALUE=uri;TYPE="cell,text":tel:+31-6-1234-5678\nEND:VCARD\n',
        [("+31612345678", "mobile,text")],
    ),
    "no TYPE": (
        "BEGIN:VCARD\nFN:Jan\nTEL:+31 6 1234 5678\nEND:VCARD\n",
        [("+31612345678", None)],
    ),
}


@pytest.mark.parametrize("text,expected", VCARD_CASES.values(), ids=VCARD_CASES.keys())
def test_tel_properties(text: str, expected: list[tuple[str, str | None]]) -> None:
    result = vcards(text)
    assert [(n.e164, n.label) for n in result.contacts[0].numbers] == expected
    assert result.problems == []


def test_the_name_comes_from_fn_else_n_else_org() -> None:
    result = vcards(
        "BEGIN:VCARD\nN:Vries;Anne;de;;\nTEL:0612345678\nEND:VCARD\n"
        "BEGIN:VCARD\nORG:Gemeente Utrecht\\; Publiekszaken;Balie\nTEL:0612345679\nEND:VCARD\n"
        "BEGIN:VCARD\nTEL:0612345670\nEND:VCARD\n"
    )
    assert [(c.name, c.company) for c in result.contacts] == [
        ("Anne de Vries", None),
        ("Gemeente Utrecht; Publiekszaken", "Gemeente Utrecht; Publiekszaken"),
    ]
    assert problems(result) == ["line 9: no name or company; row skipped"]


def test_escapes_in_values_are_undone() -> None:
    result = vcards(
        "BEGIN:VCARD\nFN:Smit\\, Jan\nNOTE:regel 1\\nregel 2\\; met \\\\ streep\n"
        "ADR:;;Straat 1\\, achterom;Delft;;2611 AA;\nEND:VCARD\n"
    )
    [jan] = result.contacts
    assert jan.name == "Smit, Jan"
    assert jan.notes == "regel 1\nregel 2; met \\ streep"
    assert jan.address == "Straat 1, achterom, 2611 AA Delft"


def test_a_card_without_end_is_kept_and_reported() -> None:
    result = vcards(
        "BEGIN:VCARD\nFN:Jan\nTEL:0612345678\n"
        "BEGIN:VCARD\nFN:Piet\nTEL:0612345679\nEND:VCARD\n"
        "BEGIN:VCARD\nFN:Kees\nTEL:0612345670\n"
    )
    assert [c.name for c in result.contacts] == ["Jan", "Piet", "Kees"]
    assert problems(result) == [
        "line 4: the card from line 1 has no END:VCARD before the next card",
        "line 8: this card has no END:VCARD (is the file cut off?)",
    ]


def test_vip_and_language_are_only_provided_when_the_file_has_them() -> None:
    plain = vcards("BEGIN:VCARD\nFN:Jan\nTEL:0612345678\nEND:VCARD\n")
    assert "vip" not in plain.provided and "language" not in plain.provided
    tagged = vcards(
        "BEGIN:VCARD\nFN:Jan\nTEL:0612345678\nCATEGORIES:klant,VIP\nLANG:en-GB\nEND:VCARD\n"
        "BEGIN:VCARD\nFN:Piet\nTEL:0612345679\nEND:VCARD\n"
    )
    assert {"vip", "language"} <= tagged.provided
    assert [(c.vip, c.language) for c in tagged.contacts] == [(True, "en"), (False, "nl")]


def test_a_big_photo_is_no_problem() -> None:
    photo = "PHOTO;ENCODING=b;TYPE=JPEG:" + "\r\n ".join(["A" * 74] * 20000)
    result = vcards(f"BEGIN:VCARD\r\nFN:Jan\r\n{photo}\r\nTEL:0612345678\r\nEND:VCARD\r\n")
    assert [c.name for c in result.contacts] == ["Jan"]
    assert result.problems == []


def test_vcard_21_quoted_printable_in_windows_1252() -> None:
    result = vcards(
        "BEGIN:VCARD\nVERSION:2.1\nFN;CHARSET=WINDOWS-1252;ENCODING=QUOTED-PRINTABLE:Jos=E9\n"
        "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=bogus:caf=E9=0D=0Aterras\nTEL:0612345678\nEND:VCARD\n"
    )
    [jose] = result.contacts
    assert jose.name == "José" and jose.notes == "café\nterras"


@pytest.mark.parametrize(
    "data",
    [b"Naam,Telefoon\nJan,0612345678\n", b"", b"END:VCARD\n", b"BEGIN:VCALENDAR\nEND:VCALENDAR\n"],
)
def test_a_file_without_vcards_is_refused(data: bytes) -> None:
    with pytest.raises(ContactImportError, match="no vCards in this file"):
        parse_vcards(data, region="NL")


@pytest.mark.parametrize(
    "data,vcard",
    [
        (b"BEGIN:VCARD\r\nFN:Jan\r\n", True),
        (b"\r\n  begin:vcard\n", True),
        (codecs.BOM_UTF8 + b"BEGIN:VCARD\n", True),
        ("BEGIN:VCARD\r\n".encode("utf-16"), True),
        (b"Naam;Telefoon\nBEGIN:VCARD\n", False),
        (b"", False),
    ],
)
def test_a_vcard_file_is_known_by_its_content(data: bytes, vcard: bool) -> None:
    assert looks_like_vcard(data) is vcard


# --------------------------------------------------------------------------- never crashes


def _check(result: ImportResult, data: bytes) -> None:
    lines = data.count(b"\n") + data.count(b"\r") + 1
    for contact in result.contacts:
        assert 1 <= len(contact.name) <= 200
        assert all(n.e164.startswith("+") and n.e164[1:].isdigit() for n in contact.numbers)
    for problem in result.problems:
        assert 1 <= problem.line <= lines


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise_anything_but_the_documented_error(data: bytes) -> None:
    for attempt in (
        lambda: read(data, ColumnMapping(name="Naam", phones=("Telefoon",))),
        lambda: read(data),
        lambda: parse_vcards(data, region="NL"),
    ):
        try:
            _check(attempt(), data)
        except ContactImportError:
            pass


_CSVISH = st.text(alphabet=st.sampled_from(list(';,"\n\r\t 0123456789+-/xé\x00')), max_size=200)


@settings(max_examples=300)
@given(_CSVISH)
def test_csv_like_text_never_raises_anything_but_the_documented_error(body: str) -> None:
    data = ("Naam;Telefoon;Notities\n" + body).encode()
    try:
        _check(read(data), data)
    except ContactImportError:
        pass


_VCARD_LINES = st.sampled_from(
    [
        "BEGIN:VCARD",
        "END:VCARD",
        "FN:Jan",
        "N:a;b;c",
        "TEL;TYPE=CELL:0612345678",
        "TEL:x",
        'TEL;TYPE="a,b:c":1',
        "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=utf-16:=FF=",
        "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=rot13:abc",
        "EMAIL;PREF=99999999999999999999:a@b.c",
        "LANG:de",
        "ORG:\\",
        " folded",
        "\tfolded",
        "",
        "garbage",
        ":",
        "UID:" + "u" * 250,
    ]
)


@settings(max_examples=300)
@given(st.lists(_VCARD_LINES, max_size=30), st.sampled_from(["\n", "\r\n", "\r"]))
def test_vcard_like_text_never_raises_anything_but_the_documented_error(
    lines: list[str], newline: str
) -> None:
    data = newline.join(lines).encode()
    try:
        _check(parse_vcards(data, region="NL"), data)
    except ContactImportError:
        pass


@settings(max_examples=100)
@given(st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=8))
def test_every_reported_line_is_the_rows_first_physical_line(note_breaks: list[int]) -> None:
    """Rows with notes of 0..4 line breaks, each with a bad number: line numbers add up."""
    text = "Naam;Telefoon;Notities\r\n"
    expected = []
    line = 2
    for i, breaks in enumerate(note_breaks):
        note = "\r\n".join(["regel"] * (breaks + 1))
        text += f'Klant {i};06-{i};"{note}"\r\n'
        expected.append(line)
        line += breaks + 1
    result = read(text)
    assert [c.line for c in result.contacts] == expected
    assert [p.line for p in result.problems] == expected

"""Importing contact files into a real PostgreSQL, and `switchboard contacts-import`.

Tables are shared by the whole test session: every test imports under its own source
with its own numbers.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from switchboard.contact_files.common import ImportResult
from switchboard.contact_files.csv_file import ColumnMapping, parse_csv
from switchboard.contact_files.vcard import parse_vcards
from switchboard.core.numbers import NumberKind, normalise
from switchboard.store.contacts import ImportSummary, add_contact, find_by_number, import_contacts

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parent.parent / "unit" / "fixtures"
MAPPING = ColumnMapping(
    external_id="ID",
    name="Naam",
    company="Bedrijf",
    phones=("Telefoon", "Mobiel"),
    email="E-mail",
    vip="VIP",
    language="Taal",
)
HEADER = "ID;Naam;Bedrijf;Telefoon;Mobiel;E-mail;VIP;Taal"


def mobile() -> tuple[str, str]:
    """A Dutch mobile number no other test uses: (as written in a file, E.164)."""
    while True:
        written = f"06 4{random.randrange(10**7):07d}"
        number = normalise(written, "NL")
        if number.kind is NumberKind.PUBLIC and number.e164:
            return written, number.e164


def source() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def csv(*rows: str, header: str = HEADER) -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode("cp1252")


def parsed(data: bytes, mapping: ColumnMapping = MAPPING) -> ImportResult:
    return parse_csv(data, mapping, region="NL")


def counts(summary: ImportSummary) -> tuple[int, int, int]:
    return (summary.created, summary.updated, summary.unchanged)


async def contacts_of(db: asyncpg.Pool, src: str) -> list[asyncpg.Record]:
    return list(await db.fetch("SELECT * FROM contacts WHERE source = $1 ORDER BY id", src))


async def test_imported_contacts_are_recognised_by_number(db: asyncpg.Pool) -> None:
    (tel, tel164), (mob, mob164) = mobile(), mobile()
    data = csv(f"K1;José García;Bakkerij García;{tel};{mob};jose@garcia.example;ja;en")
    summary = await import_contacts(db, parsed(data), source=source())
    assert counts(summary) == (1, 0, 0) and summary.problems == []
    for e164 in (tel164, mob164):
        [match] = await find_by_number(db, e164)
        assert (match.name, match.company, match.vip, match.language) == (
            "José García",
            "Bakkerij García",
            True,
            "en",
        )
    labels = await db.fetch(
        "SELECT e164, label FROM contact_numbers WHERE contact_id = $1 ORDER BY label",
        match.contact_id,
    )
    assert [(r["e164"], r["label"]) for r in labels] == [(mob164, "Mobiel"), (tel164, "Telefoon")]


async def test_importing_the_same_file_again_adds_nobody(db: asyncpg.Pool) -> None:
    src = source()
    (a, _), (b, _) = mobile(), mobile()
    data = csv(f"K1;Anna;Acme;{a};;;;", f"K2;Bram;Acme;{b};;;;")
    assert counts(await import_contacts(db, parsed(data), source=src)) == (2, 0, 0)
    before = await contacts_of(db, src)
    assert counts(await import_contacts(db, parsed(data), source=src)) == (0, 0, 2)
    after = await contacts_of(db, src)
    assert [r["id"] for r in after] == [r["id"] for r in before]
    # Unchanged contacts keep their updated_at: the caller directory has nothing to reload.
    assert [r["updated_at"] for r in after] == [r["updated_at"] for r in before]


async def test_a_changed_number_replaces_the_old_one_and_verification_stays(
    db: asyncpg.Pool,
) -> None:
    src = source()
    (kept, kept164), (old, old164), (new, new164) = mobile(), mobile(), mobile()
    await import_contacts(db, parsed(csv(f"K1;Anna;Acme;{kept};{old};;;")), source=src)
    [match] = await find_by_number(db, kept164)
    await db.execute("UPDATE contact_numbers SET verified_at = now() WHERE e164 = $1", kept164)
    before = (await contacts_of(db, src))[0]["updated_at"]

    summary = await import_contacts(db, parsed(csv(f"K1;Anna;Acme;{kept};{new};;;")), source=src)

    assert counts(summary) == (0, 1, 0)
    assert await find_by_number(db, old164) == []
    [by_new] = await find_by_number(db, new164)
    [by_kept] = await find_by_number(db, kept164)
    assert by_new.contact_id == by_kept.contact_id == match.contact_id
    assert by_kept.verified_at is not None
    # The caller directory picks changes up by updated_at.
    assert (await contacts_of(db, src))[0]["updated_at"] > before


async def test_a_bad_number_in_the_new_file_does_not_cost_a_stored_number(
    db: asyncpg.Pool,
) -> None:
    src = source()
    (old, old164), (new, new164) = mobile(), mobile()
    await import_contacts(db, parsed(csv(f"K1;Anna;Acme;{old};;;;")), source=src)
    summary = await import_contacts(db, parsed(csv(f"K1;Anna;Acme;{new};06-12;;;")), source=src)
    assert counts(summary) == (0, 1, 0)
    assert [str(p) for p in summary.problems] == [
        "line 2: '06-12' in column Mobiel is not a phone number (too short; an internal extension?)"
    ]
    # The typo is reported; until it is fixed the caller is still recognised by both.
    [a] = await find_by_number(db, old164)
    [b] = await find_by_number(db, new164)
    assert a.contact_id == b.contact_id


async def test_a_refused_value_does_not_wipe_what_is_stored(db: asyncpg.Pool) -> None:
    src = source()
    (n, _) = mobile()
    await import_contacts(db, parsed(csv(f"K1;Anna;Acme;{n};;anna@acme.example;ja;en")), source=src)
    typos = parsed(csv(f"K1;Anna;Acme;{n};;anna(at)acme;misschien;Duits"))
    summary = await import_contacts(db, typos, source=src)
    assert counts(summary) == (0, 0, 1) and len(summary.problems) == 3
    [row] = await contacts_of(db, src)
    assert (row["email"], row["vip"], row["language"]) == ("anna@acme.example", True, "en")


async def test_without_ids_a_contact_is_found_again_by_e_mail(db: asyncpg.Pool) -> None:
    src = source()
    mapping = ColumnMapping(name="Naam", company="Bedrijf", phones=("Telefoon",), email="E-mail")
    header = "Naam;Bedrijf;Telefoon;E-mail"
    (n, n164) = mobile()
    first = csv(f"Anne de Vries;Acme;{n};Anne@Acme.example", header=header)
    await import_contacts(db, parsed(first, mapping), source=src)
    # She married and the CRM export writes her address in lower case now.
    renamed = csv(f"Anne Jansen;Acme;{n};anne@acme.example", header=header)
    summary = await import_contacts(db, parsed(renamed, mapping), source=src)
    assert counts(summary) == (0, 1, 0)
    [match] = await find_by_number(db, n164)
    assert match.name == "Anne Jansen"
    assert len(await contacts_of(db, src)) == 1


async def test_without_ids_or_e_mail_a_contact_is_found_by_name_and_company(
    db: asyncpg.Pool,
) -> None:
    src = source()
    mapping = ColumnMapping(name="Naam", company="Bedrijf", phones=("Telefoon",), email="E-mail")
    header = "Naam;Bedrijf;Telefoon;E-mail"
    (a, _), (b, b164) = mobile(), mobile()
    await import_contacts(
        db, parsed(csv(f"Jan Smit;Acme;{a};", header=header), mapping), source=src
    )
    again = csv(f"Jan Smit;Acme;{b};jan@acme.example", f"Jan Smit;Beta BV;{a};", header=header)
    summary = await import_contacts(db, parsed(again, mapping), source=src)
    # Jan Smit of Acme got a new number and an address; Jan Smit of Beta is someone else.
    assert counts(summary) == (1, 1, 0)
    rows = await contacts_of(db, src)
    assert [(r["name"], r["company"], r["email"]) for r in rows] == [
        ("Jan Smit", "Acme", "jan@acme.example"),
        ("Jan Smit", "Beta BV", None),
    ]
    [match] = await find_by_number(db, b164)
    assert match.contact_id == rows[0]["id"]


async def test_a_shared_mailbox_does_not_merge_the_people_who_use_it(db: asyncpg.Pool) -> None:
    src = source()
    mapping = ColumnMapping(name="Naam", company="Bedrijf", phones=("Telefoon",), email="E-mail")
    header = "Naam;Bedrijf;Telefoon;E-mail"
    (a, a164), (b, b164) = mobile(), mobile()
    anna, bram = f"Anna;Acme;{a};info@acme.example", f"Bram;Acme;{b};info@acme.example"
    data = csv(anna, bram, header=header)
    assert counts(await import_contacts(db, parsed(data, mapping), source=src)) == (2, 0, 0)
    # The next export lists them the other way round: each still finds herself.
    data = csv(bram, anna, header=header)
    assert counts(await import_contacts(db, parsed(data, mapping), source=src)) == (0, 0, 2)
    assert [r["name"] for r in await contacts_of(db, src)] == ["Anna", "Bram"]
    assert [m.name for m in await find_by_number(db, a164)] == ["Anna"]
    assert [m.name for m in await find_by_number(db, b164)] == ["Bram"]


async def test_a_new_id_is_a_new_contact_even_with_a_known_name(db: asyncpg.Pool) -> None:
    # Two Jan Smits at Acme are two records in the CRM; the second must not take over
    # the first when the first is missing from a partial export.
    src = source()
    (a, a164), (b, b164) = mobile(), mobile()
    await import_contacts(db, parsed(csv(f"K1;Jan Smit;Acme;{a};;;;")), source=src)
    summary = await import_contacts(db, parsed(csv(f"K2;Jan Smit;Acme;{b};;;;")), source=src)
    assert counts(summary) == (1, 0, 0)
    [first], [second] = await find_by_number(db, a164), await find_by_number(db, b164)
    assert first.contact_id != second.contact_id


async def test_a_file_without_a_company_column_matches_by_name(db: asyncpg.Pool) -> None:
    src = source()
    (n, n164) = mobile()
    mapping = ColumnMapping(name="Naam", company="Bedrijf", phones=("Telefoon",))
    await import_contacts(
        db, parsed(csv(f"Anna;Acme;{n}", header="Naam;Bedrijf;Telefoon"), mapping), source=src
    )
    mapping = ColumnMapping(name="Naam", phones=("Mobiel",))
    data = csv(f"Anna;{n}", header="Naam;Mobiel")
    assert counts(await import_contacts(db, parsed(data, mapping), source=src)) == (0, 1, 0)
    [match] = await find_by_number(db, n164)
    assert match.company == "Acme"
    label = await db.fetchval(
        "SELECT label FROM contact_numbers WHERE contact_id = $1", match.contact_id
    )
    assert label == "Mobiel"  # the number moved to the mobile column of the new export


async def test_a_file_without_a_vip_column_leaves_vip_flags_alone(db: asyncpg.Pool) -> None:
    src = source()
    (n, n164) = mobile()
    await import_contacts(db, parsed(csv(f"K1;Anna;Acme;{n};;;ja;en")), source=src)
    mapping = ColumnMapping(external_id="ID", name="Naam", phones=("Telefoon",))
    data = csv(f"K1;Anna B;{n}", header="ID;Naam;Telefoon")
    assert counts(await import_contacts(db, parsed(data, mapping), source=src)) == (0, 1, 0)
    [match] = await find_by_number(db, n164)
    assert (match.name, match.company, match.vip, match.language) == ("Anna B", "Acme", True, "en")


async def test_contacts_added_by_hand_or_from_another_list_are_not_touched(
    db: asyncpg.Pool,
) -> None:
    (by_hand, by_hand164), (n, n164) = mobile(), mobile()
    name = f"Kees {uuid.uuid4().hex[:6]}"
    hand_id = await add_contact(db, name, [by_hand], company="Acme", vip=True)
    crm, outlook = source(), source()
    data = csv(f"K1;{name};Acme;{n};;;;")
    assert counts(await import_contacts(db, parsed(data), source=crm)) == (1, 0, 0)
    assert counts(await import_contacts(db, parsed(data), source=outlook)) == (1, 0, 0)
    [hand] = await find_by_number(db, by_hand164)
    assert hand.contact_id == hand_id and hand.vip
    assert len(await find_by_number(db, n164)) == 2


async def test_a_dry_run_reports_and_changes_nothing(db: asyncpg.Pool) -> None:
    src = source()
    (n, n164) = mobile()
    summary = await import_contacts(
        db, parsed(csv(f"K1;Anna;Acme;{n};;;;")), source=src, dry_run=True
    )
    assert counts(summary) == (1, 0, 0)
    assert await find_by_number(db, n164) == []
    assert await contacts_of(db, src) == []


async def test_two_imports_of_one_list_at_once_create_each_contact_once(db: asyncpg.Pool) -> None:
    src = source()
    data = csv(*(f"K{i};Klant {i};Acme;{mobile()[0]};;;;" for i in range(20)))
    result = parsed(data)
    summaries = await asyncio.gather(
        import_contacts(db, result, source=src), import_contacts(db, result, source=src)
    )
    assert sorted(counts(s) for s in summaries) == [(0, 0, 20), (20, 0, 0)]
    assert len(await contacts_of(db, src)) == 20


async def test_a_vcard_file_is_imported_and_re_imported_by_uid(db: asyncpg.Pool) -> None:
    src = source()
    (n, n164) = mobile()
    card = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nTEL;TYPE=CELL:{tel}\r\n"
        "END:VCARD\r\n"
    )
    uid = str(uuid.uuid4())
    first = parse_vcards(card.format(uid=uid, name="Anna", tel=n).encode(), region="NL")
    assert counts(await import_contacts(db, first, source=src)) == (1, 0, 0)
    renamed = parse_vcards(card.format(uid=uid, name="Anna B", tel=n).encode(), region="NL")
    assert counts(await import_contacts(db, renamed, source=src)) == (0, 1, 0)
    [match] = await find_by_number(db, n164)
    assert match.name == "Anna B"
    rows = await contacts_of(db, src)
    assert [(r["external_id"], r["source"]) for r in rows] == [(uid, src)]


# --------------------------------------------------------------------------- the command


def _cli(postgres_dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")},
        "SWITCHBOARD_DATABASE__DSN": postgres_dsn,
        "SWITCHBOARD_SERVICES__AMI": "false",
    }
    return subprocess.run(
        [sys.executable, "-m", "switchboard.cli", "contacts-import", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


async def test_the_command_exits_0_when_every_row_was_imported(
    postgres_dsn: str, db: asyncpg.Pool, tmp_path: Path
) -> None:
    (n, n164) = mobile()
    path = tmp_path / "klanten.csv"
    path.write_bytes(csv(f"K1;José;Café;{n};;;;"))
    src = source()
    result = _cli(postgres_dsn, str(path), "--source", src)
    assert result.returncode == 0, result.stderr
    assert "1 contacts read; 1 created, 0 updated, 0 unchanged" in result.stdout
    [match] = await find_by_number(db, n164)
    assert match.name == "José"
    again = _cli(postgres_dsn, str(path), "--source", src)
    assert again.returncode == 0, again.stderr
    assert "0 created, 0 updated, 1 unchanged" in again.stdout


async def test_the_command_exits_1_and_names_each_bad_line_but_imports_the_rest(
    postgres_dsn: str, db: asyncpg.Pool, tmp_path: Path
) -> None:
    (good, good164), (other, other164) = mobile(), mobile()
    path = tmp_path / "export.csv"
    path.write_bytes(
        csv(
            f'K1;Anna;Acme;{good};06-123;;;"twee\r\nregels"',
            ";;;;;;;",
            f"K2;Bram;Acme;{other};;;misschien;",
            header=HEADER + ";Opmerkingen",
        )
    )
    result = _cli(postgres_dsn, str(path), "--source", source())
    assert result.returncode == 1, result.stderr
    assert "2 contacts read; 2 created" in result.stdout
    assert "line 2: '06-123' in column Mobiel is not a phone number" in result.stdout
    assert "line 5: 'misschien' in column VIP is not yes or no" in result.stdout
    assert len(await find_by_number(db, good164)) == 1
    assert len(await find_by_number(db, other164)) == 1


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("contacts.xlsx", b"PK\x03\x04rest of a workbook", "Excel workbook"),
        ("contacts.csv", b"Wie;Waar\nJan;Delft\n", "--map phone=Header"),
        ("contacts.vcf", b"Naam;Telefoon\n", "no vCards in this file"),
        ("missing.csv", None, "No such file or directory"),
    ],
)
def test_the_command_exits_2_for_a_file_it_cannot_read(
    postgres_dsn: str, tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = _cli(postgres_dsn, str(path), "--source", source())
    assert result.returncode == 2
    assert message in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr


async def test_the_command_reads_vcards_and_takes_map_options(
    postgres_dsn: str, db: asyncpg.Pool, tmp_path: Path
) -> None:
    (n, n164), (m, m164) = mobile(), mobile()
    cards = tmp_path / "export.txt"  # no telling extension: the content says vCard
    cards.write_text(f"BEGIN:VCARD\nFN:Vera\nTEL:{n}\nEND:VCARD\n")
    assert _cli(postgres_dsn, str(cards), "--source", source()).returncode == 0
    assert [c.name for c in await find_by_number(db, n164)] == ["Vera"]

    odd = tmp_path / "odd.csv"
    odd.write_text(f"Wie,Nummer\nWim,{m}\n")
    result = _cli(postgres_dsn, str(odd), "--map", "name=Wie", "--map", "phone=Nummer")
    assert result.returncode == 0, result.stderr
    assert "columns: name=Wie, phones=Nummer" in result.stdout
    assert [c.name for c in await find_by_number(db, m164)] == ["Wim"]


async def test_the_command_dry_run_changes_nothing(
    postgres_dsn: str, db: asyncpg.Pool, tmp_path: Path
) -> None:
    (n, n164) = mobile()
    path = tmp_path / "klanten.csv"
    path.write_bytes(csv(f"K1;Anna;Acme;{n};;;;"))
    result = _cli(postgres_dsn, str(path), "--source", source(), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "1 would be created" in result.stdout and "nothing changed" in result.stdout
    assert await find_by_number(db, n164) == []


def test_the_sample_files_import_apart_from_their_reported_rows(postgres_dsn: str) -> None:
    # A dry run: their well-known numbers must not end up in the shared test database.
    for name, created, problems in [
        ("outlook_export.csv", 3, 2),
        ("dutch_crm.csv", 4, 5),
        ("three_cards.vcf", 3, 2),
    ]:
        result = _cli(postgres_dsn, str(FIXTURES / name), "--source", source(), "--dry-run")
        assert result.returncode == 1, result.stderr
        assert f"{created} would be created" in result.stdout
        assert f"{problems} problems:" in result.stdout

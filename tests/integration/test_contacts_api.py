"""The contacts API against a real PostgreSQL: a receptionist adds a contact, finds it
again, edits it and verifies a number, and the caller card says so; every bad request
gets a clear answer and nothing is changed without a session and its CSRF token."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from pbx_agi.caller_directory import CallerDirectory
from tests.conftest import log_in

pytestmark = pytest.mark.integration


async def updated_at(db: asyncpg.Pool, contact_id: int) -> datetime:
    stamp: datetime = await db.fetchval("SELECT updated_at FROM contacts WHERE id = $1", contact_id)
    return stamp


def by_number(contact: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["e164"]: n for n in contact["numbers"]}


def same(one: dict[str, Any], other: dict[str, Any]) -> bool:
    """The same contact, whatever the order of its numbers."""
    return {**one, "numbers": by_number(one)} == {**other, "numbers": by_number(other)}


async def test_without_a_session_nothing_is_shown_or_changed(board_client: TestClient) -> None:
    page = await board_client.get("/contacts", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"] == "/login"
    for method, path in [
        ("GET", "/api/contacts?q=a"),
        ("GET", "/api/contacts/1"),
        ("POST", "/api/contacts"),
        ("PUT", "/api/contacts/1"),
        ("POST", "/api/contacts/1/numbers/0612345678/verify"),
    ]:
        response = await board_client.request(method, path, json={"name": "Inbreker"})
        assert response.status == 401, (method, path)
        assert (await response.json())["error"] == "log in first"


async def test_every_write_needs_the_csrf_token(board_client: TestClient, db: asyncpg.Pool) -> None:
    token = await log_in(board_client, "/contacts")
    created = await board_client.post(
        "/api/contacts",
        json={"name": "Csrf Kees", "numbers": ["0645820001"]},
        headers={"X-CSRF-Token": token},
    )
    contact_id = (await created.json())["id"]
    for headers in [{}, {"X-CSRF-Token": "forged"}]:
        for method, path in [
            ("POST", "/api/contacts"),
            ("PUT", f"/api/contacts/{contact_id}"),
            ("POST", f"/api/contacts/{contact_id}/numbers/0645820001/verify"),
        ]:
            response = await board_client.request(
                method, path, json={"name": "Overgenomen"}, headers=headers
            )
            assert response.status == 403, (method, path, headers)
            assert "CSRF" in (await response.json())["error"]
    row = await db.fetchrow(
        "SELECT c.name, n.verified_at FROM contacts c JOIN contact_numbers n"
        " ON n.contact_id = c.id WHERE c.id = $1",
        contact_id,
    )
    assert row is not None and row["name"] == "Csrf Kees" and row["verified_at"] is None
    assert await db.fetchval("SELECT count(*) FROM contacts WHERE name = 'Overgenomen'") == 0


async def test_a_body_that_is_not_a_json_object_is_refused_plainly(
    board_client: TestClient,
) -> None:
    token = await log_in(board_client, "/contacts")
    headers = {"X-CSRF-Token": token}
    garbage = await board_client.post("/api/contacts", data=b"name=Jan", headers=headers)
    assert garbage.status == 400 and "JSON" in (await garbage.json())["error"]
    listed = await board_client.post("/api/contacts", json=["Jan"], headers=headers)
    assert listed.status == 400 and "object" in (await listed.json())["error"]
    broken = await board_client.post("/api/contacts", data=b"\xff\xfe{", headers=headers)
    assert broken.status == 400


async def test_unknown_contacts_and_numbers_are_404(board_client: TestClient) -> None:
    token = await log_in(board_client, "/contacts")
    headers = {"X-CSRF-Token": token}
    for path in [
        "/api/contacts/999999999",
        "/api/contacts/abc",
        "/api/contacts/99999999999999999999",
    ]:
        response = await board_client.get(path)
        assert response.status == 404, path
        assert "no contact" in (await response.json())["error"]
    missing = await board_client.put(
        "/api/contacts/999999999", json={"name": "Jan"}, headers=headers
    )
    assert missing.status == 404
    created = await board_client.post(
        "/api/contacts", json={"name": "Vier Nul Vier", "numbers": ["0645820101"]}, headers=headers
    )
    contact_id = (await created.json())["id"]
    other = await board_client.post(
        f"/api/contacts/{contact_id}/numbers/0645820199/verify", headers=headers
    )
    assert other.status == 404
    assert (await other.json())["error"] == (
        f"contact {contact_id} does not have the number +31645820199"
    )
    gone = await board_client.post(
        "/api/contacts/999999999/numbers/0645820101/verify", headers=headers
    )
    assert gone.status == 404


async def test_mistakes_come_back_per_field_and_nothing_is_stored(
    board_client: TestClient, db: asyncpg.Pool
) -> None:
    token = await log_in(board_client, "/contacts")
    response = await board_client.post(
        "/api/contacts",
        json={
            "name": "Foutje Bedankt",
            "email": "foutje@",
            "numbers": ["0645820201", "0612", "06 4582 0201"],
        },
        headers={"X-CSRF-Token": token},
    )
    assert response.status == 422
    assert (await response.json()) == {
        "errors": {
            "email": "'foutje@' is not an e-mail address (like naam@bedrijf.nl).",
            "numbers.1": "'0612' is too short for a phone number (an internal extension?).",
            "numbers.2": "'06 4582 0201' is the same number as number 1 (06 45820201).",
        }
    }
    assert await db.fetchval("SELECT count(*) FROM contacts WHERE name = 'Foutje Bedankt'") == 0


async def test_a_dutch_browser_gets_its_mistakes_in_dutch(
    board_client: TestClient, db: asyncpg.Pool
) -> None:
    dutch = {"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.8"}
    anonymous = await board_client.get("/api/contacts?q=a", headers=dutch)
    assert anonymous.status == 401 and (await anonymous.json())["error"] == "log eerst in"

    token = await log_in(board_client, "/contacts")
    headers = {**dutch, "X-CSRF-Token": token}
    response = await board_client.post(
        "/api/contacts",
        json={
            "name": "Fout " * 50,
            "email": "foutje@",
            "numbers": ["0645820501", "0612", "06 4582 0501"],
        },
        headers=headers,
    )
    assert response.status == 422
    assert (await response.json()) == {
        "errors": {
            "name": "Naam: te lang, 249 tekens (maximaal 200).",
            "email": "'foutje@' is geen e-mailadres (zoals naam@bedrijf.nl).",
            "numbers.1": "'0612' is te kort voor een telefoonnummer (een intern toestelnummer?).",
            "numbers.2": "'06 4582 0501' is hetzelfde nummer als nummer 1 (06 45820501).",
        }
    }
    missing = await board_client.get("/api/contacts/999999999", headers=dutch)
    assert (await missing.json())["error"] == "contact '999999999' bestaat niet"
    forged = await board_client.post("/api/contacts", json={"name": "Jan"}, headers=dutch)
    assert (await forged.json())["error"] == "het CSRF-token ontbreekt of klopt niet"
    # The language chosen on the board beats the browser's.
    board_client.session.cookie_jar.update_cookies({"sb_lang": "en"})
    english = await board_client.post("/api/contacts", json={"name": ""}, headers=headers)
    assert (await english.json())["errors"] == {"name": "Fill in the contact's name."}
    assert await db.fetchval("SELECT count(*) FROM contacts WHERE name LIKE 'Fout%'") == 0


async def test_add_find_edit_and_verify_a_contact(
    board_client: TestClient, db: asyncpg.Pool
) -> None:
    token = await log_in(board_client, "/contacts")
    headers = {"X-CSRF-Token": token}

    # Added with two numbers, written the way people write them.
    created = await board_client.post(
        "/api/contacts",
        json={
            "name": "Wessel Dijkgraaf",
            "company": "Dijkgraaf Hoveniers",
            "numbers": [{"number": "06-4582 0301", "label": "mobiel"}, "+31 6 4582 0302"],
            "email": "wessel@dijkgraaf.nl",
            "vip": True,
            "language": "en",
        },
        headers=headers,
    )
    assert created.status == 201
    contact = await created.json()
    contact_id = contact["id"]
    assert created.headers["Location"] == f"/api/contacts/{contact_id}"
    assert contact["company"] == "Dijkgraaf Hoveniers" and contact["vip"] is True
    numbers = by_number(contact)
    assert numbers["+31645820301"]["display"] == "06 45820301"
    assert numbers["+31645820301"]["label"] == "mobiel"
    assert numbers["+31645820302"]["verified_days_ago"] is None

    # Found by part of the name, the company, and a number however it is typed.
    for query in ["dijkgraaf", "Hoveniers", "0645820302", "06-4582 03", "+31645820301", "820302"]:
        found = await (await board_client.get("/api/contacts", params={"q": query})).json()
        assert contact_id in [c["id"] for c in found["contacts"]], query
    found = await (await board_client.get("/api/contacts", params={"q": "wessel d"})).json()
    assert found["contacts"][0]["numbers"] == ["06 45820301", "06 45820302"]
    nothing = await (await board_client.get("/api/contacts", params={"q": "0645829999"})).json()
    assert contact_id not in [c["id"] for c in nothing["contacts"]]
    recent = await (await board_client.get("/api/contacts")).json()
    assert recent["contacts"][0]["id"] == contact_id  # an empty search: changed last, first

    # Never verified: the caller card tells the receptionist to check first.
    card = await (await board_client.get("/api/caller", params={"number": "0645820301"})).json()
    assert card["explanation"] == (
        "Recognised by number only, never verified: verify the address before trusting it."
    )

    # "I checked their address": verified today, and the caller card says so.
    before = await updated_at(db, contact_id)
    verified = await board_client.post(
        f"/api/contacts/{contact_id}/numbers/%2B31645820301/verify", headers=headers
    )
    assert verified.status == 200
    assert by_number(await verified.json())["+31645820301"]["verified_days_ago"] == 0
    assert await updated_at(db, contact_id) > before
    card = await (await board_client.get("/api/caller", params={"number": "06 4582 0301"})).json()
    assert card["explanation"] == "Recognised by number, verified today."
    verified_at = by_number(await verified.json())["+31645820301"]["verified_at"]

    # Edited: the second number replaced, the verified one retyped and its label cleared.
    before = await updated_at(db, contact_id)
    updated = await board_client.put(
        f"/api/contacts/{contact_id}",
        json={
            "name": "Wessel Dijkgraaf",
            "company": "Dijkgraaf Tuinen",
            "numbers": [{"number": "0645820301", "label": ""}, "020 582 0303"],
            "vip": False,
        },
        headers=headers,
    )
    assert updated.status == 200
    contact = await updated.json()
    assert contact["company"] == "Dijkgraaf Tuinen" and contact["vip"] is False
    assert contact["email"] is None  # the whole contact is replaced: cleared means cleared
    assert contact["language"] == "nl"
    # In the order they were typed, written the way receptionists write them.
    assert [n["display"] for n in contact["numbers"]] == ["06 45820301", "020 582 0303"]
    numbers = by_number(contact)
    assert numbers["+31645820301"]["verified_at"] == verified_at
    assert numbers["+31645820301"]["label"] is None
    assert numbers["+31205820303"]["verified_at"] is None
    assert await updated_at(db, contact_id) > before
    card = await (await board_client.get("/api/caller", params={"number": "0645820302"})).json()
    assert card["explanation"] == "Unknown number."
    assert same(await (await board_client.get(f"/api/contacts/{contact_id}")).json(), contact)

    # An update the form check refuses changes nothing.
    refused = await board_client.put(
        f"/api/contacts/{contact_id}",
        json={"name": "", "numbers": ["0645820301"]},
        headers=headers,
    )
    assert refused.status == 422
    assert (await refused.json())["errors"] == {"name": "Fill in the contact's name."}
    assert same(await (await board_client.get(f"/api/contacts/{contact_id}")).json(), contact)


async def test_a_search_is_limited_and_takes_wildcards_literally(board_client: TestClient) -> None:
    token = await log_in(board_client, "/contacts")
    for name in ["Procent_100% Bouw", "Procenten Bouw"]:
        added = await board_client.post(
            "/api/contacts", json={"name": name}, headers={"X-CSRF-Token": token}
        )
        assert added.status == 201
    too_long = await board_client.get("/api/contacts", params={"q": "x" * 101})
    assert too_long.status == 400
    for query in ["100%", "procent_"]:
        found = await (await board_client.get("/api/contacts", params={"q": query})).json()
        assert [c["name"] for c in found["contacts"]] == ["Procent_100% Bouw"], query


async def test_the_caller_directory_sees_every_change_at_its_next_refresh(
    board_client: TestClient, db: asyncpg.Pool
) -> None:
    """Recognition answers from memory and reloads only contacts whose updated_at moved:
    a saved edit or verification must reach it without a restart."""
    token = await log_in(board_client, "/contacts")
    headers = {"X-CSRF-Token": token}
    created = await board_client.post(
        "/api/contacts",
        json={"name": "Ilse Veenstra", "numbers": ["0645820401"]},
        headers=headers,
    )
    contact_id = (await created.json())["id"]

    async def last_changed_long_ago() -> None:
        # Well before the directory's re-read overlap, so only a new stamp brings it back.
        await db.execute(
            "UPDATE contacts SET updated_at = now() - interval '1 minute' WHERE id = $1",
            contact_id,
        )

    await last_changed_long_ago()
    await board_client.post("/api/contacts", json={"name": "Ilse's buurman"}, headers=headers)
    directory = CallerDirectory(db)
    await directory.reload()

    def names(e164: str) -> list[str]:
        return [m.name for m in directory.facts(e164).matches]

    assert names("+31645820401") == ["Ilse Veenstra"]

    await board_client.put(
        f"/api/contacts/{contact_id}",
        json={"name": "Ilse Veenstra-Bos", "numbers": ["0645820402"]},
        headers=headers,
    )
    await directory.refresh()
    assert names("+31645820401") == []
    assert names("+31645820402") == ["Ilse Veenstra-Bos"]

    await last_changed_long_ago()
    await board_client.post(
        f"/api/contacts/{contact_id}/numbers/0645820402/verify", headers=headers
    )
    await directory.refresh()
    assert directory.facts("+31645820402").matches[0].verified_at is not None

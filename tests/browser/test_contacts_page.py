"""The contacts page in a real Chromium: a receptionist adds a contact from the board,
sees a mistyped number refused next to it, edits the contact, and verifies a number
from the caller card so the card trusts it from then on. No Asterisk needed: the board
runs in-process on a free port, with one waiting call put on it by hand."""

from __future__ import annotations

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from switchboard.store.contacts import add_contact
from tests.browser.conftest import Board, logged_in, waiting_call
from tests.conftest import ARTIFACTS

pytestmark = [pytest.mark.integration, pytest.mark.browser]


async def test_a_contact_is_added_with_a_bad_number_refused_then_edited(
    browser: Browser, db: asyncpg.Pool, board: Board
) -> None:
    page = await logged_in(browser, db, board)
    # The board stays open: the contacts page comes up in a tab of its own.
    async with page.expect_popup() as opened:
        await page.get_by_role("link", name="Contacts").click()
    contacts = await opened.value
    await expect(contacts.get_by_role("heading", name="New contact")).to_be_visible()

    await contacts.get_by_role("textbox", name="Name", exact=True).fill("Lotte Hendriks")
    await contacts.get_by_label("Company", exact=True).fill("Hendriks Installatie")
    await contacts.get_by_label("Number 1", exact=True).fill("0612")
    await contacts.get_by_role("button", name="Add number").click()
    # The new row's input has the focus: typing goes straight into it.
    await expect(contacts.get_by_label("Number 2", exact=True)).to_be_focused()
    await contacts.keyboard.type("06-4583 0002")
    await contacts.get_by_label("Label of number 2").fill("werk")
    await contacts.get_by_label("Preferred language").select_option("en")
    await contacts.get_by_role("button", name="Add contact").click()

    # Refused next to the number itself, and the cursor is put there.
    first = contacts.get_by_label("Number 1", exact=True)
    await expect(contacts.locator("#e-number-0")).to_have_text(
        "'0612' is too short for a phone number (an internal extension?)."
    )
    await expect(contacts.get_by_role("alert")).to_have_text("Not saved: 1 thing needs correcting.")
    await expect(first).to_be_focused()
    await expect(first).to_have_attribute("aria-invalid", "true")
    assert await db.fetchval("SELECT count(*) FROM contacts WHERE name = 'Lotte Hendriks'") == 0

    await first.fill("+31 6 4583 0001")
    await contacts.keyboard.press("Enter")  # submits the form
    await expect(contacts.get_by_role("status").filter(has_text="Contact added.")).to_be_visible()
    await expect(contacts.locator("#e-number-0")).to_be_empty()
    await expect(
        contacts.get_by_role("heading", name="Edit contact: Lotte Hendriks")
    ).to_be_visible()
    contact_id = await db.fetchval("SELECT id FROM contacts WHERE name = 'Lotte Hendriks'")
    assert contacts.url.endswith(f"/contacts#{contact_id}")
    # Stored numbers come back the way a receptionist writes them.
    await expect(contacts.get_by_label("Number 1", exact=True)).to_have_value("06 45830001")
    await expect(contacts.get_by_label("Number 2", exact=True)).to_have_value("06 45830002")
    await expect(contacts.locator(".verified-state")).to_have_text(
        ["never verified", "never verified"]
    )

    # Verify the first number, then replace the second and save.
    await contacts.get_by_role("button", name="Verify number 1").click()
    await expect(contacts.locator(".verified-state").first).to_have_text("verified today")
    await contacts.get_by_role("button", name="Remove number 2").click()
    await contacts.get_by_role("button", name="Add number").click()
    await contacts.keyboard.type("020 583 0003")
    await contacts.get_by_label("VIP").check()
    await contacts.get_by_role("button", name="Save changes").click()
    await expect(contacts.get_by_role("status").filter(has_text="Changes saved.")).to_be_visible()
    await expect(contacts.locator(".verified-state")).to_have_text(
        ["verified today", "never verified"]
    )
    rows = await db.fetch(
        "SELECT n.e164, n.verified_at IS NOT NULL AS verified, c.vip, c.language"
        " FROM contact_numbers n JOIN contacts c ON c.id = n.contact_id"
        " WHERE c.id = $1 ORDER BY n.e164",
        contact_id,
    )
    assert [tuple(r) for r in rows] == [
        ("+31205830003", False, True, "en"),
        ("+31645830001", True, True, "en"),
    ]
    ARTIFACTS.mkdir(exist_ok=True)
    await contacts.screenshot(path=str(ARTIFACTS / "contacts.png"), full_page=True)

    # Found again by keyboard alone: type a number, Enter, Enter.
    await contacts.get_by_role("button", name="New contact").click()
    await expect(contacts.get_by_role("heading", name="New contact")).to_be_visible()
    search = contacts.get_by_role("searchbox")
    await search.fill("020-5830003")
    await search.press("Enter")
    result = contacts.get_by_role("link", name="Lotte Hendriks (Hendriks Installatie)")
    await expect(result).to_be_focused()
    await expect(result).to_contain_text("020 583 0003")
    await contacts.keyboard.press("Enter")
    await expect(
        contacts.get_by_role("heading", name="Edit contact: Lotte Hendriks")
    ).to_be_visible()
    await expect(contacts.get_by_label("Company", exact=True)).to_have_value("Hendriks Installatie")


async def test_verifying_from_the_caller_card_makes_the_card_trust_the_number(
    browser: Browser, db: asyncpg.Pool, board: Board
) -> None:
    await add_contact(db, "Daan Mulder", ["0645830101", "0645830102"], company="Mulder BV")
    call = waiting_call("0645830101", "Daan Mulder - Mulder BV")
    board.hub.add_snapshot_source(lambda: {"calls": [call]})
    page = await logged_in(browser, db, board)

    await page.locator(".call", has_text="Daan Mulder").click()
    card = page.locator("#card")
    await expect(card.locator(".card-explanation")).to_have_text(
        "Recognised by number only, never verified: verify the address before trusting it."
    )
    async with page.expect_popup() as opened:
        await card.get_by_role("link", name="Edit contact").click()
    contacts = await opened.value
    await expect(contacts.get_by_role("heading", name="Edit contact: Daan Mulder")).to_be_visible()
    await expect(contacts.get_by_label("Number 1", exact=True)).to_have_value("06 45830101")
    await contacts.get_by_role("button", name="Verify number 1").click()
    await expect(contacts.locator(".verified-state")).to_have_text(
        ["verified today", "never verified"]
    )
    await expect(contacts.get_by_role("status").filter(has_text="verified")).to_have_text(
        "06 45830101 verified: the caller card trusts it now."
    )

    # Back on the board, the same caller's card now trusts the number.
    await page.bring_to_front()
    await page.locator(".call", has_text="Daan Mulder").click()
    await expect(card.locator(".card-explanation")).to_have_text(
        "Recognised by number, verified today."
    )

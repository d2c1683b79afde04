"""The contacts page in Dutch, in a real Chromium: a receptionist who chose Dutch on the
board gets Dutch headings and labels, a mistyped number refused in Dutch next to it, and
Dutch word of what was saved and verified."""

from __future__ import annotations

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import Board, logged_in
from tests.conftest import ARTIFACTS

pytestmark = [pytest.mark.integration, pytest.mark.browser]


async def test_the_contacts_page_speaks_dutch_when_chosen_on_the_board(
    browser: Browser, db: asyncpg.Pool, board: Board
) -> None:
    page = await logged_in(browser, db, board)
    await page.get_by_role("link", name="Nederlands").click()
    await expect(page.get_by_role("heading", name="Wachtend")).to_be_visible()
    async with page.expect_popup() as opened:
        await page.get_by_role("link", name="Contacten").click()
    contacts = await opened.value

    await expect(contacts.locator("html")).to_have_attribute("lang", "nl")
    await expect(contacts.get_by_role("heading", name="Contact zoeken")).to_be_visible()
    await expect(contacts.get_by_role("heading", name="Nieuw contact")).to_be_visible()
    await contacts.get_by_role("textbox", name="Naam", exact=True).fill("Sem de Boer")
    await contacts.get_by_label("Bedrijf", exact=True).fill("De Boer Transport")
    await contacts.get_by_label("Nummer 1", exact=True).fill("0612")
    await contacts.get_by_role("button", name="Nummer toevoegen").click()
    await contacts.keyboard.type("06-4584 0002")
    await contacts.get_by_label("Label van nummer 2").fill("werk")
    await expect(contacts.get_by_label("Voorkeurstaal")).to_have_value("nl")
    await contacts.get_by_role("button", name="Contact toevoegen").click()

    first = contacts.get_by_label("Nummer 1", exact=True)
    await expect(contacts.locator("#e-number-0")).to_have_text(
        "'0612' is te kort voor een telefoonnummer (een intern toestelnummer?)."
    )
    await expect(contacts.get_by_role("alert")).to_have_text(
        "Niet opgeslagen: 1 punt moet worden verbeterd."
    )
    await expect(first).to_be_focused()
    assert await db.fetchval("SELECT count(*) FROM contacts WHERE name = 'Sem de Boer'") == 0

    await first.fill("06 4584 0001")
    await contacts.keyboard.press("Enter")
    await expect(
        contacts.get_by_role("status").filter(has_text="Contact toegevoegd.")
    ).to_be_visible()
    await expect(
        contacts.get_by_role("heading", name="Contact bewerken: Sem de Boer")
    ).to_be_visible()
    await expect(contacts.locator(".verified-state")).to_have_text(
        ["nooit gecontroleerd", "nooit gecontroleerd"]
    )

    await contacts.get_by_role("button", name="Nummer 1 controleren").click()
    await expect(contacts.locator(".verified-state").first).to_have_text("vandaag gecontroleerd")
    await expect(contacts.locator("#form-status")).to_have_text(
        "06 45840001 gecontroleerd: de bellerkaart vertrouwt dit nummer nu."
    )
    await contacts.get_by_label("VIP").check()
    await contacts.get_by_role("button", name="Wijzigingen opslaan").click()
    await expect(
        contacts.get_by_role("status").filter(has_text="Wijzigingen opgeslagen.")
    ).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    await contacts.screenshot(path=str(ARTIFACTS / "contacts_nl.png"), full_page=True)

    # Searching speaks Dutch too.
    search = contacts.get_by_role("searchbox", name="Naam, bedrijf, e-mailadres of nummer")
    await search.fill("Boer Transport")
    await expect(contacts.locator("#search-status")).to_have_text("1 gevonden.")
    await search.fill("niemand-hier-xyz")
    await expect(contacts.locator("#search-status")).to_have_text(
        "Geen contact gevonden voor “niemand-hier-xyz”."
    )

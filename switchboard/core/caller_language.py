"""The language a caller is spoken to in, as far as the caller's number tells it. Pure.

The contact's own language comes first (recognition); without a contact, the country of
the number: a caller from a Dutch-speaking country hears Dutch, a caller from any other
country English (the language a foreign caller most likely shares with a Dutch company).
A number without a country (withheld, internal, garbage) tells nothing: then the
dialplan's site default applies (SWITCHBOARD_LANGUAGE in extensions.conf).
"""

from __future__ import annotations

import phonenumbers

from switchboard.core.prompt_texts import LANGUAGES

#: Countries and territories where Dutch is an official language: the Netherlands,
#: Belgium (Flanders is most of its callers), Suriname, Aruba, Curacao, Sint Maarten and
#: the Caribbean Netherlands.
DUTCH_SPEAKING = frozenset({"NL", "BE", "SR", "AW", "CW", "SX", "BQ"})


def caller_language(contact_language: str | None, e164: str | None) -> str:
    """ "nl" or "en" (a language the prompts are shipped in), or "" when neither the
    contact nor the number says (the site default then). ``e164``: the caller's number
    in E.164 form, None when it has none."""
    if contact_language is not None and contact_language in LANGUAGES:
        return contact_language
    if not e164:
        return ""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return ""
    if not region or region == "ZZ":
        return ""
    return "nl" if region in DUTCH_SPEAKING else "en"

"""Dutch and English for the board's pages and scripts.

The English text is its own key: templates write ``{{ t("Waiting") }}`` and scripts
``board.t("Waiting")``, so an untranslated string still reads sensibly. Dutch lives in
``DUTCH``; a test finds every call of ``t`` in the templates and scripts and fails when
Dutch is missing one. ``{name}`` placeholders are filled in after translation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from aiohttp import web

LANGUAGES = ("en", "nl")
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "sb_lang"

DUTCH: dict[str, str] = {
    # pages and account
    "Board": "Bord",
    "Contacts": "Contacten",
    "Log in": "Inloggen",
    "Log out": "Uitloggen",
    "Username": "Gebruikersnaam",
    "Password": "Wachtwoord",
    "Wrong username or password.": "Onjuiste gebruikersnaam of wachtwoord.",
    # board: connection
    "Connecting…": "Verbinden…",
    "Live": "Live",
    "Not connected to the PBX — reconnecting…": (
        "Geen verbinding met de centrale — opnieuw verbinden…"
    ),
    # board: calls
    "Waiting": "Wachtend",
    "In conversation": "In gesprek",
    "Answer within 15 seconds: amber from 10 s, red past 15 s.": (
        "Neem op binnen 15 seconden: oranje vanaf 10 s, rood na 15 s."
    ),
    "recognised": "herkend",
    "recognised by number — verify": "herkend aan nummer — controleer",
    "shared number": "gedeeld nummer",
    "Withheld number": "Anoniem nummer",
    "with {party}": "met {party}",
    "in queue {queue}": "in wachtrij {queue}",
    "ringing": "gaat over",
    "time": "tijd",
    # board: caller card
    "Caller": "Beller",
    "Earlier calls": "Eerdere gesprekken",
    "Note on this call": "Notitie bij dit gesprek",
    "Save note": "Notitie opslaan",
    "Saved.": "Opgeslagen.",
    "Not saved: {error}": "Niet opgeslagen: {error}",
    "Unknown caller": "Onbekende beller",
    "Number withheld: ask who is calling.": "Nummer afgeschermd: vraag wie er belt.",
    "Could not load the caller card.": "De bellerkaart kon niet worden geladen.",
    "Edit contact": "Contact bewerken",
    "Edit {name}": "{name} bewerken",
    # presence
    "Colleagues": "Collega's",
    "Extension": "Toestel",
    "Status": "Status",
    "Note": "Notitie",
    "lunch": "lunch",
    "Back at": "Terug om",
    "Set status": "Status instellen",
    "Click a colleague to choose them. Key D: do not disturb on or off for the chosen extension.": (
        "Klik op een collega om die te kiezen. Toets D: niet storen aan of uit voor het gekozen"
        " toestel."
    ),
    "DND": "NS",
    "available": "beschikbaar",
    "do not disturb": "niet storen",
    "away": "afwezig",
    "in a call": "in gesprek",
    "on hold": "in de wacht",
    "phone offline": "toestel offline",
    "{note} until {time}": "{note} tot {time}",
    "back at {time}": "terug om {time}",
    "{queue}: paused": "{queue}: gepauzeerd",
    "Queue {queue}: {members}": "Wachtrij {queue}: {members}",
    "{name} ({state})": "{name} ({state})",
    "{name} paused: {reason}": "{name} gepauzeerd: {reason}",
    "{name} paused": "{name} gepauzeerd",
}

CATALOGUES: Mapping[str, Mapping[str, str]] = {"en": {}, "nl": DUTCH}


def translate(language: str, text: str, **values: str) -> str:
    translated = CATALOGUES.get(language, {}).get(text, text)
    return translated.format(**values) if values else translated


def translator(language: str) -> Callable[..., str]:
    def t(text: str, **values: str) -> str:
        return translate(language, text, **values)

    return t


def language_of(request: web.Request) -> str:
    """The language the receptionist chose (cookie), else the browser's preference."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("Accept-Language", "").split(","):
        code = part.split(";", 1)[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def script_catalogue(language: str) -> str:
    """The catalogue as JSON safe to put inside a <script> element."""
    text = json.dumps(dict(CATALOGUES.get(language, {})), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


async def template_context(request: web.Request) -> dict[str, object]:
    """aiohttp_jinja2 context processor: ``t``, ``lang`` and the script catalogue."""
    language = language_of(request)
    return {
        "lang": language,
        "path": request.path,
        "t": translator(language),
        "other_language": "nl" if language == "en" else "en",
        "i18n_json": script_catalogue(language),
    }


async def choose_language(request: web.Request) -> web.StreamResponse:
    """GET /language?lang=nl&next=/board: remember the choice, go back to the page."""
    language = request.query.get("lang", "")
    if language not in LANGUAGES:
        raise web.HTTPBadRequest(text=f"unknown language {language!r}; use one of {LANGUAGES}")
    target = request.query.get("next", "/board")
    # Only paths on this site: never an open redirect.
    if not target.startswith("/") or target.startswith("//"):
        target = "/board"
    response = web.HTTPSeeOther(target)
    response.set_cookie(
        LANGUAGE_COOKIE, language, max_age=400 * 24 * 3600, samesite="Strict", httponly=True
    )
    raise response

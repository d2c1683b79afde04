"""What the caller hears, as text per language: the catalogue `switchboard prompts
build` speaks into sound files (switchboard.prompts). Pure data.

A prompt is a sound file ``switchboard/<name>`` in Asterisk's sounds directory of each
language (``/usr/share/asterisk/sounds/nl/switchboard/closed.wav``), so the dialplan plays
``Playback(switchboard/closed)`` and Asterisk picks the caller's language
(CHANNEL(language)). An admin may put a recorded file over any of them.
"""

from __future__ import annotations

from collections.abc import Mapping

_WEEKDAYS = {
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}

_PHRASES: dict[str, dict[str, str]] = {
    "nl": {
        "closed": "Wij zijn op dit moment gesloten.",
        "open-again-on": "Wij zijn weer bereikbaar op",
        "at": "om",
        "hour": "uur",
        "you-are-number": "U bent nummer",
        "in-line": "in de wachtrij.",
        "more-than": "meer dan",
        "ahead-more-than": "Er zijn meer dan",
        "callers-ahead": "bellers voor u.",
        "expected-wait": "De verwachte wachttijd is ongeveer",
        "expected-wait-more-than": "De verwachte wachttijd is meer dan",
        "minute": "minuut",
        "minutes": "minuten",
        "callback-offer": "Druk op 1 om teruggebeld te worden. U houdt uw plaats.",
        "callback-enter-number": (
            "Toets het nummer waarop wij u kunnen terugbellen, gevolgd door een hekje."
        ),
        "callback-number-is": "Wij bellen u terug op",
        "callback-confirm": "Druk op 1 om te bevestigen, of op 2 voor een ander nummer.",
        "callback-number-invalid": "Dat nummer kunnen wij niet bellen.",
        "callback-number-refused": "Naar dat soort nummers bellen wij niet terug.",
        "callback-in-about": "Wij bellen u terug over ongeveer",
        "callback-from": "Wij bellen u terug vanaf",
        "callback-soon": "Wij bellen u zo snel mogelijk terug.",
        "callback-already": "U stond al op onze terugbellijst. U houdt uw plaats.",
        "callback-back-to-queue": "U wacht weer in de wachtrij.",
        "callback-thanks": "Dank u wel. Tot ziens.",
        "plus": "plus",
        "callback-for": "Terugbelverzoek.",
        "callback-waited": "Wachtte",
        "callback-attempt": "Poging",
        "callback-accept": (
            "U wordt teruggebeld zoals afgesproken. Druk op 1 om het gesprek aan te nemen."
        ),
        "callback-not-reached": "De beller is niet bereikt.",
        "goodbye": "Helaas kan niemand u nu te woord staan. Probeer het later nog eens. Tot ziens.",
    },
    "en": {
        "closed": "We are closed at the moment.",
        "open-again-on": "We are open again on",
        "at": "at",
        "hour": "o'clock",
        "you-are-number": "You are number",
        "in-line": "in line.",
        "more-than": "more than",
        "ahead-more-than": "There are more than",
        "callers-ahead": "callers ahead of you.",
        "expected-wait": "The expected waiting time is about",
        "expected-wait-more-than": "The expected waiting time is more than",
        "minute": "minute",
        "minutes": "minutes",
        "callback-offer": "Press 1 to be called back. You keep your place.",
        "callback-enter-number": (
            "Please enter the number we can call you back on, followed by the hash key."
        ),
        "callback-number-is": "We will call you back on",
        "callback-confirm": "Press 1 to confirm, or 2 for another number.",
        "callback-number-invalid": "We cannot call that number.",
        "callback-number-refused": "We do not call back numbers of that kind.",
        "callback-in-about": "We will call you back in about",
        "callback-from": "We will call you back from",
        "callback-soon": "We will call you back as soon as we can.",
        "callback-already": "You were on our callback list already. You keep your place.",
        "callback-back-to-queue": "You are waiting in the queue again.",
        "callback-thanks": "Thank you. Goodbye.",
        "plus": "plus",
        "callback-for": "Callback request.",
        "callback-waited": "Waited",
        "callback-attempt": "Attempt",
        "callback-accept": "This is the callback you asked for. Press 1 to take the call.",
        "callback-not-reached": "The caller was not reached.",
        "goodbye": "Sorry, nobody can take your call now. Please call again later. Goodbye.",
    },
}

#: The languages shipped.
LANGUAGES = tuple(_PHRASES)


def catalogue(language: str) -> Mapping[str, str]:
    """Every prompt of ``language``: name -> text (phrases, weekdays ``day-0`` for
    Monday to ``day-6``, numbers ``n-0`` to ``n-59``). Raises KeyError for a language
    not shipped."""
    texts = dict(_PHRASES[language])
    for day, name in enumerate(_WEEKDAYS[language]):
        texts[f"day-{day}"] = name
    for number in range(60):
        texts[f"n-{number}"] = str(number)
    return texts

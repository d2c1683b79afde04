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
    "Too many failed logins: try again in {seconds} s.": (
        "Te veel mislukte inlogpogingen: probeer het over {seconds} s opnieuw."
    ),
    "Too many logins at once: try again.": "Te veel inlogpogingen tegelijk: probeer het opnieuw.",
    # any request the input guard refuses
    "The request holds a character that is not text (NUL or a broken character).": (
        "Het verzoek bevat een teken dat geen tekst is (NUL of een beschadigd teken)."
    ),
    "The form is not UTF-8 text.": "Het formulier is geen UTF-8-tekst.",
    "The request's JSON is nested too deeply.": "De JSON van het verzoek is te diep genest.",
    "Send the form URL-encoded, not as multipart.": (
        "Verstuur het formulier URL-gecodeerd, niet als multipart."
    ),
    "cross-site request refused (Origin {origin})": (
        "verzoek van een andere site geweigerd (Origin {origin})"
    ),
    # any API answer (lower case: the pages put them after "Not saved:" and the like)
    "log in first": "log eerst in",
    "missing or wrong CSRF token": "het CSRF-token ontbreekt of klopt niet",
    "the body must be JSON": "de inhoud moet JSON zijn",
    "the body must be a JSON object": "de inhoud moet een JSON-object zijn",
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
    "in queue {queue}, position {position}": "in wachtrij {queue}, positie {position}",
    "ringing": "gaat over",
    "parked in {space}": "geparkeerd op {space}",
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
    # caller card and note: API answers
    "give ?number= (at most {limit} characters)": "geef ?number= (hoogstens {limit} tekens)",
    "give call_id and note (text, at most {limit} characters)": (
        "geef call_id en note (tekst, hoogstens {limit} tekens)"
    ),
    "no call {call_id} in the journal": "gesprek {call_id} staat niet in het journaal",
    # contacts
    "Find a contact": "Contact zoeken",
    "Name, company, e-mail or number": "Naam, bedrijf, e-mailadres of nummer",
    "An empty search lists the contacts changed last.": (
        "Zonder zoekterm ziet u de laatst gewijzigde contacten."
    ),
    "New contact": "Nieuw contact",
    "Name": "Naam",
    "Company": "Bedrijf",
    "Phone numbers": "Telefoonnummers",
    (
        "Verify a number once you have checked the caller's address with them:"
        " the caller card then trusts it for a year."
    ): (
        "Controleer een nummer zodra u het adres met de beller hebt nagelopen:"
        " de bellerkaart vertrouwt het nummer dan een jaar lang."
    ),
    "Add number": "Nummer toevoegen",
    "E-mail": "E-mail",
    "Address": "Adres",
    "Notes": "Notities",
    "VIP: answer first": "VIP: als eerste opnemen",
    "Preferred language": "Voorkeurstaal",
    "Dutch (Nederlands)": "Nederlands",
    "English": "Engels (English)",
    "Add contact": "Contact toevoegen",
    "Number": "Nummer",
    "Label": "Label",
    "mobile, office…": "mobiel, kantoor…",
    "Verify": "Controleren",
    "Remove": "Verwijderen",
    "the switchboard cannot be reached; try again": (
        "de server is niet bereikbaar; probeer het opnieuw"
    ),
    "Could not search: {error}": "Zoeken is mislukt: {error}",
    "No contact matches “{query}”.": "Geen contact gevonden voor “{query}”.",
    "No contacts yet.": "Nog geen contacten.",
    "{count} found.": "{count} gevonden.",
    "Changed last:": "Laatst gewijzigd:",
    "no number": "geen nummer",
    "never verified": "nooit gecontroleerd",
    "verified today": "vandaag gecontroleerd",
    "verified 1 day ago": "1 dag geleden gecontroleerd",
    "verified {days} days ago": "{days} dagen geleden gecontroleerd",
    "verified {days} days ago: verify again": (
        "{days} dagen geleden gecontroleerd: opnieuw controleren"
    ),
    "changed: save to keep it": "gewijzigd: sla het contact op om dit te bewaren",
    "Number {n}": "Nummer {n}",
    "Label of number {n}": "Label van nummer {n}",
    "Verify number {n}: I checked their address": (
        "Nummer {n} controleren: ik heb het adres nagevraagd"
    ),
    "Remove number {n}": "Nummer {n} verwijderen",
    "Edit contact: {name}": "Contact bewerken: {name}",
    "Save changes": "Wijzigingen opslaan",
    "Imported from “{source}”: importing that list again overwrites what it carries.": (
        "Geïmporteerd uit “{source}”: wordt die lijst opnieuw geïmporteerd,"
        " dan worden de gegevens daaruit overschreven."
    ),
    "Not saved: 1 thing needs correcting.": "Niet opgeslagen: 1 punt moet worden verbeterd.",
    "Not saved: {count} things need correcting.": (
        "Niet opgeslagen: {count} punten moeten worden verbeterd."
    ),
    "Saving…": "Opslaan…",
    "Contact added.": "Contact toegevoegd.",
    "Changes saved.": "Wijzigingen opgeslagen.",
    "Not saved: your session changed. Reload the page and try again.": (
        "Niet opgeslagen: uw sessie is gewijzigd. Laad de pagina opnieuw en probeer het nog eens."
    ),
    "Not saved: this contact no longer exists.": "Niet opgeslagen: dit contact bestaat niet meer.",
    "Not verified: {error}": "Niet gecontroleerd: {error}",
    "{number} verified: the caller card trusts it now.": (
        "{number} gecontroleerd: de bellerkaart vertrouwt dit nummer nu."
    ),
    "There is no contact {id}; you can add a new one.": (
        "Contact {id} bestaat niet; u kunt een nieuw contact toevoegen."
    ),
    "Could not open contact {id}: {error}": "Contact {id} kon niet worden geopend: {error}",
    # contacts: API answers
    "no contact {id}": "contact {id} bestaat niet",
    "the body must be JSON: a contact as an object": (
        "de inhoud moet JSON zijn: een contact als object"
    ),
    "the body must be a JSON object with the contact's fields": (
        "de inhoud moet een JSON-object zijn met de velden van het contact"
    ),
    "search for at most {limit} characters": "zoek op hoogstens {limit} tekens",
    "contact {id} does not have the number {number}": (
        "contact {id} heeft het nummer {number} niet"
    ),
    # contacts: the form check (switchboard/core/contact_form.py); {label} is one of the
    # field names above or "The label"
    "The label": "Het label",
    "{label} must be text.": "{label}: alleen tekst is mogelijk.",
    "{label} must fit on one line.": "{label} moet op één regel passen.",
    "{label} contains an invisible control character; retype it.": (
        "{label}: er staat een onzichtbaar stuurteken in; typ de tekst opnieuw."
    ),
    "{label} is too long: {count} characters, at most {limit}.": (
        "{label}: te lang, {count} tekens (maximaal {limit})."
    ),
    "{number} is too short for a phone number (an internal extension?).": (
        "{number} is te kort voor een telefoonnummer (een intern toestelnummer?)."
    ),
    "{number} is not a phone number.": "{number} is geen telefoonnummer.",
    (
        "{number} is not a phone number we can call: check the digits"
        " (a foreign number starts with + or 00)."
    ): (
        "{number} is geen telefoonnummer dat we kunnen bellen: controleer de cijfers"
        " (een buitenlands nummer begint met + of 00)."
    ),
    "Numbers must be a list.": "De nummers moeten een lijst zijn.",
    "Unknown field {name} in number {row}.": "Onbekend veld {name} bij nummer {row}.",
    "Number {row} must be text.": "Nummer {row} moet tekst zijn.",
    "{number} is the same number as number {row} ({display}).": (
        "{number} is hetzelfde nummer als nummer {row} ({display})."
    ),
    "At most {limit} numbers per contact ({count} given).": (
        "Maximaal {limit} nummers per contact ({count} opgegeven)."
    ),
    "Unknown field {name}.": "Onbekend veld {name}.",
    "Fill in the contact's name.": "Vul de naam van het contact in.",
    "{email} is not an e-mail address (like naam@bedrijf.nl).": (
        "{email} is geen e-mailadres (zoals naam@bedrijf.nl)."
    ),
    "VIP must be yes or no (true or false).": "VIP moet ja of nee zijn (true of false).",
    "Language must be Dutch (nl) or English (en), not {value}.": (
        "De taal moet Nederlands (nl) of Engels (en) zijn, niet {value}."
    ),
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
    "queue {queue}": "wachtrij {queue}",
    "queue {queue}: paused": "wachtrij {queue}: gepauzeerd",
    "Queue {queue}: {members}": "Wachtrij {queue}: {members}",
    "{name} ({state})": "{name} ({state})",
    "{name} paused: {reason}": "{name} gepauzeerd: {reason}",
    "{name} paused": "{name} gepauzeerd",
    "Last known state: the PBX is not connected": (
        "Laatst bekende stand: geen verbinding met de centrale"
    ),
    # presence: API answers (switchboard_ui/presence_api.py)
    "extension {extension} is not on the board": "toestel {extension} staat niet op het bord",
    "extension {extension} is on several PBXs: give pbx": (
        "toestel {extension} staat op meerdere centrales: geef pbx"
    ),
    "the PBX refused: {message}": "de centrale weigerde: {message}",
    "no reason given": "geen reden opgegeven",
    "an extension number, e.g. 201": "een toestelnummer, bijvoorbeeld 201",
    "at most {limit} digits": "hoogstens {limit} cijfers",
    "one of {choices}": "een van {choices}",
    "text": "tekst",
    "at most {limit} characters": "hoogstens {limit} tekens",
    "one line of plain text": "één regel gewone tekst",
    "a time like 13:30": "een tijd zoals 13:30",
    "a PBX name": "de naam van een centrale",
    # call control
    "Call control": "Gesprekken bedienen",
    "Answer": "Opnemen",
    "Take back": "Terugnemen",
    "Transfer": "Doorverbinden",
    "Ask first": "Eerst overleggen",
    "Park": "Parkeren",
    "Hang up": "Ophangen",
    "Click again to hang up": "Klik nogmaals om op te hangen",
    "Complete transfer": "Doorverbinden voltooien",
    "Cancel transfer": "Doorverbinden afbreken",
    "Transfer to": "Doorverbinden naar",
    "Key {key}": "Toets {key}",
    "Keys: A answer (the longest waiting call if none is selected), B transfer, T ask first,"
    " C complete the transfer, Esc cancel it, P park, R take back, H hang up. Drag a call"
    " onto a colleague to transfer it (with Shift: ask first).": (
        "Toetsen: A opnemen (de langst wachtende beller als er niets gekozen is),"
        " B doorverbinden, T eerst overleggen, C doorverbinden voltooien, Esc afbreken,"
        " P parkeren, R terugnemen, H ophangen. Sleep een gesprek naar een collega om door"
        " te verbinden (met Shift: eerst overleggen)."
    ),
    "Your phone: {extension}": "Uw toestel: {extension}",
    "Selected: {caller}": "Gekozen: {caller}",
    "Select a call: click it, or drag it onto a colleague to transfer it.": (
        "Kies een gesprek: klik erop, of sleep het naar een collega om door te verbinden."
    ),
    "Select a call first.": "Kies eerst een gesprek.",
    "Type the extension or number to transfer to.": (
        "Typ het toestel of nummer om naar door te verbinden."
    ),
    "Parked in {space}": "Geparkeerd op {space}",
    "{name} is answering this call.": "{name} neemt dit gesprek op.",
    "{name} is taking this call back.": "{name} neemt dit gesprek terug.",
    "{name} is transferring this call.": "{name} verbindt dit gesprek door.",
    "{name} is transferring this call after asking first.": (
        "{name} overlegt eerst en verbindt dit gesprek dan door."
    ),
    "{name} is parking this call.": "{name} parkeert dit gesprek.",
    "{name} is hanging up this call.": "{name} hangt dit gesprek op.",
    "{name} answered on {extension}.": "{name} heeft opgenomen op {extension}.",
    "{name} took the call back on {extension}.": (
        "{name} heeft het gesprek teruggenomen op {extension}."
    ),
    "{name} transferred the call to {target}.": "{name} heeft doorverbonden naar {target}.",
    "{name} transferred the call to {target} after asking.": (
        "{name} heeft na overleg doorverbonden naar {target}."
    ),
    "{name} is asking {target}; the caller is on hold.": (
        "{name} overlegt met {target}; de beller staat in de wacht."
    ),
    "{name} is back with the caller; not transferred.": (
        "{name} is terug bij de beller; niet doorverbonden."
    ),
    "{target} did not answer; the caller is back with {name}.": (
        "{target} nam niet op; de beller is terug bij {name}."
    ),
    "{name} parked the call in {space}.": "{name} heeft het gesprek geparkeerd op {space}.",
    "{name} hung up the call.": "{name} heeft het gesprek beëindigd.",
    "The caller hung up.": "De beller heeft opgehangen.",
    "Phone {extension} did not take the call ({status}); the caller waits again.": (
        "Toestel {extension} nam het gesprek niet aan ({status}); de beller wacht weer."
    ),
    "The PBX refused: {message}": "De centrale weigerde: {message}",
    "Not confirmed by the PBX within {seconds} s.": (
        "Niet bevestigd door de centrale binnen {seconds} s."
    ),
    "The connection to the PBX was lost; check the call.": (
        "De verbinding met de centrale viel weg; controleer het gesprek."
    ),
    # call control: refusals (switchboard_ui/calls_api.py)
    "This call has ended.": "Dit gesprek is beëindigd.",
    "This call is already answered.": "Dit gesprek is al opgenomen.",
    "This call is parked: take it back instead.": ("Dit gesprek is geparkeerd: neem het terug."),
    "This call is not parked.": "Dit gesprek is niet geparkeerd.",
    "You are not on this call: only an admin can act on a colleague's call.": (
        "U zit niet in dit gesprek: alleen een beheerder kan het gesprek van een collega bedienen."
    ),
    "Answer the call first: this is done from your own phone.": (
        "Neem het gesprek eerst op: dit gaat via uw eigen toestel."
    ),
    "You have no phone on the board: ask an admin to give you an extension.": (
        "U hebt geen toestel op het bord: vraag een beheerder om een toestelnummer."
    ),
    "Not an extension or phone number: {target}": "Geen toestel of telefoonnummer: {target}",
    "{target} is your own phone.": "{target} is uw eigen toestel.",
    "{target} cannot be dialled from the phones: check the number.": (
        "{target} is niet te bellen vanaf de toestellen: controleer het nummer."
    ),
    "There is no transfer of yours to finish on this call.": (
        "Er is geen doorverbinding van u om af te maken bij dit gesprek."
    ),
    "Not connected to the PBX: nothing was done.": (
        "Geen verbinding met de centrale: er is niets gedaan."
    ),
    "Give call_id (and for a transfer target and mode) in a JSON object.": (
        "Geef call_id (en bij doorverbinden target en mode) in een JSON-object."
    ),
    "A transfer is blind or attended.": "Doorverbinden is blind of attended.",
    # caller card (switchboard/core/caller_card.py)
    "Internal call.": "Intern gesprek.",
    "Number shared by {count} contacts (a switchboard): ask who is calling.": (
        "Nummer gedeeld door {count} contacten (een centrale): vraag wie er belt."
    ),
    "Unknown number.": "Onbekend nummer.",
    "Recognised by number, verified {age}.": "Herkend aan nummer, gecontroleerd {age}.",
    "Recognised by number only, never verified: verify the address before trusting it.": (
        "Alleen herkend aan nummer, nooit gecontroleerd: controleer het adres voordat u erop"
        " vertrouwt."
    ),
    "Recognised by number, last verified {age}: verify the address.": (
        "Herkend aan nummer, laatst gecontroleerd {age}: controleer het adres."
    ),
    "today": "vandaag",
    "1 day ago": "1 dag geleden",
    "{days} days ago": "{days} dagen geleden",
    "{months} months ago": "{months} maanden geleden",
    "at once": "meteen",
    "{minutes} min later": "{minutes} min later",
    "{hours} h later": "{hours} uur later",
    "{days} days later": "{days} dagen later",
    "outgoing call": "uitgaand gesprek",
    "outgoing call from {who}": "uitgaand gesprek van {who}",
    "in progress": "bezig",
    "answered": "aangenomen",
    "answered by {who}": "aangenomen door {who}",
    "another phone": "een ander toestel",
    "transferred to {target}": "doorverbonden naar {target}",
    "transferred by {who} to {target}": "door {who} doorverbonden naar {target}",
    "parked in {space} by {who}": "door {who} geparkeerd op {space}",
    "picked up by {who}": "opgepakt door {who}",
    "forwarded by {who} to {target}": "door {who} doorgeschakeld naar {target}",
    "transfer to {target} failed": "doorverbinden naar {target} mislukt",
    "then with {who}": "daarna met {who}",
    "busy": "in gesprek",
    "no answer": "geen antwoord",
    "phone unavailable": "toestel onbereikbaar",
    "nobody took the call after that": "daarna nam niemand het gesprek aan",
    "waited {time}": "{time} gewacht",
    "ringing the operator": "belt de telefonist",
    "about {minutes} min": "ongeveer {minutes} min",
    "more than {minutes} min": "meer dan {minutes} min",
    "Opening hours": "Openingstijden",
    "Schedule": "Rooster",
    "staff meeting": "teamoverleg",
    "Until": "Tot",
    "Close now": "Nu sluiten",
    "Open now": "Nu openen",
    "Follow the schedule": "Volg het rooster",
    "override": "handmatig",
    "no opening hours called {name}": "geen openingstijden met de naam {name}",
    "{name} follows its schedule already": "{name} volgt zijn rooster al",
    "ringing the on-call line": "belt de storingsdienst",
    "we are closed": "we zijn gesloten",
    "Who answers a queue": "Wie een wachtrij beantwoordt",
    "Queue": "Wachtrij",
    "Reason": "Reden",
    "Join": "Aanmelden",
    "Pause": "Pauzeren",
    "Resume": "Hervatten",
    "Leave": "Afmelden",
    "Saved; the PBX gets it when it is back.": (
        "Opgeslagen; de centrale krijgt het zodra ze terug is."
    ),
    "no PBX {pbx} keeps queue members": "geen centrale {pbx} houdt wachtrijleden bij",
    "several PBXs keep queue members: give pbx": (
        "meerdere centrales houden wachtrijleden bij: geef pbx"
    ),
    "waiting in the back office": "wacht bij de backoffice",
    "leaving a voicemail": "spreekt een bericht in",
    "asking to be called back": "vraagt om teruggebeld te worden",
    "that callback is no longer in line": "dat terugbelverzoek staat niet meer in de rij",
    "{name} is calling this back.": "{name} belt dit verzoek terug.",
    "Extension {extension} is calling this back.": "Toestel {extension} belt dit verzoek terug.",
    "Callbacks": "Terugbelverzoeken",
    "Schedule a callback": "Terugbelverzoek maken",
    "Cancel": "Annuleren",
    "Call back now": "Nu terugbellen",
    "Later": "Later",
    "Not before": "Niet voor",
    "Call me back": "Bel mij terug",
    "Leave your number and we will call you back, in the order you asked.": (
        "Laat uw nummer achter, dan bellen wij u terug, op volgorde van aanvraag."
    ),
    "Phone number": "Telefoonnummer",
    "Subject": "Onderwerp",
    "Not before (optional)": "Niet voor (optioneel)",
    "Thank you": "Dank u wel",
    "We will call you back as soon as it is your turn.": (
        "Wij bellen u terug zodra u aan de beurt bent."
    ),
    "Too many requests; please call us or try again later.": (
        "Te veel verzoeken; bel ons of probeer het later nog eens."
    ),
    "we are closed then; please choose another time": (
        "dan zijn wij gesloten; kies een ander tijdstip"
    ),
    "the form has expired; please fill it in again": (
        "het formulier is verlopen; vul het opnieuw in"
    ),
    "that was too quick; please try again": "dat ging te snel; probeer het nog eens",
    "the form holds characters it cannot hold": (
        "het formulier bevat tekens die het niet kan bewaren"
    ),
    "at most 120 characters": "hoogstens 120 tekens",
    "at most 200 characters": "hoogstens 200 tekens",
    "the number to call you back on": "het nummer waarop wij u terugbellen",
    "a time like 14:00": "een tijd zoals 14:00",
    "not a phone number we can call": "geen telefoonnummer dat wij kunnen bellen",
    "a premium-rate number": "een betaalnummer",
    "a number the site does not call": "een nummer dat wij niet bellen",
    "an international number": "een buitenlands nummer",
    "place {place}": "plek {place}",
    "attempt {n}": "poging {n}",
    "by {who}": "door {who}",
    "waiting": "wacht",
    "dialling": "wordt gebeld",
    "connected": "in gesprek",
    "done": "teruggebeld",
    "not reached": "niet bereikt",
    "cancelled": "geannuleerd",
    "expired": "verlopen",
    "requested": "aangevraagd",
    "hearing the goodbye": "hoort het afscheid",
    "no answer in time": "niet op tijd aangenomen",
    "no receptionist available": "geen receptionist beschikbaar",
    "the queue was full": "de wachtrij was vol",
    "in the back office": "in de backoffice",
    "left a voicemail": "sprak een bericht in",
    "callback asked for on the website": "terugbelverzoek via de website",
    "callback scheduled on the board": "terugbelverzoek gemaakt op het bord",
    "callback asked for in the queue": "terugbelverzoek vanuit de wachtrij",
    "reached by {who} at attempt {n}": "bereikt door {who} bij poging {n}",
    "reached at attempt {n}": "bereikt bij poging {n}",
    "answered when they called again": "opgenomen toen de beller opnieuw belde",
    "not reached after {n} attempts": "niet bereikt na {n} pogingen",
    "waiting, {n} attempts so far": "wacht, {n} pogingen tot nu toe",
    "waiting in line": "wacht in de rij",
    "nobody could answer: heard the goodbye": "niemand kon opnemen: hoorde het afscheid",
    "the caller hung up while parked": "de beller hing op tijdens het parkeren",
    "abandoned after {time} in the queue": "opgehangen na {time} in de wachtrij",
    "abandoned after {time} while it rang": "opgehangen na {time} overgaan",
    "missed": "gemist",
    "missed (busy)": "gemist (in gesprek)",
    "missed (no answer)": "gemist (geen antwoord)",
    "missed (phone unavailable)": "gemist (toestel onbereikbaar)",
    "called back by {who} {when}": "teruggebeld door {who} {when}",
    "us": "ons",
    # the missed-call worklist (issue 15)
    "Missed callers": "Gemiste bellers",
    "1 call": "1 oproep",
    "{n} calls": "{n} oproepen",
    "waiting {time}": "wacht {time}",
    "Call back": "Terugbellen",
    "Claim": "Oppakken",
    "Release": "Vrijgeven",
    "Outcome": "Uitkomst",
    "Record outcome": "Uitkomst vastleggen",
    "You are calling back": "Jij belt terug",
    "{name} is calling back": "{name} belt terug",
    "{name} is calling back.": "{name} belt terug.",
    "escalated": "geëscaleerd",
    "hung up": "opgehangen",
    "not answered": "niet beantwoord",
    "callback not reached": "terugbelverzoek niet bereikt",
    "hung up within {s} s": "binnen {s} s opgehangen",
    "callback not reached after {n} attempts": "terugbelverzoek na {n} pogingen niet bereikt",
    "operator": "telefonist",
    "back office": "backoffice",
    "voicemail": "voicemail",
    "on-call line": "storingsdienst",
    "goodbye": "afscheidsbericht",
    "reached and helped": "bereikt en geholpen",
    "reached, passed to a colleague": "bereikt, doorgegeven aan een collega",
    "voicemail left": "voicemail ingesproken",
    "wrong number": "verkeerd nummer",
    "seen": "gezien",
    "called back": "teruggebeld",
    "a callback reached them": "bereikt met een terugbelverzoek",
    "resolved {when}: {how}": "afgehandeld {when}: {how}",
    "that item is no longer open": "dit item staat niet meer open",
    "a withheld number cannot be called back": "een afgeschermd nummer kan niet worden teruggebeld",
    "claim the item first": "pak het item eerst op",
    "no PBX is connected": "er is geen telefooncentrale verbonden",
    "called {n} times today": "vandaag {n} keer gebeld",
    "missed once": "één keer gemist",
    "missed twice": "twee keer gemist",
    "missed {n} times": "{n} keer gemist",
    # today's figures and the report (issue 15)
    "Today": "Vandaag",
    "Report": "Rapport",
    "Answered": "Beantwoord",
    "Abandoned": "Opgehangen",
    "Sent on": "Doorgestuurd",
    "Missed, not yet reached": "Gemist, nog niet bereikt",
    "Waits overrun": "Wachttijd overschreden",
    "Answered within {s} s: {level} (target {target})": (
        "Binnen {s} s beantwoord: {level} (doel {target})"
    ),
    "on target": "op doel",
    "just under target": "net onder het doel",
    "under target": "onder het doel",
    "{answered} of {counted}": "{answered} van {counted}",
    "{n} within {s} s": "{n} binnen {s} s",
    # why a report cannot be made (switchboard.core.report.ReportError)
    "dates from 1970 to 2200": "datums van 1970 tot 2200",
    "the end date must come after the start date": "de einddatum moet na de begindatum liggen",
    "more than 3000 intervals: choose a longer interval": (
        "meer dan 3000 intervallen: kies een langer interval"
    ),
    "{reached} of {requested} reached · median {p50}, 90% {p90}": (
        "{reached} van {requested} bereikt · mediaan {p50}, 90% {p90}"
    ),
    "{n} · oldest {age}": "{n} · oudste {age}",
    "{overrun} of {announced}": "{overrun} van {announced}",
    "Service level report": "Rapport bereikbaarheid",
    "From": "Van",
    "To (not including)": "Tot (niet inbegrepen)",
    "Interval": "Interval",
    "15 minutes": "15 minuten",
    "hour": "uur",
    "day": "dag",
    "week": "week",
    "Show": "Tonen",
    "Download CSV": "CSV downloaden",
    "all queues": "alle wachtrijen",
    "Loading…": "Laden…",
    "Abandon rate": "Ophangpercentage",
    "Abandon rate: {pct} ({n} of {counted} calls)": (
        "Ophangpercentage: {pct} ({n} van {counted} oproepen)"
    ),
    "Abandon rate: {pct} ({n} of {counted} calls; {short} who hung up within {s} s not counted)": (
        "Ophangpercentage: {pct} ({n} van {counted} oproepen; {short} die binnen {s} s"
        " ophingen niet meegeteld)"
    ),
    "Answered later": "Later beantwoord",
    "Answered within {s} s": "Binnen {s} s beantwoord",
    "Answered within {s} s: {pct} (target {target})": (
        "Binnen {s} s beantwoord: {pct} (doel {target})"
    ),
    "Arrivals": "Binnengekomen",
    "Arrivals and answered calls per interval": (
        "Binnengekomen en beantwoorde oproepen per interval"
    ),
    "Callbacks reached": "Terugbellen bereikt",
    "Callbacks reached: {reached} of {requested}": (
        "Terugbelverzoeken bereikt: {reached} van {requested}"
    ),
    "Callbacks requested": "Terugbellen gevraagd",
    "Calls: {arrivals}, answered: {answered}": "Oproepen: {arrivals}, beantwoord: {answered}",
    "How long answered callers waited": "Hoe lang beantwoorde bellers wachtten",
    "Hung up within {s} s": "Binnen {s} s opgehangen",
    "Median (p50)": "Mediaan (p50)",
    "Missed calls open on the worklist: {n}": "Gemiste oproepen open op de werklijst: {n}",
    "Missed calls open on the worklist: {n}, the oldest for {age}": (
        "Gemiste oproepen open op de werklijst: {n}, de oudste al {age}"
    ),
    "No intervals in this period.": "Geen intervallen in deze periode.",
    "Per interval": "Per interval",
    "Service level": "Bereikbaarheid",
    "Service level per interval, against the target": "Bereikbaarheid per interval, tegen het doel",
    "Start": "Begin",
    "Target": "Doel",
    "The charts could not be loaded: reload the page.": (
        "De grafieken konden niet worden geladen: laad de pagina opnieuw."
    ),
    "The report could not be made (HTTP {status}).": (
        "Het rapport kon niet worden gemaakt (HTTP {status})."
    ),
    "The report could not be shown: {reason}": "Het rapport kon niet worden getoond: {reason}",
    "The server could not be reached: try again.": (
        "De server is niet bereikbaar: probeer het opnieuw."
    ),
    "The server's answer is not a report.": "Het antwoord van de server is geen rapport.",
    "Time to reach a callback per interval (minutes:seconds)": (
        "Tijd tot een terugbelverzoek bereikt is, per interval (minuten:seconden)"
    ),
    "Time to reach a callback: median {p50}, p90 {p90}": (
        "Tijd tot een terugbelverzoek bereikt is: mediaan {p50}, p90 {p90}"
    ),
    "Time to reach p50": "Tijd tot bereikt p50",
    "Time to reach p90": "Tijd tot bereikt p90",
    "Times are in {timezone}.": "Tijden in {timezone}.",
    "Told a wait": "Wachttijd genoemd",
    "Total": "Totaal",
    "Totals": "Totalen",
    "Wait": "Wachttijd",
    "Waited longer than told": "Langer gewacht dan genoemd",
    "Within {s} s": "Binnen {s} s",
    "p90": "p90",
    "{a}–{b} min": "{a}–{b} min",  # noqa: RUF001
    "{a}–{b} s": "{a}–{b} s",  # noqa: RUF001
    "{d} d {h} h": "{d} d {h} u",
    "{h} h {m} min": "{h} u {m} min",
    "{m} min": "{m} min",
    "{s} s": "{s} s",
    "≥{a} min": "≥{a} min",
    "≥{a} s": "≥{a} s",
    "{start} to {end} (not including), {queues}": "{start} tot {end} (niet inbegrepen), {queues}",
}

CATALOGUES: Mapping[str, Mapping[str, str]] = {"en": {}, "nl": DUTCH}


def marked(text: str) -> str:
    """``text`` unchanged: English to translate later, once a request's language is known.

    Imported as ``t`` (``from switchboard_ui.i18n import marked as t``), so that
    tests/unit/test_i18n.py finds the text and checks it has Dutch.
    """
    return text


def translate(language: str, text: str, /, **values: str) -> str:
    """``text`` in ``language`` (itself when there is no translation), then filled in."""
    translated = CATALOGUES.get(language, {}).get(text, text)
    return translated.format(**values) if values else translated


def translator(language: str) -> Callable[..., str]:
    """:func:`translate` with the language fixed: the ``t`` that templates and the core get."""

    def t(text: str, /, **values: str) -> str:
        return translate(language, text, **values)

    return t


def request_translator(request: web.Request) -> Callable[..., str]:
    """The :func:`translator` for the language of ``request`` (:func:`language_of`)."""
    return translator(language_of(request))


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

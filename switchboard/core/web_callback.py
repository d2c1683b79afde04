"""A callback asked for on the company's website (issue 14), without a third party. Pure.

The public page (switchboard_ui.public_callback) hands out a form token
(:func:`issue_token`): the moment it was issued and a random part, signed with the
service's secret. It is sent back twice, in the form and in a SameSite=Strict cookie,
so a page elsewhere cannot post for a visitor (it can read neither). A form sent back
sooner than :data:`MIN_FILL_S` after it was issued, later than :data:`MAX_AGE_S`, or
with the hidden ``website`` field filled in (which people never see, and form-filling
bots do) is refused: the bot checks that need no outside service.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

#: A person needs a few seconds to type a name and a number; a script does not.
MIN_FILL_S = 3.0
#: A form older than this was left open (or replayed).
MAX_AGE_S = 3600.0
MAX_NAME = 120
MAX_SUBJECT = 200
_TOKEN = re.compile(r"(\d{1,12})\.([0-9a-f]{32})\.([0-9a-f]{64})")
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


class WebCallbackError(ValueError):
    """A refused form: ``field`` (or "" for the whole form) and why, in English."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _sign(secret: bytes, payload: str) -> str:
    return hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()


def issue_token(secret: bytes, now: float) -> str:
    payload = f"{int(now)}.{secrets.token_hex(16)}"
    return f"{payload}.{_sign(secret, payload)}"


def check_token(secret: bytes, form_token: str, cookie_token: str, now: float) -> None:
    """Raise WebCallbackError unless ``form_token`` is ours, the same as the cookie's,
    and was issued between :data:`MAX_AGE_S` and :data:`MIN_FILL_S` ago."""
    match = _TOKEN.fullmatch(form_token)
    if match is None or not hmac.compare_digest(form_token, cookie_token):
        raise WebCallbackError("", "the form has expired; please fill it in again")
    issued, nonce, signature = match.groups()
    if not hmac.compare_digest(signature, _sign(secret, f"{issued}.{nonce}")):
        raise WebCallbackError("", "the form has expired; please fill it in again")
    age = now - int(issued)
    if age > MAX_AGE_S or age < -5:
        raise WebCallbackError("", "the form has expired; please fill it in again")
    if age < MIN_FILL_S:
        raise WebCallbackError("", "that was too quick; please try again")


@dataclass(frozen=True)
class WebRequest:
    """A form as sent: the caller's words, not yet checked against the number policy."""

    name: str
    number: str
    subject: str
    after: time | None  # "call me after 14:00" (today, else tomorrow); None: any time


def parse_form(form: Mapping[str, str]) -> WebRequest:
    """The fields of the public form; WebCallbackError for the first one refused."""
    if form.get("website", ""):
        raise WebCallbackError("", "that was too quick; please try again")
    name = form.get("name", "").strip()
    number = form.get("number", "").strip()
    subject = form.get("subject", "").strip()
    after_text = form.get("after", "").strip()
    if len(name) > MAX_NAME:
        raise WebCallbackError("name", "at most 120 characters")
    if len(subject) > MAX_SUBJECT:
        raise WebCallbackError("subject", "at most 200 characters")
    if not number:
        raise WebCallbackError("number", "the number to call you back on")
    if any(ord(c) < 32 for c in name + number + subject):
        raise WebCallbackError("", "the form holds characters it cannot hold")
    after = None
    if after_text:
        if not _TIME.fullmatch(after_text):
            raise WebCallbackError("after", "a time like 14:00")
        after = time(int(after_text[:2]), int(after_text[3:]))
    return WebRequest(name, number, subject, after)


def first_moment_after(after: time | None, now: datetime, zone: ZoneInfo) -> datetime:
    """The next moment at ``after`` in ``zone`` (today, or tomorrow when passed); ``now``
    for None."""
    if after is None:
        return now
    local = now.astimezone(zone)
    moment = datetime.combine(local.date(), after, zone)
    if moment <= local:
        moment = datetime.combine(local.date() + timedelta(days=1), after, zone)
    return moment

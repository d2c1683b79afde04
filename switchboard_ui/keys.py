"""The typed keys under which :func:`switchboard_ui.app.create_app` stores what the
handlers share: the database, the hub, the settings and the board's own services.

Apart from the factory so that every route module can read them without importing the
factory (which imports the route modules).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import asyncpg
from aiohttp import web

from switchboard.board.hub import BoardHub
from switchboard.board.pbxs import PBXs
from switchboard.core.opening import HoursBook
from switchboard.core.service_level import Thresholds
from switchboard.core.worklist import Escalation
from switchboard.store.users import PasswordChecker
from switchboard_ui.login_throttle import LoginThrottle
from switchboard_ui.session_sockets import SessionSockets

POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool", asyncpg.Pool)
HUB: web.AppKey[BoardHub] = web.AppKey("hub", BoardHub)
#: The PBXs this process bridges, by name: what call control and presence act on.
PBXS: web.AppKey[PBXs] = web.AppKey("pbxs", PBXs)
#: Whether the session cookie is sent only over HTTPS.
SECURE_COOKIES: web.AppKey[bool] = web.AppKey("secure_cookies", bool)
SOCKETS: web.AppKey[SessionSockets] = web.AppKey("sockets", SessionSockets)
#: The region numbers are read in when they carry no country code ("NL").
REGION: web.AppKey[str] = web.AppKey("region", str)
#: The origin browsers see ("https://board.example"); empty: the request's own.
PUBLIC_ORIGIN: web.AppKey[str] = web.AppKey("public_origin", str)
LOGIN_THROTTLE: web.AppKey[LoginThrottle] = web.AppKey("login_throttle", LoginThrottle)
PASSWORDS: web.AppKey[PasswordChecker] = web.AppKey("passwords", PasswordChecker)
#: The opening hours the board shows and overrides ([hours.NAME] in the config).
HOURS: web.AppKey[HoursBook] = web.AppKey("hours", HoursBook)
#: The site's time zone: the board's times and the report's days ([site] timezone).
TIMEZONE: web.AppKey[ZoneInfo] = web.AppKey("timezone", ZoneInfo)
#: What the service level counts as answered in time ([service_level]).
THRESHOLDS: web.AppKey[Thresholds] = web.AppKey("thresholds", Thresholds)
#: When a worklist item escalates ([worklist]).
ESCALATION: web.AppKey[Escalation] = web.AppKey("escalation", Escalation)

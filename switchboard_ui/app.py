"""The receptionists' board as an aiohttp application: :func:`create_app` puts it together.

What each route does lives in its own module (``pages``, ``board_socket``, ``health``,
``caller_card_api``, ``contacts_api``, ``calls_api``, ``presence_api``); what they share
is stored under the keys of :mod:`switchboard_ui.keys`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import asyncpg
import jinja2
from aiohttp import web

from switchboard.board.hub import BoardHub
from switchboard.board.pbxs import PBXs
from switchboard.core.opening import Hours, HoursBook
from switchboard.core.service_level import Thresholds
from switchboard.core.worklist import Escalation
from switchboard.store.users import PasswordChecker
from switchboard_ui import i18n
from switchboard_ui.board_socket import add_board_socket_routes
from switchboard_ui.callbacks_api import add_callback_routes
from switchboard_ui.caller_card_api import add_caller_card_routes
from switchboard_ui.calls_api import add_call_routes
from switchboard_ui.contacts_api import add_contact_routes
from switchboard_ui.health import add_health_routes
from switchboard_ui.hours_api import add_hours_routes
from switchboard_ui.keys import (
    ESCALATION,
    HOURS,
    HUB,
    LOGIN_THROTTLE,
    PASSWORDS,
    PBXS,
    POOL,
    PUBLIC_ORIGIN,
    REGION,
    SECURE_COOKIES,
    SOCKETS,
    THRESHOLDS,
    TIMEZONE,
)
from switchboard_ui.login_throttle import LoginThrottle
from switchboard_ui.pages import add_page_routes
from switchboard_ui.presence_api import add_presence_routes
from switchboard_ui.public_callback import add_public_callback_routes
from switchboard_ui.queues_api import add_queue_routes
from switchboard_ui.report_api import add_report_routes
from switchboard_ui.request_guard import input_guard, same_origin_only
from switchboard_ui.response_headers import add_security_headers
from switchboard_ui.session_sockets import SessionSockets
from switchboard_ui.worklist_api import add_worklist_routes

HERE = Path(__file__).parent
#: Larger than any form or JSON body the board sends (a contact with its numbers).
MAX_BODY_BYTES = 64 * 1024


def create_app(
    pool: asyncpg.Pool,
    hub: BoardHub,
    *,
    pbxs: PBXs | None = None,
    secure_cookies: bool = False,
    region: str = "NL",
    public_origin: str = "",
    login_throttle: LoginThrottle | None = None,
    hours: Sequence[Hours] | HoursBook = (),
    timezone: ZoneInfo | None = None,
    thresholds: Thresholds | None = None,
    escalation: Escalation | None = None,
) -> web.Application:
    """The board. ``public_origin`` is the origin browsers see (``https://board.example``)
    when a proxy sits in front; empty: the request's own scheme and host."""
    app = web.Application(
        client_max_size=MAX_BODY_BYTES, middlewares=[same_origin_only, input_guard]
    )
    app[POOL] = pool
    app[HUB] = hub
    app[PBXS] = pbxs if pbxs is not None else PBXs()  # none: no call control, no presence
    app[SECURE_COOKIES] = secure_cookies
    app[SOCKETS] = SessionSockets()
    app[REGION] = region
    app[PUBLIC_ORIGIN] = public_origin
    app[LOGIN_THROTTLE] = login_throttle or LoginThrottle()
    app[PASSWORDS] = PasswordChecker()
    app[HOURS] = hours if isinstance(hours, HoursBook) else HoursBook(hours)
    app[TIMEZONE] = timezone or ZoneInfo("Europe/Amsterdam")
    app[THRESHOLDS] = thresholds or Thresholds()
    app[ESCALATION] = escalation or Escalation()
    app.on_response_prepare.append(add_security_headers)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        context_processors=[i18n.template_context],
    )
    add_page_routes(app)
    add_board_socket_routes(app)
    add_health_routes(app)
    add_caller_card_routes(app)
    add_contact_routes(app)
    add_call_routes(app)
    add_presence_routes(app)
    add_queue_routes(app)
    add_hours_routes(app)
    add_callback_routes(app)
    add_public_callback_routes(app)
    add_worklist_routes(app)
    add_report_routes(app)
    app.router.add_static("/static", HERE / "static")
    return app

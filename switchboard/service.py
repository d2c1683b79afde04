"""`switchboard run`: FastAGI, AMI bridge and board in one asyncio process.

Each part can be switched off in the config, so they can also run as separate services.
Shutdown (SIGTERM/SIGINT) stops accepting new work first, lets what was accepted finish,
then closes the database last.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiohttp import web

from ami_bridge.bridge import AMIBridge
from ami_bridge.journal import CallJournal
from ami_bridge.presence_journal import PresenceJournal
from pbx_agi.callback_route import CallbackRoute
from pbx_agi.caller_directory import CallerDirectory, TuneCollectorForDirectory
from pbx_agi.fastagi.peers import LOOPBACK_PEERS, IPNetwork
from pbx_agi.fastagi.server import FastAGIServer
from pbx_agi.hours_route import HoursRoute
from pbx_agi.recognise_route import RecogniseRoute
from switchboard.board.hub import BoardHub
from switchboard.board.pbxs import PBXs
from switchboard.calendar_feed import CalendarFeed
from switchboard.config import Config, ConfigError, PBXConfig
from switchboard.core import agi_routes
from switchboard.core.callbacks import NumberPolicy
from switchboard.core.opening import HoursBook
from switchboard.store.database import Database, open_database
from switchboard_ui.app import create_app

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 5.0


@dataclass
class Services:
    """Everything `run` started, so that tests and the demo can reach the parts."""

    database: Database
    hub: BoardHub
    pbxs: PBXs
    journal: CallJournal
    presence_journal: PresenceJournal
    bridges: list[AMIBridge] = field(default_factory=list)
    fastagi: FastAGIServer | None = None
    directory: CallerDirectory | None = None
    web_runner: web.AppRunner | None = None
    board_url: str = ""
    # The opening hours as they are now, and the calendars that feed them.
    hours: HoursBook = field(default_factory=lambda: HoursBook(()))
    calendars: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self) -> None:
        for task in self.calendars:
            task.cancel()
        await asyncio.gather(*self.calendars, return_exceptions=True)
        if self.fastagi is not None:
            await self.fastagi.close(SHUTDOWN_GRACE_S)
        if self.directory is not None:
            await self.directory.close()
        if self.web_runner is not None:
            await self.web_runner.cleanup()
        for bridge in self.bridges:
            await bridge.close()
        await self.journal.close(SHUTDOWN_GRACE_S)
        await self.presence_journal.close(SHUTDOWN_GRACE_S)
        await self.database.close()


async def start_services(config: Config) -> Services:
    # First: a PBX host name that does not resolve stops the start before anything runs.
    fastagi_peers = await fastagi_allowed_peers(config) if config.services.fastagi else ()
    database = await open_database(config.database)
    hub = BoardHub()
    pbxs = PBXs()  # each bridge registers itself; the board acts on them through it
    # The figures and the worklist change once an ended call is written: the boards ask
    # for them again then.
    journal = CallJournal(
        database.pool,
        region=config.default_region,
        on_ended=lambda _call: hub.publish({"type": "journal"}),
    )
    journal.start()
    presence_journal = PresenceJournal(database.pool)
    presence_journal.start()
    feeds = {
        hours.name: CalendarFeed(
            hours.schedule, cache_file=config.database.data_dir / f"hours-{hours.name}.ics"
        )
        for hours in config.hours
        if hours.schedule.calendar is not None
    }
    services = Services(
        database=database,
        hub=hub,
        pbxs=pbxs,
        journal=journal,
        presence_journal=presence_journal,
        hours=HoursBook(config.hours, feeds),
    )
    for name, feed in feeds.items():
        follow = feed.keep_fresh(lambda: datetime.now(UTC))
        services.calendars.append(asyncio.create_task(follow, name=f"calendar-{name}"))
    # The opening hours, for the calls (FastAGI) and for the callbacks (never dialled
    # while closed).
    hours_route = HoursRoute.from_pool(
        services.hours, database.pool, budget_s=config.fastagi.budget_ms / 1000
    )
    try:
        if config.services.ami:
            for pbx in config.pbx:
                bridge = AMIBridge(
                    pbx,
                    hub,
                    journal,
                    pbxs=pbxs,
                    presence_journal=services.presence_journal,
                    pool=database.pool,
                    queues=config.queues,
                    callbacks=config.callbacks,
                    region=config.default_region,
                    is_open=hours_route.is_open,
                )
                await bridge.start()
                services.bridges.append(bridge)
        if config.services.fastagi:
            services.directory = CallerDirectory(
                database.pool, collector=TuneCollectorForDirectory()
            )
            await services.directory.start()
            services.fastagi = FastAGIServer(allowed_peers=fastagi_peers)
            services.fastagi.add_route(
                agi_routes.RECOGNIZE,
                RecogniseRoute.from_directory(
                    services.directory,
                    database.pool,
                    region=config.default_region,
                    budget_s=config.fastagi.budget_ms / 1000,
                    repeat_window=timedelta(hours=config.fastagi.repeat_window_hours),
                ),
            )
            services.fastagi.add_route(agi_routes.HOURS, hours_route)
            # Callbacks asked for in the queue; the first PBX's bridge (in this process)
            # knows the waits, so the caller hears when they will be called back.
            first = services.bridges[0] if services.bridges else None
            services.fastagi.add_route(
                agi_routes.CALLBACK,
                CallbackRoute(
                    database.pool,
                    pbx=config.pbx[0].name if config.pbx else "main",
                    policy=NumberPolicy(
                        region=config.default_region,
                        international=config.callbacks.international,
                        blocked=config.callbacks.blocked_prefixes,
                    ),
                    hours=hours_route,
                    minutes=first.callback_minutes if first is not None else None,
                    callers_ahead=first.callers_ahead if first is not None else None,
                ),
            )
            await services.fastagi.start(config.fastagi.host, config.fastagi.port)
            log.info("FastAGI listening on %s:%d", config.fastagi.host, services.fastagi.port)
        if config.services.web:
            app = create_app(
                database.pool,
                hub,
                pbxs=pbxs,
                secure_cookies=config.web.secure_cookies,
                region=config.default_region,
                public_origin=config.web.public_origin,
                hours=services.hours,
                timezone=config.timezone,
                thresholds=config.service_level,
                escalation=config.worklist,
            )
            services.web_runner = web.AppRunner(app)
            await services.web_runner.setup()
            site = web.TCPSite(services.web_runner, config.web.host, config.web.port)
            await site.start()
            port = services.web_runner.addresses[0][1]
            services.board_url = f"http://{config.web.host}:{port}/board"
            log.info("board at %s", services.board_url)
    except BaseException:
        await services.close()
        raise
    return services


#: Resolves a host name as ``loop.getaddrinfo(host, None, type=SOCK_STREAM)`` does.
Resolver = Callable[[str], Awaitable[Sequence[tuple[object, ...]]]]


async def fastagi_allowed_peers(
    config: Config, resolve: Resolver | None = None
) -> tuple[IPNetwork, ...]:
    """The networks FastAGI clients may connect from: ``fastagi.allowed_peers``, or when
    that is empty this host and the addresses of every ``[pbx.NAME] host``.

    Host names are resolved once, here, at start (``resolve`` defaults to the running
    loop's getaddrinfo): one that does not resolve is a ConfigError naming its key.
    """
    if config.fastagi.allowed_peers:
        return config.fastagi.allowed_peers
    if resolve is None:
        loop = asyncio.get_running_loop()

        async def resolve(host: str) -> Sequence[tuple[object, ...]]:
            return await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)

    peers: list[IPNetwork] = list(LOOPBACK_PEERS)
    problems: list[str] = []
    for pbx in config.pbx:
        try:
            peers += _host_networks(await resolve(pbx.host))
        except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
            problems.append(_unresolved(pbx, exc))
    if problems:
        raise ConfigError(problems)
    return tuple(dict.fromkeys(peers))


def _host_networks(addresses: Sequence[tuple[object, ...]]) -> list[IPNetwork]:
    """The address of each getaddrinfo entry, as a one-address network."""
    networks: list[IPNetwork] = []
    for *_, sockaddr in addresses:
        if isinstance(sockaddr, tuple) and sockaddr and isinstance(sockaddr[0], str):
            # "fe80::1%eth0": the zone names the link, not the address.
            networks.append(ipaddress.ip_network(sockaddr[0].partition("%")[0]))
    if not networks:
        raise OSError("no IP address")
    return networks


def _unresolved(pbx: PBXConfig, exc: BaseException) -> str:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return (
        f"pbx.{pbx.name}.host: {pbx.host!r} does not resolve ({reason}); FastAGI accepts "
        "calls from the PBX hosts by default, or set fastagi.allowed_peers"
    )


async def run(
    config: Config, *, on_ready: Callable[[Services], Awaitable[None]] | None = None
) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    services = await start_services(config)
    try:
        if on_ready is not None:
            await on_ready(services)
        await stop.wait()
        log.info("shutting down")
    finally:
        await services.close()

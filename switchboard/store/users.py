"""Board users and their sessions: argon2 password hashes, opaque session tokens, CSRF tokens.

This module owns the SQL of ``board_users`` and ``board_sessions``; the web board
(``switchboard_ui``) and the ``switchboard user add`` command both come here.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

SESSION_LIFETIME = timedelta(hours=12)  # a working day, then log in again
#: How often open boards are checked against their sessions (ended elsewhere, expired).
SESSION_CHECK_S = 5.0
ROLES = ("receptionist", "admin")
USERNAME = re.compile(r"[a-z0-9._-]{2,64}")
MIN_PASSWORD = 8
EXTENSION = re.compile(r"[0-9]{2,10}")  # the user's own phone (migration 0005)
_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps timing the same: a hash, made
# with the hasher's defaults, of a random password nobody kept.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$prraIfcCMS0soq4KN0lZoQ"
    "$F30F63GZeG6StQ3ItAylld/lxbQkK4H1sdK52dzv5Z8"
)


class UserError(ValueError):
    """A user could not be created as asked."""


class PasswordChecksBusy(RuntimeError):
    """More logins are waiting for a password check than :class:`PasswordChecker` queues."""


class PasswordChecker:
    """argon2 verification in worker threads, at most ``parallel`` at once.

    A check costs tens of milliseconds of CPU on purpose; on the event loop it would
    delay every caller's recognition and every board (argon2-cffi releases the GIL
    while hashing, so a thread really runs beside the loop). At most ``max_waiting``
    logins queue for a turn; one more is refused with :class:`PasswordChecksBusy`
    instead of growing a queue that somebody at the login page could fill.
    """

    def __init__(self, parallel: int = 2, max_waiting: int = 16) -> None:
        self._turns = asyncio.Semaphore(parallel)
        self._max_waiting = max_waiting
        self._waiting = 0

    async def verify(self, password_hash: str, password: str) -> bool:
        """Whether ``password`` matches ``password_hash`` (False for a broken hash).

        Raises :class:`PasswordChecksBusy` when ``max_waiting`` checks already wait.
        """
        if self._waiting >= self._max_waiting:
            raise PasswordChecksBusy(f"{self._waiting} logins already wait for a check")
        self._waiting += 1
        try:
            async with self._turns:
                return await asyncio.to_thread(_verify, password_hash, password)
        finally:
            self._waiting -= 1


def _verify(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class BoardSession:
    """A logged-in user, as :func:`session_for` found them."""

    username: str
    display_name: str
    role: str
    csrf_token: str
    # The stored form of the session's token: what names the session server-side.
    token_digest: str
    expires_at: datetime


def _digest(token: str) -> str:
    # surrogatepass: a cookie is whatever the client sent, and must not raise here.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def create_user(
    pool: asyncpg.Pool,
    username: str,
    password: str,
    *,
    role: str,
    display_name: str = "",
    extension: str | None = None,
) -> None:
    """Create or replace a user's password and role; ``extension`` (their own phone)
    is set when given and otherwise left as it was. Replacing a password ends the
    user's sessions: whoever knew the old one is logged out (their open boards within
    :data:`SESSION_CHECK_S`, see ``switchboard_ui.session_sockets``).

    Raises :class:`UserError` for a username, role, password or extension it refuses."""
    if not USERNAME.fullmatch(username):
        raise UserError("username: 2-64 characters of a-z, 0-9, '.', '_' or '-'")
    if role not in ROLES:
        raise UserError(f"role: one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters")
    if extension is not None and not EXTENSION.fullmatch(extension):
        raise UserError("extension: 2-10 digits, the number of the user's own phone")
    password_hash = await asyncio.to_thread(_hasher.hash, password)
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("DELETE FROM board_sessions WHERE username = $1", username)
        await connection.execute(
            """
        INSERT INTO board_users (username, display_name, password_hash, role, extension)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (username) DO UPDATE
        SET display_name = EXCLUDED.display_name, password_hash = EXCLUDED.password_hash,
            role = EXCLUDED.role,
            extension = COALESCE(EXCLUDED.extension, board_users.extension)
        """,
            username,
            display_name or username,
            password_hash,
            role,
            extension,
        )


async def user_extension(pool: asyncpg.Pool, username: str) -> str:
    """The user's own phone, "" when they have none."""
    value = await pool.fetchval("SELECT extension FROM board_users WHERE username = $1", username)
    return str(value or "")


async def names_by_extension(pool: asyncpg.Pool, extensions: Iterable[str]) -> dict[str, str]:
    """Who has each of ``extensions`` as their own phone: their display name (of two on
    one phone, the first by name); an extension nobody has is left out."""
    rows = await pool.fetch(
        "SELECT DISTINCT ON (extension) extension, display_name FROM board_users"
        " WHERE extension = ANY($1::text[]) ORDER BY extension, display_name",
        sorted(set(extensions)),
    )
    return {r["extension"]: r["display_name"] for r in rows}


async def display_names(pool: asyncpg.Pool, usernames: Iterable[str]) -> dict[str, str]:
    """The display name of each of ``usernames`` that exists."""
    rows = await pool.fetch(
        "SELECT username, display_name FROM board_users WHERE username = ANY($1::text[])",
        sorted(set(usernames)),
    )
    return {r["username"]: r["display_name"] for r in rows}


async def log_in(
    pool: asyncpg.Pool, checker: PasswordChecker, username: str, password: str
) -> str | None:
    """A new session token for valid credentials, else None.

    Raises :class:`PasswordChecksBusy` when too many logins wait for a check.
    """
    row = await pool.fetchrow("SELECT password_hash FROM board_users WHERE username = $1", username)
    if not await checker.verify(row["password_hash"] if row else _DUMMY_HASH, password):
        return None
    if row is None:
        return None
    token = secrets.token_urlsafe(32)
    await pool.execute(
        "INSERT INTO board_sessions (token_sha256, username, csrf_token, expires_at) "
        "VALUES ($1, $2, $3, $4)",
        _digest(token),
        username,
        secrets.token_urlsafe(32),
        datetime.now(UTC) + SESSION_LIFETIME,
    )
    return token


async def session_for(pool: asyncpg.Pool, token: str | None) -> BoardSession | None:
    """The live (not expired) session ``token`` opens, else None; any string is safe."""
    if not token or len(token) > 128:
        return None
    row = await pool.fetchrow(
        """
        SELECT s.username, u.display_name, u.role, s.csrf_token, s.token_sha256, s.expires_at
        FROM board_sessions s JOIN board_users u USING (username)
        WHERE s.token_sha256 = $1 AND s.expires_at > now()
        """,
        _digest(token),
    )
    if row is None:
        return None
    return BoardSession(
        row["username"],
        row["display_name"],
        row["role"],
        row["csrf_token"],
        row["token_sha256"],
        row["expires_at"],
    )


async def log_out(pool: asyncpg.Pool, session: BoardSession) -> None:
    """End ``session``: its token opens nothing from now on."""
    await pool.execute("DELETE FROM board_sessions WHERE token_sha256 = $1", session.token_digest)


async def live_sessions(pool: asyncpg.Pool, digests: Iterable[str]) -> set[str]:
    """Those of ``digests`` whose session still exists and has not expired."""
    rows = await pool.fetch(
        "SELECT token_sha256 FROM board_sessions "
        "WHERE token_sha256 = ANY($1::text[]) AND expires_at > now()",
        list(digests),
    )
    return {row["token_sha256"] for row in rows}


async def purge_expired_sessions(pool: asyncpg.Pool) -> int:
    """Delete the rows of expired sessions; how many there were."""
    done = await pool.execute("DELETE FROM board_sessions WHERE expires_at <= now()")
    return int(done.split()[-1])

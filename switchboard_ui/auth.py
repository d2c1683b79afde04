"""Board users and sessions: argon2 password hashes, opaque session tokens, CSRF tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

SESSION_LIFETIME = timedelta(hours=12)  # a working day, then log in again
ROLES = ("receptionist", "admin")
USERNAME = re.compile(r"[a-z0-9._-]{2,64}")
MIN_PASSWORD = 8
EXTENSION = re.compile(r"[0-9]{2,10}")  # the user's own phone (migration 0005)
_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps timing the same.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class UserError(ValueError):
    """A user could not be created as asked."""


@dataclass(frozen=True)
class BoardSession:
    username: str
    display_name: str
    role: str
    csrf_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
    is set when given and otherwise left as it was."""
    if not USERNAME.fullmatch(username):
        raise UserError("username: 2-64 characters of a-z, 0-9, '.', '_' or '-'")
    if role not in ROLES:
        raise UserError(f"role: one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters")
    if extension is not None and not EXTENSION.fullmatch(extension):
        raise UserError("extension: 2-10 digits, the number of the user's own phone")
    await pool.execute(
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
        _hasher.hash(password),
        role,
        extension,
    )


async def user_extension(pool: asyncpg.Pool, username: str) -> str:
    """The user's own phone, "" when they have none."""
    value = await pool.fetchval("SELECT extension FROM board_users WHERE username = $1", username)
    return str(value or "")


async def log_in(pool: asyncpg.Pool, username: str, password: str) -> str | None:
    """A new session token for valid credentials, else None."""
    row = await pool.fetchrow("SELECT password_hash FROM board_users WHERE username = $1", username)
    try:
        _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
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
    if not token or len(token) > 128:
        return None
    row = await pool.fetchrow(
        """
        SELECT s.username, u.display_name, u.role, s.csrf_token
        FROM board_sessions s JOIN board_users u USING (username)
        WHERE s.token_sha256 = $1 AND s.expires_at > now()
        """,
        _digest(token),
    )
    if row is None:
        return None
    return BoardSession(row["username"], row["display_name"], row["role"], row["csrf_token"])


async def log_out(pool: asyncpg.Pool, token: str) -> None:
    await pool.execute("DELETE FROM board_sessions WHERE token_sha256 = $1", _digest(token))

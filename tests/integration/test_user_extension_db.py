"""A board user's own phone (migration 0005), as `switchboard user-add --extension` sets it."""

from __future__ import annotations

import asyncpg
import pytest

from switchboard.store.users import UserError, create_user, user_extension

pytestmark = pytest.mark.integration


async def test_the_extension_is_kept_until_changed_and_checked(db: asyncpg.Pool) -> None:
    await create_user(db, "ext-user", "long enough", role="receptionist", extension="100")
    assert await user_extension(db, "ext-user") == "100"
    # A new password without --extension keeps the phone.
    await create_user(db, "ext-user", "another long one", role="admin")
    assert await user_extension(db, "ext-user") == "100"
    await create_user(db, "ext-user", "another long one", role="admin", extension="201")
    assert await user_extension(db, "ext-user") == "201"
    with pytest.raises(UserError, match="extension"):
        await create_user(db, "ext-user", "long enough", role="admin", extension="20 1")
    assert await user_extension(db, "nobody") == ""
    # The schema refuses what the check would have, whoever writes the row.
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("UPDATE board_users SET extension = '1' WHERE username = 'ext-user'")

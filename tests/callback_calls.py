"""What the callback tests with real calls share (issue 14): a callback put in line, a
callback's state awaited, the operator kept busy, and how the caller we call back
answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from switchboard.store import callbacks
from tests.sandbox_ami import Asterisk, until

# The caller's phone when called back: presses 1 three seconds after answering, and
# again every 1.5 s until the prompt has ended and Asterisk listens.
ACCEPTS = [(3.0, "1")] + [(1.5, "1")] * 5


async def ask(
    db: asyncpg.Pool,
    queue: str,
    e164: str,
    *,
    waited: timedelta = timedelta(0),
    name: str = "",
    source: str = "board",
) -> int:
    """A callback for ``e164`` in ``queue``'s line on the sandbox PBX, its caller joined
    ``waited`` ago (its place) and due since then; an earlier one for the number goes."""
    await db.execute("DELETE FROM callbacks WHERE e164 = $1", e164)
    joined = datetime.now(UTC) - waited
    stored, _ = await callbacks.request(
        db,
        pbx="sandbox",
        queue=queue,
        e164=e164,
        source=source,
        name=name,
        joined_at=joined,
        not_before=joined,
    )
    return stored.id


async def becomes(db: asyncpg.Pool, callback_id: int, state: str, timeout_s: float) -> None:
    """Wait until the callback is ``state`` (AssertionError naming it after ``timeout_s``)."""
    await until(
        lambda: db.fetchval(
            "SELECT 1 FROM callbacks WHERE id = $1 AND state = $2", callback_id, state
        ),
        timeout_s,
        f"callback {callback_id} {state}",
    )


async def keep_busy(
    asterisk: Asterisk, events: list[dict[str, str]], channel_id: str, extension: str = "100"
) -> None:
    """``extension`` on another call (its phone must answer) until the test hangs
    ``channel_id`` up: the queue keeps its callers (ringinuse=no) and no callback is
    dialled to it."""
    await asterisk.manager.send_action(
        {
            "Action": "Originate",
            "Channel": f"PJSIP/{extension}",
            "Application": "Wait",
            "Data": "300",
            "ChannelId": channel_id,
            "Async": "true",
        }
    )
    await until(
        lambda: any(
            e.get("Uniqueid") == channel_id and e.get("ChannelStateDesc") == "Up" for e in events
        ),
        10,
        f"{extension} busy",
    )

"""Rows written to PostgreSQL in order, off the event path.

The journals (calls, presence) must never slow the AMI events down and never lose what
they were given: a write that fails or hangs (a half-dead connection after a database
restart) is retried until it succeeds, and nothing a restart throws stops the writer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

WRITE_TIMEOUT_S = 5.0
RETRY_AFTER_S = 1.0

T = TypeVar("T")


class BackgroundWriter(Generic[T]):
    def __init__(
        self,
        name: str,
        write: Callable[[T], Awaitable[None]],
        *,
        max_backlog: int = 100_000,
        timeout_s: float = WRITE_TIMEOUT_S,
    ) -> None:
        self._name = name
        self._write = write
        self._timeout_s = timeout_s
        self._backlog: asyncio.Queue[T] = asyncio.Queue(maxsize=max_backlog)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._write_forever(), name=self._name)

    def put(self, item: T, what: str) -> None:
        """Queue ``item``; ``what`` names it in the log if the backlog is full."""
        try:
            self._backlog.put_nowait(item)
        except asyncio.QueueFull:
            log.error("%s backlog full; %s not journalled", self._name, what)

    async def flush(self, grace_s: float) -> None:
        """Wait until everything put so far is written (used at shutdown)."""
        try:
            await asyncio.wait_for(self._backlog.join(), grace_s)
        except TimeoutError:
            log.error("%s: %d rows not written", self._name, self._backlog.qsize())

    async def close(self, grace_s: float = 5.0) -> None:
        await self.flush(grace_s)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _write_forever(self) -> None:
        while True:
            item = await self._backlog.get()
            while True:
                try:
                    async with asyncio.timeout(self._timeout_s):
                        await self._write(item)
                    self._backlog.task_done()
                    break
                except Exception as exc:
                    # Whatever a database restart throws (asyncpg raises more than
                    # InterfaceError while a server comes up), keep the row and retry:
                    # a dead writer would lose everything after it without a word.
                    log.warning("%s write failed (%r); retrying", self._name, exc)
                    await asyncio.sleep(RETRY_AFTER_S)

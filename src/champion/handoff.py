"""Handing items from many requests to one consumer task on the event loop.

:class:`Inbox` is what the micro-batcher and the group-commit writer need from a queue
and no more: the items in order, and a way for the consumer to sleep while there are
none. ``asyncio.Queue`` also keeps a count of unfinished tasks, an event for ``join``
and a future per waiting putter and getter, and every request on the serving hot path
paid for that bookkeeping twice (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import collections
from typing import Generic, TypeVar

T = TypeVar("T")


class Inbox(Generic[T]):
    """Unbounded, first in first out, for one consumer on one event loop."""

    def __init__(self) -> None:
        self._items: collections.deque[T] = collections.deque()
        self._wake: asyncio.Future[None] | None = None  # the consumer sleeping on it
        self._loop: asyncio.AbstractEventLoop | None = None  # the consumer's, once known

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> None:
        self._items.append(item)
        wake, self._wake = self._wake, None
        if wake is not None and not wake.done():
            wake.set_result(None)

    def take(self) -> T:
        """The oldest item (IndexError when there is none)."""
        return self._items.popleft()

    async def wait(self) -> None:
        """Return once there is an item (at once if there is one already)."""
        while not self._items:
            if self._loop is None:  # (a getpid() call each time on Python 3.11)
                self._loop = asyncio.get_running_loop()
            self._wake = self._loop.create_future()
            await self._wake

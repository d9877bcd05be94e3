"""The inbox between requests and their one consumer task: order, waking, cancelling."""

from __future__ import annotations

import asyncio

import pytest

from champion.handoff import Inbox


def test_items_come_out_in_order_and_a_sleeping_consumer_wakes_for_each_put() -> None:
    async def run() -> tuple[list[list[int]], int]:
        inbox: Inbox[int] = Inbox()
        rounds: list[list[int]] = []

        async def consumer() -> None:
            while True:
                await inbox.wait()
                taken = []
                while inbox:
                    taken.append(inbox.take())
                rounds.append(taken)

        task = asyncio.get_running_loop().create_task(consumer())
        await asyncio.sleep(0)  # it sleeps: nothing yet
        for i in range(3):  # three puts in one turn of the loop: one round
            inbox.put(i)
        await asyncio.sleep(0.01)
        inbox.put(3)
        await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return rounds, len(inbox)

    rounds, left = asyncio.run(run())
    assert rounds == [[0, 1, 2], [3]] and left == 0


def test_wait_returns_at_once_when_items_are_there_and_take_on_empty_raises() -> None:
    async def run() -> int:
        inbox: Inbox[str] = Inbox()
        inbox.put("a")
        await asyncio.wait_for(inbox.wait(), 0.5)  # no sleep: the item is there
        return len(inbox)

    assert asyncio.run(run()) == 1
    with pytest.raises(IndexError):
        Inbox().take()


def test_a_consumer_cancelled_while_waiting_leaves_the_inbox_usable() -> None:
    async def run() -> list[str]:
        inbox: Inbox[str] = Inbox()
        first = asyncio.get_running_loop().create_task(inbox.wait())
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        inbox.put("x")  # the cancelled wait's future is not set again
        await asyncio.wait_for(inbox.wait(), 0.5)
        return [inbox.take()]

    assert asyncio.run(run()) == ["x"]

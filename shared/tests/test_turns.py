"""Turns: at most ``size`` holders, a bounded wait for the next, and no overtaking of those
already waiting."""

from __future__ import annotations

import asyncio

import pytest
from coupon_core.turns import NoTurn, Turns

SHORT_WAIT_S = 0.05


async def test_free_turns_are_taken_until_none_is_left() -> None:
    turns = Turns(2, SHORT_WAIT_S)
    await turns.take()
    await turns.take()
    with pytest.raises(NoTurn):
        await turns.take()
    turns.give_back()
    await turns.take()


async def test_a_turn_given_back_goes_to_the_caller_waiting_first() -> None:
    turns = Turns(1, 10.0)
    await turns.take()
    order: list[str] = []

    async def take(name: str) -> None:
        await turns.take()
        order.append(name)

    first = asyncio.create_task(take("waiting"))
    await asyncio.sleep(0)  # the task runs up to its wait
    turns.give_back()
    # A caller arriving now, while the turn is on its way to the waiting one, queues after it.
    second = asyncio.create_task(take("arrived later"))
    await first
    assert order == ["waiting"]
    assert not second.done()
    turns.give_back()
    await second
    assert order == ["waiting", "arrived later"]

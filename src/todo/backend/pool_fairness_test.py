"""Requests waiting for a database connection get one in the order they asked, on
SQLite and PostgreSQL (`todo.shared.fair_pool`). SQLAlchemy's asyncio pool let a request
that had just arrived take a connection given back to the longest waiter: at 32
connections to a pool of 20, one read in twenty waited more than a second."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import Pool

from todo.shared.db import create_engine, driver_url
from todo.shared.fair_pool import FairAsyncPool

REQUESTS = 240


async def overtakes(database_url: str, poolclass: type[Pool]) -> tuple[int, int]:
    """Requests arriving faster than two connections serve them, each holding one a
    moment: how many got a connection while one that arrived before still waited, and
    how many got one."""
    engine = create_async_engine(
        driver_url(database_url), poolclass=poolclass, pool_size=2, max_overflow=0
    )
    # Both connections made before the requests: a connect's I/O would reorder them.
    async with engine.connect() as first, engine.connect() as second:
        await first.exec_driver_sql("SELECT 1")
        await second.exec_driver_sql("SELECT 1")
    waiting: set[int] = set()
    counts = {"overtakes": 0, "served": 0}

    async def request(ticket: int) -> None:
        waiting.add(ticket)
        async with engine.connect() as conn:
            waiting.discard(ticket)
            counts["overtakes"] += any(earlier < ticket for earlier in waiting)
            counts["served"] += 1
            await conn.exec_driver_sql("SELECT 1")
            await asyncio.sleep(0.001)

    try:
        # A new request every few hundred microseconds, as to a busy server: some arrive
        # just as a connection is given back to a request that waits.
        arrivals = []
        for ticket in range(REQUESTS):
            arrivals.append(asyncio.create_task(request(ticket)))
            await asyncio.sleep(0.0003 if ticket % 3 else 0)
        await asyncio.gather(*arrivals)
    finally:
        await engine.dispose()
    return counts["overtakes"], counts["served"]


async def test_connections_go_to_the_request_that_waited_longest(database_url: str) -> None:
    overtaken, served = await overtakes(database_url, FairAsyncPool)
    assert served == REQUESTS
    assert overtaken == 0, f"{overtaken} of {served} requests went before an earlier one"


async def test_every_engine_of_ours_hands_out_connections_in_order(database_url: str) -> None:
    for single_writer in (False, True):
        engine = create_engine(database_url, single_writer=single_writer)
        try:
            assert isinstance(engine.pool, FairAsyncPool)
        finally:
            await engine.dispose()


async def test_a_request_that_waits_too_long_gives_up_and_keeps_no_turn(database_url: str) -> None:
    engine = create_async_engine(
        driver_url(database_url),
        poolclass=FairAsyncPool,
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.2,
    )
    try:
        async with engine.connect() as held:
            await held.exec_driver_sql("SELECT 1")
            with pytest.raises(exc.TimeoutError, match="no connection within 0.2 s"):
                async with engine.connect():
                    pass
        # The request that gave up holds no turn: the one connection still serves.
        for _ in range(3):
            async with engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
    finally:
        await engine.dispose()


async def test_a_failed_connect_gives_its_turn_back(tmp_path: Path) -> None:
    missing = tmp_path / "no such directory" / "todo.db"
    engine = create_async_engine(
        driver_url(f"sqlite+aiosqlite:///{missing}"),
        poolclass=FairAsyncPool,
        pool_size=1,
        max_overflow=0,
        pool_timeout=5,
    )
    try:
        # More attempts than turns: each fails on its own connect, none waits for a turn.
        for _ in range(3):
            with pytest.raises(exc.OperationalError, match="unable to open database file"):
                async with engine.connect():
                    pass
    finally:
        await engine.dispose()


async def test_a_turn_given_back_on_another_thread_reaches_the_waiter(tmp_path: Path) -> None:
    """The garbage collector hands back a connection nobody closed on whichever thread it
    runs (an aiosqlite thread's): the turn must reach a waiting request through its event
    loop. asyncio's debug mode refuses a semaphore released from another thread."""
    asyncio.get_running_loop().set_debug(True)
    engine = create_async_engine(
        driver_url(f"sqlite+aiosqlite:///{tmp_path / 'todo.db'}"),
        poolclass=FairAsyncPool,
        pool_size=1,
        max_overflow=0,
    )
    pool = engine.pool
    assert isinstance(pool, FairAsyncPool)
    held = await engine.connect()
    await held.exec_driver_sql("SELECT 1")
    assert pool._turns is not None
    assert pool._turns.locked()
    waiter = asyncio.create_task(pool._turns.acquire())
    try:
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await asyncio.to_thread(pool._give_back_turn)
        async with asyncio.timeout(5):
            assert await waiter
        pool._turns.release()  # the waiter's turn, so that `held` gives back its own
        await held.close()
    finally:
        waiter.cancel()
        await engine.dispose()


async def test_bursts_reuse_the_connections_the_pool_opened(database_url: str) -> None:
    # Bursts of requests, as responses come back together under load: the pool used to
    # close the connections above its idle size as they came back, and the next burst
    # connected again (TLS, authentication, the driver's set-up) over and over.
    engine = create_engine(database_url, 6)
    opened = 0
    in_use = most_in_use = 0

    @event.listens_for(engine.sync_engine, "connect")
    def _count(*_: object) -> None:
        nonlocal opened
        opened += 1

    async def request() -> None:
        nonlocal in_use, most_in_use
        async with engine.connect() as conn:
            in_use += 1
            most_in_use = max(most_in_use, in_use)
            await conn.exec_driver_sql("SELECT 1")
            await asyncio.sleep(0.002)
            in_use -= 1

    try:
        for _ in range(10):
            await asyncio.gather(*(request() for _ in range(12)))
            await asyncio.sleep(0.01)  # all idle between bursts
    finally:
        await engine.dispose()
    assert most_in_use == 6
    assert opened == 6

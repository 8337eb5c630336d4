"""A connection pool that hands out connections in the order they were asked for.

SQLAlchemy's asyncio pool keeps its idle connections in an `asyncio.Queue` and takes one
without waiting whenever one is there. A connection given back wakes the longest waiter,
but before that waiter runs, a request that has just arrived finds the connection idle
and takes it; the waiter finds the queue empty and waits again, at the back. With more
requests in flight than connections, a few of them lose that race over and over: at 32
connections to a pool of 20, reads answered in 22 ms at the median and 1.4 s at the
95th percentile on PostgreSQL (docs/performance.md). The single writer connection of the
embedded shape was handed out the same way.

Here a request first takes a turn, from a FIFO semaphore with as many turns as the
pool has connections (pool size plus overflow), and gives it back with the connection.
asyncio's semaphore hands a released turn straight to the longest waiter, and a new
request waits behind every earlier one, so the pool below it never has to wait and
every connection goes to the request that has waited longest.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from sqlalchemy import exc
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry
from sqlalchemy.util.concurrency import await_


class FairAsyncPool(AsyncAdaptedQueuePool):
    def __init__(self, creator: Any, pool_size: int = 5, max_overflow: int = 10, **kw: Any):
        super().__init__(creator, pool_size=pool_size, max_overflow=max_overflow, **kw)
        # Unbounded overflow never waits: nothing to order.
        self._capacity = pool_size + max_overflow if max_overflow >= 0 and pool_size else 0
        self._turns: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    def _do_get(self) -> ConnectionPoolEntry:
        if not self._capacity:
            return super()._do_get()
        loop = asyncio.get_running_loop()
        if self._turns is None or loop is not self._loop:
            # A semaphore belongs to one event loop (a test may run several in turn).
            self._turns = asyncio.Semaphore(self._capacity)
            self._loop, self._loop_thread = loop, threading.get_ident()
        turns = self._turns
        if turns.locked():
            try:
                await_(asyncio.wait_for(turns.acquire(), self._timeout))
            except TimeoutError:
                raise exc.TimeoutError(
                    f"no connection within {self._timeout:.1f} s: all {self.size()} of the "
                    f"pool and {self._max_overflow} of overflow stayed in use",
                    code="3o7r",
                ) from None
        else:
            await_(turns.acquire())  # a free turn: taken without waiting
        try:
            # QueuePool's own _do_get calls itself (so this) again only when its overflow
            # count changes between two of its lines that do not await: another thread
            # would have to change it, and every checkout here runs on the loop's thread.
            return super()._do_get()
        except BaseException:
            turns.release()
            raise

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        try:
            super()._do_return_conn(record)
        finally:
            self._give_back_turn()

    def _give_back_turn(self) -> None:
        turns, loop = self._turns, self._loop
        if turns is None:
            return
        # The garbage collector may return a connection from another thread (an
        # aiosqlite worker's): a semaphore belongs to its event loop's thread.
        if loop is not None and threading.get_ident() != self._loop_thread:
            if not loop.is_closed():
                loop.call_soon_threadsafe(turns.release)
            return
        turns.release()

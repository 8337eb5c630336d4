"""Rate limits of sign-in and sign-up: every attempt costs an argon2 hash (about 21 ms of
CPU), so attempts are bounded before that cost is paid.

- Sign-up: per client address (`TODO_SIGN_UP_RATE`).
- Sign-in: per client address, every attempt (`TODO_SIGN_IN_RATE`), and per account,
  failures only (`TODO_SIGN_IN_FAILURE_RATE`). The failure windows are tiered (by default
  5 a minute, 20 an hour, 100 a day), so the wait after a run of wrong passwords grows
  from a minute to an hour to a day: a backoff that no one who knows the password meets.
  While an account waits, its sign-ins are refused without verifying the password.

The counters sit behind `Throttle` (the port). `MemoryThrottle` keeps them in the
process: right for the embedded shape; with several backend replicas each one counts on
its own, so a client spread over N replicas gets N times each limit (documented in
docs/architecture.md). A shared store is another adapter of the same port.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from todo.backend.api.errors import ApiError


class Throttle(Protocol):
    async def hit(self, rules: Sequence[RateLimitItem], *key: str) -> int:
        """Count one attempt against every rule. Returns 0 if every rule allowed it, else
        the seconds until all would (an attempt over a rule is not counted in it)."""
        ...

    async def wait(self, rules: Sequence[RateLimitItem], *key: str) -> int:
        """The seconds until one more attempt would be allowed (0: now), counting nothing."""
        ...

    async def clear(self, rules: Sequence[RateLimitItem], *key: str) -> None: ...


class MemoryThrottle:
    """Moving windows in this process's memory (the `limits` library)."""

    def __init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def hit(self, rules: Sequence[RateLimitItem], *key: str) -> int:
        refused = [rule for rule in rules if not await self._limiter.hit(rule, *key)]
        return await self._seconds_until_free(refused, key)

    async def wait(self, rules: Sequence[RateLimitItem], *key: str) -> int:
        refused = [rule for rule in rules if not await self._limiter.test(rule, *key)]
        return await self._seconds_until_free(refused, key)

    async def clear(self, rules: Sequence[RateLimitItem], *key: str) -> None:
        for rule in rules:
            await self._limiter.clear(rule, *key)

    async def _seconds_until_free(self, rules: Sequence[RateLimitItem], key: Sequence[str]) -> int:
        if not rules:
            return 0
        now = time.time()
        resets = [(await self._limiter.get_window_stats(rule, *key)).reset_time for rule in rules]
        return max(1, math.ceil(max(resets) - now))


@dataclass(frozen=True)
class AbusePolicy:
    sign_up_per_address: Sequence[RateLimitItem]
    sign_in_per_address: Sequence[RateLimitItem]
    sign_in_failures_per_account: Sequence[RateLimitItem]

    @classmethod
    def parse(cls, sign_up: str, sign_in: str, sign_in_failures: str) -> AbusePolicy:
        return cls(parse_many(sign_up), parse_many(sign_in), parse_many(sign_in_failures))


class RateLimited(ApiError):
    def __init__(self, what: str, retry_after: int) -> None:
        super().__init__(
            429,
            f"too many {what}: try again in {retry_after} seconds",
            "rate_limited",
            headers={"Retry-After": str(retry_after)},
        )


def client_key(host: str | None) -> str:
    """The address a limit counts against: an IPv6 client is its /64 (one subscriber's
    network hands out many addresses of it)."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)

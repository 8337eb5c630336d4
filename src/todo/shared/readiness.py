"""Readiness that tells the truth: each dependency says whether it works, since when it
fails and why.

A `Dependency` is told the outcome of real work (a publish, a schedule call) or of a probe;
it counts as down once it has failed without a success for longer than its grace period,
so one slow call does not flap readiness while an outage does show.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


class DependencyDown(ConnectionError):
    """A dependency failing beyond its grace period: which one, since when, and why."""

    def __init__(self, name: str, since: datetime, error: str) -> None:
        super().__init__(f"{name} failing since {since.isoformat()}: {error}")
        self.name = name
        self.since = since
        self.error = error


@dataclass
class Dependency:
    name: str
    grace_seconds: float = 0.0
    _failing_since: datetime | None = field(default=None, init=False)
    _failing_since_monotonic: float = field(default=0.0, init=False)
    _last_error: str = field(default="", init=False)

    def succeeded(self) -> None:
        self._failing_since = None
        self._last_error = ""

    def failed(self, error: BaseException | str) -> None:
        if isinstance(error, DependencyDown):
            # A check that tracks its own outage knows when it began, and why.
            self._failing_since = error.since
            self._failing_since_monotonic = time.monotonic() - (
                (datetime.now(UTC) - error.since) / timedelta(seconds=1)
            )
            self._last_error = error.error
            return
        if self._failing_since is None:
            self._failing_since = datetime.now(UTC)
            self._failing_since_monotonic = time.monotonic()
        self._last_error = (
            error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        )[:500]

    @property
    def failing_since(self) -> datetime | None:
        return self._failing_since

    @property
    def down(self) -> bool:
        """Failing without a success for longer than the grace period."""
        return (
            self._failing_since is not None
            and time.monotonic() - self._failing_since_monotonic >= self.grace_seconds
        )

    def check(self) -> None:
        """Raise DependencyDown while down (a readiness check)."""
        if self.down:
            assert self._failing_since is not None
            raise DependencyDown(self.name, self._failing_since, self._last_error)

    async def probe(self, attempt: Callable[[], Awaitable[None]]) -> None:
        """Run `attempt`, record its outcome, then check (a probe as a readiness check)."""
        try:
            await attempt()
        except Exception as exc:
            self.failed(exc)
        else:
            self.succeeded()
        self.check()

    def describe(self) -> dict[str, str]:
        since = self._failing_since
        if since is None:
            return {"status": "ok"}
        return {
            "status": "down" if self.down else "failing",
            "since": since.isoformat(),
            "for_seconds": f"{(datetime.now(UTC) - since) / timedelta(seconds=1):.1f}",
            "error": self._last_error,
        }

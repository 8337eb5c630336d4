"""What one running backend holds: engine, sessions, bus, relay, live updates, and in the
embedded shape the scheduler and the in-process task gateway of the reminder machinery."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from todo.backend.auth import TokenIssuer
from todo.backend.gateway_local import LocalTaskGateway
from todo.backend.live import LiveUpdates, SubscriptionProbe
from todo.backend.outbox import OutboxRelay
from todo.backend.rate_limits import AbusePolicy, MemoryThrottle, Throttle
from todo.backend.settings import BackendSettings
from todo.backend.user_cache import UserCache
from todo.domain.ports import EventBus
from todo.shared.background import Background
from todo.shared.db import Database
from todo.shared.scheduler_db import DatabaseScheduler


@dataclass
class Runtime:
    settings: BackendSettings
    database: Database
    bus: EventBus
    relay: OutboxRelay
    live: LiveUpdates
    tokens: TokenIssuer
    abuse: AbusePolicy
    live_probe: SubscriptionProbe
    throttle: Throttle = field(default_factory=MemoryThrottle)
    users: UserCache = field(default_factory=UserCache)
    scheduler: DatabaseScheduler | None = None
    task_gateway: LocalTaskGateway | None = None

    @property
    def engine(self) -> AsyncEngine:
        return self.database.engine

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """Sessions for changes (transactions)."""
        return self.database.writes

    @property
    def reads(self) -> async_sessionmaker[AsyncSession]:
        """Sessions for queries (no transaction round trips)."""
        return self.database.reads

    def background(self) -> Sequence[Background]:
        """What runs in the background, in start order (stopped in reverse)."""
        parts: list[Background] = [self.bus, self.live_probe, self.relay]
        if self.scheduler is not None:
            parts.append(self.scheduler)
        return parts

"""What one running backend holds: engine, sessions, bus, relay, scheduler, live updates."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from todo.backend.auth import TokenIssuer
from todo.backend.live import LiveUpdates
from todo.backend.outbox import OutboxRelay
from todo.backend.rate_limits import AbusePolicy, MemoryThrottle, Throttle
from todo.backend.settings import BackendSettings
from todo.backend.user_cache import UserCache
from todo.domain.ports import EventBus


@dataclass
class Runtime:
    settings: BackendSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    relay: OutboxRelay
    live: LiveUpdates
    tokens: TokenIssuer
    abuse: AbusePolicy
    throttle: Throttle = field(default_factory=MemoryThrottle)
    users: UserCache = field(default_factory=UserCache)

"""The users that tokens name, remembered for a minute: no user query on every request.

Every authenticated request resolved its token's user with a SELECT (8.7% of the backend's
CPU under load, docs/performance.md). Accounts are never renamed or deleted through the API
(only a password hash is upgraded, which requests never read), so a short time to live
bounds how long another process may serve a copy older than the database.
"""

from __future__ import annotations

from cachetools import TTLCache

from todo.backend.models import User


class UserCache:
    def __init__(self, ttl_seconds: float = 60.0, max_users: int = 10_000) -> None:
        self._users: TTLCache[str, User] = TTLCache(maxsize=max_users, ttl=ttl_seconds)

    def get(self, key: str) -> User | None:
        return self._users.get(key)

    def remember(self, key: str, user: User) -> User:
        """Keep a copy that belongs to no session (the request's session closes after it),
        without the password hash (no request needs it), and hand it back so that every
        caller sees the same, detached kind of object."""
        copy = User(**user.model_dump(exclude={"password_hash"}))
        self._users[key] = copy
        return copy

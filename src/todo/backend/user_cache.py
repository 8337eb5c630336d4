"""The users that tokens name, remembered for a minute: no user query on every request.

Every authenticated request resolved its token's user with a SELECT (8.7% of the backend's
CPU under load, docs/performance.md). A copy carries the user's token version: a token of
an older version is refused from the copy, one of a newer version (raised on another
replica) makes the user be read again. Sign-out, password change and account deletion
forget the user here at once; on other replicas the time to live bounds how long a copy
older than the database is served (docs/architecture.md, Security).
"""

from __future__ import annotations

from cachetools import TTLCache

from todo.backend.models import User

TTL_SECONDS = 60.0


class UserCache:
    def __init__(self, ttl_seconds: float = TTL_SECONDS, max_users: int = 10_000) -> None:
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

    def forget_user(self, user_id: str) -> None:
        """Drop every copy of this user, under whichever key (a user id, or an external
        issuer's subject) it was remembered."""
        for key in [key for key, user in self._users.items() if user.id == user_id]:
            self._users.pop(key, None)

"""What the services' settings share: the environment kind, and refusing guessable
secrets outside local mode."""

from __future__ import annotations

from enum import StrEnum


class Environment(StrEnum):
    LOCAL = "local"
    STAGING = "staging"
    PRODUCTION = "production"


MIN_SECRET_CHARS = 32
# Values seen in templates and tutorials, and the shapes of values typed by hand.
PLACEHOLDERS = frozenset(
    {"changeme", "change-me", "change_me", "changethis", "secret", "password", "token", "todo"}
)


def weakness(value: str) -> str | None:
    """Why a secret is guessable, never quoting it; None if it is not."""
    if len(value) < MIN_SECRET_CHARS:
        return f"is shorter than {MIN_SECRET_CHARS} characters"
    lowered = value.lower()
    if any(word in lowered for word in PLACEHOLDERS):
        return "contains a placeholder word (changeme, secret, password, ...)"
    if len(set(value)) < 8:
        return "repeats too few distinct characters"
    return None


def refuse_weak_secret(name: str, value: str, where: str, *, required: bool = False) -> None:
    """Raise ValueError naming the variable and the fix; an empty optional secret passes
    (it disables what it guards)."""
    if not value:
        if required:
            raise ValueError(f"{name} must be set {where}: a random value of 32+ characters")
        return
    problem = weakness(value)
    if problem is not None:
        raise ValueError(
            f"{name} {problem} {where}: use a random value of {MIN_SECRET_CHARS}+ characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )

"""What can go wrong in a use case, in the domain's words.

Each error carries a stable machine-readable `code`; the HTTP layer maps every one of them
to a status in one place (`todo.backend.api.errors`), so use cases raise and routes stay
one call.
"""

from __future__ import annotations

from typing import ClassVar, Literal


class DomainError(Exception):
    code: ClassVar[str] = "domain_error"


class NotFound(DomainError):
    """The thing does not exist for this caller (another user's thing is as absent)."""

    code = "not_found"

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"no {kind} with id {ident!r}")
        self.kind = kind
        self.ident = ident


class VersionConflict(DomainError):
    """The caller's copy is stale: the thing changed since the version it names."""

    code = "version_conflict"

    def __init__(self, current: int, expected: int, via: Literal["if-match", "body"]) -> None:
        super().__init__(f"it is at version {current}, not {expected}")
        self.current = current
        self.expected = expected
        self.via = via


class InvalidChange(DomainError):
    """A well-formed request the thing's state does not allow."""

    code = "invalid_change"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Uncomputable(DomainError):
    """A stored value the domain cannot compute on (a next occurrence past the supported
    range, say): retrying can never help, so consumers dead-letter it."""

    code = "uncomputable"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class AlreadyExists(DomainError):
    """A unique thing (an email, an identity) is taken."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code  # type: ignore[misc]
        self.field = field

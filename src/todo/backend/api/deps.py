"""FastAPI dependencies as `Annotated` aliases: the runtime, a session, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from todo.backend import auth
from todo.backend.api.errors import ApiError
from todo.backend.models import User
from todo.backend.rate_limits import client_key
from todo.backend.runtime import Runtime

# Each dependency reads the runtime from the request itself rather than through a
# `RuntimeDep` of its own: FastAPI solves every sub-dependency of every dependency on every
# request (its cache saves the call, not the solving): the chains runtime -> caller ->
# user and runtime -> session cost a task read about 0.05 ms of its 1 ms of CPU.


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> Runtime:
    # async on purpose: FastAPI runs a plain `def` dependency on the thread pool, a thread
    # hop on every request for an attribute read.
    return _runtime(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with _runtime(request).sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with _runtime(request).reads() as session:
        yield session


# For routes that only read: no transaction, and on SQLite never behind a writer.
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session)]


async def get_client_address(request: Request) -> str:
    """The key rate limits count against (behind a proxy, uvicorn's `proxy_headers` and
    FORWARDED_ALLOW_IPS make this the client's address, not the proxy's)."""
    return client_key(request.client.host if request.client else None)


ClientAddress = Annotated[str, Depends(get_client_address)]

_bearer = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/login")


class Unauthorized(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(401, detail, "unauthorized", headers={"WWW-Authenticate": "Bearer"})


@dataclass(frozen=True)
class Caller:
    """The signed-in user and what their token allows: until when, at which version
    (None for an external issuer's token, which that issuer revokes)."""

    user: User
    expires_at: datetime
    token_version: int | None


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_caller(request: Request, credentials: Credentials) -> Caller:
    runtime = _runtime(request)
    if credentials is None:
        raise Unauthorized("missing bearer token")
    token = credentials.credentials
    try:
        if runtime.tokens.is_local(token):
            return await _local_caller(runtime, runtime.tokens.verify_local(token))
        claims = await runtime.tokens.verify_external(token)
        key = auth.external_key(claims)
        user = runtime.users.get(key)
        if user is None:
            # The first sign-in of an identity makes its account: a write of its own.
            async with runtime.sessions() as writes:
                found = await auth.user_for_external_claims(writes, claims)
            user = runtime.users.remember(key, found)
    except auth.InvalidToken as exc:
        raise Unauthorized(f"invalid token: {exc}") from exc
    except auth.ExternalEmailTaken:
        raise ApiError(
            409,
            "an account with this token's email already exists: sign in to it with its "
            "password (accounts are not linked by email)",
            "email_taken",
        ) from None
    return Caller(user, datetime.fromtimestamp(int(claims["exp"]), UTC), None)


async def _local_caller(runtime: Runtime, claims: auth.AccessClaims) -> Caller:
    user = runtime.users.get(claims.user_id)
    if user is None or user.token_version < claims.version:
        # Not remembered, or remembered before a newer version was issued elsewhere. A
        # session of its own, closed at once: the request's own session (a write's
        # transaction) must not wait for a second pooled connection this one holds.
        async with runtime.reads() as session:
            stored = await session.get(User, claims.user_id)
        if stored is None:
            raise Unauthorized("token of an unknown user")
        user = runtime.users.remember(claims.user_id, stored)
    if user.token_version != claims.version:
        raise Unauthorized("token revoked (signed out): refresh it or sign in again")
    return Caller(user, claims.expires_at, claims.version)


CallerDep = Annotated[Caller, Depends(get_caller)]


async def get_current_user(request: Request, credentials: Credentials) -> User:
    # The caller's check itself, not a dependency on `CallerDep` (one level fewer to
    # solve); no route asks for both, so no token is checked twice.
    return (await get_caller(request, credentials)).user


CurrentUser = Annotated[User, Depends(get_current_user)]

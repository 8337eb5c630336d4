"""FastAPI dependencies as `Annotated` aliases: the runtime, a session, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from todo.backend import auth
from todo.backend.models import User
from todo.backend.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    # async on purpose: FastAPI runs a plain `def` dependency on the thread pool, a thread
    # hop on every request for an attribute read.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with runtime.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="JWT from /api/v1/auth/login")

_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


async def get_current_user(
    runtime: RuntimeDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing bearer token", headers=_UNAUTHORIZED
        )
    token = credentials.credentials
    claims: dict[str, Any] | None = None
    try:
        if runtime.tokens.is_local(token):
            key = runtime.tokens.verify_local(token)
        else:
            claims = await runtime.tokens.verify_external(token)
            key = auth.external_subject(claims)
    except auth.InvalidToken as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, f"invalid token: {exc}", headers=_UNAUTHORIZED
        ) from exc
    cached = runtime.users.get(key)
    if cached is not None:
        return cached
    if claims is None:
        user = await session.get(User, key)
    else:
        user = await auth.user_for_external_claims(session, claims)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "token of an unknown user", headers=_UNAUTHORIZED
        )
    return runtime.users.remember(key, user)


CurrentUser = Annotated[User, Depends(get_current_user)]

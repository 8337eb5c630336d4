"""FastAPI dependencies as `Annotated` aliases: the runtime, a session, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from todo.backend import auth
from todo.backend.models import User
from todo.backend.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
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
    try:
        if runtime.tokens.is_local(token):
            user = await session.get(User, runtime.tokens.verify_local(token))
        else:
            claims = await runtime.tokens.verify_external(token)
            user = await auth.user_for_external_claims(session, claims)
    except auth.InvalidToken as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, f"invalid token: {exc}", headers=_UNAUTHORIZED
        ) from exc
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "token of an unknown user", headers=_UNAUTHORIZED
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]

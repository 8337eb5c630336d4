from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from todo.backend import auth
from todo.backend.api.deps import CurrentUser, RuntimeDep, SessionDep
from todo.backend.models import Token, User, UserLogin, UserPublic, UserRegister

router = APIRouter(tags=["auth"])


def _token(runtime: RuntimeDep, user: User) -> Token:
    access_token, expires_in = runtime.tokens.issue(user.id)
    return Token(
        access_token=access_token,
        expires_in=expires_in,
        user=UserPublic.model_validate(user, from_attributes=True),
    )


@router.post(
    "/auth/register",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "Email already registered"}},
)
async def register(body: UserRegister, session: SessionDep, runtime: RuntimeDep) -> Token:
    """Create an account and sign in."""
    try:
        user = await auth.register(session, body)
    except auth.EmailTaken:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "an account with this email already exists"
        ) from None
    return _token(runtime, user)


@router.post("/auth/login", responses={401: {"description": "Wrong email or password"}})
async def login(body: UserLogin, session: SessionDep, runtime: RuntimeDep) -> Token:
    """Exchange email and password for a bearer token."""
    try:
        user = await auth.authenticate(session, body.email, body.password)
    except auth.InvalidCredentials:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "wrong email or password",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None
    return _token(runtime, user)


@router.get("/users/me")
async def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)

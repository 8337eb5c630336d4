"""Accounts and sessions: sign-up, sign-in, refresh, sign-out, password change, deletion.

Browsers get the refresh token as an httpOnly, SameSite=Strict cookie scoped to
`/api/v1/auth` (scripts on the page never see it); other clients ask for it in the body
(`refresh_via: body`) and send it back in the body of `/auth/refresh`.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from todo.backend import auth, sessions
from todo.backend.api.deps import (
    CallerDep,
    ClientAddress,
    CurrentUser,
    RuntimeDep,
    SessionDep,
    Unauthorized,
)
from todo.backend.api.errors import ApiError, responses
from todo.backend.models import (
    AccountDeletion,
    PasswordChange,
    RefreshRequest,
    RefreshVia,
    Token,
    User,
    UserLogin,
    UserPublic,
    UserRegister,
)
from todo.backend.rate_limits import RateLimited
from todo.backend.runtime import Runtime
from todo.backend.settings import CookieSecure
from todo.shared.settings_common import Environment

router = APIRouter(tags=["auth"])

REFRESH_COOKIE = "todo_refresh"
REFRESH_COOKIE_PATH = "/api/v1/auth"

_optional_bearer = HTTPBearer(auto_error=False)


def _refresh_lifetime(runtime: Runtime) -> timedelta:
    return timedelta(days=runtime.settings.refresh_token_days)


def _cookie_secure(request: Request, runtime: Runtime) -> bool:
    choice = runtime.settings.cookie_secure
    if choice is not CookieSecure.AUTO:
        return choice is CookieSecure.ALWAYS
    return runtime.settings.environment is not Environment.LOCAL or request.url.scheme == "https"


def _token(
    request: Request,
    response: Response,
    runtime: Runtime,
    user: User,
    refresh: sessions.IssuedRefresh,
    via: RefreshVia,
) -> Token:
    access_token, expires_in = runtime.tokens.issue(user.id, user.token_version)
    refresh_seconds = int(_refresh_lifetime(runtime).total_seconds())
    if via is RefreshVia.COOKIE:
        response.set_cookie(
            REFRESH_COOKIE,
            refresh.token,
            max_age=refresh_seconds,
            path=REFRESH_COOKIE_PATH,
            httponly=True,
            secure=_cookie_secure(request, runtime),
            samesite="strict",
        )
    return Token(
        access_token=access_token,
        expires_in=expires_in,
        refresh_token=refresh.token if via is RefreshVia.BODY else None,
        refresh_expires_in=refresh_seconds,
        user=UserPublic.model_validate(user, from_attributes=True),
    )


def _clear_cookie(response: Response) -> None:
    response.delete_cookie(
        REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, httponly=True, samesite="strict"
    )


async def _ended(runtime: Runtime, user_id: str) -> None:
    """After the user's token version rose: forget their copy, close their streams."""
    runtime.users.forget_user(user_id)
    runtime.live.end_user(user_id)


@router.post(
    "/auth/register",
    status_code=status.HTTP_201_CREATED,
    responses=responses(400, 409, 413, 429),
)
async def register(
    body: UserRegister,
    request: Request,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    address: ClientAddress,
) -> Token:
    """Create an account and sign in."""
    wait = await runtime.throttle.hit(runtime.abuse.sign_up_per_address, "sign-up", address)
    if wait:
        raise RateLimited("sign-ups from this address", wait)
    try:
        user = await auth.register(runtime.reads, session, body)
    except auth.EmailTaken:
        raise ApiError(409, "an account with this email already exists", "email_taken") from None
    refresh = await sessions.start(session, user.id, _refresh_lifetime(runtime))
    return _token(request, response, runtime, user, refresh, body.refresh_via)


@router.post("/auth/login", responses=responses(400, 401, 413, 429))
async def login(
    body: UserLogin,
    request: Request,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    address: ClientAddress,
) -> Token:
    """Exchange email and password for an access token and a refresh token."""
    user = await _verified(runtime, body.email, body.password, address)
    user = await auth.upgrade_hash(session, user, body.password)
    await _confirmed(session, user)
    refresh = await sessions.start(session, user.id, _refresh_lifetime(runtime))
    return _token(request, response, runtime, user, refresh, body.refresh_via)


class WrongPassword(ApiError):
    def __init__(self) -> None:
        super().__init__(403, "the password is wrong", "wrong_password")


async def _verified(
    runtime: Runtime,
    email: str,
    password: str,
    address: str | None,
    wrong: ApiError | None = None,
) -> User:
    """The account of this email if the password is right, within the sign-in limits.
    A wrong password is 401 at sign-in, `wrong` (403) where a token already signed in.
    Holds no connection a write waits for (see `todo.backend.auth`); what the caller
    then writes on the strength of it goes through `_confirmed`."""
    abuse, throttle, account = runtime.abuse, runtime.throttle, email.lower()
    if address is not None:
        wait = await throttle.hit(abuse.sign_in_per_address, "sign-in", address)
        if wait:
            raise RateLimited("sign-in attempts from this address", wait)
    wait = await throttle.wait(abuse.sign_in_failures_per_account, "sign-in-failed", account)
    if wait:
        raise RateLimited("failed sign-ins for this account", wait)
    try:
        return await auth.authenticate(runtime.reads, account, password)
    except auth.InvalidCredentials:
        await throttle.hit(abuse.sign_in_failures_per_account, "sign-in-failed", account)
        raise wrong or Unauthorized("wrong email or password") from None


async def _stored_password_hash(runtime: Runtime, user_id: str) -> str | None:
    """The account's password hash (the remembered user carries none), read beside the
    writes; Unauthorized for an account that no longer exists."""
    async with runtime.reads() as lookup:
        stored = await lookup.get(User, user_id)
    if stored is None:
        raise Unauthorized("token of an unknown user")
    return stored.password_hash


async def _confirmed(session: SessionDep, user: User, wrong: ApiError | None = None) -> None:
    """Begins the write that the verified password allows: refused as a wrong password
    if the account's password changed since it was verified."""
    assert user.password_hash is not None
    try:
        await auth.confirm_password(session, user.id, user.password_hash)
    except auth.InvalidCredentials:
        raise wrong or Unauthorized("wrong email or password") from None


@router.post("/auth/refresh", responses=responses(400, 401, 413))
async def refresh(
    request: Request,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    body: Annotated[RefreshRequest | None, Body()] = None,
) -> Token:
    """A new access token for a refresh token (the cookie, or `refresh_token` in the
    body); the refresh token is replaced by a new one, which the answer carries the same
    way. A replaced refresh token used again signs out every session it began."""
    presented, via = _presented_refresh(request, body)
    if presented is None:
        raise Unauthorized("no refresh token: sign in")
    try:
        user, issued = await sessions.rotate(session, presented, _refresh_lifetime(runtime))
    except sessions.RefreshRefused as exc:
        if via is RefreshVia.COOKIE and exc.code != "refresh_token_rotated":
            _clear_cookie(response)
        raise ApiError(
            401,
            exc.reason,
            exc.code,
            headers={"WWW-Authenticate": "Bearer", **_cookie_headers(response)},
        ) from None
    return _token(request, response, runtime, user, issued, via)


def _cookie_headers(response: Response) -> dict[str, str]:
    """The Set-Cookie of `response`, for an error answer (which replaces the response)."""
    return {
        name.decode(): value.decode()
        for name, value in response.raw_headers
        if name.lower() == b"set-cookie"
    }


def _presented_refresh(
    request: Request, body: RefreshRequest | None
) -> tuple[str | None, RefreshVia]:
    if body is not None and body.refresh_token is not None:
        return body.refresh_token, RefreshVia.BODY
    return request.cookies.get(REFRESH_COOKIE), RefreshVia.COOKIE


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, responses=responses(400, 413))
async def logout(
    request: Request,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_optional_bearer)],
    body: Annotated[RefreshRequest | None, Body()] = None,
) -> Response:
    """Sign out: revoke this session's refresh token (cookie or body) and end every
    access token of the user at once (other devices refresh to new ones). Answers 204
    whatever was presented, so it can always be called."""
    user_id: str | None = None
    presented, _via = _presented_refresh(request, body)
    if presented is not None:
        row = await sessions.family_of(session, presented)
        if row is not None:
            await sessions.revoke_family(session, row.family_id)
            user_id = row.user_id
    if user_id is None and credentials is not None:
        user_id = _user_of_access_token(runtime, credentials.credentials)
    if user_id is not None:
        await sessions.end_access_tokens(session, user_id, all_sessions=False)
        await _ended(runtime, user_id)
    _clear_cookie(response)
    response.status_code = status.HTTP_204_NO_CONTENT
    return response


def _user_of_access_token(runtime: Runtime, token: str) -> str | None:
    try:
        if runtime.tokens.is_local(token):
            return runtime.tokens.verify_local(token).user_id
    except auth.InvalidToken:
        pass
    return None


@router.post("/auth/password", responses=responses(400, 401, 403, 413, 429))
async def change_password(
    body: PasswordChange,
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Token:
    """Change the password: every session of the account ends (refresh tokens revoked,
    access tokens refused), and this one continues with the new tokens answered."""
    if await _stored_password_hash(runtime, user.id) is None:
        raise ApiError(
            400, "this account signs in through its issuer: it has no password", "no_password"
        )
    verified = await _verified(runtime, user.email, body.current_password, None, WrongPassword())
    new_hash = await asyncio.to_thread(auth.hash_password, body.new_password)
    await _confirmed(session, verified, WrongPassword())
    stored = await session.get(User, user.id)
    if stored is None:
        raise Unauthorized("token of an unknown user")
    stored.password_hash = new_hash
    await session.commit()
    await sessions.end_access_tokens(session, user.id, all_sessions=True)
    await _ended(runtime, user.id)
    await session.refresh(stored)
    issued = await sessions.start(session, user.id, _refresh_lifetime(runtime))
    return _token(request, response, runtime, stored, issued, body.refresh_via)


@router.get("/users/me", responses=responses(401))
async def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)


@router.delete(
    "/users/me",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(400, 401, 403, 413, 429),
)
async def delete_me(
    body: AccountDeletion,
    response: Response,
    caller: CallerDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """Delete the account and everything it holds; its tokens stop working at once. An
    account with a password confirms with it."""
    if await _stored_password_hash(runtime, caller.user.id) is not None:
        if body.password is None:
            raise ApiError(403, "confirm with your password", "password_required")
        verified = await _verified(runtime, caller.user.email, body.password, None, WrongPassword())
        await _confirmed(session, verified, WrongPassword())
    stored = await session.get(User, caller.user.id)
    if stored is None:
        raise Unauthorized("token of an unknown user")
    await session.delete(stored)
    await session.commit()
    await _ended(runtime, caller.user.id)
    _clear_cookie(response)
    response.status_code = status.HTTP_204_NO_CONTENT
    return response

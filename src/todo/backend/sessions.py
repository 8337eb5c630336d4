"""Sessions that can end: rotating refresh tokens and per-user token versions.

A sign-in issues a short access token (a JWT naming the user's token version) and an
opaque refresh token, stored only as its SHA-256, that starts a family. Each refresh
marks the presented token rotated (a compare-and-set: of two concurrent refreshes with
one token, one wins) and issues a new one of the same family. A rotated token presented
again means it was copied: the whole family is revoked, and its holder signs in again.
Within a few seconds of its rotation, a second use is only refused (two tabs of one
browser refreshing at once), not treated as theft.

Sign-out revokes its family and raises the user's token version, so every access token
issued before stops working at once (other devices refresh to new ones); a password
change revokes every family too.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from todo.backend.models import RefreshToken, User, new_id, utcnow

# Two tabs of one browser may refresh with the same cookie at once: within this long
# after a token's rotation, using it again is refused without revoking its family.
REUSE_GRACE = timedelta(seconds=10)


class RefreshRefused(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class IssuedRefresh:
    token: str
    expires_at: datetime
    family_id: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(user_id: str, family_id: str, lifetime: timedelta) -> tuple[RefreshToken, str]:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = RefreshToken(
        token_hash=_digest(token),
        user_id=user_id,
        family_id=family_id,
        created_at=now,
        expires_at=now + lifetime,
    )
    return row, token


async def start(session: AsyncSession, user_id: str, lifetime: timedelta) -> IssuedRefresh:
    """A new family for a fresh sign-in."""
    row, token = _new_token(user_id, new_id(), lifetime)
    session.add(row)
    await session.commit()
    return IssuedRefresh(token, row.expires_at, row.family_id)


async def rotate(
    session: AsyncSession, presented: str, lifetime: timedelta
) -> tuple[User, IssuedRefresh]:
    """Exchange a refresh token for a new one of its family, and hand back its user."""
    digest = _digest(presented)
    now = utcnow()
    row = await session.get(RefreshToken, digest)
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise RefreshRefused("unauthorized", "refresh token unknown, expired or revoked")
    user_id, family_id = row.user_id, row.family_id
    won = await session.execute(
        update(RefreshToken)
        .where(
            col(RefreshToken.token_hash) == digest,
            col(RefreshToken.rotated_at).is_(None),
            col(RefreshToken.revoked_at).is_(None),
        )
        .values(rotated_at=now)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        rotated_at = await session.scalar(
            select(RefreshToken.rotated_at).where(col(RefreshToken.token_hash) == digest)
        )
        if rotated_at is not None and now - rotated_at <= REUSE_GRACE:
            raise RefreshRefused(
                "refresh_token_rotated", "this refresh token was just replaced: use the new one"
            )
        await revoke_family(session, family_id)
        raise RefreshRefused(
            "refresh_token_reused",
            "this refresh token was already used: every session it began is signed out",
        )
    user = await session.get(User, user_id)
    if user is None:
        raise RefreshRefused("unauthorized", "refresh token of an unknown user")
    new_row, token = _new_token(user_id, family_id, lifetime)
    session.add(new_row)
    await session.commit()
    return user, IssuedRefresh(token, new_row.expires_at, family_id)


async def family_of(session: AsyncSession, presented: str) -> RefreshToken | None:
    return await session.get(RefreshToken, _digest(presented))


async def revoke_family(session: AsyncSession, family_id: str) -> None:
    await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.commit()


async def end_access_tokens(session: AsyncSession, user_id: str, *, all_sessions: bool) -> int:
    """Raise the user's token version (every access token issued so far stops working);
    with `all_sessions`, revoke every refresh token too. Returns the new version."""
    await session.execute(
        update(User)
        .where(col(User.id) == user_id)
        .values(token_version=col(User.token_version) + 1)
        .execution_options(synchronize_session=False)
    )
    if all_sessions:
        await session.execute(
            update(RefreshToken)
            .where(col(RefreshToken.user_id) == user_id, col(RefreshToken.revoked_at).is_(None))
            .values(revoked_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    version = await session.scalar(select(User.token_version).where(col(User.id) == user_id))
    await session.commit()
    return int(version or 0)

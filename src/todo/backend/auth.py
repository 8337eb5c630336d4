"""Password hashing (argon2), our own JWTs, and optional tokens from an external issuer."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cachetools import TTLCache
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from todo.backend.models import ExternalIdentity, User, UserRegister

# argon2id with OWASP's recommended parameters (Password Storage Cheat Sheet: 19 MiB, two
# passes, one lane), about 21 ms of CPU here. The library's default (RFC 9106's second
# choice: 64 MiB, three passes, four lanes) costs 155 ms of CPU per sign-in, which made
# sign-ins the largest CPU consumer under load (docs/performance.md). Each hash records its
# own parameters, so older hashes still verify and are upgraded at the next sign-in.
log = logging.getLogger(__name__)

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verifying against this keeps the response time of an unknown email equal to a known one
# whose hash has today's parameters. A hash of older, costlier parameters verifies slower
# until its next sign-in upgrades it: that tells such an account exists, which registering
# the same email (409) tells anyway.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


VERIFIED_TOKENS = 10_000
VERIFIED_SECONDS = 60.0


class EmailTaken(Exception):
    pass


class InvalidCredentials(Exception):
    pass


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token of ours says: whose, of which token version, until when."""

    user_id: str
    version: int
    expires_at: datetime


@dataclass(frozen=True)
class TokenIssuer:
    secret: str
    issuer: str
    audience: str
    lifetime: timedelta
    jwks_url: str = ""
    external_issuer: str = ""
    external_audience: str = ""
    # Our tokens verified once, for at most a minute and never past their expiry: a
    # request's token is then one lookup, not a base64 decode, an HMAC and the claims'
    # checks (a tenth of a simple read's CPU). Keyed by the whole token, signature and
    # all, so only the exact text once verified hits; revocation is the caller's check of
    # the token version, as before.
    _verified: TTLCache[str, AccessClaims] = field(
        default_factory=lambda: TTLCache(maxsize=VERIFIED_TOKENS, ttl=VERIFIED_SECONDS),
        init=False,
        repr=False,
        compare=False,
    )

    def issue(self, user_id: str, version: int) -> tuple[str, int]:
        now = datetime.now(UTC)
        claims = {
            "sub": user_id,
            "ver": version,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + self.lifetime,
        }
        return jwt.encode(claims, self.secret, algorithm="HS256"), int(
            self.lifetime.total_seconds()
        )

    def verify_local(self, token: str) -> AccessClaims:
        known = self._verified.get(token)
        if known is not None:
            if datetime.now(UTC) < known.expires_at:
                return known
            # Expired: decoding says so, with the library's own message.
            self._verified.pop(token, None)
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["sub", "ver", "exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        version = claims["ver"]
        if not isinstance(version, int) or isinstance(version, bool):
            raise InvalidToken("the token's version is not a number")
        verified = AccessClaims(
            user_id=str(claims["sub"]),
            version=version,
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )
        self._verified[token] = verified
        return verified

    async def verify_external(self, token: str) -> dict[str, Any]:
        if not self.jwks_url:
            raise InvalidToken("token not issued by this service")
        client = _jwks_client(self.jwks_url)
        try:
            # PyJWKClient fetches (and caches) keys with blocking I/O.
            key = await asyncio.to_thread(client.get_signing_key_from_jwt, token)
            return dict(
                jwt.decode(
                    token,
                    key.key,
                    algorithms=["RS256", "ES256", "PS256"],
                    audience=self.external_audience or None,
                    issuer=self.external_issuer,
                    options={"require": ["sub", "exp", "iss"]},
                )
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc

    def is_local(self, token: str) -> bool:
        if token in self._verified:
            return True
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        return header.get("alg") == "HS256"


_jwks_clients: dict[str, jwt.PyJWKClient] = {}


def _jwks_client(url: str) -> jwt.PyJWKClient:
    if url not in _jwks_clients:
        _jwks_clients[url] = jwt.PyJWKClient(url, cache_keys=True, lifespan=3600)
    return _jwks_clients[url]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


# Argon2's work (tens of milliseconds of CPU, more on a busy machine) happens while this
# module holds no database connection: every function below reads through `reads` (a
# session closed before the hash starts) and writes only once the hash is done. On SQLite
# the API's writes share one connection, and a sign-in that held it through its hash
# stopped every other write for as long (the tail of task creation under load).


async def register(
    reads: async_sessionmaker[AsyncSession], session: AsyncSession, data: UserRegister
) -> User:
    email = data.email.lower()
    async with reads() as lookup:
        taken = await lookup.scalar(select(User.id).where(col(User.email) == email))
    if taken is not None:
        raise EmailTaken(email)
    # argon2 is deliberately slow: keep it off the event loop.
    password_hash = await asyncio.to_thread(hash_password, data.password)
    user = User(email=email, display_name=data.display_name.strip(), password_hash=password_hash)
    session.add(user)
    try:
        await session.commit()
    except IntegrityError:
        # Another sign-up with this email committed between the check and this insert.
        await session.rollback()
        raise EmailTaken(email) from None
    return user


async def authenticate(reads: async_sessionmaker[AsyncSession], email: str, password: str) -> User:
    """The account of `email` if `password` is its password (InvalidCredentials if not).

    A copy read beside the writes: a caller that goes on to write (a sign-in's session,
    a new password) confirms in its write that the hash verified is still the account's
    (`confirm_password`), since a password change may commit while this one verifies."""
    async with reads() as lookup:
        user = await lookup.scalar(select(User).where(col(User.email) == email.lower()))
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        await asyncio.to_thread(_hasher.verify, stored, password)
    except (VerificationError, InvalidHashError):
        raise InvalidCredentials from None
    if user is None or not user.password_hash:
        raise InvalidCredentials
    return user


async def confirm_password(session: AsyncSession, user_id: str, verified_hash: str) -> None:
    """In the caller's write transaction: the hash a password was verified against is
    still the account's, else InvalidCredentials. PostgreSQL locks the user's row until
    the transaction ends, so a password change commits wholly before or after it; on
    SQLite the one writer connection, held to the commit, does the same."""
    current = await session.scalar(
        select(User.password_hash).where(col(User.id) == user_id).with_for_update()
    )
    if current != verified_hash:
        await session.rollback()
        raise InvalidCredentials


async def upgrade_hash(session: AsyncSession, user: User, password: str) -> User:
    """Re-hash with today's parameters when the stored hash has older ones. The hash is
    computed first; the write replaces only the hash that was verified. The sign-in has
    succeeded already: if the write fails (a busy or read-only database), the old hash
    stays, to be upgraded next time."""
    old_hash = user.password_hash
    if old_hash is None or not _hasher.check_needs_rehash(old_hash):
        return user
    new_hash = await asyncio.to_thread(hash_password, password)
    try:
        replaced = await session.execute(
            update(User)
            .where(col(User.id) == user.id, col(User.password_hash) == old_hash)
            .values(password_hash=new_hash)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    except SQLAlchemyError:
        await session.rollback()
        log.warning("password hash upgrade failed; kept the old hash", exc_info=True)
        return user
    if replaced.rowcount != 1:  # type: ignore[attr-defined]
        return user  # changed meanwhile: the caller's confirmation refuses the sign-in
    return User(**{**user.model_dump(), "password_hash": new_hash})


class ExternalEmailTaken(Exception):
    """An external identity seen for the first time carries the email of an account that
    already exists. Accounts are never linked by email: the issuer's word that somebody
    owns an address is not proof enough to hand them someone else's tasks."""


def external_key(claims: dict[str, Any]) -> str:
    """The user cache's key of an external identity (a local key is a user id)."""
    return f"{claims['iss']}|{claims['sub']}"


async def user_for_external_claims(session: AsyncSession, claims: dict[str, Any]) -> User:
    """Users of an external issuer get an account on first sight, keyed by (issuer, subject)."""
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    if len(issuer) > _KEY_CHARS or len(subject) > _KEY_CHARS:
        raise InvalidToken(f"issuer and subject must be at most {_KEY_CHARS} characters")
    user = await _external_user(session, issuer, subject)
    if user is not None:
        return user
    email = _external_email(claims, issuer, subject)
    if await session.scalar(select(User.id).where(col(User.email) == email)) is not None:
        # The same identity's first request may have just committed its account (the
        # account and its identity commit together).
        existing = await _external_user(session, issuer, subject)
        if existing is None:
            raise ExternalEmailTaken(email)
        return existing
    name = claims.get("name")
    user = User(email=email, display_name=name[:100] if isinstance(name, str) else "")
    try:
        session.add(user)
        await session.flush()
        session.add(ExternalIdentity(issuer=issuer, subject=subject, user_id=user.id))
        await session.commit()
    except IntegrityError:
        # The same identity's first requests raced (one committed), or its email was
        # taken meanwhile.
        await session.rollback()
        existing = await _external_user(session, issuer, subject)
        if existing is None:
            raise ExternalEmailTaken(email) from None
        return existing
    return user


_KEY_CHARS = 255


async def _external_user(session: AsyncSession, issuer: str, subject: str) -> User | None:
    identity = await session.get(ExternalIdentity, (issuer, subject))
    return None if identity is None else await session.get(User, identity.user_id)


def _external_email(claims: dict[str, Any], issuer: str, subject: str) -> str:
    email = claims.get("email")
    if isinstance(email, str) and 3 <= len(email) <= 320 and "@" in email:
        return email.lower()
    # No usable email: a unique placeholder that can never receive mail.
    digest = hashlib.sha256(f"{issuer}|{subject}".encode()).hexdigest()[:32]
    return f"{digest}@external.invalid"

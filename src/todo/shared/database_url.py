"""A database URL as operators write it, made into the one this project's drivers take.

PostgreSQL URLs come from providers and secrets in libpq's form: `postgres://` or
`postgresql://` and `?sslmode=require`. SQLAlchemy loads psycopg2 for the first (not
installed: the services run on asyncpg), refuses `postgres://`, and hands `sslmode` to
asyncpg's `connect()` as a keyword, which raises a TypeError at start-up. asyncpg takes the
same modes (disable, allow, prefer, require, verify-ca, verify-full) as its `ssl` argument.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# libpq's modes, which asyncpg's `ssl` takes as they are.
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# What SQLAlchemy's asyncpg dialect takes from a URL's query: every other key goes to
# asyncpg's `connect()` as a keyword, and one it does not take (libpq's channel_binding,
# connect_timeout, application_name, sslrootcert, options) raises a TypeError at the first
# connection instead of at start. `host` is SQLAlchemy's way of naming several hosts.
QUERY_KEYS = ("ssl", "target_session_attrs", "prepared_statement_cache_size", "host")


class InvalidDatabaseUrl(ValueError):
    """A URL this project cannot connect with; the message says why and what to write."""


def asyncpg_url(url: str) -> str:
    """`url` for SQLAlchemy's asyncpg dialect when it names PostgreSQL; others unchanged."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        # ValueError: a port that is no number, as an unescaped "@" or ":" in a password
        # makes one; its message quotes the URL, so it is not passed on.
        raise InvalidDatabaseUrl(
            "not a database URL: write postgresql://user:password@host:5432/name, or leave "
            "it empty for SQLite in the data directory"
        ) from None
    scheme, _, driver = parsed.drivername.partition("+")
    if scheme not in ("postgres", "postgresql"):
        return url
    if driver not in ("", "asyncpg"):
        raise InvalidDatabaseUrl(
            f"PostgreSQL driver {driver!r} is not installed: the services connect with "
            "asyncpg (write postgresql:// or postgresql+asyncpg://)"
        )
    query = dict(parsed.query)
    # libpq's sslmode and asyncpg's ssl take the same modes: either, checked here.
    modes = {query.pop(key) for key in ("sslmode", "ssl") if key in query}
    if len(modes) > 1:
        raise InvalidDatabaseUrl("sslmode and ssl disagree: give one of them")
    if modes:
        mode = modes.pop()
        if not isinstance(mode, str) or mode not in SSL_MODES:
            raise InvalidDatabaseUrl(f"sslmode must be one of {', '.join(SSL_MODES)}")
        query["ssl"] = mode
    for key in query:
        if key not in QUERY_KEYS:
            raise InvalidDatabaseUrl(
                f"URL parameter {key!r} is not one the asyncpg driver takes: remove it "
                f"(taken: sslmode, {', '.join(QUERY_KEYS)}; the services set their own "
                "connect timeout)"
            )
    return parsed.set(drivername="postgresql+asyncpg", query=query).render_as_string(
        hide_password=False
    )

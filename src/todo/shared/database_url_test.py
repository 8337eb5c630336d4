"""Operators' PostgreSQL URLs (libpq's form) are made into asyncpg's; others pass as they are."""

from __future__ import annotations

import pytest

from todo.shared.database_url import InvalidDatabaseUrl, asyncpg_url
from todo.shared.db import driver_url


@pytest.mark.parametrize(
    ("given", "made"),
    [
        ("postgresql://u:p@db:5432/todo", "postgresql+asyncpg://u:p@db:5432/todo"),
        ("postgres://u:p@db/todo", "postgresql+asyncpg://u:p@db/todo"),
        ("postgresql+asyncpg://u:p@db/todo", "postgresql+asyncpg://u:p@db/todo"),
        (
            "postgresql://u:p@db/todo?sslmode=require",
            "postgresql+asyncpg://u:p@db/todo?ssl=require",
        ),
        (
            "postgresql://u:p@db/todo?sslmode=verify-full&target_session_attrs=read-write",
            "postgresql+asyncpg://u:p@db/todo?ssl=verify-full&target_session_attrs=read-write",
        ),
        (
            "postgresql+asyncpg://u:p@db/todo?ssl=disable",
            "postgresql+asyncpg://u:p@db/todo?ssl=disable",
        ),
        # A password with characters URLs escape keeps them escaped.
        ("postgresql://u:p%40ss%2Fw@db/todo", "postgresql+asyncpg://u:p%40ss%2Fw@db/todo"),
        ("sqlite+aiosqlite:///data/todo.db", "sqlite+aiosqlite:///data/todo.db"),
    ],
)
def test_libpq_urls_become_asyncpg_urls(given: str, made: str) -> None:
    assert asyncpg_url(given) == made


def test_the_engine_gets_the_asyncpg_url_and_sqlite_its_one_trip_driver() -> None:
    assert driver_url("postgres://u@db/todo?sslmode=disable") == (
        "postgresql+asyncpg://u@db/todo?ssl=disable"
    )
    assert driver_url("sqlite+aiosqlite:///x.db").startswith("sqlite+todo_aiosqlite")


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("postgresql+psycopg2://u:secret-pw@db/todo", "driver 'psycopg2' is not installed"),
        ("postgresql://u:secret-pw@db/todo?sslmode=sometimes", "sslmode must be one of"),
        ("postgresql://u:secret-pw@db/todo?sslmode=require&ssl=disable", "disagree"),
        # asyncpg's own spelling is checked as well: "true" fails only at the connection.
        ("postgresql+asyncpg://u:secret-pw@db/todo?ssl=true", "sslmode must be one of"),
        ("db.internal:5432/todo secret-pw", "not a database URL"),
        # An unescaped "@" in the password: the parser's own message would quote it.
        ("postgresql://todo:secret-pw@ss:w0rd@db:5432/todo", "not a database URL"),
        # A provider's string (libpq's keys asyncpg does not take) fails here, not at
        # the first connection.
        (
            "postgresql://u:secret-pw@db/todo?sslmode=require&channel_binding=require",
            "'channel_binding' is not one the asyncpg driver takes",
        ),
        ("postgresql://u:secret-pw@db/todo?connect_timeout=10", "'connect_timeout'"),
    ],
)
def test_urls_that_cannot_work_are_refused_with_the_fix_and_no_password(
    given: str, reason: str
) -> None:
    with pytest.raises(InvalidDatabaseUrl) as refused:
        asyncpg_url(given)
    assert reason in str(refused.value)
    assert "secret-pw" not in str(refused.value)

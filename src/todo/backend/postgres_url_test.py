"""A PostgreSQL URL in libpq's form (as providers and secrets give it) migrates and serves,
with the TLS mode it asks for, on the real server."""

from __future__ import annotations

import asyncio
import os

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from todo.backend.migrate import upgrade_async
from todo.shared.db import open_database

pytestmark = pytest.mark.postgres


def libpq_url(url: str, mode: str) -> str:
    return (
        make_url(url)
        .set(drivername="postgresql", query={"sslmode": mode})
        .render_as_string(hide_password=False)
    )


async def server_has_tls(url: str) -> bool:
    db = open_database(libpq_url(url, "disable"))
    try:
        async with db.reads() as reads:
            setting: str = (await reads.execute(text("SHOW ssl"))).scalar_one()
            return setting == "on"
    finally:
        await db.dispose()


@pytest.mark.parametrize("mode", ["disable", "require"])
def test_a_libpq_url_with_sslmode_connects_as_it_says(postgres_url: str, mode: str) -> None:
    # CI's server (the distribution's package) has TLS on; one made by initdb alone does
    # not, and `require` cannot connect to it.
    if (
        mode == "require"
        and not os.environ.get("CI")
        and not asyncio.run(server_has_tls(postgres_url))
    ):
        pytest.skip("this PostgreSQL server has TLS off")
    libpq = libpq_url(postgres_url, mode)

    async def connect() -> tuple[str, bool, bool]:
        await upgrade_async(libpq)
        db = open_database(libpq)
        try:
            async with db.reads() as reads:
                server = (await reads.execute(text("SHOW ssl"))).scalar_one()
                used = (
                    await reads.execute(
                        text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                    )
                ).scalar_one()
            async with db.writes() as writes:
                migrated = (
                    await writes.execute(text("SELECT count(*) FROM alembic_version"))
                ).scalar_one() == 1
        finally:
            await db.dispose()
        return server, used, migrated

    server, used, migrated = asyncio.run(connect())
    assert migrated
    if mode == "disable":
        assert used is False
    else:
        # `require` against a server without TLS fails to connect; here it must be on.
        assert server == "on"
        assert used is True

"""A private PostgreSQL server for the devstack: Debian's (or any) PostgreSQL binaries,
a data directory of our own, loopback only, trust authentication.

`python -m todo.devstack.postgres --port 55432` runs one until Ctrl+C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pwd
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from todo.devstack.processes import stop_requested

DEFAULT_USER = "todo"


def _log(message: str) -> None:
    print(f"[devstack.postgres] {message}", flush=True)


def find_bin_dir() -> Path:
    """The directory of `initdb` and `pg_ctl`: TODO_PG_BIN, PATH, or Debian's layout."""
    configured = os.environ.get("TODO_PG_BIN")
    if configured:
        return Path(configured)
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if debian:
        return debian[0].parent
    raise FileNotFoundError(
        "PostgreSQL server binaries not found: apt-get install postgresql "
        "(or set TODO_PG_BIN to the directory holding initdb and pg_ctl)"
    )


def _run_as() -> tuple[list[str], int | None, int | None]:
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` user."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError as exc:
        raise RuntimeError("running as root needs a 'postgres' system user") from exc
    return ["runuser", "-u", "postgres", "--"], entry.pw_uid, entry.pw_gid


@dataclass
class PostgresServer:
    data_dir: Path
    port: int
    user: str = DEFAULT_USER
    # Fast by default (tests): a commit returns before its WAL is written, so a crash of
    # the server (not of the machine) loses the last fraction of a second. Crash-safe: a
    # commit's WAL is written first (fsync stays off: the machine itself does not crash).
    crash_safe: bool = False

    @property
    def url(self) -> str:
        """An asyncpg SQLAlchemy URL of the server's `postgres` database."""
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/postgres"

    @property
    def admin_url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def _cmd(self, *args: str) -> list[str]:
        prefix, _, _ = _run_as()
        return [*prefix, *args]

    def _initdb(self, bin_dir: Path) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _, uid, gid = _run_as()
        if uid is not None and gid is not None:
            os.chown(self.data_dir, uid, gid)
        result = subprocess.run(
            self._cmd(
                str(bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"initdb failed in {self.data_dir}: {result.stderr.strip()} (as root, the "
                "server runs as 'postgres', which must be able to reach that directory)"
            )

    async def start(self, timeout: float = 60) -> None:
        bin_dir = find_bin_dir()
        await asyncio.to_thread(self._initdb, bin_dir)
        synchronous_commit = "on" if self.crash_safe else "off"
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir} "
            f"-c fsync=off -c synchronous_commit={synchronous_commit} -c max_connections=200"
        )
        result = await asyncio.to_thread(
            subprocess.run,
            self._cmd(
                str(bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.data_dir / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            log = self.data_dir / "server.log"
            tail = log.read_text()[-3000:] if log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr}\n{tail}")
        await self.wait_ready(timeout)
        _log(f"PostgreSQL up on 127.0.0.1:{self.port} (data {self.data_dir})")

    async def wait_ready(self, timeout: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                conn = await asyncpg.connect(self.admin_url)
                await conn.close()
                return
            except (OSError, asyncpg.PostgresError):
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def create_database(self, name: str) -> str:
        conn = await asyncpg.connect(self.admin_url)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{name}"

    async def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop`: `fast` ends sessions cleanly; `immediate` is a crash (recovery
        runs at the next start), for fault tests."""
        bin_dir = find_bin_dir()
        await asyncio.to_thread(
            subprocess.run,
            self._cmd(str(bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"),
            capture_output=True,
        )


async def _serve(args: argparse.Namespace) -> None:
    server = PostgresServer(Path(args.data_dir), args.port)
    await server.start()
    print(f"PostgreSQL: {server.url}", flush=True)
    with contextlib.suppress(asyncio.CancelledError):
        await stop_requested().wait()
    await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="A private PostgreSQL on loopback")
    parser.add_argument("--port", type=int, default=55432)
    # Not under $HOME: as root the server runs as `postgres`, which must reach the directory.
    parser.add_argument("--data-dir", default="/var/tmp/todo-devstack/postgres")
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()


async def admin_execute(admin_url: str, statement: str) -> None:
    """Run one statement on the server of `admin_url` (any SQLAlchemy or libpq URL)."""
    url = make_url(admin_url)
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def create_database(admin_url: str, prefix: str = "todo") -> str:
    """A fresh database on that server; returns its asyncpg SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    return (
        make_url(admin_url)
        .set(drivername="postgresql+asyncpg", database=name)
        .render_as_string(hide_password=False)
    )


async def drop_database(admin_url: str, database_url: str) -> None:
    name = make_url(database_url).database
    await admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

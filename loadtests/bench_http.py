"""Benchmark: HTTP throughput, latency and CPU per request of our shapes beside a bare
baseline and the database's own ceiling, in one run.

    ./pants run loadtests:bench-http -- --postgres-url "$TODO_TEST_POSTGRES_URL"
    ./pants run loadtests:bench-http -- --postgres-url ... --seconds 10 --rounds 1

Targets, each started as its own process on this machine:
- `ours-postgres`: the backend (embedded shape) on a fresh PostgreSQL database;
- `ours-sqlite`: the backend on its embedded default, SQLite;
- `bare`: `loadtests.bare_baseline`, a raw ASGI app on uvicorn with one asyncpg pool that
  runs exactly our INSERT and our page query (no auth, validation or outbox);
- `pgbench`: the same two statements from pgbench (the database's ceiling on these cores).

Load: wrk (Debian's `wrk`), `--connections` connections from 2 threads for `--seconds`
per run; `--users` accounts with their own tokens, each seeded with 200 tasks; request
kinds create, list (pages of 25 and 200), get one, and a mix (50% list of 25, 30% get,
20% create). Rounds are interleaved (every target and kind once per round), and each
figure is the median over `--rounds`. Server CPU per request comes from the server
process's own counters (/proc/<pid>/stat), PostgreSQL's from its processes, and the
load generator's from its rusage, so a generator that is the bottleneck shows.
Figures and the command go to `--out` (summary.md, results.json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import asyncpg
import httpx

from loadtests import bare_baseline
from loadtests.cpu import _pids_named, process_cpu_seconds
from todo.backend.migrate import upgrade
from todo.devstack import shapes
from todo.devstack.ports import free_port
from todo.devstack.postgres import create_database, drop_database
from todo.devstack.processes import ChildProcess, python_env

API = "/api/v1"
PAGE = 200
# Reads first in each round: the creates grow every user's list for the rounds after.
KINDS = ("get", "list25", "list200", "create", "mix")
BARE_KINDS = ("list25", "list200", "create")


@dataclass
class Run:
    target: str
    kind: str
    round: int
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    server_cpu_ms: float | None
    database_cpu_ms: float | None
    generator_cpu_share: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class Target:
    name: str
    base_url: str
    pid: int | None
    tokens: list[str] = field(default_factory=list)
    task_ids: list[list[str]] = field(default_factory=list)
    kinds: Sequence[str] = KINDS


def _lua(target: Target, kind: str) -> str:
    """The wrk script of one run: random user per request, JSON stats on stdout at end."""
    tokens = ",".join(json.dumps(t) for t in target.tokens) or '""'
    ids = ",".join("{" + ",".join(json.dumps(i) for i in user) + "}" for user in target.task_ids)
    return f"""
local tokens = {{{tokens}}}
local ids = {{{ids}}}
local kind = "{kind}"
local n = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end
function init(args)
  math.randomseed(os.time() * 100 + (seed or 0))
end
local function headers(i)
  local h = {{["Content-Type"] = "application/json"}}
  if tokens[i] ~= "" then h["Authorization"] = "Bearer " .. tokens[i] end
  return h
end
local function create(i)
  n = n + 1
  local body = '{{"title":"bench ' .. n .. '","tags":["bench"]}}'
  return wrk.format("POST", "{API}/tasks", headers(i), body)
end
local function list(i, size)
  return wrk.format("GET", "{API}/tasks?limit=" .. size, headers(i))
end
local function get(i)
  local mine = ids[i]
  return wrk.format("GET", "{API}/tasks/" .. mine[math.random(#mine)], headers(i))
end
function request()
  local i = math.random(#tokens)
  if kind == "create" then return create(i) end
  if kind == "list25" then return list(i, 25) end
  if kind == "list200" then return list(i, 200) end
  if kind == "get" then return get(i) end
  local r = math.random()
  if r < 0.5 then return list(i, 25) elseif r < 0.8 then return get(i) else return create(i) end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{{"requests":%d,"duration_us":%d,"errors":%d,"status":%d,' ..
    '"p50":%d,"p95":%d,"p99":%d}}\\n', summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def _tree_cpu(pid: int) -> float | None:
    """CPU seconds of a server and its child processes (a multi-process server's workers)."""
    own = process_cpu_seconds(pid)
    if own is None:
        return None
    children = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                children += process_cpu_seconds(int(stat.parent.name)) or 0.0
        except (OSError, ValueError, IndexError):
            continue
    return own + children


def _database_cpu() -> dict[int, float]:
    """CPU seconds of each PostgreSQL process (backends come and go: compare per pid)."""
    return {pid: process_cpu_seconds(pid) or 0.0 for pid in _pids_named("postgres")}


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in after.items())


def _generator_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def run_wrk(
    target: Target, kind: str, seconds: float, connections: int, round_: int, work: Path
) -> Run:
    script = work / f"{target.name}-{kind}.lua"
    script.write_text(_lua(target, kind))
    server_before = _tree_cpu(target.pid) if target.pid else None
    database_before, generator_before = _database_cpu(), _generator_cpu()
    command = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{max(1, int(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        target.base_url,
    ]
    result = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed: {result.stderr[-500:]}")
    stats = json.loads(result.stdout.strip().splitlines()[-1])
    elapsed = stats["duration_us"] / 1e6
    requests = max(1, stats["requests"])
    server_after = _tree_cpu(target.pid) if target.pid else None
    server_ms = None
    if server_before is not None and server_after is not None:
        server_ms = 1000 * (server_after - server_before) / requests
    database_ms = 1000 * _spent(database_before, _database_cpu()) / requests
    return Run(
        target=target.name,
        kind=kind,
        round=round_,
        requests=stats["requests"],
        seconds=elapsed,
        errors=stats["errors"] + stats["status"],
        p50_ms=stats["p50"] / 1000,
        p95_ms=stats["p95"] / 1000,
        p99_ms=stats["p99"] / 1000,
        server_cpu_ms=server_ms,
        database_cpu_ms=database_ms,
        generator_cpu_share=(_generator_cpu() - generator_before) / elapsed / (os.cpu_count() or 1),
    )


# Every benchmark user signs up from this machine, and wrk replays their tokens for the
# whole run: the per-address sign-up limit and the 15-minute token lifetime are lifted.
BENCH_BACKEND = {"sign_up_rate": "100000/minute", "access_token_minutes": 24 * 60}


async def _seed_ours(base_url: str, users: int) -> tuple[list[str], list[list[str]]]:
    """`users` accounts, each with PAGE tasks; their tokens and task ids."""
    tokens: list[str] = []
    ids: list[list[str]] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for _ in range(users):
            email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
            r = await client.post(
                f"{API}/auth/register", json={"email": email, "password": "Bench-pass-12345!"}
            )
            r.raise_for_status()
            tokens.append(r.json()["access_token"])
        semaphore = asyncio.Semaphore(16)

        async def seed(token: str) -> list[str]:
            mine: list[str] = []
            headers = {"Authorization": f"Bearer {token}"}

            async def one(n: int) -> None:
                async with semaphore:
                    r = await client.post(
                        f"{API}/tasks",
                        headers=headers,
                        json={
                            "title": f"seeded {n} groceries",
                            "tags": ["home", "errands"][: n % 3],
                            "due_at": f"2031-{1 + n % 12:02d}-{1 + n % 28:02d}T09:00:00Z",
                        },
                    )
                    r.raise_for_status()
                    mine.append(r.json()["id"])

            await asyncio.gather(*(one(n) for n in range(PAGE)))
            return mine

        for token in tokens:
            ids.append(await seed(token))
    return tokens, ids


@contextlib.asynccontextmanager
async def ours(
    name: str, work: Path, users: int, database_url: str | None
) -> AsyncIterator[Target]:
    async with shapes.embedded(
        work / name, database_url=database_url, backend_overrides=BENCH_BACKEND
    ) as running:
        tokens, ids = await _seed_ours(running.base_url, users)
        yield Target(name, running.base_url, running.backend.pid, tokens, ids)


@contextlib.asynccontextmanager
async def ours_kafka(work: Path, users: int, admin_url: str, workers: int) -> AsyncIterator[Target]:
    """The backend service shape: `workers` processes on one port, the Kafka bus, its
    worker service and broker, PostgreSQL."""
    async with shapes.kafka(
        work / "ours-kafka",
        postgres_admin_url=admin_url,
        backend_overrides={**BENCH_BACKEND, "workers": workers},
    ) as running:
        tokens, ids = await _seed_ours(running.base_url, users)
        yield Target(f"ours-kafka-{workers}p", running.base_url, running.backend.pid, tokens, ids)


@contextlib.asynccontextmanager
async def bare(work: Path, admin_url: str, users: int) -> AsyncIterator[Target]:
    database_url = await create_database(admin_url, prefix="bench_bare")
    try:
        await asyncio.to_thread(upgrade, database_url)
        plain = database_url.replace("postgresql+asyncpg://", "postgresql://")
        owners = [str(uuid.uuid4()) for _ in range(users)]
        conn = await asyncpg.connect(plain)
        try:
            for owner in owners:
                await conn.execute(
                    "INSERT INTO users (id, email, display_name, created_at) "
                    "VALUES ($1, $2, '', now())",
                    owner,
                    f"{owner}@example.com",
                )
                for n in range(PAGE):
                    values = bare_baseline._insert_values(f"seeded {n}", owner)
                    await conn.execute(bare_baseline.INSERT_SQL, *values)
        finally:
            await conn.close()
        port = free_port()
        process = ChildProcess("bare", work / "logs" / "bare.log")
        process.spawn(
            [
                sys.executable,
                "-m",
                "loadtests.bare_baseline",
                "--database-url",
                plain,
                "--port",
                str(port),
            ],
            python_env({}),
        )
        try:
            await process.wait_http(f"http://127.0.0.1:{port}/tasks?limit=1", time.monotonic() + 60)
            # The bare app takes the bearer token for the owner's id.
            yield Target(
                "bare", f"http://127.0.0.1:{port}", process.pid, owners, [], kinds=BARE_KINDS
            )
        finally:
            await process.terminate(10)
    finally:
        with contextlib.suppress(Exception):
            await drop_database(admin_url, database_url)


def pgbench(admin_url: str, database_url: str, seconds: int, clients: int) -> dict[str, float]:
    """Transactions per second of our INSERT and our page query, straight from pgbench."""
    plain = database_url.replace("postgresql+asyncpg://", "postgresql://")
    page = bare_baseline.PAGE_SQL
    for position, name in enumerate(bare_baseline.PAGE_PARAMS, start=1):
        value = {**bare_baseline.PAGE_BOUND, "limit": 25}[name]
        literal = f"'{value}'" if isinstance(value, str) else str(value)
        page = re.sub(rf"\${position}(?!\d)", literal, page)
    columns = "id, owner_id, title, notes, status, priority, priority_rank, time_zone, "
    columns += "reminders, series_id, occurrence_number, created_at, updated_at, version"
    owner = bare_baseline.OWNER_ID
    insert = (
        f"INSERT INTO tasks ({columns}) SELECT u, '{owner}', 'pgbench', '', "  # noqa: S608
        "'open', 'medium', 1, 'UTC', '[]', u, 1, now(), now(), 1 "
        "FROM (SELECT gen_random_uuid()::text AS u) AS fresh;"
    )
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scripts:
        for name, sql in (("insert", insert), ("page of 25", page.replace("\n", " ") + ";")):
            path = Path(scripts) / f"{name.replace(' ', '_')}.sql"
            path.write_text(sql + "\n")
            command = ["pgbench", "-n", "-c", str(clients), "-j", "2", "-T", str(seconds)]
            out = subprocess.run(
                [*command, "-f", str(path), plain],  # noqa: S603 (our own arguments)
                capture_output=True,
                text=True,
                check=False,
            )
            found = re.search(r"tps = ([0-9.]+)", out.stdout)
            if not found:
                raise RuntimeError(f"pgbench failed: {out.stdout[-300:]} {out.stderr[-300:]}")
            results[name] = float(found.group(1))
    return results


def median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summary(runs: Sequence[Run], database: dict[str, float], command: str) -> str:
    targets = list(dict.fromkeys(r.target for r in runs))
    lines = [
        "# HTTP benchmark",
        "",
        f"`{command}`",
        "",
        "Medians over the rounds. CPU is ms of CPU per request: the server process's own,",
        "and PostgreSQL's (all its processes). Generator: the share of the machine wrk used.",
        "",
        "| kind | target | req/s | p50 ms | p95 ms | p99 ms | server CPU | db CPU | errors "
        "| generator |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind in KINDS:
        for target in targets:
            mine = [r for r in runs if r.kind == kind and r.target == target]
            if not mine:
                continue

            def fmt(value: float | None, digits: int = 1) -> str:
                return "-" if value is None else f"{value:.{digits}f}"

            lines.append(
                f"| {kind} | {target} | {fmt(median([r.rate for r in mine]), 0)} | "
                f"{fmt(median([r.p50_ms for r in mine]))} | "
                f"{fmt(median([r.p95_ms for r in mine]))} | "
                f"{fmt(median([r.p99_ms for r in mine]))} | "
                f"{fmt(median([r.server_cpu_ms for r in mine]), 2)} | "
                f"{fmt(median([r.database_cpu_ms for r in mine]), 2)} | "
                f"{sum(r.errors for r in mine)} | "
                f"{fmt(median([100 * r.generator_cpu_share for r in mine]), 0)}% |"
            )
    if database:
        lines += ["", "pgbench, the same statements:", ""]
        lines += [f"- {name}: {tps:,.0f} transactions/s" for name, tps in database.items()]
    return "\n".join(lines) + "\n"


async def bench(args: argparse.Namespace) -> int:
    if shutil.which("wrk") is None:
        print("bench-http needs wrk: apt-get install -y wrk", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="todo-bench-http-"))
    (work / "logs").mkdir()
    wanted = set(args.targets.split(","))
    runs: list[Run] = []
    database: dict[str, float] = {}
    async with contextlib.AsyncExitStack() as stack:
        targets: list[Target] = []
        if "ours-postgres" in wanted:
            database_url = await create_database(args.postgres_url, prefix="bench_ours")
            stack.push_async_callback(drop_database, args.postgres_url, database_url)
            targets.append(
                await stack.enter_async_context(
                    ours("ours-postgres", work, args.users, database_url)
                )
            )
        if "ours-sqlite" in wanted:
            targets.append(
                await stack.enter_async_context(ours("ours-sqlite", work, args.users, None))
            )
        if "ours-kafka" in wanted:
            started = ours_kafka(work, args.users, args.postgres_url, args.workers)
            targets.append(await stack.enter_async_context(started))
        if "bare" in wanted:
            started = bare(work, args.postgres_url, args.users)
            targets.append(await stack.enter_async_context(started))
        for target in targets:
            print(f"target {target.name}: {target.base_url}, server pid {target.pid}", flush=True)
        kinds = [k for k in KINDS if k in args.kinds.split(",")]
        for target in targets:  # warm-up: every statement compiled, every pool filled
            for kind in kinds:
                if kind in target.kinds:
                    await run_wrk(target, kind, 2, args.connections, 0, work)
        for round_ in range(1, args.rounds + 1):
            for kind in kinds:
                for target in targets:
                    if kind in target.kinds:
                        run = await run_wrk(
                            target, kind, args.seconds, args.connections, round_, work
                        )
                        runs.append(run)
                        print(
                            f"round {round_} {kind:8} {target.name:14} {run.rate:7.0f} req/s "
                            f"p95 {run.p95_ms:6.1f} ms cpu {run.server_cpu_ms or 0:5.2f} ms",
                            flush=True,
                        )
        if "pgbench" in wanted and shutil.which("pgbench"):
            database_url = await create_database(args.postgres_url, prefix="bench_pgbench")
            stack.push_async_callback(drop_database, args.postgres_url, database_url)
            await asyncio.to_thread(upgrade, database_url)
            plain = database_url.replace("postgresql+asyncpg://", "postgresql://")
            conn = await asyncpg.connect(plain)
            try:
                await conn.execute(
                    "INSERT INTO users (id, email, display_name, created_at) "
                    "VALUES ($1, 'pgbench@example.com', '', now())",
                    bare_baseline.OWNER_ID,
                )
            finally:
                await conn.close()
            database = await asyncio.to_thread(
                pgbench, args.postgres_url, database_url, int(args.seconds), args.connections
            )
    command = "./pants run loadtests:bench-http -- " + " ".join(sys.argv[1:])
    text = summary(runs, database, command)
    (out / "summary.md").write_text(text)
    (out / "results.json").write_text(
        json.dumps({"runs": [asdict(r) for r in runs], "pgbench": database}, indent=2)
    )
    print(text)
    shutil.rmtree(work, ignore_errors=True)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-url", default=os.environ.get("TODO_TEST_POSTGRES_URL", ""))
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument(
        "--targets",
        default="ours-postgres,ours-sqlite,bare,pgbench",
        help="of ours-postgres, ours-sqlite, ours-kafka (the service shape), bare, pgbench",
    )
    parser.add_argument("--workers", type=int, default=2, help="server processes of ours-kafka")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--out", default="dist/bench-http")
    args = parser.parse_args()
    if not args.postgres_url:
        parser.error("--postgres-url (or TODO_TEST_POSTGRES_URL) names the PostgreSQL server")
    sys.exit(asyncio.run(bench(args)))


if __name__ == "__main__":
    main()

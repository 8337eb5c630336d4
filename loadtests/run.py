"""Run a load test of Todo Cloud and judge it against loadtests/slo.yaml.

    python -m loadtests.run --target embedded --profile smoke
    python -m loadtests.run --target kafka --postgres-url postgresql://u:p@127.0.0.1/postgres
    python -m loadtests.run --target devstack --profile full
    python -m loadtests.run --target http://127.0.0.1:8000 --users 50 --duration 5m

Starts the target (see loadtests/targets.py; servers are separate processes, never the
load generator's), runs Locust headless as its own process (gevent stays out of this
one), samples event latencies meanwhile (loadtests/probes.py), then writes to --out:
Locust's HTML and CSV files, stats.json (histograms), probes.json, a plot of latency and
throughput over time, summary.md (each SLO: threshold, measured, pass/fail), and with
--py-spy the server's profile. Exit code: 0 all SLOs met, 1 an SLO breached (each named
on stderr with its measured value and threshold), 2 the run itself failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from loadtests import cpu, report, targets, warmup
from loadtests.probes import Probes
from loadtests.slo import (
    DEFAULT_SLO_FILE,
    ProbeSamples,
    SloFile,
    SloFileError,
    StatsSnapshot,
    breaches,
    evaluate,
    load_slo,
)
from todo.devstack import shapes
from todo.devstack.processes import ServiceFailed

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
EXIT_OK, EXIT_BREACH, EXIT_FAILED = 0, 1, 2
PY_SPY_RATE = 100


@dataclass(frozen=True)
class Profile:
    users: int
    spawn_rate: float
    duration_s: float
    wait: tuple[float, float]
    about: str


PROFILES = {
    # CI's gate: under 2 minutes in all (60 s of load, about 1,300 requests: enough for
    # the p95 of most groups to be judged, see percentile_tail_min in slo.yaml).
    "smoke": Profile(12, 2.0, 60.0, (0.2, 0.8), "CI: a light load, 60 s"),
    # People: enough simulated users with short think times to offer more than the
    # throughput floor on 2 cores; each simulated user stands for many people.
    "full": Profile(60, 10.0, 180.0, (0.05, 0.25), "60 users, 3 min"),
}


def log(message: str) -> None:
    print(f"[loadtests] {message}", file=sys.stderr, flush=True)


def parse_duration(text: str) -> float:
    """`90`, `90s`, `3m`, `1m30s`, `1h` -> seconds."""
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?", text.strip())
    if not text.strip() or match is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90, 90s, 3m, 1m30s)")
    hours, minutes, seconds = match.groups()
    total = int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)
    if total <= 0:
        raise argparse.ArgumentTypeError(f"duration must be positive: {text!r}")
    return total


def parse_wait(text: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--wait takes MIN,MAX seconds, not {text!r}") from None
    if not 0 <= low <= high:
        raise argparse.ArgumentTypeError(f"--wait needs 0 <= MIN <= MAX, got {text!r}")
    return low, high


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.run",
        description="Load-test Todo Cloud with Locust and judge the run against slo.yaml.",
    )
    parser.add_argument(
        "--target",
        default="embedded",
        help="embedded (SQLite, one backend process), kafka (PostgreSQL + Kafka + worker), "
        "devstack (the Dapr shape: PostgreSQL, Kafka, Dapr scheduler, backend and worker "
        "with daprd) or the URL of a running backend (loopback only without --allow-remote)",
    )
    parser.add_argument(
        "--postgres-url",
        default="",
        help="kafka target: admin URL of a PostgreSQL server where a fresh database is made "
        "(default: TODO_TEST_POSTGRES_URL)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a target URL or PostgreSQL server that is not on a loopback address",
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="smoke")
    parser.add_argument("--users", type=int, help="simulated users (profile's default)")
    parser.add_argument("--spawn-rate", type=float, help="users started per second")
    parser.add_argument("--duration", type=parse_duration, help="load time: 90s, 3m, ...")
    parser.add_argument(
        "--wait", type=parse_wait, help="think time between a user's actions: MIN,MAX seconds"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="report directory (default dist/loadtests/<UTC time>)",
    )
    parser.add_argument("--slo", type=Path, default=DEFAULT_SLO_FILE, help="the SLO file")
    parser.add_argument("--no-probes", action="store_true", help="skip the event probes")
    parser.add_argument(
        "--attempts",
        type=int,
        default=1,
        choices=range(1, 6),
        metavar="N",
        help="run again while a run breaches an SLO, at most N runs in all; exit 1 only if "
        "every run breached (each run's report kept: OUT, OUT-attempt-2, ...)",
    )
    parser.add_argument(
        "--no-warm-up",
        action="store_true",
        help="measure from the server's first request (default: every kind of request is "
        "sent a few times before the load, and not judged)",
    )
    parser.add_argument(
        "--py-spy",
        nargs="?",
        const="py-spy",
        default=None,
        metavar="PY_SPY",
        help="profile the backend process with py-spy (needs ptrace; optional: its path)",
    )
    return parser


@dataclass
class Settings:
    target: str
    postgres_url: str
    allow_remote: bool
    profile: str
    users: int
    spawn_rate: float
    duration_s: float
    wait: tuple[float, float]
    out: Path
    slo_path: Path
    probes: bool
    warm_up: bool
    py_spy: str | None
    command: str

    @classmethod
    def from_args(cls, args: argparse.Namespace, argv: Sequence[str]) -> Settings:
        preset = PROFILES[args.profile]
        out = args.out or Path("dist/loadtests") / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return cls(
            target=args.target,
            postgres_url=args.postgres_url or os.environ.get("TODO_TEST_POSTGRES_URL", ""),
            allow_remote=args.allow_remote,
            profile=args.profile,
            users=args.users or preset.users,
            spawn_rate=args.spawn_rate or preset.spawn_rate,
            duration_s=args.duration or preset.duration_s,
            wait=args.wait or preset.wait,
            out=out.resolve(),
            slo_path=args.slo,
            probes=not args.no_probes,
            warm_up=not args.no_warm_up,
            py_spy=args.py_spy,
            command="python -m loadtests.run " + shlex.join(argv),
        )


@contextlib.asynccontextmanager
async def start_target(settings: Settings, workdir: Path) -> AsyncIterator[targets.Target]:
    if settings.target == "embedded":
        async with targets.embedded(workdir, settings.out) as target:
            yield target
    elif settings.target == "devstack":
        async with targets.devstack(workdir, settings.out) as target:
            yield target
    elif settings.target == "kafka":
        if not settings.postgres_url:
            raise targets.TargetError(
                "the kafka target needs PostgreSQL: give --postgres-url or set "
                "TODO_TEST_POSTGRES_URL (source .ci/services.sh && start_postgres)"
            )
        async with targets.kafka(
            workdir, settings.out, settings.postgres_url, allow_remote=settings.allow_remote
        ) as target:
            yield target
    else:
        async with targets.remote(settings.target, allow_remote=settings.allow_remote) as target:
            yield target


async def run_locust(
    settings: Settings, base_url: str, on_start: Callable[[int], None] | None = None
) -> int:
    out = settings.out
    env = {k: v for k, v in shapes.child_env().items() if not k.startswith("LOCUST_")}
    env.update(
        {
            "LOADTEST_WAIT_MIN": str(settings.wait[0]),
            "LOADTEST_WAIT_MAX": str(settings.wait[1]),
            "LOADTEST_STATS_JSON": str(out / "stats.json"),
        }
    )
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        base_url,
        "--users",
        str(settings.users),
        "--spawn-rate",
        f"{settings.spawn_rate:g}",
        "--run-time",
        f"{settings.duration_s:.0f}s",
        "--stop-timeout",
        "5",
        "--csv",
        str(out / "locust"),
        "--csv-full-history",
        "--html",
        str(out / "locust.html"),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--logfile",
        str(out / "locust.log"),
        "--exit-code-on-error",
        "0",
    ]
    with (out / "locust.out").open("wb") as output:
        proc = await asyncio.create_subprocess_exec(
            *cmd, env=env, stdout=output, stderr=subprocess.STDOUT, cwd=out
        )
        if on_start is not None:
            on_start(proc.pid)
        try:
            async with asyncio.timeout(settings.duration_s + 120):
                return await proc.wait()
        except TimeoutError:
            log("Locust did not stop in time: terminating it")
            proc.terminate()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(15):
                    await proc.wait()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            return -1
        except BaseException:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise


async def start_py_spy(settings: Settings, pid: int) -> asyncio.subprocess.Process | None:
    binary = shutil.which(settings.py_spy or "py-spy")
    if binary is None:
        log(f"--py-spy: {settings.py_spy} not found; the server is not profiled")
        return None
    with (settings.out / "py-spy.log").open("wb") as errors:
        return await asyncio.create_subprocess_exec(
            binary,
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(PY_SPY_RATE),
            "--duration",
            f"{settings.duration_s:.0f}",
            "--format",
            "raw",
            "--threads",
            "--nonblocking",
            "--output",
            str(settings.out / "server-profile.txt"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=errors,
        )


async def finish_py_spy(
    proc: asyncio.subprocess.Process | None, settings: Settings, notes: list[str]
) -> None:
    if proc is None:
        return
    try:
        async with asyncio.timeout(30):
            await proc.wait()
    except TimeoutError:
        proc.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await proc.wait()
    raw = settings.out / "server-profile.txt"
    if proc.returncode != 0 or not raw.is_file():
        notes.append(
            f"py-spy failed (exit {proc.returncode}); see py-spy.log (it needs ptrace rights)"
        )
        return
    profile = report.read_py_spy_raw(raw, PY_SPY_RATE, settings.duration_s)
    report.write_profile_md(profile, settings.out / "server-profile.md")
    notes.append("server profiled with py-spy: server-profile.md")


async def scrape_metrics(target: targets.Target, out: Path) -> dict[str, str]:
    """Each service's /metrics at the end of the load, saved as <name>-metrics.txt."""
    urls = {s.name: s.url for s in target.services if s.url} or {"server": target.base_url}
    found: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=10.0) as client:
        for name, url in urls.items():
            try:
                response = await client.get(f"{url}/metrics")
                response.raise_for_status()
            except httpx.HTTPError as exc:
                log(f"{name} /metrics: {type(exc).__name__}: {exc}")
                continue
            found[name] = response.text
            (out / f"{name}-metrics.txt").write_text(response.text)
    return found


def read_stats(path: Path) -> tuple[StatsSnapshot, list[dict[str, Any]]]:
    data = json.loads(path.read_text())
    return StatsSnapshot.model_validate(data), list(data.get("errors", []))


async def execute(settings: Settings, slo: SloFile) -> int:
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    load_before = report.load_average()
    notes: list[str] = []
    probe_samples: dict[str, ProbeSamples] = {}
    workdir = Path(tempfile.mkdtemp(prefix="todo-loadtest-"))
    log(
        f"target {settings.target}, profile {settings.profile}: {settings.users} users, "
        f"{settings.duration_s:.0f} s; report in {out}"
    )
    try:
        async with start_target(settings, workdir) as target:
            log(f"target up: {target.description} at {target.base_url}")
            if settings.warm_up:
                warm = await warmup.warm_up(target.base_url)
                log(warm.describe())
                notes.append(f"{warm.describe()} (not judged: loadtests/warmup.py)")
            stop = asyncio.Event()
            probes = Probes(target.base_url, target.kafka_bootstrap)
            probing = asyncio.create_task(probes.run(stop)) if settings.probes else None
            spy = None
            backend_pid = target.backend.pid if target.backend is not None else None
            if settings.py_spy is not None and backend_pid is not None:
                spy = await start_py_spy(settings, backend_pid)
            monitor = cpu.CpuMonitor()
            for service in target.services:
                monitor.watch(service.name, service.pid)
            for name, pid in target.other_pids.items():
                monitor.watch(name, pid)
            if target.kind == "kafka":
                monitor.watch_command("postgres (every process of the server)", "postgres")
            monitoring = asyncio.create_task(monitor.run(stop))
            try:
                locust_exit = await run_locust(
                    settings, target.base_url, lambda pid: monitor.watch("locust", pid)
                )
            finally:
                stop.set()
                await monitoring
                cores = monitor.cores()
                metrics = await scrape_metrics(target, out)
                if probing is not None:
                    try:
                        async with asyncio.timeout(90):
                            probe_samples = await probing
                    except TimeoutError:
                        notes.append("probes did not finish within 90 s of the load's end")
                        probing.cancel()
                        probe_samples = probes.samples
                    notes.extend(probes.errors)
                await finish_py_spy(spy, settings, notes)
            dead = [s.name for s in target.services if not s.running]
            if dead:
                notes.append(f"exited during the run: {', '.join(dead)} (see their logs)")
    except (
        targets.TargetError,
        ServiceFailed,
        warmup.WarmUpError,
        httpx.HTTPError,
        OSError,
    ) as exc:
        log(f"the run failed: {exc}")
        return EXIT_FAILED
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    finished = datetime.now(UTC)
    load_after = report.load_average()
    backlog = report.task_events_backlog(metrics)
    if backlog is not None:
        notes.append(
            f"task events published but not yet handled by the worker when the load ended: "
            f"{backlog} (from the services' /metrics)"
        )
    if target.kind == "embedded":
        notes.append(
            "embedded target: no Kafka topic; event latency is measured as create -> SSE "
            "refresh (event:commit_to_sse)"
        )
    stats_file = out / "stats.json"
    if not stats_file.is_file():
        log(f"Locust wrote no stats (exit {locust_exit}); see {out / 'locust.out'}")
        return EXIT_FAILED
    snapshot, errors = read_stats(stats_file)
    (out / "probes.json").write_text(
        json.dumps({k: v.model_dump() for k, v in probe_samples.items()}, indent=1)
    )
    results = evaluate(slo, snapshot, probe_samples)
    info = report.RunInfo(
        command=settings.command,
        target=target.description,
        profile=settings.profile,
        users=settings.users,
        spawn_rate=settings.spawn_rate,
        duration_s=settings.duration_s,
        wait=settings.wait,
        started=started,
        finished=finished,
        machine=report.Machine.this(),
        load_before=load_before,
        load_after=load_after,
        locust_exit_code=locust_exit,
        cpu=cores,
        notes=notes,
    )
    history = out / "locust_stats_history.csv"
    history_data = report.read_history(history) if history.is_file() else None
    if history.is_file():
        report.plot_history(
            history,
            out / report.PLOT_FILE,
            slo,
            f"{target.kind}, {settings.users} users, {started:%Y-%m-%d %H:%M} UTC",
        )
    files = sorted({p.name for p in out.iterdir() if p.is_file()} | {report.SUMMARY_FILE})
    summary = report.summary_markdown(
        info, slo, snapshot, results, probe_samples, errors, files, history_data
    )
    (out / report.SUMMARY_FILE).write_text(summary)
    failed = breaches(results)
    log(
        f"{snapshot.total_count} requests, {snapshot.total_failures} failed, "
        f"{snapshot.throughput_rps:.1f} req/s; summary: {out / report.SUMMARY_FILE}"
    )
    # What else the machine did meanwhile, in the log too: a CI log may be all there is to
    # tell a slow service from a busy machine.
    load = " / ".join(f"{x:.2f}" for x in load_before)
    log(f"CPU during the load: {cpu.describe(cores)}; load average before (1/5/15 min) {load}")
    for result in failed:
        log(f"SLO breached: {result.describe()}")
    if not failed:
        log(f"all {len(results)} SLO checks met")
    return EXIT_BREACH if failed else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.target not in ("embedded", "kafka", "devstack"):
        try:
            targets.check_url(args.target, allow_remote=args.allow_remote)
        except targets.TargetError as exc:
            log(str(exc))
            return EXIT_FAILED
    try:
        slo = load_slo(args.slo)
        slo.check_profiles(PROFILES)
    except SloFileError as exc:
        log(str(exc))
        return EXIT_FAILED
    settings = Settings.from_args(args, argv)
    judged_by = slo.for_profile(settings.profile)
    started = time.monotonic()

    def run_once(attempt: int) -> int:
        out = (
            settings.out
            if attempt == 1
            else settings.out.with_name(f"{settings.out.name}-attempt-{attempt}")
        )
        return asyncio.run(execute(dataclasses.replace(settings, out=out), judged_by))

    code = until_met(run_once, args.attempts)
    log(f"done in {time.monotonic() - started:.0f} s, exit code {code}")
    return code


def until_met(run_once: Callable[[int], int], attempts: int) -> int:
    """Run up to `attempts` times while runs breach an SLO: a breach fails only when every
    attempt breached (a CI gate on a shared machine). A run that failed (exit 2) or met
    every SLO ends it at once."""
    code = EXIT_FAILED
    for attempt in range(1, attempts + 1):
        code = run_once(attempt)
        if code != EXIT_BREACH:
            return code
        if attempt < attempts:
            log(f"attempt {attempt} of {attempts} breached an SLO: once more, to see if it holds")
    return code


if __name__ == "__main__":
    sys.exit(main())

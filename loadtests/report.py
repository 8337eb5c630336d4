"""The report of a run: a plot of Locust's stats history and a one-page summary.md that
compares each figure with its SLO; plus, when the server was profiled, its hot spots."""

from __future__ import annotations

import contextlib
import csv
import math
import os
import platform
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from loadtests import cpu
from loadtests.slo import (
    GroupFigures,
    ProbeSamples,
    SloFile,
    SloResult,
    StatsSnapshot,
    Verdict,
    breaches,
    group_figures,
    sample_percentile,
    uncovered_names,
)

PLOT_FILE = "latency_throughput.png"
SUMMARY_FILE = "summary.md"


# --------------------------------------------------------------------------- machine


@dataclass(frozen=True)
class Machine:
    cores: int
    memory_gib: float
    cpu: str
    system: str
    python: str

    @classmethod
    def this(cls) -> Machine:
        memory_kib = 0
        cpu = platform.processor() or platform.machine()
        with contextlib.suppress(OSError):
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    memory_kib = int(line.split()[1])
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        return cls(
            cores=os.cpu_count() or 0,
            memory_gib=memory_kib / 1024 / 1024,
            cpu=cpu,
            system=f"{platform.system()} {platform.release()}",
            python=platform.python_version(),
        )

    def describe(self) -> str:
        return (
            f"{self.cores} cores, {self.memory_gib:.0f} GiB, {self.cpu}; {self.system}; "
            f"CPython {self.python} (runner)"
        )


def load_average() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (math.nan, math.nan, math.nan)


def _load_text(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.2f}" for x in load)


# --------------------------------------------------------------------------- plot


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def read_history(path: Path) -> dict[str, list[float]]:
    """The Aggregated rows of Locust's _stats_history.csv, as columns of floats, with
    `t` the seconds since the first row."""
    columns: dict[str, list[float]] = {
        k: [] for k in ("t", "users", "rps", "fps", "p50", "p95", "p99")
    }
    with path.open(newline="") as fh:
        rows = [row for row in csv.DictReader(fh) if row.get("Name") == "Aggregated"]
    if not rows:
        return columns
    start = _number(rows[0]["Timestamp"])
    for row in rows:
        columns["t"].append(_number(row["Timestamp"]) - start)
        columns["users"].append(_number(row["User Count"]))
        columns["rps"].append(_number(row["Requests/s"]))
        columns["fps"].append(_number(row["Failures/s"]))
        columns["p50"].append(_number(row["50%"]))
        columns["p95"].append(_number(row["95%"]))
        columns["p99"].append(_number(row["99%"]))
    return columns


def second_half(history: Mapping[str, list[float]]) -> dict[str, float]:
    """Medians of the history's second half (ramp-up long over): a steady-state view of
    throughput and the 10 s-window percentiles. Informative; the SLOs use the whole run."""
    times = history.get("t", [])
    if len(times) < 4:
        return {}
    half = times[-1] / 2
    picked = [i for i, t in enumerate(times) if t >= half]
    result = {}
    for key in ("rps", "p50", "p95", "p99"):
        values = sorted(history[key][i] for i in picked if not math.isnan(history[key][i]))
        if values:
            result[key] = values[len(values) // 2]
    return result


def plot_history(history_csv: Path, png: Path, slo: SloFile, title: str) -> None:
    """Latency percentiles (top) and throughput with users (bottom) over the run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = read_history(history_csv)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    top.plot(data["t"], data["p50"], label="p50", color="tab:green")
    top.plot(data["t"], data["p95"], label="p95", color="tab:orange")
    top.plot(data["t"], data["p99"], label="p99", color="tab:red")
    bounds = Counter(g.p95_ms for g in slo.groups.values() if g.p95_ms is not None)
    if bounds:
        bound = bounds.most_common(1)[0][0]
        top.axhline(
            bound, color="tab:orange", linestyle="--", linewidth=1, label=f"p95 SLO {bound:g} ms"
        )
    top.set_ylabel("response time, ms (all requests, 10 s window)")
    top.set_yscale("symlog", linthresh=10)
    top.set_ylim(bottom=0)
    top.grid(True, alpha=0.3)
    top.legend(loc="upper left")
    top.set_title(title, fontsize=10)
    bottom.plot(data["t"], data["rps"], label="requests/s", color="tab:blue")
    bottom.plot(data["t"], data["fps"], label="failures/s", color="tab:red")
    bottom.axhline(
        slo.throughput_min_rps,
        color="tab:blue",
        linestyle="--",
        linewidth=1,
        label=f"floor {slo.throughput_min_rps:g} req/s",
    )
    bottom.set_ylabel("per second")
    bottom.set_xlabel("seconds since start")
    bottom.grid(True, alpha=0.3)
    users = bottom.twinx()
    users.plot(data["t"], data["users"], label="users", color="tab:gray", linestyle=":")
    users.set_ylabel("users")
    handles, labels = bottom.get_legend_handles_labels()
    more_handles, more_labels = users.get_legend_handles_labels()
    bottom.legend(handles + more_handles, labels + more_labels, loc="upper left")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


# --------------------------------------------------------------------------- metrics


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metric_sum(text: str, name: str, **labels: str) -> float:
    """The sum of a Prometheus text exposition's samples of `name` with these labels."""
    total = 0.0
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        if match is None or match.group(1) != name:
            continue
        found = dict(_LABEL.findall(match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += _number(match.group(3))
    return total


def task_events_backlog(metrics: Mapping[str, str]) -> int | None:
    """Task events published but not yet handled by a worker at the end of the load: the
    backend's published count less every service's consumed count on `task-events`."""
    if not metrics:
        return None
    published = sum(
        metric_sum(text, "todo_events_published_total", topic="task-events")
        for text in metrics.values()
    )
    consumed = sum(
        metric_sum(text, "todo_events_consumed_total", topic="task-events")
        for text in metrics.values()
    )
    if published == 0:
        return None
    return int(published - consumed)


# --------------------------------------------------------------------------- server profile


@dataclass
class Profile:
    samples: int
    seconds: float
    rate: int
    threads: list[tuple[str, int]] = field(default_factory=list)
    self_time: list[tuple[str, int]] = field(default_factory=list)
    own_code: list[tuple[str, int]] = field(default_factory=list)


_FRAME_LINE = re.compile(r":\d+\)$")
_THREAD_FRAME = re.compile(r"^thread \(\d+\):?\s*(.*)$")


def _frame_name(frame: str) -> str:
    """`handle (/…/site-packages/x/y.py:12)` -> `handle (x/y.py)`: line numbers folded."""
    name = _FRAME_LINE.sub(")", frame.strip())
    name = re.sub(r"\(.*?/(site-packages|lib/python3\.\d+)/", "(", name)
    return re.sub(r"\(.*?/src/todo/", "(todo/", name)


def _thread_kind(name: str) -> str:
    """`asyncio_3` -> `asyncio_N`: threads of one pool count together."""
    return re.sub(r"\d+", "N", name.strip()) or "(unnamed)"


def read_py_spy_raw(path: Path, rate: int, seconds: float) -> Profile:
    """py-spy's `--format raw --threads` (collapsed stacks `thread (id): name;a;b;c count`):
    samples per thread kind, self samples per function and inclusive samples of the
    project's own functions (line numbers folded)."""
    threads: Counter[str] = Counter()
    own: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        raw_frames = [f for f in stack.split(";") if f]
        thread = _THREAD_FRAME.match(raw_frames[0]) if raw_frames else None
        if thread is not None:
            threads[_thread_kind(thread.group(1))] += count
            raw_frames = raw_frames[1:]
        frames = [_frame_name(f) for f in raw_frames]
        if frames:
            own[frames[-1]] += count
        for name in {f for f in frames if "(todo/" in f}:
            ours[name] += count
    return Profile(
        samples=total,
        seconds=seconds,
        rate=rate,
        threads=threads.most_common(),
        self_time=own.most_common(20),
        own_code=ours.most_common(20),
    )


def write_profile_md(profile: Profile, path: Path) -> None:
    cores = profile.samples / max(1.0, profile.rate * profile.seconds)
    total = max(1, profile.samples)
    lines = [
        "# Server profile (py-spy, backend process)",
        "",
        f"{profile.samples} non-idle thread samples at {profile.rate} Hz over "
        f"{profile.seconds:.0f} s: on average {cores:.2f} of the process's threads were "
        "running. Shares are of those samples. Without --native, time in C code (SQLite, "
        "argon2, the event loop's own) is charged to the Python function that called it. "
        "Raw stacks: `server-profile.txt` (collapsed format: speedscope or flamegraph.pl).",
        "",
        "## Threads",
        "",
        "| share | thread |",
        "| ---: | --- |",
    ]
    lines += [f"| {n / total:.1%} | {name} |" for name, n in profile.threads]
    lines += ["", "## Self time", "", "| share | function |", "| ---: | --- |"]
    lines += [f"| {n / total:.1%} | `{name}` |" for name, n in profile.self_time]
    lines += [
        "",
        "## The project's functions, inclusive (on the stack)",
        "",
        "| share | function |",
        "| ---: | --- |",
    ]
    lines += [f"| {n / total:.1%} | `{name}` |" for name, n in profile.own_code]
    path.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- summary


@dataclass
class RunInfo:
    command: str
    target: str
    profile: str
    users: int
    spawn_rate: float
    duration_s: float
    wait: tuple[float, float]
    started: datetime
    finished: datetime
    machine: Machine
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    locust_exit_code: int | None
    cpu: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _verdict_cell(result: SloResult) -> str:
    if result.verdict is Verdict.PASS:
        return "pass"
    if result.verdict is Verdict.NOT_APPLICABLE:
        return "n/a"
    return f"**{result.verdict.value}**"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary_markdown(
    info: RunInfo,
    slo: SloFile,
    snapshot: StatsSnapshot,
    results: Sequence[SloResult],
    probes: Mapping[str, ProbeSamples],
    errors: Sequence[Mapping[str, object]],
    files: Sequence[str],
    history: Mapping[str, list[float]] | None = None,
) -> str:
    failed = breaches(results)
    verdict = (
        "all SLOs met" if not failed else f"{len(failed)} of {len(results)} SLO checks breached"
    )
    lines = [
        f"# Load test: {verdict}",
        "",
        f"- Date: {info.started:%Y-%m-%d %H:%M} to {info.finished:%H:%M:%S} UTC",
        f"- Command: `{info.command}`",
        f"- Target: {info.target}",
        (
            f"- Load: profile {info.profile}, {info.users} users (spawn {info.spawn_rate:g}/s), "
            f"{info.duration_s:.0f} s, think time {info.wait[0]:g}-{info.wait[1]:g} s; load "
            "generator (Locust, 1 process), server and probes share the machine"
        ),
        f"- Machine: {info.machine.describe()}",
        (
            f"- Load average (1/5/15 min): {_load_text(info.load_before)} before, "
            f"{_load_text(info.load_after)} after"
        ),
        f"- CPU during the load (average cores): {cpu.describe(info.cpu)}",
        (
            f"- Totals: {snapshot.total_count} requests, {snapshot.total_failures} failed, "
            f"{snapshot.throughput_rps:.1f} req/s over {snapshot.duration_s:.0f} s"
        ),
    ]
    steady = second_half(history or {})
    if {"rps", "p50", "p95", "p99"} <= steady.keys():
        lines.append(
            f"- Second half of the run (medians of Locust's 10 s windows, not judged): "
            f"{steady['rps']:.1f} req/s, p50 / p95 / p99 {steady['p50']:.0f} / "
            f"{steady['p95']:.0f} / {steady['p99']:.0f} ms"
        )
    overrides = slo.profiles.get(info.profile)
    lines += ["", "## SLOs (slo.yaml)", ""]
    if overrides is not None:
        changed = overrides.model_dump(exclude_none=True, exclude={"description"})
        lines += [
            f"Profile {info.profile} judges differently: "
            + ", ".join(f"{key} {value:g}" for key, value in changed.items())
            + (f" ({overrides.description.strip()})" if overrides.description else "")
            + "; everything else is the release objective.",
            "",
        ]
    lines += [
        "| SLO | threshold | measured | result |",
        "| --- | --- | --- | --- |",
    ]
    for r in results:
        measured = r.measured_text + (f" ({_md(r.detail)})" if r.detail else "")
        lines.append(f"| {r.slo} | {r.threshold_text} | {measured} | {_verdict_cell(r)} |")
    figures: dict[str, GroupFigures] = group_figures(slo, snapshot)
    lines += [
        "",
        "## Endpoint groups",
        "",
        "| group | requests | failures | p50 ms | p95 ms | p99 ms | req/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    duration = max(snapshot.duration_s, 1e-9)
    for group, fig in figures.items():
        lines.append(
            f"| {group} | {fig.count} | {fig.failures} | {fig.percentiles[50]} | "
            f"{fig.percentiles[95]} | {fig.percentiles[99]} | {fig.count / duration:.1f} |"
        )
    extra = uncovered_names(slo, snapshot)
    if extra:
        lines += ["", f"Recorded under no SLO group: {', '.join(extra)}."]
    lines += [
        "",
        "## Event probes",
        "",
        "| probe | samples | lost | p50 ms | p95 ms | p99 ms | what |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, samples in sorted(probes.items()):
        values = samples.values_ms
        p50, p95, p99 = (sample_percentile(values, p) for p in (50, 95, 99))
        lines.append(
            f"| {name} | {len(values)} | {samples.lost} | {_ms(p50)} | {_ms(p95)} | {_ms(p99)} "
            f"| {_md(samples.note)} |"
        )
    if not probes:
        lines.append("| (none ran) | | | | | | |")
    if errors:
        lines += [
            "",
            "## Errors (most frequent)",
            "",
            "| count | request | error |",
            "| ---: | --- | --- |",
        ]
        ordered = sorted(errors, key=lambda e: -int(str(e.get("occurrences", 0))))
        for error in ordered[:8]:
            lines.append(
                f"| {error.get('occurrences')} | {error.get('method')} {error.get('name')} | "
                f"{_md(str(error.get('error', '')))[:160]} |"
            )
    if info.notes:
        lines += ["", "## Notes", ""] + [f"- {_md(note)}" for note in info.notes]
    lines += [
        "",
        f"![latency and throughput]({PLOT_FILE})",
        "",
        "Files: " + ", ".join(f"`{name}`" for name in files),
        "",
    ]
    return "\n".join(lines)

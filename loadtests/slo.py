"""The SLOs of the load tests and their evaluation: pure functions, no I/O but load_slo().

`slo.yaml` (beside this module) holds the objectives; `evaluate()` compares a stats
snapshot of a Locust run (and the runner's probe samples) with them and returns one
`SloResult` per objective. Latency percentiles are computed from Locust's response-time
histograms with Locust's own rule, so a group of one request name shows the figure that
Locust's HTML report shows, and a group of several names pools their histograms exactly.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_SLO_FILE = Path(__file__).with_name("slo.yaml")

# --------------------------------------------------------------------------- the file


class _PercentileBounds(BaseModel):
    """Upper bounds on the 50th, 95th and 99th percentiles (ms); at least one is given."""

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    p50_ms: float | None = Field(default=None, gt=0)
    p95_ms: float | None = Field(default=None, gt=0)
    p99_ms: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _has_a_bound(self) -> Self:
        if self.p50_ms is None and self.p95_ms is None and self.p99_ms is None:
            raise ValueError("give at least one of p50_ms, p95_ms, p99_ms")
        return self

    def bounds(self) -> list[tuple[int, float]]:
        pairs = ((50, self.p50_ms), (95, self.p95_ms), (99, self.p99_ms))
        return [(p, bound) for p, bound in pairs if bound is not None]


class GroupSlo(_PercentileBounds):
    """Latency objectives of one endpoint group (Locust request names pooled)."""

    # Locust request names (shell-style patterns); empty: the group's own name.
    requests: list[str] = Field(default_factory=list)


class ProbeSlo(_PercentileBounds):
    """Latency objectives of one event probe of the runner."""

    min_samples: int = Field(default=1, ge=1)
    lost_max: int = Field(default=0, ge=0)


class ProfileOverrides(BaseModel):
    """What one load profile judges differently from the file's top level (a profile whose
    offered load is fixed and light cannot be held to the release throughput floor)."""

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    throughput_min_rps: float | None = Field(default=None, ge=0)
    error_ratio_max: float | None = Field(default=None, ge=0, le=1)


class SloFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1]
    throughput_min_rps: float = Field(ge=0)
    error_ratio_max: float = Field(ge=0, le=1)
    # A group's pN is judged only when at least this many of its requests lie beyond it
    # (n >= tail * 100 / (100 - N)): the p95 of 8 requests is their maximum, one outlier.
    percentile_tail_min: int = Field(default=2, ge=1)
    groups: dict[str, GroupSlo] = Field(min_length=1)
    probes: dict[str, ProbeSlo] = Field(default_factory=dict)
    profiles: dict[str, ProfileOverrides] = Field(default_factory=dict)

    def for_profile(self, profile: str) -> SloFile:
        """The objectives a run of `profile` is judged by: the top level, with that
        profile's overrides (if any) applied."""
        overrides = self.profiles.get(profile)
        if overrides is None:
            return self
        changes = overrides.model_dump(exclude_none=True, exclude={"description"})
        return self.model_copy(update=changes)

    def check_profiles(self, known: Iterable[str]) -> None:
        """A misspelt profile name would silently judge nothing differently: refuse it."""
        names = sorted(known)
        for name in self.profiles:
            if name not in names:
                raise SloFileError(
                    f"profiles.{name}: no such load profile (known: {', '.join(names)})"
                )


class SloFileError(ValueError):
    """slo.yaml is not valid YAML or does not fit the schema; the message names the field."""


def _field_path(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def parse_slo(text: str, source: str = "slo.yaml") -> SloFile:
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SloFileError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SloFileError(f"{source}: expected a mapping at the top level, got {data!r}")
    try:
        return SloFile.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{_field_path(err['loc'])}: {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors(include_url=False)
        ]
        raise SloFileError(f"{source}: " + "; ".join(problems)) from None


def load_slo(path: Path = DEFAULT_SLO_FILE) -> SloFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SloFileError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_slo(text, str(path))


# --------------------------------------------------------------------------- the figures


class RequestStats(BaseModel):
    """One Locust stats entry: a (request name, method) pair and its histogram."""

    name: str
    method: str = ""
    count: int = Field(ge=0)
    failures: int = Field(ge=0)
    # Locust's rounded response time (ms) -> how many requests took it.
    response_times: dict[int, int] = Field(default_factory=dict)


class StatsSnapshot(BaseModel):
    """What the evaluation needs of a Locust run."""

    duration_s: float = Field(ge=0)
    requests: list[RequestStats]

    @property
    def total_count(self) -> int:
        return sum(r.count for r in self.requests)

    @property
    def total_failures(self) -> int:
        return sum(r.failures for r in self.requests)

    @property
    def throughput_rps(self) -> float:
        return self.total_count / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def error_ratio(self) -> float:
        total = self.total_count
        return self.total_failures / total if total else 0.0


class ProbeSamples(BaseModel):
    """Latencies one probe measured (ms), and how many it waited for in vain."""

    values_ms: list[float] = Field(default_factory=list)
    lost: int = Field(default=0, ge=0)
    note: str = ""


def merge_histograms(histograms: Iterable[Mapping[int, int]]) -> dict[int, int]:
    merged: dict[int, int] = {}
    for histogram in histograms:
        for value, count in histogram.items():
            merged[value] = merged.get(value, 0) + count
    return merged


def histogram_percentile(histogram: Mapping[int, int], percent: float) -> int:
    """Locust's rule (stats.calculate_response_time_percentile): the response time that
    `percent` of the requests did not exceed. 0 for an empty histogram."""
    total = sum(histogram.values())
    if total == 0:
        return 0
    wanted = int(total * percent / 100)
    processed = 0
    for value in sorted(histogram, reverse=True):
        processed += histogram[value]
        if total - processed <= wanted:
            return value
    return min(histogram)


def sample_percentile(values: Sequence[float], percent: float) -> float:
    """Nearest-rank percentile of samples (the rule of loadtests.bench_events)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(percent / 100 * len(ordered)) - 1))
    return ordered[index]


@dataclass(frozen=True)
class GroupFigures:
    group: str
    names: tuple[str, ...]
    count: int
    failures: int
    percentiles: dict[int, int]  # 50, 95, 99 -> ms


def group_figures(slo: SloFile, snapshot: StatsSnapshot) -> dict[str, GroupFigures]:
    figures: dict[str, GroupFigures] = {}
    for group, spec in slo.groups.items():
        patterns = spec.requests or [group]
        matched = [
            r for r in snapshot.requests if any(fnmatch.fnmatchcase(r.name, p) for p in patterns)
        ]
        histogram = merge_histograms(r.response_times for r in matched)
        figures[group] = GroupFigures(
            group=group,
            names=tuple(sorted({r.name for r in matched})),
            count=sum(r.count for r in matched),
            failures=sum(r.failures for r in matched),
            percentiles={p: histogram_percentile(histogram, p) for p in (50, 95, 99)},
        )
    return figures


def uncovered_names(slo: SloFile, snapshot: StatsSnapshot) -> list[str]:
    """Request names that no group pools (recorded, but under no latency objective)."""
    patterns = [p for group, spec in slo.groups.items() for p in (spec.requests or [group])]
    return sorted(
        {
            r.name
            for r in snapshot.requests
            if not any(fnmatch.fnmatchcase(r.name, p) for p in patterns)
        }
    )


# --------------------------------------------------------------------------- evaluation


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "FAIL"
    # No figure to judge although the run should have produced one: a breach too.
    MISSING = "MISSING"
    # The target cannot produce this figure (e.g. no Kafka topic): not judged.
    NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class SloResult:
    slo: str  # e.g. "tasks:list p95"
    comparison: Literal["<", "<=", ">="]
    threshold: float
    unit: str  # "ms", "req/s", "" (a ratio)
    measured: float | None
    verdict: Verdict
    detail: str = ""

    @property
    def breached(self) -> bool:
        return self.verdict in (Verdict.FAIL, Verdict.MISSING)

    @property
    def threshold_text(self) -> str:
        return f"{self.comparison} {_number(self.threshold)}{_unit(self.unit)}"

    @property
    def measured_text(self) -> str:
        if self.measured is None:
            return "-"
        return f"{_number(self.measured)}{_unit(self.unit)}"

    def describe(self) -> str:
        """One line: what, measured, threshold, verdict (and why, when missing)."""
        text = (
            f"{self.slo}: measured {self.measured_text}, threshold {self.threshold_text}"
            f" -> {self.verdict.value}"
        )
        return f"{text} ({self.detail})" if self.detail else text


def _number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) < 0.01:
        return f"{value:.4f}"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _unit(unit: str) -> str:
    return f" {unit}" if unit else ""


def _judge(passed: bool) -> Verdict:
    return Verdict.PASS if passed else Verdict.FAIL


def _latency(
    name: str, bound: float, measured: float | None, verdict: Verdict, detail: str = ""
) -> SloResult:
    """A latency objective's result: measured (ms) strictly below its bound."""
    return SloResult(name, "<", bound, "ms", measured, verdict, detail)


def requests_to_judge(percent: int, tail: int) -> int:
    """The fewest requests whose pN has `tail` requests beyond it (p95, tail 2: 40)."""
    return math.ceil(tail * 100 / (100 - percent) - 1e-9)


def evaluate(
    slo: SloFile,
    snapshot: StatsSnapshot,
    probes: Mapping[str, ProbeSamples] | None = None,
) -> list[SloResult]:
    """Every objective of `slo` judged against the run: throughput, error ratio, each
    group's percentiles, then each probe's (probes absent from `probes` are n/a)."""
    results = [
        SloResult(
            "throughput",
            ">=",
            slo.throughput_min_rps,
            "req/s",
            round(snapshot.throughput_rps, 1),
            _judge(snapshot.throughput_rps >= slo.throughput_min_rps),
            f"{snapshot.total_count} requests in {snapshot.duration_s:.0f} s",
        ),
        SloResult(
            "error ratio",
            "<=",
            slo.error_ratio_max,
            "",
            snapshot.error_ratio,
            _judge(snapshot.total_count > 0 and snapshot.error_ratio <= slo.error_ratio_max),
            f"{snapshot.total_failures} of {snapshot.total_count} requests failed",
        ),
    ]
    figures = group_figures(slo, snapshot)
    for group, spec in slo.groups.items():
        fig = figures[group]
        for percent, bound in spec.bounds():
            name = f"{group} p{percent}"
            needed = requests_to_judge(percent, slo.percentile_tail_min)
            if fig.count == 0:
                patterns = ", ".join(spec.requests or [group])
                results.append(
                    _latency(
                        name,
                        bound,
                        None,
                        Verdict.MISSING,
                        f"no request named {patterns} was recorded",
                    )
                )
            elif fig.count < needed:
                results.append(
                    _latency(
                        name,
                        bound,
                        fig.percentiles[percent],
                        Verdict.NOT_APPLICABLE,
                        f"too few requests to judge a p{percent}: {fig.count} < {needed}",
                    )
                )
            else:
                measured = fig.percentiles[percent]
                results.append(_latency(name, bound, measured, _judge(measured < bound)))
    for probe, probe_spec in slo.probes.items():
        samples = (probes or {}).get(probe)
        for percent, bound in probe_spec.bounds():
            name = f"{probe} p{percent}"
            if samples is None:
                results.append(
                    _latency(
                        name, bound, None, Verdict.NOT_APPLICABLE, "not measured on this target"
                    )
                )
            elif len(samples.values_ms) < probe_spec.min_samples:
                results.append(
                    _latency(
                        name,
                        bound,
                        None,
                        Verdict.MISSING,
                        f"{len(samples.values_ms)} samples, fewer than {probe_spec.min_samples}",
                    )
                )
            else:
                measured_ms = round(sample_percentile(samples.values_ms, percent), 1)
                results.append(
                    _latency(
                        name,
                        bound,
                        measured_ms,
                        _judge(measured_ms < bound),
                        f"{len(samples.values_ms)} samples",
                    )
                )
        if samples is not None:
            results.append(
                SloResult(
                    f"{probe} lost",
                    "<=",
                    probe_spec.lost_max,
                    "",
                    samples.lost,
                    _judge(samples.lost <= probe_spec.lost_max),
                    "awaited in vain",
                )
            )
    return results


def breaches(results: Iterable[SloResult]) -> list[SloResult]:
    return [r for r in results if r.breached]

"""The load-test pipeline end to end: the runner's smoke profile against the embedded
target (a real backend process, Locust, the probes), then the report's completeness.

The SLO verdict is the runner's exit code, recorded here but not asserted: on a shared
2-core machine it says more about the neighbours than about the code. What is asserted is
that the run happened and the report is whole. Select with `-m load`, skip with
`-m "not load"`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from loadtests.slo import load_slo


def expected_slo_rows() -> list[str]:
    slo = load_slo()
    rows = ["throughput", "error ratio"]
    for group, spec in slo.groups.items():
        rows += [f"{group} p{percent}" for percent, _ in spec.bounds()]
    for probe, probe_spec in slo.probes.items():
        rows += [f"{probe} p{percent}" for percent, _ in probe_spec.bounds()]
    return rows


@pytest.mark.load()
@pytest.mark.timeout(420)
def test_smoke_profile_against_embedded_writes_a_complete_report(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    out = tmp_path / "report"
    env = {
        **os.environ,
        # The test's own import path, so the runner and its children run these sources.
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }
    command = [
        sys.executable,
        "-m",
        "loadtests.run",
        "--target",
        "embedded",
        "--profile",
        "smoke",
        "--duration",
        "30s",
        "--out",
        str(out),
    ]
    run = subprocess.run(
        command,  # noqa: S603 - our own interpreter and module
        env=env,
        capture_output=True,
        text=True,
        timeout=360,
        check=False,
    )
    record_property("slo_exit_code", run.returncode)
    print(run.stderr)  # the runner's verdict lines, shown with -s or on failure
    assert run.returncode in (0, 1), f"the run failed (exit {run.returncode}):\n{run.stderr}"

    for name in (
        "summary.md",
        "locust.html",
        "locust_stats.csv",
        "locust_stats_history.csv",
        "locust_failures.csv",
        "stats.json",
        "probes.json",
        "backend.log",
    ):
        assert (out / name).is_file(), f"{name} missing from {sorted(os.listdir(out))}"
    png = (out / "latency_throughput.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert len(png) > 10_000

    summary = (out / "summary.md").read_text()
    assert summary.startswith("# Load test: ")
    for row in expected_slo_rows():
        assert f"| {row} | " in summary, f"summary.md does not name the SLO {row!r}"
    assert "| event:commit_to_topic p99 | < 100 ms | - (not measured on this target) | n/a |" in (
        summary
    )
    for probe in ("event:commit_to_sse", "reminder:lateness", "recurrence:next_visible"):
        assert f"| {probe} | " in summary.split("## Event probes", 1)[1]
    assert "python -m loadtests.run --target embedded --profile smoke" in summary
    assert "Load average" in summary
    assert "cores" in summary
    verdict_lines = [line for line in run.stderr.splitlines() if "SLO breached" in line]
    assert (run.returncode == 1) == bool(verdict_lines)

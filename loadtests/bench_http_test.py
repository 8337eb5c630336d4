"""The HTTP benchmark end to end at a tiny size: every target starts, wrk drives it, and
the summary reports each figure (CI installs wrk; elsewhere the test skips without it)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from loadtests import bench_http


def test_a_tiny_run_reports_every_figure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = os.environ.get("TODO_TEST_POSTGRES_URL")
    if shutil.which("wrk") is None or not admin:
        if os.environ.get("CI"):
            pytest.fail("CI must provide wrk and TODO_TEST_POSTGRES_URL (see .ci/services.sh)")
        pytest.skip("needs wrk (apt-get install wrk) and TODO_TEST_POSTGRES_URL")
    out = tmp_path / "out"
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "bench-http",
            "--postgres-url",
            admin,
            "--seconds",
            "1",
            "--rounds",
            "1",
            "--users",
            "2",
            "--targets",
            "ours-sqlite,bare,pgbench",
            "--kinds",
            "list25,create",
            "--out",
            str(out),
        ],
    )
    with pytest.raises(SystemExit) as exit_:
        bench_http.main()
    assert exit_.value.code == 0
    results = json.loads((out / "results.json").read_text())
    runs = {(r["target"], r["kind"]) for r in results["runs"]}
    assert runs == {(t, k) for t in ("ours-sqlite", "bare") for k in ("list25", "create")}
    assert all(r["requests"] > 0 and r["errors"] == 0 for r in results["runs"])
    assert all(r["server_cpu_ms"] and r["server_cpu_ms"] > 0 for r in results["runs"])
    assert set(results["pgbench"]) == {"insert", "page of 25"}
    summary = (out / "summary.md").read_text()
    assert "| create | bare |" in summary
    assert "pgbench" in summary

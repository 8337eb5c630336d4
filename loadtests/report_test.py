from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from loadtests.report import (
    Machine,
    RunInfo,
    metric_sum,
    plot_history,
    read_history,
    read_py_spy_raw,
    second_half,
    summary_markdown,
    task_events_backlog,
)
from loadtests.slo import (
    ProbeSamples,
    ProfileOverrides,
    RequestStats,
    StatsSnapshot,
    evaluate,
    parse_slo,
)

SLO = parse_slo(
    """
version: 1
throughput_min_rps: 10
error_ratio_max: 0
groups:
  "tasks:list": {p95_ms: 50}
probes:
  "reminder:lateness": {p99_ms: 1000}
"""
)

HEADER = ",".join(
    [
        "Timestamp,User Count,Type,Name,Requests/s,Failures/s",
        "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%",
        "Total Request Count,Total Failure Count,Total Median Response Time",
        "Total Average Response Time,Total Min Response Time,Total Max Response Time",
        "Total Average Content Size",
    ]
)
HISTORY = (
    HEADER
    + """
1000,2,GET,tasks:list,1.0,0.0,5,5,5,5,5,5,5,5,5,5,5,1,0,5,5,5,5,100
1000,2,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0,0,0,0,0,0
1001,4,,Aggregated,12.5,0.5,8,9,10,11,12,20,30,40,50,50,50,12,0,8,9,3,50,100
1002,4,,Aggregated,14.0,0.0,7,9,10,11,12,18,30,35,50,50,50,26,0,8,9,3,50,100
"""
)


def test_history_reads_the_aggregated_rows(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(HISTORY)
    data = read_history(path)
    assert data["t"] == [0, 1, 2]
    assert data["rps"] == [0, 12.5, 14.0]
    assert data["p95"][1:] == [20, 18]
    assert second_half(data) == {}  # too short to have a steady half
    longer = {k: v * 3 for k, v in data.items()}
    longer["t"] = [float(i) for i in range(9)]
    assert second_half(longer)["rps"] == 12.5
    png = tmp_path / "p.png"
    plot_history(path, png, SLO, "test")
    assert png.read_bytes().startswith(b"\x89PNG")


def test_metrics_and_backlog() -> None:
    backend = (
        "# HELP x\n"
        'todo_events_published_total{adapter="memory",topic="task-events"} 120.0\n'
        'todo_events_published_total{adapter="memory",topic="task-updates"} 120.0\n'
        'todo_events_consumed_total{group="worker",outcome="ok",topic="task-events"} 100.0\n'
        'todo_events_consumed_total{group="worker",outcome="dead",topic="task-events"} 5.0\n'
    )
    assert metric_sum(backend, "todo_events_published_total") == 240
    assert metric_sum(backend, "todo_events_consumed_total", outcome="ok") == 100
    assert task_events_backlog({"backend": backend}) == 15
    assert task_events_backlog({}) is None


def test_py_spy_raw_profile(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text(
        "thread (1): MainThread;run (/x/src/todo/backend/main.py:20);"
        "_valid_zone (/x/src/todo/backend/models.py:9);available_timezones "
        "(/usr/lib/python3.11/zoneinfo/_tzpath.py:5) 30\n"
        "thread (2): asyncio_0;hash_secret (/v/site-packages/argon2/low_level.py:1) 70\n"
    )
    profile = read_py_spy_raw(raw, rate=100, seconds=1)
    assert profile.samples == 100
    assert profile.threads == [("asyncio_N", 70), ("MainThread", 30)]
    assert profile.self_time[0] == ("hash_secret (argon2/low_level.py)", 70)
    assert ("_valid_zone (todo/backend/models.py)", 30) in profile.own_code


def test_summary_has_every_slo_and_probe() -> None:
    snapshot = StatsSnapshot(
        duration_s=10,
        requests=[RequestStats(name="tasks:list", count=200, failures=0, response_times={9: 200})],
    )
    probes = {"reminder:lateness": ProbeSamples(values_ms=[5.0, 7.0], note="lateness")}
    results = evaluate(SLO, snapshot, probes)
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    info = RunInfo(
        command="python -m loadtests.run",
        target="embedded",
        profile="smoke",
        users=2,
        spawn_rate=1,
        duration_s=10,
        wait=(0.1, 0.2),
        started=now,
        finished=now,
        machine=Machine(2, 24.0, "cpu", "Linux", "3.11.7"),
        load_before=(1.0, 2.0, 3.0),
        load_after=(1.5, 2.0, 3.0),
        locust_exit_code=0,
        cpu={"machine": 1.5, "backend": 1.0, "everything else": 0.5},
    )
    text = summary_markdown(info, SLO, snapshot, results, probes, [], ["summary.md"])
    assert text.startswith("# Load test: all SLOs met")
    assert "| throughput | >= 10 req/s | 20 req/s (200 requests in 10 s) | pass |" in text
    assert "| tasks:list p95 | < 50 ms | 9 ms | pass |" in text
    assert "| reminder:lateness | 2 | 0 | 5.0 | 7.0 | 7.0 | lateness |" in text
    assert "1.00 / 2.00 / 3.00 before" in text
    assert "cores busy: backend 1.00, everything else 0.50" in text
    assert "judges differently" not in text

    smoke_slo = SLO.model_copy(
        update={
            "profiles": {
                "smoke": ProfileOverrides(description="a light load", throughput_min_rps=5)
            }
        }
    )
    text = summary_markdown(
        info, smoke_slo.for_profile("smoke"), snapshot, results, probes, [], ["summary.md"]
    )
    assert (
        "Profile smoke judges differently: throughput_min_rps 5 (a light load); "
        "everything else is the release objective." in text
    )

import json

from todo.cluster.worker_reconciled import last_reconcile_succeeded


def line(msg: str, level: str = "info") -> str:
    # As the worker logs in the cluster (TODO_JSON_LOGS).
    return json.dumps(
        {"ts": "2026-12-02T02:07:37", "level": level, "logger": "todo.worker", "msg": msg}
    )


def test_the_last_reconciliation_counts() -> None:
    ok, failed = (
        line("reminder jobs reconciled"),
        line("reconciling reminder jobs failed; trying again", "error"),
    )
    assert not last_reconcile_succeeded([])
    assert not last_reconcile_succeeded([line("HTTP Request: GET /v1.0/healthz")])
    assert last_reconcile_succeeded([failed, failed, ok, line("something else")])
    assert not last_reconcile_succeeded([ok, failed])


def test_other_lines_are_passed_over() -> None:
    ok = line("reminder jobs reconciled")
    assert last_reconcile_succeeded(["not json", "{broken", "[1, 2]", ok, "{}"])

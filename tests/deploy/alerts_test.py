"""The worker chart's alerts: a valid PrometheusRule (when enabled) whose expressions name
metrics the worker really exports."""

from __future__ import annotations

import re
from pathlib import Path

from deploy.render import Helm, profile_values
from deploy.validation import validation_errors
from prometheus_client import REGISTRY, generate_latest

import todo.domain.metrics  # noqa: F401 (registers the collectors the alerts read)


def exported_metric_names() -> set[str]:
    """Every metric name in the exposition /metrics serves (even those without samples)."""
    text = generate_latest(REGISTRY).decode()
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def test_alert_rules_render_valid_and_read_exported_metrics(helm: Helm, workspace: Path) -> None:
    chart = workspace / "charts" / "todo-worker"
    docs = helm.template(
        chart,
        release="todo-worker",
        values=profile_values(workspace, "todo-worker", "minikube"),
        set_values={"monitoring.prometheusRule.enabled": "true"},
    )
    (rule,) = (d for d in docs if d["kind"] == "PrometheusRule")
    assert validation_errors([rule]) == []
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) == {
        "TodoDeadLettersWaiting",
        "TodoDeadLettersRecurring",
        "TodoReminderJobsRepaired",
    }
    assert alerts["TodoDeadLettersWaiting"]["expr"] == "max by (topic) (todo_dead_letter_depth) > 0"
    exported = exported_metric_names()
    for name, alert in alerts.items():
        for metric in re.findall(r"\btodo_[a-z_]+\b", alert["expr"]):
            assert metric in exported, f"{name} reads {metric}, which nothing exports"
        assert "$value" in alert["annotations"]["summary"], name


def test_alert_rules_are_off_by_default(helm: Helm, workspace: Path) -> None:
    chart = workspace / "charts" / "todo-worker"
    docs = helm.template(
        chart, release="todo-worker", values=profile_values(workspace, "todo-worker", "minikube")
    )
    assert not [d for d in docs if d["kind"] == "PrometheusRule"]

"""The worker's settings refuse weak tokens outside local mode, and never print a value."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from todo.shared.settings_common import Environment
from todo.worker.settings import WorkerSettings

STRONG = "kR7v2QpZ9xLm4TnB8wYc3HdF6sJg1UeA"


def test_weak_app_tokens_are_refused_outside_local_without_being_printed() -> None:
    with pytest.raises(ValidationError) as refused:
        WorkerSettings(environment=Environment.STAGING, app_api_token="secret-secret")
    assert "TODO_WORKER_APP_API_TOKEN" in str(refused.value)
    assert "secret-secret" not in str(refused.value)
    strong = WorkerSettings(environment=Environment.STAGING, app_api_token=STRONG)
    assert strong.app_api_token == STRONG
    assert WorkerSettings(app_api_token="short").app_api_token == "short"  # local mode


def test_errors_of_any_field_hide_the_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TODO_WORKER_PORT", "not-a-port-hunter2")
    with pytest.raises(ValidationError) as refused:
        WorkerSettings()
    assert "hunter2" not in str(refused.value)


def test_a_database_url_no_driver_here_can_use_is_refused_at_start() -> None:
    with pytest.raises(ValidationError) as refused:
        WorkerSettings(database_url="postgresql://todo:hunter2-pw@db/todo?sslmode=often")
    assert "sslmode must be one of" in str(refused.value)
    assert "hunter2" not in str(refused.value)

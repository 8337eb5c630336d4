"""A service's environment comes from its typed settings, and nothing else leaks in."""

from __future__ import annotations

from pathlib import Path

import pytest

from todo.backend.settings import BackendSettings, BusKind
from todo.devstack.shapes import child_env, settings_env, settings_of
from todo.worker.settings import WorkerBus, WorkerSettings


def test_the_environment_names_exactly_the_fields_set(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_of(
        BackendSettings,
        port=8123,
        bus=BusKind.KAFKA,
        embedded_worker=False,
        data_dir=Path("/tmp/x"),
        outbox_poll_seconds=0.2,
        DAPR_HTTP_PORT=3999,
    )
    assert settings_env(settings) == {
        "TODO_PORT": "8123",
        "TODO_BUS": "kafka",
        "TODO_EMBEDDED_WORKER": "false",
        "TODO_DATA_DIR": "/tmp/x",
        "TODO_OUTBOX_POLL_SECONDS": "0.2",
        "DAPR_HTTP_PORT": "3999",
    }
    # What the service reads back from that environment is what was meant.
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    assert BackendSettings().model_dump() == settings.model_dump()


def test_settings_are_not_read_from_the_launchers_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TODO_WORKER_CONSUMER_GROUP", "a-developers-group")
    monkeypatch.setenv("TODO_DATABASE_URL", "postgresql+asyncpg://leak/leak")
    settings = settings_of(WorkerSettings, bus=WorkerBus.DAPR, port=8001)
    env = child_env(settings)
    assert env["TODO_WORKER_BUS"] == "dapr"
    assert "TODO_WORKER_CONSUMER_GROUP" not in env
    assert "TODO_DATABASE_URL" not in env
    assert settings.consumer_group == "todo-worker"

"""Settings refuse what would be unsafe, and never print a secret while saying why."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from todo.backend.settings import BackendSettings

PRODUCTION: dict[str, Any] = {
    "environment": "production",
    "database_url": "postgresql+asyncpg://db/todo",
}
STRONG = "kR7v2QpZ9xLm4TnB8wYc3HdF6sJg1UeA"


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("", "must be set"),
        ("short-but-random-Q8x", "shorter than 32"),
        ("changeme-changeme-changeme-changeme", "placeholder"),
        ("my-production-secret-0123456789abcdef", "placeholder"),
        ("ab" * 20, "too few distinct"),
    ],
)
def test_weak_jwt_secrets_are_refused_outside_local_without_being_printed(
    secret: str, reason: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        BackendSettings(**PRODUCTION, jwt_secret=secret)
    message = str(refused.value)
    assert reason in message
    assert "TODO_JWT_SECRET" in message
    if secret:
        assert secret not in message


def test_a_strong_secret_is_accepted_and_local_mode_needs_none() -> None:
    assert BackendSettings(**PRODUCTION, jwt_secret=STRONG).jwt_secret == STRONG
    assert BackendSettings(jwt_secret="").environment == "local"


def test_weak_app_tokens_are_refused_outside_local() -> None:
    with pytest.raises(ValidationError) as refused:
        BackendSettings(**PRODUCTION, jwt_secret=STRONG, app_api_token="token123")
    assert "TODO_APP_API_TOKEN" in str(refused.value)
    assert "token123" not in str(refused.value)


def test_errors_of_any_field_hide_the_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TODO_PORT", "not-a-port-hunter2")
    with pytest.raises(ValidationError) as refused:
        BackendSettings()
    assert "hunter2" not in str(refused.value)


def test_a_jwks_url_needs_an_issuer_and_the_error_says_the_fix() -> None:
    with pytest.raises(ValidationError) as refused:
        BackendSettings(jwks_url="https://issuer.example/jwks.json")
    assert "TODO_EXTERNAL_ISSUER is not: set it to the issuer" in str(refused.value)
    ok = BackendSettings(
        jwks_url="https://issuer.example/jwks.json", external_issuer="https://issuer.example"
    )
    assert ok.external_issuer == "https://issuer.example"


def test_rates_must_be_in_limits_notation() -> None:
    with pytest.raises(ValidationError) as refused:
        BackendSettings(sign_in_rate="lots")
    assert "COUNT/PERIOD" in str(refused.value)
    assert BackendSettings(sign_in_rate="1/second;10/minute").sign_in_rate


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, "TODO_BUS=kafka"),
        ({"bus": "dapr", "embedded_worker": False}, "TODO_BUS=kafka"),
        ({"bus": "kafka", "embedded_worker": True}, "TODO_EMBEDDED_WORKER=false"),
        ({"bus": "kafka", "embedded_worker": False, "database_url": ""}, "PostgreSQL"),
        ({"bus": "kafka", "embedded_worker": False, "jwt_secret": ""}, "TODO_JWT_SECRET"),
        ({"bus": "kafka", "embedded_worker": False, "internal_port": 8002}, "TODO_INTERNAL_PORT"),
        ({"bus": "kafka", "embedded_worker": False, "metrics_port": 9102}, "TODO_METRICS_PORT"),
    ],
)
def test_several_server_processes_need_a_shared_bus_database_and_key(
    fields: dict[str, Any], reason: str
) -> None:
    given = {
        "workers": 2,
        "database_url": "postgresql+asyncpg://db/todo",
        "jwt_secret": STRONG,
        **fields,
    }
    with pytest.raises(ValidationError, match=reason):
        BackendSettings.model_validate(given)
    listeners = ("internal_port", "metrics_port")
    ok = {k: v for k, v in given.items() if k not in listeners}
    ok |= {"bus": "kafka", "embedded_worker": False, "jwt_secret": STRONG}
    ok["database_url"] = "postgresql+asyncpg://db/todo"
    assert BackendSettings.model_validate(ok).workers == 2


def test_a_database_url_no_driver_here_can_use_is_refused_at_start() -> None:
    with pytest.raises(ValidationError) as refused:
        BackendSettings(database_url="postgresql+psycopg2://todo:hunter2-pw@db/todo")
    message = str(refused.value)
    assert "database_url" in message
    assert "asyncpg" in message
    assert "hunter2" not in message
    # libpq's form is accepted as it is.
    url = "postgres://todo:pw@db/todo?sslmode=require"
    assert BackendSettings(database_url=url).database_url == url

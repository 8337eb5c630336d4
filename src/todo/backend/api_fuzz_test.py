"""The API fuzzed from its own OpenAPI document (Schemathesis), in process against the
ASGI app with its lifespan (SQLite, in-process bus): every operation, signed in as a
real user, with a fixed seed and a bounded number of examples.

Each answer must be no 5xx, a status code the operation documents, a body that matches
the documented schema, and the documented content type.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings  # pants: no-infer-dep (comes with schemathesis)
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from todo.backend.app import create_app
from todo.backend.conftest import make_settings

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
EXAMPLES_PER_OPERATION = 20
PASSWORD = "fuzzing is fun"

_data_dir = Path(tempfile.mkdtemp(prefix="todo-fuzz-"))
# The rate limits are lifted (abuse_test.py tests them): the account every case runs as
# signs in again after each sign-out the fuzzer sends, from the one test client address.
_UNLIMITED = "1000000/minute"
app = create_app(
    make_settings(f"sqlite+aiosqlite:///{_data_dir / 'fuzz.db'}", _data_dir).model_copy(
        update={
            "sign_up_rate": _UNLIMITED,
            "sign_in_rate": _UNLIMITED,
            "sign_in_failure_rate": _UNLIMITED,
        }
    )
)
# A live stream never ends by itself: its first event (`ready`) is all a case reads.
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", app, config=SchemathesisConfig.from_dict({"max-stream-events": 1})
)


class Account:
    """The signed-in user every case runs as; signed in again whenever a case (sign-out,
    password change, deletion) ended its session."""

    def __init__(self) -> None:
        # schemathesis' ASGI client: the app's lifespan and event loop are the ones cases use.
        self.client = asgi.get_client(app)  # type: ignore[arg-type]
        response = self.client.post(
            "/api/v1/auth/register",
            json={"email": "fuzz@example.com", "password": PASSWORD, "refresh_via": "body"},
        )
        assert response.status_code == 201, response.text
        self.headers = _bearer(response.json())

    def ensure_signed_in(self) -> None:
        if self.client.get("/api/v1/users/me", headers=self.headers).status_code == 200:
            return
        response = self.client.post(
            "/api/v1/auth/login", json={"email": "fuzz@example.com", "password": PASSWORD}
        )
        if response.status_code == 401:  # the account was deleted
            response = self.client.post(
                "/api/v1/auth/register",
                json={"email": "fuzz@example.com", "password": PASSWORD},
            )
        assert response.status_code in (200, 201), response.text
        self.headers = _bearer(response.json())


def _bearer(token: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['access_token']}"}


@pytest.fixture(scope="module")
def account() -> Account:
    return Account()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(
    case: schemathesis.Case[Any], account: Account
) -> None:
    account.ensure_signed_in()
    response = case.call(headers=account.headers, timeout=10)
    case.validate_response(response, checks=CHECKS)

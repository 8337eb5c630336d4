"""Tokens of an external OpenID issuer, verified against its JWKS served over real HTTP."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jwt.algorithms import RSAAlgorithm

from todo.backend.app import create_app
from todo.backend.conftest import make_settings

ISSUER = "https://issuer.example"
AUDIENCE = "todo-cloud-api"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture
def jwks_url(signing_key: rsa.RSAPrivateKey) -> Iterator[str]:
    jwk = json.loads(RSAAlgorithm.to_jwk(signing_key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()


@pytest.fixture
async def client(jwks_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", tmp_path)
    settings = settings.model_copy(
        update={"jwks_url": jwks_url, "external_issuer": ISSUER, "external_audience": AUDIENCE}
    )
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield c


def token(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "ext-42",
        "email": "Grace@Example.com",
        "name": "Grace",
        "iat": now,
        "exp": now + 300,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "k1"})


async def test_external_user_gets_an_account_on_first_sight(
    client: httpx.AsyncClient, signing_key: rsa.RSAPrivateKey
) -> None:
    headers = {"Authorization": f"Bearer {token(signing_key)}"}
    me = await client.get("/api/v1/users/me", headers=headers)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "grace@example.com"
    again = await client.get("/api/v1/users/me", headers=headers)
    assert again.json()["id"] == me.json()["id"]
    created = await client.post("/api/v1/tasks", headers=headers, json={"title": "From SSO"})
    assert created.status_code == 201


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "someone-else"}, "audience"),
        ({"iss": "https://evil.example"}, "issuer"),
        ({"exp": int(time.time()) - 10}, "expired"),
    ],
)
async def test_external_tokens_with_wrong_claims_are_401(
    client: httpx.AsyncClient, signing_key: rsa.RSAPrivateKey, claims: dict[str, Any], reason: str
) -> None:
    r = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token(signing_key, **claims)}"}
    )
    assert r.status_code == 401
    assert reason in r.json()["detail"].lower()


async def test_a_token_signed_by_another_key_is_401(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token(new_key())}"}
    )
    assert r.status_code == 401
    assert "signature" in r.json()["detail"].lower()


async def test_identities_are_keyed_by_issuer_and_subject(
    client: httpx.AsyncClient, signing_key: rsa.RSAPrivateKey
) -> None:
    first = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token(signing_key)}"}
    )
    other_subject = await client.get(
        "/api/v1/users/me",
        headers={
            "Authorization": f"Bearer {token(signing_key, sub='ext-43', email='h@example.com')}"
        },
    )
    assert first.status_code == other_subject.status_code == 200
    assert first.json()["id"] != other_subject.json()["id"]


async def test_an_external_email_of_a_local_account_is_409_not_a_link(
    client: httpx.AsyncClient, signing_key: rsa.RSAPrivateKey
) -> None:
    local = await client.post(
        "/api/v1/auth/register", json={"email": "ada@example.com", "password": "correct horse"}
    )
    assert local.status_code == 201
    ada = token(signing_key, sub="ext-ada", email="Ada@example.com")
    for _ in range(2):
        r = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {ada}"})
        assert r.status_code == 409
        assert r.json()["code"] == "email_taken"
        assert "not linked by email" in r.json()["detail"]


async def test_concurrent_first_requests_of_one_identity_make_one_account(
    client: httpx.AsyncClient, signing_key: rsa.RSAPrivateKey
) -> None:
    headers = {
        "Authorization": f"Bearer {token(signing_key, sub='ext-race', email='race@example.com')}"
    }
    answers = await asyncio.gather(
        *(client.get("/api/v1/users/me", headers=headers) for _ in range(5))
    )
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1


async def test_a_token_without_email_gets_a_placeholder_and_long_claims_are_refused(
    client: httpx.AsyncClient, signing_key: rsa.RSAPrivateKey
) -> None:
    r = await client.get(
        "/api/v1/users/me",
        headers={"Authorization": f"Bearer {token(signing_key, sub='ext-anon', email=None)}"},
    )
    assert r.status_code == 200
    assert r.json()["email"].endswith("@external.invalid")
    long_subject = await client.get(
        "/api/v1/users/me",
        headers={"Authorization": f"Bearer {token(signing_key, sub='s' * 300)}"},
    )
    assert long_subject.status_code == 401

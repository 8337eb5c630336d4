"""Serving the web app's build: caching, validators, compression and the CSP, on a build
laid out in a temporary directory as the real one is."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from todo.backend.security_headers import PAGE_POLICY, SecurityHeaders
from todo.backend.web import (
    AssetCatalog,
    accepted_encodings,
    make_web_router,
)

INDEX = b"<!doctype html><div id=root><main>Sign in</main></div>" * 10
SCRIPT = b"console.log('app');" * 100


@pytest.fixture
def build(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_bytes(INDEX)
    (tmp_path / "index.html.gz").write_bytes(gzip.compress(INDEX))
    (tmp_path / "index.html.br").write_bytes(b"brotli bytes of index.html")
    (tmp_path / "assets" / "index-abc123.js").write_bytes(SCRIPT)
    (tmp_path / "assets" / "index-abc123.js.gz").write_bytes(gzip.compress(SCRIPT))
    (tmp_path / "assets" / "logo-def456.svg").write_bytes(b"<svg/>")
    return tmp_path


async def client_for(catalog: AssetCatalog | None) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.add_middleware(SecurityHeaders)
    app.include_router(make_web_router(catalog))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield client


@pytest.fixture
async def client(build: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for c in client_for(AssetCatalog.from_tree(build)):
        yield c


async def test_index_is_revalidated_with_an_etag_and_a_strict_csp(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/", headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert r.content == INDEX
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["content-security-policy"] == PAGE_POLICY
    assert "script-src 'self'" in PAGE_POLICY
    assert "unsafe-inline" not in PAGE_POLICY
    assert r.headers["x-content-type-options"] == "nosniff"
    etag = r.headers["etag"]
    again = await client.get("/", headers={"If-None-Match": etag, "Accept-Encoding": "identity"})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    # The browser keeps a 304's headers over the cached page's: the policy must not change.
    assert again.headers["content-security-policy"] == PAGE_POLICY
    stale = await client.get("/", headers={"If-None-Match": '"other"', "Accept-Encoding": ""})
    assert stale.status_code == 200


async def test_fingerprinted_assets_are_cached_for_good(client: httpx.AsyncClient) -> None:
    r = await client.get("/assets/logo-def456.svg")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["content-type"] == "image/svg+xml"
    assert r.headers["etag"]


async def test_bodies_go_out_as_the_build_compressed_them(client: httpx.AsyncClient) -> None:
    br = await client.get("/", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert br.headers["content-encoding"] == "br"
    assert br.headers["vary"] == "Accept-Encoding"
    assert br.headers["content-length"] == str(len(b"brotli bytes of index.html"))
    gz = await client.get("/assets/index-abc123.js", headers={"Accept-Encoding": "br;q=0, gzip"})
    assert gz.headers["content-encoding"] == "gzip"
    assert gz.content == SCRIPT  # httpx decodes it
    assert int(gz.headers["content-length"]) < len(SCRIPT)
    # Each encoding has its own validator: a cached gzip body never answers a brotli request.
    assert (
        br.headers["etag"]
        != (await client.get("/", headers={"Accept-Encoding": "gzip"})).headers["etag"]
    )
    plain = await client.get("/assets/logo-def456.svg", headers={"Accept-Encoding": "gzip, br"})
    assert "content-encoding" not in plain.headers


async def test_head_and_unknown_assets(client: httpx.AsyncClient) -> None:
    head = await client.head("/", headers={"Accept-Encoding": "gzip"})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(gzip.compress(INDEX)))
    missing = await client.get("/assets/nope.js")
    assert missing.status_code == 404
    assert (await client.get("/assets/../index.html")).status_code == 404


async def test_without_a_build_the_page_says_how_to_get_one() -> None:
    async for c in client_for(AssetCatalog({})):
        r = await c.get("/")
        assert r.status_code == 503
        assert "./pants run src/todo/backend:backend" in r.text


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip, deflate, br", {"gzip", "deflate", "br"}),
        ("br;q=0, gzip;q=0.5", {"gzip"}),
        ("*", {"*", "br", "gzip"}),
        ("gzip;q=nonsense", set()),
        ("", set()),
    ],
)
def test_accept_encoding(header: str, expected: set[str]) -> None:
    assert accepted_encodings(header) == expected

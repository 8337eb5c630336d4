from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from prometheus_client import REGISTRY

from todo.shared import observability
from todo.shared.observability import instrument, route_template


def _count(method: str, route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "todo_http_request_duration_seconds_count",
        {"method": method, "route": route, "status": status},
    )
    return value or 0.0


def _app() -> FastAPI:
    app = FastAPI()
    instrument(app)
    items = APIRouter(prefix="/items")

    @items.get("/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        if item_id == 0:
            raise HTTPException(404, "no such item")
        return {"id": item_id}

    @items.get("")
    async def all_items() -> list[int]:
        return [1, 2]

    @app.get("/timer-test/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    # Included twice under different prefixes: two templates, not one.
    app.include_router(items, prefix="/timer-test")
    app.include_router(items, prefix="/timer-test/v2")
    return app


async def test_latency_is_recorded_per_route_template_and_status() -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    before = {
        "ok": _count("GET", "/timer-test/items/{item_id}", "200"),
        "missing": _count("GET", "/timer-test/items/{item_id}", "404"),
        "unmatched": _count("GET", "unmatched", "404"),
        "crash": _count("GET", "/timer-test/boom", "500"),
        "all": _count("GET", "/timer-test/items", "200"),
        "v2": _count("GET", "/timer-test/v2/items/{item_id}", "200"),
    }
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/timer-test/items/1")).status_code == 200
        assert (await client.get("/timer-test/items/2")).status_code == 200
        assert (await client.get("/timer-test/items/0")).status_code == 404
        assert (await client.get("/timer-test/nowhere")).status_code == 404
        assert (await client.get("/timer-test/boom")).status_code == 500
        assert (await client.get("/timer-test/items")).status_code == 200
        assert (await client.get("/timer-test/v2/items/7")).status_code == 200

    # Two URLs, one label set: the template, never the URL.
    assert _count("GET", "/timer-test/items/{item_id}", "200") == before["ok"] + 2
    assert _count("GET", "/timer-test/items/{item_id}", "404") == before["missing"] + 1
    assert _count("GET", "unmatched", "404") == before["unmatched"] + 1
    assert _count("GET", "/timer-test/items", "200") == before["all"] + 1
    assert _count("GET", "/timer-test/v2/items/{item_id}", "200") == before["v2"] + 1
    # An unhandled exception is counted once, as a 500.
    assert _count("GET", "/timer-test/boom", "500") == before["crash"] + 1


def test_route_labels_are_bounded_whatever_the_prefixes(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: set[str] = set()
    monkeypatch.setattr(observability, "_SEEN_TEMPLATES", seen)
    monkeypatch.setattr(observability, "MAX_ROUTE_TEMPLATES", 3)

    class Route:
        path = "/things/{thing_id}"

    # A parameter in a prefix (none of ours has one) would put its values in the label.
    labels = [
        route_template({"route": Route(), "path": f"/tenants/t{n}/things/1"}) for n in range(5)
    ]
    assert labels[:3] == [f"/tenants/t{n}/things/{{thing_id}}" for n in range(3)]
    assert labels[3:] == ["other", "other"]
    # Templates already seen keep their label.
    assert route_template({"route": Route(), "path": "/tenants/t1/things/9"}) == (
        "/tenants/t1/things/{thing_id}"
    )
    assert route_template({"path": "/nowhere"}) == "unmatched"

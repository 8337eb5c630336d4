from __future__ import annotations

from pathlib import Path

from loadtests import targets
from loadtests.cpu_per_request import Figure, measure, table


def test_the_table_sets_each_request_beside_healthz() -> None:
    text = table([Figure("/healthz", 0.2, 1500), Figure("tasks:list (20 of 40)", 2.5, 380)])
    assert "| /healthz | 0.20 | 1.0 | 1500 |" in text
    assert "| tasks:list (20 of 40) | 2.50 | 12.5 | 380 |" in text


async def test_a_real_backend_is_measured_per_request_kind(tmp_path: Path) -> None:
    async with targets.embedded(tmp_path, tmp_path) as target:
        pid = target.backend.pid if target.backend is not None else None
        assert pid is not None
        figures = await measure(
            target.base_url,
            pid,
            count=30,
            concurrency=2,
            only=["/healthz", "tasks:get", "tasks:create"],
        )
    assert [f.name for f in figures] == ["/healthz", "tasks:get", "tasks:create"]
    assert all(f.rate > 0 for f in figures)
    assert all(f.cpu_ms >= 0 for f in figures)
    # The clock ticks at 10 ms: over 30 requests a create costs visibly more than nothing.
    assert figures[2].cpu_ms > 0

"""Render a chart of ours with real Helm (built once by `gotools`)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path

from todo.devstack import gotools


async def render_chart(
    chart: Path,
    *,
    values_files: Sequence[Path] = (),
    set_values: Mapping[str, str] | None = None,
    release: str = "todo",
) -> str:
    """`helm template` of `chart` (its dependencies built first): the manifests as text."""
    helm = await asyncio.to_thread(gotools.helm)
    if (chart / "Chart.lock").exists():
        built = await asyncio.to_thread(
            gotools.run, [helm, "dependency", "build", str(chart), "--skip-refresh"]
        )
        if built.returncode != 0:
            raise RuntimeError(f"helm dependency build {chart}: {built.stderr}")
    argv = [helm, "template", release, str(chart)]
    for values in values_files:
        argv += ["-f", str(values)]
    for key, value in (set_values or {}).items():
        argv += ["--set-string", f"{key}={value}"]
    result = await asyncio.to_thread(gotools.run, argv)
    if result.returncode != 0:
        raise RuntimeError(f"helm template {chart}: {result.stderr}")
    return result.stdout

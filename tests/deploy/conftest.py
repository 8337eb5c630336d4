"""Fixtures of the deploy tests: Helm (found or built), a chart workspace, renders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from deploy.render import Environment, Helm, environments, make_workspace, render_environment

from todo.devstack import gotools as tools
from todo.devstack.toolcache import Tool


def require(tool: Tool) -> str:
    """The tool's path; without it skip with the fix, or fail when CI is set."""
    try:
        return tools.locate(tool)
    except tools.ToolUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (CI is set: a missing tool fails instead of skipping)")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def helm() -> Helm:
    return Helm(require(tools.HELM))


@pytest.fixture(scope="session")
def actionlint() -> str:
    return require(tools.ACTIONLINT)


@pytest.fixture(scope="session")
def workspace(helm: Helm, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """charts/ and gitops/ copied, dependencies built: the repository stays untouched."""
    return make_workspace(helm, tmp_path_factory.mktemp("workspace"))


@pytest.fixture(scope="session")
def rendered(helm: Helm, workspace: Path) -> dict[str, Environment]:
    return {env: render_environment(helm, workspace, env) for env in environments()}

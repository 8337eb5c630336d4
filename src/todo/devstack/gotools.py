"""The command-line tools the deploy tests run: Helm and actionlint, found or built once.

Each tool is looked up in this order:

1. an explicit path: ``TODO_HELM`` / ``TODO_ACTIONLINT``;
2. ``PATH`` (Helm only if it is a 3.x);
3. the tool cache (``todo.devstack.toolcache``): ``<cache>/<tool>-<version>/<tool>``;
4. otherwise it is built there from its Go module with ``go install``, once, then reused.

Helm 3.22.0 builds in about 4 minutes on 2 cores with an empty Go module cache; actionlint
in about 10 seconds. ``./pants run src/todo/devstack/gotools.py`` fills the cache ahead of
a test run.

The deploy tests reach them through their ``helm``/``actionlint`` fixtures (without a tool
they skip with the fix, or fail when ``CI`` is set); the devstack and the cluster command
render and install charts with Helm.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from todo.devstack import toolcache
from todo.devstack.toolcache import GoInstall, Tool, ToolUnavailable

HELM_VERSION = "3.22.0"
# helm's Makefile stamps the Kubernetes version of its client-go (v0.37 -> 1.37) as the
# default of `helm template`'s .Capabilities; `go install` alone would leave 1.20.
HELM_KUBE_VERSION = ("1", "37")
ACTIONLINT_VERSION = "1.7.12"

__all__ = ["ACTIONLINT", "HELM", "ToolUnavailable", "actionlint", "helm", "locate", "run"]

HELM = Tool(
    name="helm",
    version=HELM_VERSION,
    recipe=GoInstall(
        package="helm.sh/helm/v3/cmd/helm",
        version=HELM_VERSION,
        ldflags=(
            "-s",
            "-w",
            f"-X helm.sh/helm/v3/internal/version.version=v{HELM_VERSION}",
            f"-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor={HELM_KUBE_VERSION[0]}",
            f"-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor={HELM_KUBE_VERSION[1]}",
            f"-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor={HELM_KUBE_VERSION[0]}",
            f"-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor={HELM_KUBE_VERSION[1]}",
        ),
    ),
    outputs=("helm",),
    override_env="TODO_HELM",
)

ACTIONLINT = Tool(
    name="actionlint",
    version=ACTIONLINT_VERSION,
    recipe=GoInstall(
        package="github.com/rhysd/actionlint/cmd/actionlint",
        version=ACTIONLINT_VERSION,
        ldflags=("-s", "-w", f"-X github.com/rhysd/actionlint.version={ACTIONLINT_VERSION}"),
    ),
    outputs=("actionlint",),
    override_env="TODO_ACTIONLINT",
)


def _is_helm3(path: str) -> bool:
    try:
        result = subprocess.run(
            [path, "version", "--short"],  # - a path we found, no shell
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and result.stdout.strip().startswith("v3.")


def locate(tool: Tool, *, build: bool = True) -> str:
    """The tool's path: explicit, on PATH, cached, or freshly built (see the module doc)."""
    explicit = tool.override_env and os.environ.get(tool.override_env)
    if not explicit:
        on_path = shutil.which(tool.outputs[0])
        if on_path and (tool is not HELM or _is_helm3(on_path)):
            return on_path
    try:
        return toolcache.locate(tool, build=build)
    except ToolUnavailable as exc:
        if tool.override_env and not explicit:
            raise ToolUnavailable(
                f"{exc} (or set {tool.override_env} to a {tool.name} binary)"
            ) from exc
        raise


def helm() -> str:
    return locate(HELM)


def actionlint() -> str:
    return locate(ACTIONLINT)


def run(argv: Sequence[str], *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a tool; the caller looks at returncode, stdout and stderr."""
    return subprocess.run(
        list(argv),  # - our own argv, no shell
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def main() -> int:
    """Fill the cache (CI runs this before the tests): prints each tool's path."""
    try:
        for tool in (HELM, ACTIONLINT):
            print(locate(tool))
    except ToolUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

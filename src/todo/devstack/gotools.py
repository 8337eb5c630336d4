"""The command-line tools the deploy tests run: Helm and actionlint, found or built once.

Each tool is looked up in this order:

1. an explicit path: ``TODO_HELM`` / ``TODO_ACTIONLINT``;
2. ``PATH`` (Helm only if it is a 3.x);
3. the devstack cache, ``~/.cache/todo-devstack/<tool>-<version>/<tool>``
   (``TODO_DEVSTACK_CACHE`` replaces ``~/.cache/todo-devstack``, as for the Kafka jars);
4. otherwise it is built there from its Go module with ``go install`` (Go from ``GOROOT``,
   ``PATH`` or the usual install places), once, under a file lock, then reused.

Helm 3.22.0 builds in about 4 minutes on 2 cores with an empty Go module cache; actionlint
in about 10 seconds. ``./pants run src/todo/devstack/gotools.py`` fills the cache ahead of
a test run.

The deploy tests reach them through their ``helm``/``actionlint`` fixtures (without a tool
they skip with the fix, or fail when ``CI`` is set); the devstack renders the Dapr
resources with Helm.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from todo.devstack.cache import cache_root

HELM_VERSION = "3.22.0"
# helm's Makefile stamps the Kubernetes version of its client-go (v0.37 -> 1.37) as the
# default of `helm template`'s .Capabilities; `go install` alone would leave 1.20.
HELM_KUBE_VERSION = ("1", "37")
ACTIONLINT_VERSION = "1.7.12"

_GO_FALLBACKS = ("/usr/local/go/bin/go", "/usr/lib/go/bin/go", "/usr/bin/go")


class ToolUnavailable(RuntimeError):
    """The tool is neither installed nor buildable here; the message says how to fix it."""


@dataclass(frozen=True)
class GoTool:
    name: str
    version: str
    package: str  # what `go install` builds, without @version
    ldflags: tuple[str, ...]
    env_var: str

    @property
    def cache_dir(self) -> Path:
        return cache_root() / f"{self.name}-{self.version}"

    @property
    def cached_binary(self) -> Path:
        return self.cache_dir / self.name


HELM = GoTool(
    name="helm",
    version=HELM_VERSION,
    package="helm.sh/helm/v3/cmd/helm",
    ldflags=(
        "-s",
        "-w",
        f"-X helm.sh/helm/v3/internal/version.version=v{HELM_VERSION}",
        f"-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor={HELM_KUBE_VERSION[0]}",
        f"-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor={HELM_KUBE_VERSION[1]}",
        f"-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor={HELM_KUBE_VERSION[0]}",
        f"-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor={HELM_KUBE_VERSION[1]}",
    ),
    env_var="TODO_HELM",
)

ACTIONLINT = GoTool(
    name="actionlint",
    version=ACTIONLINT_VERSION,
    package="github.com/rhysd/actionlint/cmd/actionlint",
    ldflags=("-s", "-w", f"-X github.com/rhysd/actionlint.version={ACTIONLINT_VERSION}"),
    env_var="TODO_ACTIONLINT",
)


def _log(message: str) -> None:
    print(f"[devstack.gotools] {message}", file=sys.stderr, flush=True)


def _executable(path: Path | str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


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


def go_executable() -> str | None:
    candidates: list[str] = []
    goroot = os.environ.get("GOROOT")
    if goroot:
        candidates.append(str(Path(goroot) / "bin" / "go"))
    found = shutil.which("go")
    if found:
        candidates.append(found)
    candidates.extend(_GO_FALLBACKS)
    return next((c for c in candidates if _executable(c)), None)


def _build(tool: GoTool) -> Path:
    """`go install <package>@v<version>` into the cache, atomically, once per machine."""
    tool.cache_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(tool.cache_dir.parent / f"{tool.name}-{tool.version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test processes build it once
        if _executable(tool.cached_binary):
            return tool.cached_binary
        go = go_executable()
        if go is None:
            raise ToolUnavailable(
                f"{tool.name} {tool.version} is not cached in {tool.cache_dir} and Go is "
                f"missing: install Go 1.24+ (https://go.dev/dl, or Debian's golang-go), or "
                f"set {tool.env_var} to a {tool.name} binary"
            )
        env = dict(os.environ)
        env["CGO_ENABLED"] = "0"
        env["PATH"] = os.pathsep.join([str(Path(go).parent), env.get("PATH", "/usr/bin:/bin")])
        staging = Path(tempfile.mkdtemp(prefix=f".{tool.name}-build-", dir=tool.cache_dir.parent))
        env["GOBIN"] = str(staging)
        target = f"{tool.package}@v{tool.version}"
        started = time.monotonic()
        _log(f"building {target} with {go} (a few minutes the first time)")
        try:
            result = subprocess.run(
                [go, "install", "-trimpath", "-ldflags", " ".join(tool.ldflags), target],
                env=env,
                cwd=staging,
                capture_output=True,
                text=True,
                check=False,
            )
            built = staging / tool.name
            if result.returncode != 0 or not _executable(built):
                output = (result.stdout + result.stderr).strip()[-4000:]
                raise ToolUnavailable(
                    f"`go install {target}` failed (exit {result.returncode}); set "
                    f"{tool.env_var} to a {tool.name} binary instead:\n{output}"
                )
            if tool.cache_dir.exists():
                shutil.rmtree(tool.cache_dir)
            staging.rename(tool.cache_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _log(f"built {tool.cached_binary} in {time.monotonic() - started:.0f}s")
        return tool.cached_binary


def locate(tool: GoTool, *, build: bool = True) -> str:
    """The tool's path: explicit, on PATH, cached, or freshly built (see the module doc)."""
    explicit = os.environ.get(tool.env_var)
    if explicit:
        if not _executable(explicit):
            raise ToolUnavailable(f"{tool.env_var}={explicit} is not an executable file")
        return explicit
    on_path = shutil.which(tool.name)
    if on_path and (tool is not HELM or _is_helm3(on_path)):
        return on_path
    if _executable(tool.cached_binary):
        return str(tool.cached_binary)
    if not build:
        raise ToolUnavailable(
            f"{tool.name} is not installed: run ./pants run src/todo/devstack/gotools.py"
        )
    return str(_build(tool))


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

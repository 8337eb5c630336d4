"""Every tool the project builds or fetches itself, built once per machine and reused.

Nothing here is a downloaded binary: Go programs are compiled from the Go module proxy
(Helm, actionlint, daprd and the Dapr control plane, Kubernetes, CoreDNS, the image
registry, the ingress controller), the Kafka broker's jars come from Maven Central, and
the few C programs from gcc. One mechanism does it for all of them:

- a **Tool** is a name, a version, a **Recipe** (how to make it) and the files it yields;
- it lives in ``<cache>/<name>-<version>/`` (``todo.devstack.cache.cache_root()``:
  ``TODO_DEVSTACK_CACHE``, else ``~/.cache/todo-devstack``), never in the repository;
- ``COMPLETE.json`` there records the recipe's fingerprint (what the result was made from:
  the versions, our go.mod/go.sum and Go sources, ldflags and build tags) and how long the
  build took, in wall time and in CPU; a changed fingerprint rebuilds, an equal one is
  reused at once;
- a build runs under a file lock (parallel test processes build once), into a staging
  directory renamed into place when complete (an interrupted build leaves nothing half
  made), niced (``TODO_BUILD_NICE``, default 10: other work on the machine goes first);
- ``python -m todo.devstack.toolcache --build-only <name>...`` (or each command's own
  ``--build-only``) fills the cache ahead of time, as CI does.

A new tool is one ``Tool(...)`` value with a ``GoBuild``/``GoInstall``/``MavenFetch``/
``CBuild`` recipe, or a recipe of its own (a subclass of ``Recipe``).
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from todo.devstack.cache import cache_root

MARKER = "COMPLETE.json"
_GO_FALLBACKS = ("/usr/local/go/bin/go", "/usr/lib/go/bin/go", "/usr/bin/go")
_OUTPUT_TAIL = 4000

Log = Callable[[str], None]


class ToolUnavailable(RuntimeError):
    """The tool is neither cached nor buildable here; the message says how to fix it."""


def _log(message: str) -> None:
    print(f"[toolcache] {message}", file=sys.stderr, flush=True)


def executable(path: Path | str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def nice_level() -> int:
    try:
        return max(0, int(os.environ.get("TODO_BUILD_NICE", "10")))
    except ValueError:
        return 10


def _lower_priority() -> None:
    os.nice(nice_level())


def run_build_step(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], what: str, fix: str
) -> None:
    """Run one niced build command; ToolUnavailable with its output's tail when it fails."""
    result = subprocess.run(
        list(argv),  # our own argv, no shell
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=_lower_priority,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-_OUTPUT_TAIL:]
        raise ToolUnavailable(f"{what} failed (exit {result.returncode}); {fix}:\n{output}")


def find_repo_dir(relative: str, env_var: str | None = None) -> Path | None:
    """A directory of the repository (``build-support/dapr``...), found from this file or
    the working directory (a Pants sandbox has the files a target depends on);
    ``env_var`` names it explicitly."""
    if env_var and os.environ.get(env_var):
        explicit = Path(os.environ[env_var]).expanduser()
        return explicit if explicit.is_dir() else None
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for parent in (start, *start.parents):
            candidate = parent / relative
            if candidate.is_dir():
                return candidate
    return None


# --------------------------------------------------------------------------- recipes


class Recipe(ABC):
    """How a tool is made: what it is made from (its fingerprint) and the build itself."""

    @abstractmethod
    def fingerprint(self) -> str | None:
        """A digest of everything the result depends on; None when the inputs cannot be
        read here (then any complete cached build is reused)."""

    @abstractmethod
    def build(self, staging: Path, log: Log) -> None:
        """Make the tool's files inside ``staging``; raise ToolUnavailable with the fix."""

    def describe(self) -> str:
        return type(self).__name__


def digest_of(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


def go_executable() -> str | None:
    candidates: list[str] = []
    goroot = os.environ.get("GOROOT")
    if goroot:
        candidates.append(str(Path(goroot) / "bin" / "go"))
    found = shutil.which("go")
    if found:
        candidates.append(found)
    candidates.extend(_GO_FALLBACKS)
    return next((c for c in candidates if executable(c)), None)


def go_env(go: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of `go`: a usable PATH and HOME even under a bare sandbox env, and
    static binaries (CGO off) unless ``extra`` says otherwise."""
    env = dict(os.environ)
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p]
    more = [str(Path(go).parent), "/usr/local/bin", "/usr/bin", "/bin"]
    env["PATH"] = os.pathsep.join(path + [p for p in more if p not in path])
    env.setdefault("HOME", str(Path.home()))
    env["CGO_ENABLED"] = "0"
    env.update(extra or {})
    return env


def _require_go(what: str) -> str:
    go = go_executable()
    if go is None:
        raise ToolUnavailable(
            f"{what} is not cached and Go is missing: install Go 1.24+ (https://go.dev/dl, "
            "or Debian's golang-go), then run again"
        )
    return go


@dataclass(frozen=True)
class GoBuild(Recipe):
    """`go build` of main packages in a Go module of ours (``build-support/<dir>``, whose
    go.mod pins what it builds): ``binaries`` maps an output path to a package
    (``./cmd/dapr``); ``links`` maps further output paths to a binary they name (the
    programs of a multi-call binary, as relative symlinks)."""

    module: str  # the module's directory, relative to the repository root
    binaries: Mapping[str, str]
    links: Mapping[str, str] = field(default_factory=dict)
    ldflags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    env_var: str | None = None  # names the module directory explicitly
    env: Mapping[str, str] = field(default_factory=dict)
    # Dependencies built with some of their files replaced by ours: a module path -> a
    # directory of the module (its name starts with "_", so that the go command ignores
    # it) whose files replace, or add to, those at the same paths in a copy of that
    # dependency. The build uses the copy through a `replace` in a scratch go.mod
    # (-modfile); the module's own go.mod and go.sum stay as they are.
    overrides: Mapping[str, str] = field(default_factory=dict)

    def module_dir(self) -> Path | None:
        found = find_repo_dir(self.module, self.env_var)
        return found if found is not None and (found / "go.mod").is_file() else None

    def fingerprint(self) -> str | None:
        module_dir = self.module_dir()
        if module_dir is None:
            return None
        parts: list[str | bytes] = [
            " ".join(self.ldflags),
            ",".join(self.tags),
            json.dumps(dict(self.binaries), sort_keys=True),
            json.dumps(dict(self.links), sort_keys=True),
            json.dumps(dict(self.env), sort_keys=True),
        ]
        if self.overrides:  # (only then: the fingerprints of other builds stay as they were)
            parts.append(json.dumps(dict(self.overrides), sort_keys=True))
        files = [module_dir / "go.mod", module_dir / "go.sum"]
        files += sorted(p for p in module_dir.rglob("*.go") if p.is_file())
        for directory in self.overrides.values():
            files += sorted(p for p in (module_dir / directory).rglob("*") if p.is_file())
        for path in files:
            parts += [str(path.relative_to(module_dir)), path.read_bytes()]
        return digest_of(*parts)

    def build(self, staging: Path, log: Log) -> None:
        module_dir = self.module_dir()
        if module_dir is None:
            hint = f", or set {self.env_var}" if self.env_var else ""
            raise ToolUnavailable(
                f"the Go module {self.module} that builds {', '.join(self.binaries)} was not "
                f"found: run from the repository{hint}"
            )
        go = _require_go(", ".join(self.binaries))
        env = go_env(go, self.env)
        with tempfile.TemporaryDirectory(prefix="gobuild-") as scratch:
            modfile = (
                self._overridden_modfile(go, env, module_dir, Path(scratch), log)
                if self.overrides
                else None
            )
            self._build_binaries(go, env, module_dir, modfile, staging, log)
        for link, target in self.links.items():
            (staging / link).symlink_to(target)

    def _overridden_modfile(
        self, go: str, env: Mapping[str, str], module_dir: Path, scratch: Path, log: Log
    ) -> Path:
        """A scratch go.mod (with the module's go.sum beside it) that replaces each
        overridden dependency by a copy of it with our files laid over it."""
        modfile = scratch / "go.mod"
        shutil.copy(module_dir / "go.mod", modfile)
        shutil.copy(module_dir / "go.sum", scratch / "go.sum")
        for number, (dependency, directory) in enumerate(sorted(self.overrides.items())):
            found = subprocess.run(
                [go, "mod", "download", "-json", dependency],  # our argv, no shell
                cwd=module_dir,
                env=dict(env),
                capture_output=True,
                text=True,
                check=False,
            )
            try:
                downloaded = json.loads(found.stdout)
                source = Path(downloaded["Dir"])
            except (ValueError, KeyError) as exc:
                raise ToolUnavailable(
                    f"go mod download {dependency} in {module_dir} failed:\n"
                    f"{(found.stdout + found.stderr)[-_OUTPUT_TAIL:]}"
                ) from exc
            copy = scratch / f"override-{number}"
            # The module cache is read-only: the copy must be writable to take our files.
            shutil.copytree(source, copy, copy_function=shutil.copyfile)
            for directory_path in (copy, *(p for p in copy.rglob("*") if p.is_dir())):
                directory_path.chmod(0o755)
            ours = module_dir / directory
            replaced = sorted(p.relative_to(ours) for p in ours.rglob("*") if p.is_file())
            for relative in replaced:
                (copy / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(ours / relative, copy / relative)
            log(
                f"{dependency} {downloaded.get('Version', '')} with our "
                f"{', '.join(map(str, replaced))} ({directory})"
            )
            run_build_step(
                [go, "mod", "edit", f"-replace={dependency}={copy}", str(modfile)],
                cwd=scratch,
                env=env,
                what=f"go mod edit -replace {dependency}",
                fix="see the output below",
            )
        return modfile

    def _build_binaries(
        self,
        go: str,
        env: Mapping[str, str],
        module_dir: Path,
        modfile: Path | None,
        staging: Path,
        log: Log,
    ) -> None:
        for output, package in self.binaries.items():
            started = time.monotonic()
            log(f"go build {package} in {module_dir} (first time: minutes)")
            argv = [go, "build", "-trimpath", "-mod=readonly"]
            if modfile is not None:
                argv.append(f"-modfile={modfile}")
            if self.tags:
                argv.append(f"-tags={','.join(self.tags)}")
            argv += [f"-ldflags={' '.join(self.ldflags)}", "-o", str(staging / output), package]
            run_build_step(
                argv,
                cwd=module_dir,
                env=env,
                what=f"go build {package} in {module_dir}",
                fix="see the output below",
            )
            log(f"built {output} in {time.monotonic() - started:.0f}s")

    def describe(self) -> str:
        overridden = f" (ours over {', '.join(sorted(self.overrides))})" if self.overrides else ""
        return f"go build {', '.join(self.binaries.values())} in {self.module}{overridden}"


@dataclass(frozen=True)
class GoInstall(Recipe):
    """`go install <package>@v<version>` of a module without replace directives."""

    package: str
    version: str
    ldflags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    output: str = ""  # the binary's name in the tool dir; default: the package's last part

    @property
    def binary(self) -> str:
        return self.output or self.package.rstrip("/").rsplit("/", 1)[-1]

    def fingerprint(self) -> str:
        return digest_of(self.package, self.version, " ".join(self.ldflags), ",".join(self.tags))

    def build(self, staging: Path, log: Log) -> None:
        go = _require_go(self.binary)
        gobin = staging / ".gobin"
        env = go_env(go, {"GOBIN": str(gobin)})
        target = f"{self.package}@v{self.version}"
        log(f"go install {target}")
        argv = [go, "install", "-trimpath"]
        if self.tags:
            argv.append(f"-tags={','.join(self.tags)}")
        argv += [f"-ldflags={' '.join(self.ldflags)}", target]
        run_build_step(
            argv, cwd=staging, env=env, what=f"go install {target}", fix="see the output below"
        )
        built = gobin / self.package.rstrip("/").rsplit("/", 1)[-1]
        built.rename(staging / self.binary)
        shutil.rmtree(gobin)

    def describe(self) -> str:
        return f"go install {self.package}@v{self.version}"


@dataclass(frozen=True)
class GoModuleFiles(Recipe):
    """Files shipped inside a Go module's zip (a Helm chart, manifests, scripts), copied out
    of ``go mod download``: ``paths`` maps an output path to a path in the module."""

    module: str
    version: str
    paths: Mapping[str, str]

    def fingerprint(self) -> str:
        return digest_of(self.module, self.version, json.dumps(dict(self.paths), sort_keys=True))

    def build(self, staging: Path, log: Log) -> None:
        go = _require_go(f"{self.module} v{self.version}")
        log(f"go mod download {self.module}@v{self.version}")
        result = subprocess.run(
            [go, "mod", "download", "-json", f"{self.module}@v{self.version}"],
            cwd=staging,
            env=go_env(go, {"GOFLAGS": "-mod=mod"}),
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            source = Path(json.loads(result.stdout)["Dir"])
        except (ValueError, KeyError) as exc:
            raise ToolUnavailable(
                f"go mod download {self.module}@v{self.version} failed:\n"
                f"{(result.stdout + result.stderr)[-_OUTPUT_TAIL:]}"
            ) from exc
        for output, inside in self.paths.items():
            found = source / inside
            target = staging / output
            target.parent.mkdir(parents=True, exist_ok=True)
            if found.is_dir():
                shutil.copytree(found, target)
            else:
                shutil.copy(found, target)
            # The module cache is read-only; the copy must not be.
            for path in [target, *target.rglob("*")] if target.is_dir() else [target]:
                path.chmod(0o755 if path.is_dir() else 0o644)

    def describe(self) -> str:
        return f"{', '.join(self.paths.values())} of {self.module}@v{self.version}"


@dataclass(frozen=True)
class MavenFetch(Recipe):
    """Jars and their runtime dependencies from Maven Central into ``libs/``, with Maven."""

    artifacts: tuple[str, ...]  # group:artifact:version
    plugin: str = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
    into: str = "libs"

    def fingerprint(self) -> str:
        return digest_of(self.plugin, *self.artifacts)

    def pom(self) -> str:
        deps = []
        for coordinate in self.artifacts:
            group, artifact, version = coordinate.split(":")
            deps.append(
                f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
                f"<version>{version}</version></dependency>"
            )
        joined = "\n".join(deps)
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>todo.toolcache</groupId>
  <artifactId>jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{joined}
  </dependencies>
</project>
"""

    def build(self, staging: Path, log: Log) -> None:
        mvn = next(
            (
                c
                for c in (shutil.which("mvn"), "/usr/bin/mvn", "/usr/local/bin/mvn")
                if c and executable(c)
            ),
            None,
        )
        if mvn is None:
            raise ToolUnavailable(
                f"{', '.join(self.artifacts)} are not cached and Maven is missing: install it "
                "(Debian: apt-get install maven) or pre-fill the cache"
            )
        (staging / "pom.xml").write_text(self.pom())
        log(f"mvn copy-dependencies {' '.join(self.artifacts)}")
        env = dict(os.environ)
        java = shutil.which("java") or "/usr/bin/java"
        if executable(java) and "JAVA_HOME" not in env:
            env["JAVA_HOME"] = str(Path(os.path.realpath(java)).parent.parent)
        run_build_step(
            [
                mvn,
                "-B",
                "-q",
                "-Dstyle.color=never",
                "-f",
                str(staging / "pom.xml"),
                f"{self.plugin}:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staging / self.into}",
            ],
            cwd=staging,
            env=env,
            what="mvn copy-dependencies",
            fix="check that Maven Central is reachable",
        )
        (staging / "pom.xml").unlink()

    def describe(self) -> str:
        return f"Maven Central: {', '.join(self.artifacts)}"


@dataclass(frozen=True)
class CBuild(Recipe):
    """A static C program of ours (``gcc -static``) from one source file."""

    source: str  # relative to the repository root
    output: str

    def _source(self) -> Path | None:
        found = find_repo_dir(str(Path(self.source).parent))
        path = found / Path(self.source).name if found else None
        return path if path is not None and path.is_file() else None

    def fingerprint(self) -> str | None:
        source = self._source()
        return digest_of(self.output, source.read_bytes()) if source else None

    def build(self, staging: Path, log: Log) -> None:
        source = self._source()
        if source is None:
            raise ToolUnavailable(f"{self.source} was not found: run from the repository")
        gcc = shutil.which("gcc") or shutil.which("cc")
        if gcc is None:
            raise ToolUnavailable("gcc is missing: apt-get install gcc libc6-dev")
        log(f"gcc -static {source}")
        run_build_step(
            [
                gcc,
                "-static",
                "-Os",
                "-Wall",
                "-Werror",
                "-o",
                str(staging / self.output),
                str(source),
            ],
            cwd=staging,
            env=os.environ,
            what=f"gcc {source}",
            fix="see the output below",
        )

    def describe(self) -> str:
        return f"gcc -static {self.source}"


# --------------------------------------------------------------------------- tools


@dataclass(frozen=True)
class Tool:
    """A named, versioned result of a recipe, kept in ``<cache>/<name>-<version>/``.

    ``outputs`` are the paths (relative to that directory) the recipe yields; the first is
    the tool's main file. ``override_env`` names an environment variable that points at an
    existing binary instead (single-binary tools only)."""

    name: str
    version: str
    recipe: Recipe
    outputs: tuple[str, ...]
    override_env: str | None = None

    @property
    def home(self) -> Path:
        return cache_root() / f"{self.name}-{self.version}"

    def path(self, output: str | None = None) -> Path:
        return self.home / (output or self.outputs[0])


def _read_marker(tool: Tool) -> dict[str, Any] | None:
    try:
        marker = json.loads((tool.home / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def cached(tool: Tool, fingerprint: str | None = None) -> Path | None:
    """The tool's directory if a complete build made from the same inputs is there."""
    marker = _read_marker(tool)
    if marker is None or not all((tool.home / o).exists() for o in tool.outputs):
        return None
    wanted = tool.recipe.fingerprint() if fingerprint is None else fingerprint
    if wanted is not None and marker.get("fingerprint") != wanted:
        return None
    return tool.home


def build_record(tool: Tool) -> dict[str, Any] | None:
    """What COMPLETE.json says of the cached build (fingerprint, seconds, sizes)."""
    return _read_marker(tool)


def _sizes(home: Path, outputs: Iterable[str]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for output in outputs:
        path = home / output
        if path.is_dir():
            sizes[output] = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        elif path.exists():
            sizes[output] = path.stat().st_size
    return sizes


def _children_cpu_seconds() -> float:
    """User and system CPU of this process's finished children (the build steps); with
    builds in parallel threads, theirs mix."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ensure(tool: Tool, log: Log = _log) -> Path:
    """The tool's directory: reused when cached from the same inputs, else built now (once
    per machine: other processes wait on the lock and then find it built)."""
    fingerprint = tool.recipe.fingerprint()
    found = cached(tool, fingerprint)
    if found is not None:
        return found
    tool.home.parent.mkdir(parents=True, exist_ok=True)
    with open(tool.home.parent / f"{tool.name}-{tool.version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = cached(tool, fingerprint)
        if found is not None:
            return found
        staging = Path(
            tempfile.mkdtemp(prefix=f".{tool.name}-{tool.version}.partial-", dir=tool.home.parent)
        )
        started = time.monotonic()
        cpu_before = _children_cpu_seconds()
        log(f"building {tool.name} {tool.version}: {tool.recipe.describe()}")
        try:
            tool.recipe.build(staging, log)
            missing = [o for o in tool.outputs if not (staging / o).exists()]
            if missing:
                raise ToolUnavailable(
                    f"{tool.name} {tool.version}: the build finished without {', '.join(missing)}"
                )
            seconds = round(time.monotonic() - started, 1)
            cpu_seconds = round(_children_cpu_seconds() - cpu_before, 1)
            record = {
                "name": tool.name,
                "version": tool.version,
                "recipe": tool.recipe.describe(),
                "fingerprint": fingerprint,
                "seconds": seconds,
                # The CPU (user + system) of the processes the build ran: unlike its wall
                # time, about the same on a busy machine as on an idle one.
                "cpu_seconds": cpu_seconds,
                "bytes": _sizes(staging, tool.outputs),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            (staging / MARKER).write_text(json.dumps(record, indent=2) + "\n")
            staging.chmod(0o755)  # mkdtemp made it private
            if tool.home.exists():
                shutil.rmtree(tool.home)
            staging.rename(tool.home)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log(
            f"built {tool.name} {tool.version} in {seconds:.0f}s ({cpu_seconds:.0f}s of CPU) "
            f"into {tool.home}"
        )
        return tool.home


async def ensure_async(tool: Tool, log: Log = _log) -> Path:
    found = cached(tool)
    if found is not None:
        return found
    return await asyncio.to_thread(ensure, tool, log)


def locate(tool: Tool, *, build: bool = True, on_path: bool = False) -> str:
    """The tool's main file: ``override_env`` if set, else (with ``on_path``) one on PATH,
    else cached, else built now (unless ``build`` is False)."""
    if tool.override_env and os.environ.get(tool.override_env):
        explicit = os.environ[tool.override_env]
        if not executable(explicit):
            raise ToolUnavailable(f"{tool.override_env}={explicit} is not an executable file")
        return explicit
    if on_path:
        found_on_path = shutil.which(Path(tool.outputs[0]).name)
        if found_on_path:
            return found_on_path
    if cached(tool) is not None:
        return str(tool.path())
    if not build:
        raise ToolUnavailable(
            f"{tool.name} {tool.version} is not built: run "
            f"`python -m todo.devstack.toolcache --build-only {tool.name}`"
        )
    return str(ensure(tool) / tool.outputs[0])


# --------------------------------------------------------------------------- command line


def build_all(tools: Sequence[Tool], log: Log = _log) -> list[Path]:
    """Build (or find cached) each tool in order, logging each one's state and build time."""
    homes: list[Path] = []
    for tool in tools:
        was_cached = cached(tool) is not None
        home = ensure(tool, log)
        record = build_record(tool) or {}
        state = "cached" if was_cached else "built"
        took = record.get("seconds", "?")
        cpu = f", {record['cpu_seconds']}s of CPU" if "cpu_seconds" in record else ""
        log(f"{tool.name} {tool.version}: {state} (build took {took}s{cpu}) in {home}")
        homes.append(home)
    return homes


def cli(tools: Sequence[Tool], argv: Sequence[str] | None = None, prog: str = "toolcache") -> int:
    """``--build-only [NAME...]`` builds the named tools (all when none is named); ``--list``
    (or no argument) shows each tool, its state and its recipe; ``--check`` lists them too
    and exits 1 unless every one is cached (CI decides with it whether a stage fits)."""
    by_name = {tool.name: tool for tool in tools}
    parser = argparse.ArgumentParser(prog=prog, description="Build or list cached tools.")
    parser.add_argument(
        "--build-only", nargs="*", metavar="NAME", help="build these (every tool: none named)"
    )
    parser.add_argument("--list", action="store_true", help="list every tool and its state")
    parser.add_argument(
        "--check", action="store_true", help="list, and exit 1 unless every tool is cached"
    )
    args = parser.parse_args(argv)
    if args.list or args.check or args.build_only is None:
        missing = 0
        for tool in tools:
            record = build_record(tool) if cached(tool) else None
            state = f"cached ({record.get('seconds')}s to build)" if record else "not built"
            missing += record is None
            print(f"{tool.name:<22} {tool.version:<9} {state:<26} {tool.recipe.describe()}")
        return 1 if args.check and missing else 0
    unknown = [name for name in args.build_only if name not in by_name]
    if unknown:
        print(
            f"error: unknown tools {', '.join(unknown)}; known: {', '.join(by_name)}",
            file=sys.stderr,
        )
        return 2
    try:
        build_all([by_name[name] for name in args.build_only] or list(tools))
    except ToolUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def devstack_tools() -> list[Tool]:
    """The devstack's and the deploy tests' tools (the cluster command has its own list)."""
    from todo.devstack import dapr, gotools, kafka

    return [gotools.HELM, gotools.ACTIONLINT, *dapr.TOOLS, kafka.KAFKA_JARS]


def main(argv: Sequence[str] | None = None) -> int:
    return cli(devstack_tools(), argv)


if __name__ == "__main__":
    sys.exit(main())

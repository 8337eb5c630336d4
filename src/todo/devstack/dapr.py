"""The real Dapr runtime for development and tests: a ``daprd`` sidecar and the scheduler.

No Docker and no ``dapr init``: both binaries are compiled once from Dapr's own Go module,
pinned in ``build-support/dapr/go.mod`` (``DAPR_VERSION`` here must name the same release),
into a cache outside the repository (``~/.cache/todo-devstack/dapr-<version>/bin``;
``TODO_DEVSTACK_CACHE`` replaces ``~/.cache/todo-devstack``). Our ``daprd`` registers only
the components Todo Cloud uses (see ``build-support/dapr/cmd/daprd/components.go``):

- ``pubsub.kafka``
- ``state.postgresql`` (and its alias ``state.postgres``): ``version: v2`` picks the v2 store,
  ``v1`` or no version the v1 store
- ``state.in-memory``
- ``secretstores.local.file`` and ``secretstores.local.env``

Jobs need no component: daprd talks to the scheduler (``--scheduler-host-address``), which
keeps jobs in an embedded etcd under its data dir. No placement service is started or named:
the project uses neither actors nor workflows. No name resolver is registered either (mDNS
would multicast on the LAN), so daprd logs that service invocation is unavailable.

Needs, for the first build only, Go 1.24+ (``go`` on ``PATH``) and the Go module proxy; later
calls find the binaries through a marker file and start at once.

    python -m todo.devstack.dapr --build-only      # fill the binary cache (CI pre-build)
    python -m todo.devstack.dapr --scheduler       # a scheduler on 127.0.0.1:50006 until Ctrl+C
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from todo.devstack.cache import cache_root
from todo.devstack.ports import free_ports
from todo.devstack.processes import (
    ChildProcess,
    OneChildServer,
    serve_one,
)

# One pin for the whole stack: build-support/dapr/go.mod requires exactly this release.
DAPR_VERSION = "1.16.0"
COMPONENTS_CONTRIB_VERSION = "1.16.0"
DAPR_MODULE = "github.com/dapr/dapr"

HOST = "127.0.0.1"
SCHEDULER_ID = "dapr-scheduler-server-0"
DEFAULT_SCHEDULER_PORT = 50006

BINARIES = ("daprd", "scheduler")
_MARKER = "COMPLETE.json"
_STOP_GRACE_SECONDS = 15.0
# Dapr's Makefile injects the version the same way; `daprd --version` prints it.
_LDFLAGS = f"-s -w -X {DAPR_MODULE}/pkg/buildinfo.version={DAPR_VERSION}"


def _log(message: str) -> None:
    print(f"[devstack.dapr] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- paths


def dapr_home(version: str = DAPR_VERSION) -> Path:
    return cache_root() / f"dapr-{version}"


def build_dir() -> Path | None:
    """``build-support/dapr`` (the Go module), found from this file or the working directory.

    ``TODO_DAPR_BUILD_DIR`` names it explicitly (e.g. where the source tree lives elsewhere).
    """
    explicit = os.environ.get("TODO_DAPR_BUILD_DIR")
    if explicit:
        path = Path(explicit).expanduser()
        return path if (path / "go.mod").is_file() else None
    starts = [Path(__file__).resolve().parent, Path.cwd().resolve()]
    for start in starts:
        for parent in (start, *start.parents):
            candidate = parent / "build-support" / "dapr"
            if (candidate / "go.mod").is_file():
                return candidate
    return None


def _source_digest(module_dir: Path) -> str:
    """What the binaries are built from: go.mod, go.sum, our Go sources and the ldflags."""
    digest = hashlib.sha256(_LDFLAGS.encode())
    files = [module_dir / "go.mod", module_dir / "go.sum"]
    files += sorted((module_dir / "cmd").rglob("*.go"))
    for path in files:
        digest.update(str(path.relative_to(module_dir)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _check_pin(module_dir: Path) -> None:
    go_mod = (module_dir / "go.mod").read_text()
    pinned = re.search(rf"^\s*{re.escape(DAPR_MODULE)}\s+v(\S+)", go_mod, re.MULTILINE)
    if pinned is None or pinned.group(1) != DAPR_VERSION:
        found = pinned.group(1) if pinned else "nothing"
        raise RuntimeError(
            f"{module_dir / 'go.mod'} pins {DAPR_MODULE} {found}, but DAPR_VERSION is "
            f"{DAPR_VERSION}: change both together"
        )


# --------------------------------------------------------------------------- binaries


@dataclass(frozen=True)
class DaprBinaries:
    version: str
    daprd: Path
    scheduler: Path


def _binaries(version: str) -> DaprBinaries:
    bin_dir = dapr_home(version) / "bin"
    return DaprBinaries(version=version, daprd=bin_dir / "daprd", scheduler=bin_dir / "scheduler")


def _cached(version: str, digest: str | None) -> DaprBinaries | None:
    """The cached binaries if complete and (when the sources are at hand) built from them."""
    bins = _binaries(version)
    try:
        marker = json.loads((dapr_home(version) / _MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not all(os.access(p, os.X_OK) for p in (bins.daprd, bins.scheduler)):
        return None
    if digest is not None and marker.get("digest") != digest:
        return None
    return bins


def _find_go() -> str | None:
    candidates = [shutil.which("go"), "/usr/local/go/bin/go", "/usr/lib/go/bin/go"]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _go_env(go: str) -> dict[str, str]:
    """The environment for `go build`: a usable PATH and HOME even under a bare sandbox env."""
    env = dict(os.environ)
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p]
    extra = [str(Path(go).parent), "/usr/local/bin", "/usr/bin", "/bin"]
    env["PATH"] = os.pathsep.join(path + [p for p in extra if p not in path])
    env.setdefault("HOME", str(Path.home()))
    env["CGO_ENABLED"] = "0"
    return env


def _build_blocking(version: str) -> DaprBinaries:
    module_dir = build_dir()
    home = dapr_home(version)
    home.mkdir(parents=True, exist_ok=True)
    with open(home.parent / f"dapr-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building the same version
        digest = _source_digest(module_dir) if module_dir else None
        cached = _cached(version, digest)
        if cached is not None:
            return cached
        if module_dir is None:
            raise RuntimeError(
                f"The Dapr {version} binaries are not cached in {home / 'bin'} and the Go module "
                "that builds them (build-support/dapr) was not found: run "
                "`python -m todo.devstack.dapr --build-only` from the repository, or set "
                "TODO_DAPR_BUILD_DIR"
            )
        _check_pin(module_dir)
        go = _find_go()
        if go is None:
            raise RuntimeError(
                f"The Dapr {version} binaries are not cached in {home / 'bin'} and `go` is "
                "missing: install Go 1.24 or newer and put it on PATH (it builds them once from "
                f"{module_dir}), or pre-fill the cache with `python -m todo.devstack.dapr "
                "--build-only` on a machine that has Go"
            )
        env = _go_env(go)
        go_version = subprocess.run(
            [go, "version"],  # - our own argv, no shell
            env=env,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        staging = Path(tempfile.mkdtemp(prefix="bin.partial-", dir=home))
        built: dict[str, dict[str, float | int]] = {}
        try:
            for name in BINARIES:
                _log(f"building {name} {version} with {go_version} (first time: minutes)")
                started = time.monotonic()
                cmd = [
                    go,
                    "build",
                    "-trimpath",
                    "-mod=readonly",
                    f"-ldflags={_LDFLAGS}",
                    "-o",
                    str(staging / name),
                    f"./cmd/{name}",
                ]
                result = subprocess.run(
                    cmd,  # - our own argv, no shell
                    cwd=module_dir,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if result.returncode != 0:
                    output = (result.stdout + result.stderr).strip()[-4000:]
                    raise RuntimeError(
                        f"go build ./cmd/{name} in {module_dir} failed "
                        f"(exit {result.returncode}):\n{output}"
                    )
                seconds = time.monotonic() - started
                size = (staging / name).stat().st_size
                built[name] = {"seconds": round(seconds, 1), "bytes": size}
                _log(f"built {name}: {size / 1e6:.1f} MB in {seconds:.1f}s")
            bin_dir = home / "bin"
            if bin_dir.exists():
                shutil.rmtree(bin_dir)
            staging.chmod(0o755)  # mkdtemp made it private
            staging.rename(bin_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        marker = {
            "version": version,
            "digest": digest,
            "go": go_version,
            "ldflags": _LDFLAGS,
            "built": built,
        }
        (home / _MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        return _binaries(version)


async def ensure_dapr_binaries() -> DaprBinaries:
    """daprd and scheduler of ``DAPR_VERSION``: built once with ``go build``, then cached.

    A cached build is reused while ``build-support/dapr`` (when it can be found) is unchanged;
    editing its go.mod, go.sum or Go sources triggers a rebuild.
    """
    module_dir = build_dir()
    digest = _source_digest(module_dir) if module_dir else None
    cached = _cached(DAPR_VERSION, digest)
    if cached is not None:
        return cached
    return await asyncio.to_thread(_build_blocking, DAPR_VERSION)


# --------------------------------------------------------------------------- processes


def _child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # Otherwise Dapr finds "its" address by routing towards 8.8.8.8 (a UDP connect, no packet).
    env["DAPR_HOST_IP"] = HOST
    # Tokens meant for one sidecar must not leak in from the caller's environment.
    env.pop("DAPR_API_TOKEN", None)
    env.pop("APP_API_TOKEN", None)
    env.update(extra or {})
    return env


# --------------------------------------------------------------------------- scheduler


@dataclass
class DaprScheduler(OneChildServer):
    """Dapr's scheduler service (the Jobs API backend) on 127.0.0.1, standalone, no mTLS.

    It keeps jobs in an embedded single-node etcd under ``data_dir/etcd`` (kept across
    stop/start); its output goes to ``data_dir/scheduler.log``. Metrics are off: Dapr 1.16
    would serve them on all interfaces. Its healthz server listens on all interfaces too
    (Dapr 1.16 wires no listen address for it); nothing here connects to it but via 127.0.0.1.
    """

    data_dir: Path
    port: int  # gRPC, what daprd's --scheduler-host-address names
    healthz_port: int
    etcd_client_port: int
    etcd_peer_port: int
    log_level: str = "info"
    _process: ChildProcess = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._process = ChildProcess("dapr scheduler", self.data_dir / "scheduler.log")

    @classmethod
    def on_free_ports(cls, data_dir: Path) -> DaprScheduler:
        port, healthz, client, peer = free_ports(4)
        return cls(
            data_dir=data_dir,
            port=port,
            healthz_port=healthz,
            etcd_client_port=client,
            etcd_peer_port=peer,
        )

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def argv(self, binaries: DaprBinaries) -> list[str]:
        return [
            str(binaries.scheduler),
            "--mode=standalone",
            f"--id={SCHEDULER_ID}",
            f"--listen-address={HOST}",
            f"--port={self.port}",
            f"--override-broadcast-host-port={self.address}",
            f"--healthz-port={self.healthz_port}",
            "--enable-metrics=false",
            "--etcd-embed=true",
            f"--etcd-data-dir={self.data_dir / 'etcd'}",
            f"--etcd-initial-cluster={SCHEDULER_ID}=http://{HOST}:{self.etcd_peer_port}",
            f"--etcd-client-port={self.etcd_client_port}",
            f"--identity-directory-write={self.data_dir / 'identity'}",
            f"--log-level={self.log_level}",
        ]

    async def start(self, timeout: float = 60) -> None:
        """Start the scheduler and wait until its ``/healthz`` answers 200."""
        if self.running:
            return
        binaries = await ensure_dapr_binaries()
        deadline = time.monotonic() + timeout
        self.data_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        self._process.spawn(self.argv(binaries), _child_env(), cwd=self.data_dir)
        try:
            await self._process.wait_http(f"http://{HOST}:{self.healthz_port}/healthz", deadline)
        except BaseException:
            await self._process.terminate(grace=5)
            raise
        _log(
            f"scheduler {binaries.version} up on {self.address} in "
            f"{time.monotonic() - started:.1f}s (pid {self.pid}, log {self.log_file})"
        )

    async def stop(self) -> None:
        await self._process.terminate(_STOP_GRACE_SECONDS)


# --------------------------------------------------------------------------- sidecar


@dataclass
class DaprSidecar(OneChildServer):
    """One ``daprd`` for one app, standalone, every port on 127.0.0.1.

    ``app_api_token`` is sent by daprd to the app (header ``dapr-api-token``) and
    ``dapr_api_token`` is what callers of daprd's API must send (same header). The log goes
    to ``work_dir/daprd-<app_id>.log``.
    """

    app_id: str
    work_dir: Path
    http_port: int
    grpc_port: int
    internal_grpc_port: int
    metrics_port: int
    app_port: int | None = None
    app_protocol: str = "http"
    resources_paths: Sequence[Path] = ()
    config: Path | None = None
    scheduler_address: str | None = None
    app_api_token: str | None = None
    dapr_api_token: str | None = None
    log_level: str = "info"
    extra_args: Sequence[str] = ()
    extra_env: Mapping[str, str] = field(default_factory=dict)
    _process: ChildProcess = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._process = ChildProcess(
            f"daprd {self.app_id}", self.work_dir / f"daprd-{self.app_id}.log"
        )

    @classmethod
    def on_free_ports(
        cls,
        app_id: str,
        work_dir: Path,
        *,
        app_port: int | None = None,
        resources_paths: Sequence[Path] = (),
        config: Path | None = None,
        scheduler_address: str | None = None,
        app_api_token: str | None = None,
        dapr_api_token: str | None = None,
    ) -> DaprSidecar:
        http, grpc, internal, metrics = free_ports(4)
        return cls(
            app_id=app_id,
            work_dir=work_dir,
            http_port=http,
            grpc_port=grpc,
            internal_grpc_port=internal,
            metrics_port=metrics,
            app_port=app_port,
            resources_paths=resources_paths,
            config=config,
            scheduler_address=scheduler_address,
            app_api_token=app_api_token,
            dapr_api_token=dapr_api_token,
        )

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    @property
    def grpc_address(self) -> str:
        return f"{HOST}:{self.grpc_port}"

    @property
    def api_headers(self) -> dict[str, str]:
        """Headers for calls to this daprd's API (the API token, when one is set)."""
        return {"dapr-api-token": self.dapr_api_token} if self.dapr_api_token else {}

    def argv(self, binaries: DaprBinaries) -> list[str]:
        args = [
            str(binaries.daprd),
            "--mode=standalone",
            f"--app-id={self.app_id}",
            f"--app-protocol={self.app_protocol}",
            f"--app-channel-address={HOST}",
            f"--dapr-listen-addresses={HOST}",
            f"--dapr-http-port={self.http_port}",
            f"--dapr-grpc-port={self.grpc_port}",
            f"--dapr-internal-grpc-port={self.internal_grpc_port}",
            f"--dapr-internal-grpc-listen-address={HOST}",
            "--enable-metrics=true",
            f"--metrics-port={self.metrics_port}",
            f"--metrics-listen-address={HOST}",
            f"--log-level={self.log_level}",
        ]
        if self.app_port is not None:
            args.append(f"--app-port={self.app_port}")
        args += [f"--resources-path={path}" for path in self.resources_paths]
        if self.config is not None:
            args.append(f"--config={self.config}")
        if self.scheduler_address:
            args.append(f"--scheduler-host-address={self.scheduler_address}")
        # No --placement-host-address: no actors, no workflows.
        args += list(self.extra_args)
        return args

    def _env(self) -> dict[str, str]:
        extra = dict(self.extra_env)
        if self.app_api_token:
            extra["APP_API_TOKEN"] = self.app_api_token
        if self.dapr_api_token:
            extra["DAPR_API_TOKEN"] = self.dapr_api_token
        return _child_env(extra)

    async def start(self, timeout: float = 60, *, wait_for_app: bool = False) -> None:
        """Start daprd and wait until it is ready.

        By default "ready" is ``GET /v1.0/healthz/outbound`` = 204 (components loaded, the API
        usable); with ``wait_for_app`` it is ``/v1.0/healthz`` = 204, which also needs the app
        to listen on ``app_port``.
        """
        if self.running:
            return
        binaries = await ensure_dapr_binaries()
        deadline = time.monotonic() + timeout
        self.work_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        self._process.spawn(self.argv(binaries), self._env(), cwd=self.work_dir)
        path = "/v1.0/healthz" if wait_for_app else "/v1.0/healthz/outbound"
        try:
            await self._process.wait_http(self.http_url + path, deadline, 204, self.api_headers)
        except BaseException:
            await self._process.terminate(grace=5)
            raise
        _log(
            f"daprd {binaries.version} for {self.app_id} up on {self.http_url} in "
            f"{time.monotonic() - started:.1f}s (pid {self.pid}, log {self.log_file})"
        )

    async def stop(self) -> None:
        await self._process.terminate(_STOP_GRACE_SECONDS)


# --------------------------------------------------------------------------- CLI


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m todo.devstack.dapr",
        description=f"Build (once) and run Dapr {DAPR_VERSION}'s daprd and scheduler.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--build-only", action="store_true", help="only fill the binary cache, then exit"
    )
    mode.add_argument(
        "--scheduler", action="store_true", help="run a scheduler on 127.0.0.1 until Ctrl+C"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_SCHEDULER_PORT,
        help=f"scheduler gRPC port ({DEFAULT_SCHEDULER_PORT}); healthz, etcd client and peer "
        "use the next three",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="scheduler data (default: <cache>/data/dapr-scheduler-<port>, kept across runs)",
    )
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> int:
    if not args.scheduler:
        started = time.monotonic()
        binaries = await ensure_dapr_binaries()
        _log(f"binaries ready ({time.monotonic() - started:.1f}s)")
        print(binaries.daprd)
        print(binaries.scheduler)
        return 0
    port: int = args.port
    data_dir: Path = args.data_dir or cache_root() / "data" / f"dapr-scheduler-{port}"
    scheduler = DaprScheduler(
        data_dir=data_dir.resolve(),
        port=port,
        healthz_port=port + 1,
        etcd_client_port=port + 2,
        etcd_peer_port=port + 3,
    )
    _log(f"data in {data_dir}")
    return await serve_one(scheduler, "the Dapr scheduler", lambda: scheduler.address, _log)


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_serve(_parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

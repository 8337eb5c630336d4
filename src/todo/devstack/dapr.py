"""The real Dapr runtime for development and tests: a ``daprd`` sidecar and the scheduler.

No Docker and no ``dapr init``: Dapr is compiled once from its own Go module, pinned in
``build-support/dapr/go.mod`` (``DAPR_VERSION`` here must name the same release), as ONE
multi-call binary (``build-support/dapr/cmd/dapr``: daprd, scheduler, operator, placement,
sentry, injector, each a link to it) by the tool cache (``todo.devstack.toolcache``) into
``~/.cache/todo-devstack/dapr-programs-<version>/bin`` (``TODO_DEVSTACK_CACHE`` replaces
``~/.cache/todo-devstack``). The cluster command puts the same binary into the Dapr images.
Our ``daprd`` registers only the components Todo Cloud uses (see
``build-support/dapr/internal/daprd/components.go``):

- ``pubsub.kafka``
- ``state.postgresql`` (and its alias ``state.postgres``): ``version: v2`` picks the v2 store,
  ``v1`` or no version the v1 store
- ``state.in-memory``
- ``secretstores.local.file``, ``secretstores.local.env`` and, in a cluster,
  ``secretstores.kubernetes``
- name resolution ``sqlite`` (sidecars on one machine) and, in a cluster, ``kubernetes``

Jobs need no component: daprd talks to the scheduler (``--scheduler-host-address``), which
keeps jobs in an embedded etcd under its data dir. No placement service is started or named:
the project uses neither actors nor workflows.

Needs, for the first build only, Go 1.24+ (``go`` on ``PATH``) and the Go module proxy; later
calls find the binaries through the cache's marker file and start at once.

    python -m todo.devstack.dapr --build-only      # fill the binary cache (CI pre-build)
    python -m todo.devstack.dapr --scheduler       # a scheduler on 127.0.0.1:50006 until Ctrl+C
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
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
from todo.devstack.toolcache import GoBuild, Tool, ensure_async

# One pin for the whole stack: build-support/dapr/go.mod requires exactly this release.
DAPR_VERSION = "1.16.0"
COMPONENTS_CONTRIB_VERSION = "1.16.0"
DAPR_MODULE = "github.com/dapr/dapr"

HOST = "127.0.0.1"
SCHEDULER_ID = "dapr-scheduler-server-0"
DEFAULT_SCHEDULER_PORT = 50006

# The programs of the one multi-call binary (build-support/dapr/cmd/dapr), each a link to it.
PROGRAMS = ("daprd", "scheduler", "operator", "placement", "sentry", "injector")
_STOP_GRACE_SECONDS = 15.0
# Dapr's Makefile injects the version the same way; `daprd --version` prints it.
_LDFLAGS = ("-s", "-w", f"-X {DAPR_MODULE}/pkg/buildinfo.version={DAPR_VERSION}")

DAPR = Tool(
    name="dapr-programs",
    version=DAPR_VERSION,
    recipe=GoBuild(
        module="build-support/dapr",
        binaries={"bin/dapr": "./cmd/dapr"},
        links={f"bin/{program}": "dapr" for program in PROGRAMS},
        ldflags=_LDFLAGS,
        env_var="TODO_DAPR_BUILD_DIR",
    ),
    outputs=("bin/dapr", *(f"bin/{program}" for program in PROGRAMS)),
)
TOOLS = (DAPR,)


def _log(message: str) -> None:
    print(f"[devstack.dapr] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- binaries


def _check_pin(module_dir: Path) -> None:
    go_mod = (module_dir / "go.mod").read_text()
    pinned = re.search(rf"^\s*{re.escape(DAPR_MODULE)}\s+v(\S+)", go_mod, re.MULTILINE)
    if pinned is None or pinned.group(1) != DAPR_VERSION:
        found = pinned.group(1) if pinned else "nothing"
        raise RuntimeError(
            f"{module_dir / 'go.mod'} pins {DAPR_MODULE} {found}, but DAPR_VERSION is "
            f"{DAPR_VERSION}: change both together"
        )


@dataclass(frozen=True)
class DaprBinaries:
    version: str
    daprd: Path
    scheduler: Path

    def program(self, name: str) -> Path:
        """Any of PROGRAMS (the same binary under its name)."""
        return self.daprd.parent / name


async def ensure_dapr_binaries() -> DaprBinaries:
    """The Dapr programs of ``DAPR_VERSION``: built once (``todo.devstack.toolcache``), then
    reused while ``build-support/dapr`` (when it can be found) is unchanged; editing its
    go.mod, go.sum or Go sources triggers a rebuild."""
    module_dir = DAPR.recipe.module_dir() if isinstance(DAPR.recipe, GoBuild) else None
    if module_dir is not None:
        _check_pin(module_dir)
    home = await ensure_async(DAPR, _log)
    return DaprBinaries(
        version=DAPR_VERSION, daprd=home / "bin" / "daprd", scheduler=home / "bin" / "scheduler"
    )


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
        for program in PROGRAMS:
            print(binaries.program(program))
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

"""Child processes of the devstack (JVMs, daprd, servers): never left behind, and their
logs quoted when they fail."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

_LIVE: set[subprocess.Popen[bytes]] = set()
_PR_SET_PDEATHSIG = 1


def track(proc: subprocess.Popen[bytes]) -> None:
    """Kill `proc` when this Python process exits without having stopped it."""
    _LIVE.add(proc)


def untrack(proc: subprocess.Popen[bytes]) -> None:
    _LIVE.discard(proc)


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_LIVE):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                # A paused (SIGSTOP) process must run again to die.
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)


def pdeathsig_setter() -> Callable[[], None] | None:
    """Linux: a `preexec_fn` that has the kernel SIGTERM the child when its parent dies
    (even by SIGKILL). The signal follows the thread that started the child: start
    long-lived children from a long-lived thread."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved now, not in the child
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def set_pdeathsig() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return set_pdeathsig


def tail(path: Path, lines: int = 60) -> str:
    """The last `lines` lines of a log file (read from its last 64 KiB)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def stop_requested() -> asyncio.Event:
    """An event set by Ctrl+C or SIGTERM: how the devstack's commands are told to stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def serve_until_stopped(stop: asyncio.Event, alive: Callable[[], bool]) -> bool:
    """Wait for `stop` while `alive()` holds; False when the server died on its own."""
    while not stop.is_set() and alive():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)
    return alive()


def python_env(extra: Mapping[str, str], *, drop_prefix: str = "") -> dict[str, str]:
    """The environment of a Python child: this process's (less the variables starting with
    `drop_prefix`, if given), an import path that finds the sources this process runs (in
    a PEX or a test sandbox too), and `extra`."""
    env = {k: v for k, v in os.environ.items() if not (drop_prefix and k.startswith(drop_prefix))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env.update(extra)
    return env


class ServiceFailed(RuntimeError):
    """A child exited while starting or did not get ready; the message quotes its log."""


async def wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Whether `proc` ended within `timeout` seconds (polled, the event loop stays free)."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.1)
    return True


@dataclass
class ChildProcess:
    """One child process of the devstack (a JVM, daprd, one of our services), its output
    in a log file; never left behind, stopped with SIGTERM and then SIGKILL."""

    name: str
    log_file: Path
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _last_returncode: int | None = field(default=None, init=False, repr=False)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else self._last_returncode

    def spawn(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(f"\n===== {stamp} starting {self.name}: {' '.join(argv)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                list(argv),  # our own argv, no shell
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=dict(env),
                # Its own session: a terminal's Ctrl+C reaches the parent, which stops its
                # children in order.
                start_new_session=True,
                # The death signal follows the thread that spawns: here the event loop's.
                preexec_fn=pdeathsig_setter(),
            )
        track(self._proc)

    def send_signal(self, sig: int) -> None:
        if self._proc is None or self._proc.poll() is not None:
            raise RuntimeError(f"{self.name} is not running")
        os.kill(self._proc.pid, sig)

    def failure(self, what: str) -> str:
        return f"{self.name} {what}; tail of {self.log_file}:\n{tail(self.log_file)}"

    def check_alive(self) -> None:
        """Raise ServiceFailed (quoting the log) if the process ended."""
        if self._proc is None or self._proc.poll() is not None:
            raise ServiceFailed(self.failure(f"exited with code {self.returncode} while starting"))

    async def wait_http(
        self,
        url: str,
        deadline: float,
        expect: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Poll `url` until it answers `expect`; ServiceFailed with the log tail otherwise."""
        last = "no answer yet"
        async with httpx.AsyncClient(timeout=5.0) as client:
            while True:
                self.check_alive()
                if time.monotonic() >= deadline:
                    raise ServiceFailed(self.failure(f"was not ready at {url} in time ({last})"))
                try:
                    response = await client.get(url, headers=dict(headers or {}))
                    if response.status_code == expect:
                        return
                    last = f"HTTP {response.status_code} {response.text[:200]!r}"
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(0.2)

    async def terminate(self, grace: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds; a no-op once it has ended."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                # A paused (SIGSTOP) process must run again to act on SIGTERM.
                os.kill(proc.pid, signal.SIGCONT)
                proc.terminate()
            if not await wait_exit(proc, grace):
                print(
                    f"[devstack] {self.name} (pid {proc.pid}) ignored SIGTERM for "
                    f"{grace:.0f}s: SIGKILL",
                    file=sys.stderr,
                    flush=True,
                )
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await wait_exit(proc, 10)
        self._last_returncode = proc.returncode
        untrack(proc)
        self._proc = None

    def kill(self) -> None:
        """SIGKILL at once (tests of a crash); blocks the few milliseconds reaping takes."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)


class StartStop:
    """`async with` for what starts and stops: stopped also when starting failed half-way
    (stop is a no-op for what never started)."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


class OneChildServer(StartStop):
    """A server of the devstack that is one ChildProcess (`_process`): what it tells of it."""

    _process: ChildProcess

    @property
    def log_file(self) -> Path:
        return self._process.log_file

    @property
    def running(self) -> bool:
        return self._process.running

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        """The exit code once it ended, else None."""
        return self._process.returncode

    def kill(self) -> None:
        """SIGKILL at once: a crash, for fault tests (`start()` brings it back)."""
        self._process.kill()

    def pause(self) -> None:
        """SIGSTOP: it keeps its sockets and answers nothing until `resume()`."""
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._process.send_signal(signal.SIGCONT)


@dataclass
class PythonService:
    """One of our services as a child process (`python -m module` on this interpreter),
    ready when `/readyz` on its port answers 200."""

    name: str
    module: str
    port: int
    env: dict[str, str]  # the whole environment: see python_env()
    log_file: Path
    process: ChildProcess = field(init=False)

    def __post_init__(self) -> None:
        self.process = ChildProcess(self.name, self.log_file)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.running

    def start(self) -> None:
        self.process.spawn([sys.executable, "-m", self.module], self.env)

    async def wait_ready(self, timeout: float = 90.0) -> None:
        await self.process.wait_http(f"{self.url}/readyz", time.monotonic() + timeout)

    async def stop(self, grace: float = 15.0) -> None:
        await self.process.terminate(grace)

    def kill(self) -> None:
        self.process.kill()


async def serve_one(
    server: OneChildServer,
    name: str,
    address: Callable[[], str],
    log: Callable[[str], None],
    after_start: Callable[[], Awaitable[None]] | None = None,
) -> int:
    """The body of the devstack's one-server commands: start `server`, print its address
    on stdout (for scripts), serve until Ctrl+C or SIGTERM (exit 0) or until it dies on its
    own (exit 1), then stop it."""
    stop = stop_requested()
    try:
        await server.start()
        if after_start is not None:
            await after_start()
        print(address(), flush=True)
        log(f"Ctrl+C stops {name}")
        if not await serve_until_stopped(stop, lambda: server.running):
            log(f"{name} exited on its own (code {server.returncode}); see {server.log_file}")
            return 1
        return 0
    finally:
        await server.stop()
        log(f"{name} stopped")

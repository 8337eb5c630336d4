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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

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
    """A service exited while starting or did not get ready; the message quotes its log."""


@dataclass
class PythonService:
    """One of our services as a child process (`python -m module` on this interpreter),
    its output in a log file, ready when `/readyz` on its port answers 200."""

    name: str
    module: str
    port: int
    env: dict[str, str]  # the whole environment: see python_env()
    log_file: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module],  # our interpreter and module
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl+C reaches the parent, which stops services in order.
                start_new_session=True,
                preexec_fn=pdeathsig_setter(),
            )
        track(self.proc)

    async def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise ServiceFailed(
                        f"{self.name} exited with code {self.proc.returncode} while starting; "
                        f"end of {self.log_file}:\n{tail(self.log_file)}"
                    )
                try:
                    response = await client.get(f"{self.url}/readyz")
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}: {response.text[:300]}"
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(0.2)
        raise ServiceFailed(f"{self.name} not ready at {self.url} after {timeout:.0f}s ({last})")

    async def stop(self, grace: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + grace
            while proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await asyncio.to_thread(proc.wait, 10)
        untrack(proc)

    def kill(self) -> None:
        """SIGKILL at once (tests of a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

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
from collections.abc import Callable
from pathlib import Path

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

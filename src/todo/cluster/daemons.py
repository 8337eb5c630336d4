"""Long-running processes of the local cluster (etcd, the Kubernetes components, containerd,
the image registry): detached from the command that starts them, so they outlive ``up``,
and stopped by ``down``.

Each daemon has, under ``<home>/run``, a pid file and the fingerprint of the command line it
was started with. ``start`` leaves a running daemon alone when its command line is the same
(a second ``up`` changes nothing) and restarts it when the command line changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from todo.cluster.log import log


class DaemonFailed(RuntimeError):
    """A daemon exited or did not get ready; the message quotes its log."""


def tail(path: Path, lines: int = 40) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 32 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


@dataclass
class Daemon:
    """One detached process; ``ready`` tells whether it serves (polled after a start)."""

    name: str
    argv: Sequence[str]
    run_dir: Path
    log_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    ready: Callable[[], bool] = lambda: True
    ready_timeout: float = 120.0
    stop_timeout: float = 30.0

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def spec_file(self) -> Path:
        return self.run_dir / f"{self.name}.json"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def fingerprint(self) -> str:
        spec = json.dumps({"argv": list(self.argv), "env": dict(self.env)}, sort_keys=True)
        return hashlib.sha256(spec.encode()).hexdigest()

    def pid(self) -> int | None:
        """The pid of the running daemon (checked against its command line: no stale pid)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        cmdline = _cmdline(pid)
        if not cmdline or Path(cmdline[0]).name != Path(self.argv[0]).name:
            return None
        return pid

    def running_as_specified(self) -> bool:
        if self.pid() is None:
            return False
        try:
            spec = json.loads(self.spec_file.read_text())
        except (OSError, ValueError):
            return False
        return bool(spec.get("fingerprint") == self.fingerprint())

    def start(self) -> bool:
        """Start it unless it already runs as specified; wait until ready. True if started."""
        if self.running_as_specified():
            self.wait_ready()
            return False
        if self.pid() is not None:
            log(f"{self.name}: its command line changed, restarting it")
            self.stop()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env}
        with open(self.log_file, "ab") as out:
            out.write(f"\n===== {time.strftime('%F %T')} {' '.join(self.argv)}\n".encode())
            out.flush()
            proc = subprocess.Popen(
                list(self.argv),  # our own argv, no shell
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # outlives `up`; a terminal's Ctrl+C does not reach it
                close_fds=True,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        self.spec_file.write_text(
            json.dumps({"fingerprint": self.fingerprint(), "argv": list(self.argv)}, indent=1)
        )
        self.wait_ready(proc)
        return True

    def wait_ready(self, proc: subprocess.Popen[bytes] | None = None) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if proc is not None and proc.poll() is not None:
                raise DaemonFailed(
                    f"{self.name} exited with code {proc.returncode} while starting; tail of "
                    f"{self.log_file}:\n{tail(self.log_file)}"
                )
            if self.ready():
                return
            if time.monotonic() > deadline:
                raise DaemonFailed(
                    f"{self.name} was not ready within {self.ready_timeout:.0f}s; tail of "
                    f"{self.log_file}:\n{tail(self.log_file)}"
                )
            time.sleep(0.5)

    def stop(self) -> bool:
        """SIGTERM, then SIGKILL after ``stop_timeout``. True if it was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while _cmdline(pid) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        if _cmdline(pid) is not None:
            log(f"{self.name} (pid {pid}) ignored SIGTERM for {self.stop_timeout:.0f}s: SIGKILL")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while _cmdline(pid) is not None:
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        self.spec_file.unlink(missing_ok=True)
        return True

"""Where the machine's CPU went during the load (Linux /proc; elsewhere nothing): the
whole machine, and each process of the run (server, worker, broker, Locust). On a shared
machine the remainder is other people's work, which makes figures preliminary."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
STOLEN = "stolen by the hypervisor"


def _machine_ticks() -> tuple[int, int, int] | None:
    """(busy, total, stolen) jiffies of all cores since boot. Stolen: time this virtual
    machine was ready to run but the hypervisor ran someone else's (counted as busy)."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    values = [int(v) for v in first[1:9]]  # user nice system idle iowait irq softirq steal
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values), values[7]


def _process_ticks(pid: int) -> int | None:
    """utime + stime of a process, in jiffies."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces
    return int(fields[11]) + int(fields[12])


def process_cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far; None if it cannot be read."""
    ticks = _process_ticks(pid)
    return None if ticks is None else ticks / _TICKS


def _pids_named(command: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == command:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@dataclass
class CpuMonitor:
    interval_s: float = 1.0
    _pids: dict[str, int] = field(default_factory=dict)
    # label -> process name (comm): every process of that name counts, e.g. PostgreSQL's.
    _commands: dict[str, str] = field(default_factory=dict)
    _command_first: dict[tuple[str, int], int] = field(default_factory=dict)
    _command_last: dict[tuple[str, int], int] = field(default_factory=dict)
    _first: dict[str, int] = field(default_factory=dict)
    _last: dict[str, int] = field(default_factory=dict)
    _machine_first: tuple[int, int, int] | None = None
    _machine_last: tuple[int, int, int] | None = None
    _started: float = 0.0
    _ended: float = 0.0

    def watch(self, name: str, pid: int | None) -> None:
        if pid is not None:
            self._pids[name] = pid
            self._sample_process(name, pid)

    def watch_command(self, label: str, command: str) -> None:
        """Count every process named `command` (those that start later from zero)."""
        self._commands[label] = command

    def _sample_commands(self, first_round: bool) -> None:
        for label, command in self._commands.items():
            for pid in _pids_named(command):
                ticks = _process_ticks(pid)
                if ticks is None:
                    continue
                self._command_first.setdefault((label, pid), ticks if first_round else 0)
                self._command_last[(label, pid)] = ticks

    def _sample_process(self, name: str, pid: int) -> None:
        ticks = _process_ticks(pid)
        if ticks is not None:
            self._first.setdefault(name, ticks)
            self._last[name] = ticks

    def sample(self) -> None:
        now = time.monotonic()
        machine = _machine_ticks()
        first_round = self._machine_first is None
        if first_round:
            self._machine_first, self._started = machine, now
        self._machine_last, self._ended = machine, now
        for name, pid in self._pids.items():
            self._sample_process(name, pid)
        self._sample_commands(first_round)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)
        self.sample()

    def cores(self) -> dict[str, float]:
        """Average cores busy over the watched window: 'machine', each process, and
        'everything else' (the machine less the watched processes), and 'stolen by the
        hypervisor' where a virtual machine's host ran other guests instead (a noisy
        neighbour: latency figures then say as much about the host as about us)."""
        seconds = self._ended - self._started
        if seconds <= 0 or self._machine_first is None or self._machine_last is None:
            return {}
        busy = self._machine_last[0] - self._machine_first[0]
        total = self._machine_last[1] - self._machine_first[1]
        cpus = os.cpu_count() or 1
        result = {"machine": cpus * busy / total if total else 0.0}
        for name in self._pids:
            if name in self._last:
                result[name] = (self._last[name] - self._first[name]) / _TICKS / seconds
        for label in self._commands:
            ticks = sum(
                last - self._command_first[key]
                for key, last in self._command_last.items()
                if key[0] == label
            )
            result[label] = ticks / _TICKS / seconds
        stolen = self._machine_last[2] - self._machine_first[2]
        stolen_cores = cpus * stolen / total if total else 0.0
        result["everything else"] = max(
            0.0,
            result["machine"] - stolen_cores - sum(v for k, v in result.items() if k != "machine"),
        )
        if stolen_cores >= 0.005:
            result[STOLEN] = stolen_cores
        return result


def describe(cores: dict[str, float]) -> str:
    if not cores:
        return "not measured"
    parts = [f"{name} {value:.2f}" for name, value in cores.items() if name != "machine"]
    return f"{cores['machine']:.2f} of {os.cpu_count()} cores busy: " + ", ".join(parts)

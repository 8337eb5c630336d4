"""Where the machine's CPU went: the time a host stole is told apart from other work."""

from __future__ import annotations

import os

import pytest

from loadtests.cpu import STOLEN, CpuMonitor, describe


def monitor_over(first: tuple[int, int, int], last: tuple[int, int, int]) -> CpuMonitor:
    monitor = CpuMonitor()
    monitor._machine_first, monitor._machine_last = first, last
    monitor._started, monitor._ended = 0.0, 10.0
    return monitor


def test_time_stolen_by_the_hypervisor_is_its_own_figure_not_other_work() -> None:
    cpus = os.cpu_count() or 1
    # 1000 jiffies of all cores: 600 busy, of which 200 stolen by the host.
    cores = monitor_over((0, 0, 0), (600, 1000, 200)).cores()

    assert cores["machine"] == pytest.approx(0.6 * cpus)
    assert cores[STOLEN] == pytest.approx(0.2 * cpus)
    assert cores["everything else"] == pytest.approx(0.4 * cpus)
    assert f"{STOLEN} {0.2 * cpus:.2f}" in describe(cores)


def test_no_stolen_figure_where_the_host_took_nothing() -> None:
    cores = monitor_over((0, 0, 0), (600, 1000, 0)).cores()

    assert STOLEN not in cores

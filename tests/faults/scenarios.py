"""Fault scenarios: each takes one part away under a steady load for about 12 s, gives it
back, waits for quiescence and checks the invariants. A scenario names components and
faults only (see `target.FaultTarget`), so it runs the same on any target."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from faults.invariants import Verdict, settle
from faults.load import Ledger, SteadyLoad
from faults.target import FaultTarget

OUTAGE_SECONDS = 12.0
BEFORE_SECONDS = 4.0
AFTER_SECONDS = 8.0
SETTLE_DEADLINE_SECONDS = 120.0


@dataclass(frozen=True)
class Fault:
    inject: Callable[[FaultTarget], Awaitable[None]]
    heal: Callable[[FaultTarget], Awaitable[None]]
    # Services whose readiness must turn false during the outage (it tells the truth).
    unready: tuple[str, ...] = ()


def kill(component: str, unready: tuple[str, ...] = ()) -> Fault:
    async def inject(target: FaultTarget) -> None:
        await target.component(component).kill()

    async def heal(target: FaultTarget) -> None:
        await target.component(component).revive()

    return Fault(inject, heal, unready)


def scheduler_with_empty_storage() -> Fault:
    async def inject(target: FaultTarget) -> None:
        await target.component("scheduler").kill()

    async def heal(target: FaultTarget) -> None:
        await target.wipe_scheduler_storage()
        await target.component("scheduler").revive()

    return Fault(inject, heal, unready=("worker",))


def worker_sidecar_partition() -> Fault:
    async def inject(target: FaultTarget) -> None:
        target.cut_worker_from_its_sidecar(True)

    async def heal(target: FaultTarget) -> None:
        target.cut_worker_from_its_sidecar(False)

    return Fault(inject, heal, unready=("worker",))


def slow_database(delay_seconds: float = 0.15) -> Fault:
    async def inject(target: FaultTarget) -> None:
        target.slow_database(delay_seconds)

    async def heal(target: FaultTarget) -> None:
        target.slow_database(0.0)

    return Fault(inject, heal)


def broker_disk_full() -> Fault:
    """Kafka takes the failed (full) log directory offline; with its only one gone it
    stops. Healing is what an operator does: free the space, restart the broker."""

    async def inject(target: FaultTarget) -> None:
        await target.fill_broker_disk(True)

    async def heal(target: FaultTarget) -> None:
        await target.fill_broker_disk(False)
        kafka = target.component("kafka")
        await kafka.kill()
        await kafka.revive()

    return Fault(inject, heal, unready=("backend",))


SCENARIOS: dict[str, Fault] = {
    "kafka-broker-killed": kill("kafka", unready=("backend",)),
    "worker-daprd-killed": kill("worker-sidecar", unready=("worker",)),
    "worker-killed": kill("worker"),
    "backend-killed": kill("backend"),
    "dapr-scheduler-killed": kill("scheduler", unready=("worker",)),
    "postgresql-restarted": kill("postgres", unready=("backend",)),
    "scheduler-empty-storage": scheduler_with_empty_storage(),
    "worker-sidecar-partition": worker_sidecar_partition(),
    "slow-database": slow_database(),
    "broker-disk-full": broker_disk_full(),
}


@dataclass
class Outcome:
    name: str
    ledger: Ledger
    verdict: Verdict
    recovery_seconds: float
    unready_seen: dict[str, str] = field(default_factory=dict)  # service -> its failure

    def row(self) -> str:
        v = self.verdict
        return (
            f"| {self.name} | {v.effects} | {len(v.missing)} | {len(v.duplicated)} | "
            f"{len(v.early)} | {v.lateness_p50():.2f} | {v.lateness_max():.2f} | "
            f"{self.recovery_seconds:.1f} | {len(self.ledger.reminders)} | "
            f"{self.ledger.answers.get('503', 0)} |"
        )


TABLE_HEADER = (
    "| scenario | effects checked | missing | duplicated | early | lateness p50 s | "
    "lateness max s | recovery s | reminders | 503s |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)


async def _readiness(client: httpx.AsyncClient, url: str) -> tuple[bool, str]:
    try:
        answer = await client.get(f"{url}/readyz", timeout=3)
    except httpx.HTTPError as exc:
        return False, f"unreachable: {type(exc).__name__}"
    if answer.status_code == 200:
        return True, ""
    return False, str(answer.json().get("failures", answer.text[:200]))


async def _watch_readiness(target: FaultTarget, seen: dict[str, str], stop: asyncio.Event) -> None:
    """Record the first unreadiness each service reports (with its reason)."""
    urls = {"backend": target.backend_url, "worker": target.worker_url}
    async with httpx.AsyncClient() as client:
        while not stop.is_set():
            for service, url in urls.items():
                ready, why = await _readiness(client, url)
                if not ready and service not in seen:
                    seen[service] = why
            await asyncio.sleep(0.5)


async def wait_ready(target: FaultTarget, timeout: float = 180.0) -> float:
    """Seconds until both services answer ready."""
    started = time.monotonic()
    async with httpx.AsyncClient() as client:
        while True:
            states = [
                await _readiness(client, url) for url in (target.backend_url, target.worker_url)
            ]
            if all(ready for ready, _ in states):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"not ready {timeout:.0f}s after healing: {states}")
            await asyncio.sleep(0.25)


async def run(name: str, target: FaultTarget) -> Outcome:
    fault = SCENARIOS[name]
    await wait_ready(target)
    load = SteadyLoad(target.backend_url)
    running = asyncio.create_task(load.run(BEFORE_SECONDS + OUTAGE_SECONDS + AFTER_SECONDS))
    seen: dict[str, str] = {}
    stop = asyncio.Event()
    await asyncio.sleep(BEFORE_SECONDS)
    await fault.inject(target)
    watcher = asyncio.create_task(_watch_readiness(target, seen, stop))
    await asyncio.sleep(OUTAGE_SECONDS)
    await fault.heal(target)
    healed_at = time.time()
    ready_after = await wait_ready(target)
    stop.set()
    await watcher
    ledger = await running
    verdict = await settle(target, ledger, SETTLE_DEADLINE_SECONDS)
    return Outcome(
        name, ledger, verdict, max(ready_after, _catch_up(verdict, ledger, healed_at)), seen
    )


def _catch_up(verdict: Verdict, ledger: Ledger, healed_at: float) -> float:
    """From healing until the last reminder that fell due before it was recorded."""
    late = [
        verdict.recorded[task_id].timestamp() - healed_at
        for task_id, at in ledger.reminders.items()
        if at.timestamp() <= healed_at and task_id in verdict.recorded
    ]
    return max([0.0, *late])

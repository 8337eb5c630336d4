"""After quiescence, what must hold, read from the task database itself:

- every accepted write persisted (each accepted task exists; each accepted completion
  left its task completed);
- every completed series has exactly one next occurrence;
- every due reminder fired exactly once (one notification for its task and fire time, no
  other) and never early (recorded at or after its fire time).
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime

from faults.load import Ledger
from faults.target import FaultTarget


@dataclass
class Verdict:
    effects: int = 0
    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    early: list[str] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)  # seconds, one per reminder
    recorded: dict[str, datetime] = field(default_factory=dict)  # task id -> notified at

    @property
    def holds(self) -> bool:
        return not (self.missing or self.duplicated or self.early)

    def lateness_p50(self) -> float:
        return statistics.median(self.lateness) if self.lateness else 0.0

    def lateness_max(self) -> float:
        return max(self.lateness, default=0.0)


async def check(target: FaultTarget, ledger: Ledger) -> Verdict:
    verdict = Verdict()
    async with target.database() as db:
        created = list(ledger.reminders) + list(ledger.completed_series)
        rows = await db.fetch("SELECT id, status FROM tasks WHERE id = ANY($1::text[])", created)
        status = {row["id"]: row["status"] for row in rows}
        for task_id in created:
            verdict.effects += 1
            if task_id not in status:
                verdict.missing.append(f"accepted task {task_id} not persisted")
        for task_id in ledger.completed_series:
            verdict.effects += 1
            if status.get(task_id) != "completed":
                verdict.missing.append(f"accepted completion of {task_id} not persisted")

        series = list(set(ledger.completed_series.values()))
        rows = await db.fetch(
            "SELECT series_id, count(*) AS n FROM tasks WHERE series_id = ANY($1::text[]) "
            "AND occurrence_number = 2 GROUP BY series_id",
            series,
        )
        nexts = {row["series_id"]: row["n"] for row in rows}
        for series_id in series:
            verdict.effects += 1
            found = nexts.get(series_id, 0)
            if found == 0:
                verdict.missing.append(f"series {series_id}: no next occurrence")
            elif found > 1:
                verdict.duplicated.append(f"series {series_id}: {found} next occurrences")

        rows = await db.fetch(
            "SELECT task_id, fire_at, created_at FROM notifications "
            "WHERE task_id = ANY($1::text[])",
            list(ledger.reminders),
        )
        fired: dict[str, list[tuple[datetime, datetime]]] = {}
        for row in rows:
            fired.setdefault(row["task_id"], []).append((row["fire_at"], row["created_at"]))
        now = datetime.now(UTC)
        for task_id, fire_at in ledger.reminders.items():
            if fire_at > now:
                continue
            verdict.effects += 1
            notes = fired.get(task_id, [])
            if not notes:
                verdict.missing.append(f"reminder of {task_id} at {fire_at:%H:%M:%S} never fired")
                continue
            if len(notes) > 1:
                verdict.duplicated.append(f"reminder of {task_id}: {len(notes)} notifications")
            at, recorded = notes[0]
            if at != fire_at:
                verdict.missing.append(f"reminder of {task_id}: fired for {at}, not {fire_at}")
            late = (recorded - fire_at).total_seconds()
            if late < 0:
                verdict.early.append(f"reminder of {task_id} {-late:.3f}s early")
            verdict.lateness.append(late)
            verdict.recorded[task_id] = recorded
    return verdict


async def settle(target: FaultTarget, ledger: Ledger, deadline_seconds: float) -> Verdict:
    """Wait until every reminder is due and the invariants hold (or the deadline passes),
    then look once more: a duplicate shows up after the effect it doubles."""
    last_due = max(ledger.reminders.values(), default=datetime.now(UTC))
    wait = (last_due - datetime.now(UTC)).total_seconds() + 1
    if wait > 0:
        await asyncio.sleep(wait)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_seconds
    while True:
        verdict = await check(target, ledger)
        if verdict.holds or loop.time() > deadline:
            break
        await asyncio.sleep(1.0)
    await asyncio.sleep(3.0)
    return await check(target, ledger)

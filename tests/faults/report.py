"""The fault suite's table: one row per scenario, printed at the end of the run."""

from __future__ import annotations

import os
from pathlib import Path

from faults.scenarios import TABLE_HEADER, Outcome

OUTCOMES: list[Outcome] = []


def add(outcome: Outcome) -> None:
    OUTCOMES.append(outcome)
    path = os.environ.get("TODO_FAULTS_REPORT")
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(table() + "\n")


def table() -> str:
    lines = [TABLE_HEADER, *(o.row() for o in OUTCOMES)]
    details = [
        f"- {o.name}: answers {dict(sorted(o.ledger.answers.items()))}; unready seen: "
        + (", ".join(f"{s} ({why[:160]})" for s, why in o.unready_seen.items()) or "none")
        + "".join(
            f"\n  - {what}"
            for what in (o.verdict.missing + o.verdict.duplicated + o.verdict.early)[:10]
        )
        for o in OUTCOMES
    ]
    return "\n".join([*lines, "", *details])

"""one task per (series, occurrence number)

Before this revision concurrent completions could create the same occurrence of a series
more than once. Such copies are kept as tasks (nothing of a user's is deleted) but leave
the series: each becomes a series of its own, numbered 1. Then (series_id,
occurrence_number) is made unique.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    tasks = sa.table(
        "tasks",
        sa.column("id", sa.String),
        sa.column("series_id", sa.String),
        sa.column("occurrence_number", sa.Integer),
        sa.column("created_at", sa.DateTime),
    )
    bind = op.get_bind()
    # The first-created task of each (series, number) stays; later copies leave.
    ranked = sa.select(
        tasks.c.id,
        sa.func.row_number()
        .over(
            partition_by=(tasks.c.series_id, tasks.c.occurrence_number),
            order_by=(tasks.c.created_at, tasks.c.id),
        )
        .label("rank"),
    ).subquery()
    copies = [row.id for row in bind.execute(sa.select(ranked.c.id).where(ranked.c.rank > 1))]
    for task_id in copies:
        bind.execute(
            sa.update(tasks)
            .where(tasks.c.id == task_id)
            .values(series_id=task_id, occurrence_number=1)
        )
    # A unique index rather than a constraint: SQLite adds it without rebuilding the table.
    op.create_index(
        "uq_tasks_series_occurrence", "tasks", ["series_id", "occurrence_number"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_tasks_series_occurrence", table_name="tasks")

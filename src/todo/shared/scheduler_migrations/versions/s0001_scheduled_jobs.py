"""scheduled jobs

The table was created by the backend's first migration before the scheduler owned its
schema: a database that has it already keeps it as it is.

Revision ID: s0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import todo.shared.db

revision: str = "s0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("scheduled_jobs"):
        return
    op.create_table(
        "scheduled_jobs",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("due_at", todo.shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("generation", sa.String(length=36), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("scheduled_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scheduled_jobs_due_at"), ["due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scheduled_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scheduled_jobs_due_at"))
    op.drop_table("scheduled_jobs")

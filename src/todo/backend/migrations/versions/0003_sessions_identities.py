"""sessions and external identities: token versions, refresh tokens, (issuer, subject)

Revision ID: 0003_sessions
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import todo.shared.db

revision: str = "0003_sessions"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("token_version", sa.Integer(), nullable=False, server_default="0")
        )

    op.create_table(
        "external_identities",
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", todo.shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("issuer", "subject"),
    )
    with op.batch_alter_table("external_identities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_external_identities_user_id"), ["user_id"], unique=False
        )

    # Accounts of an external issuer were keyed by "issuer|subject" in one column.
    connection = op.get_bind()
    users = sa.table(
        "users",
        sa.column("id", sa.String()),
        sa.column("external_subject", sa.String()),
        sa.column("created_at", todo.shared.db.UTCDateTime()),
    )
    rows = connection.execute(
        sa.select(users.c.id, users.c.external_subject, users.c.created_at).where(
            users.c.external_subject.is_not(None)
        )
    ).all()
    identities = sa.table(
        "external_identities",
        sa.column("issuer", sa.String()),
        sa.column("subject", sa.String()),
        sa.column("user_id", sa.String()),
        sa.column("created_at", todo.shared.db.UTCDateTime()),
    )
    if rows:
        op.bulk_insert(
            identities,
            [
                {
                    "issuer": key.partition("|")[0],
                    "subject": key.partition("|")[2],
                    "user_id": user_id,
                    "created_at": created_at,
                }
                for user_id, key, created_at in rows
            ],
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("external_subject")

    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("family_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", todo.shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", todo.shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", todo.shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", todo.shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refresh_tokens_family_id"), ["family_id"])
        batch_op.create_index(batch_op.f("ix_refresh_tokens_user_id"), ["user_id"])


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_user_id"))
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_family_id"))
    op.drop_table("refresh_tokens")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_subject", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint("uq_users_external_subject", ["external_subject"])
    connection = op.get_bind()
    for issuer, subject, user_id in connection.execute(
        sa.text("SELECT issuer, subject, user_id FROM external_identities")
    ).all():
        connection.execute(
            sa.text("UPDATE users SET external_subject = :key WHERE id = :id"),
            {"key": f"{issuer}|{subject}", "id": user_id},
        )
    with op.batch_alter_table("external_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_external_identities_user_id"))
    op.drop_table("external_identities")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("token_version")

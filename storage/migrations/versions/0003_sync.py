"""sync bookkeeping

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Tables the sync engine keeps beside the records: heads of concurrently edited records, aliases of
records merged by natural key, open conflicts, and evidence files the team server holds. All new
tables: an existing store upgrades without touching a row it has.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_heads",
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("heads", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("entity", "record_id", name=op.f("pk_record_heads")),
    )
    op.create_table(
        "record_alias",
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("alias_id", sa.String(length=36), nullable=False),
        sa.Column("canonical_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("entity", "alias_id", name=op.f("pk_record_alias")),
    )
    with op.batch_alter_table("record_alias", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_record_alias_canonical_id"), ["canonical_id"], unique=False
        )
    op.create_table(
        "sync_conflict",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("field", sa.String(length=60), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("winner_rev", sa.String(length=36), nullable=False),
        sa.Column("opened_hlc", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_conflict")),
    )
    with op.batch_alter_table("sync_conflict", schema=None) as batch_op:
        batch_op.create_index("ix_sync_conflict_record", ["entity", "record_id"], unique=False)
    op.create_table(
        "synced_blob",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_synced_blob")),
    )


def downgrade() -> None:
    op.drop_table("synced_blob")
    with op.batch_alter_table("sync_conflict", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_conflict_record")
    op.drop_table("sync_conflict")
    with op.batch_alter_table("record_alias", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_alias_canonical_id"))
    op.drop_table("record_alias")
    op.drop_table("record_heads")

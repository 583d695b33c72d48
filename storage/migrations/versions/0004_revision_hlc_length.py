"""revision.hlc holds a whole hybrid clock

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

A hybrid-clock value is 56 characters (13-digit milliseconds, a 5-digit counter, the device's
UUID), but the column was declared String(40). SQLite never enforced the length, so no value
was cut: this only makes the declared schema true. Batch mode rebuilds the table with every
row and index.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("revision", schema=None) as batch_op:
        batch_op.alter_column(
            "hlc",
            existing_type=sa.String(length=40),
            type_=sa.String(length=64),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("revision", schema=None) as batch_op:
        batch_op.alter_column(
            "hlc",
            existing_type=sa.String(length=64),
            type_=sa.String(length=40),
            existing_nullable=False,
        )

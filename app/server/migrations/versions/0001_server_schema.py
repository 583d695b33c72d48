"""server schema

Revision ID: 0001
Revises: -
Create Date: 2026-11-25

The team server's tables: teams, devices (tokens kept hashed), revisions numbered per team,
evidence files per team.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "team",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team")),
        sa.UniqueConstraint("name", name=op.f("uq_team_name")),
    )
    op.create_table(
        "device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("enrol_code_hash", sa.String(length=64), nullable=True),
        sa.Column("enrol_expires_at", sa.String(length=27), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("client_device_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.Column("enrolled_at", sa.String(length=27), nullable=True),
        sa.Column("revoked_at", sa.String(length=27), nullable=True),
        sa.Column("last_seen_at", sa.String(length=27), nullable=True),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_device_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device")),
        sa.UniqueConstraint("enrol_code_hash", name=op.f("uq_device_enrol_code_hash")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_device_token_hash")),
    )
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_team_id"), ["team_id"], unique=False)

    op.create_table(
        "stored_blob",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.String(length=27), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_stored_blob_team_id_team")),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["device.id"], name=op.f("fk_stored_blob_uploaded_by_device")
        ),
        sa.PrimaryKeyConstraint("team_id", "sha256", name=op.f("pk_stored_blob")),
    )
    op.create_table(
        "stored_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("rev_id", sa.String(length=36), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("pushed_by", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.String(length=27), nullable=False),
        sa.ForeignKeyConstraint(
            ["pushed_by"], ["device.id"], name=op.f("fk_stored_revision_pushed_by_device")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_stored_revision_team_id_team")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_revision")),
    )
    with op.batch_alter_table("stored_revision", schema=None) as batch_op:
        batch_op.create_index("ix_stored_revision_team_rev", ["team_id", "rev_id"], unique=True)
        batch_op.create_index("ix_stored_revision_team_seq", ["team_id", "seq"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("stored_revision", schema=None) as batch_op:
        batch_op.drop_index("ix_stored_revision_team_seq")
        batch_op.drop_index("ix_stored_revision_team_rev")

    op.drop_table("stored_revision")
    op.drop_table("stored_blob")
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_team_id"))

    op.drop_table("device")
    op.drop_table("team")

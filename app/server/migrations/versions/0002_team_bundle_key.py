"""team.bundle_key

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

Each team gets a random secret its laptops MAC their USB bundles with. Teams that exist already
get one here (each its own), so their laptops fetch it at their next sync.
"""

import os

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bundle_key", sa.String(length=64), nullable=True))
    team = sa.table("team", sa.column("id", sa.Integer()), sa.column("bundle_key", sa.String()))
    conn = op.get_bind()
    for team_id in conn.scalars(sa.select(team.c.id)).all():
        conn.execute(
            team.update().where(team.c.id == team_id).values(bundle_key=os.urandom(32).hex())
        )
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.alter_column("bundle_key", existing_type=sa.String(length=64), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.drop_column("bundle_key")

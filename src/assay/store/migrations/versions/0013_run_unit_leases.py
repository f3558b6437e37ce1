"""Run units are claimed with a lease: which process works on a unit, and until when, so processes share a run.

Revision ID: 0013
Revises: 0012_soft_preferences
Create Date: 2026-12-10 12:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012_soft_preferences'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # rows written before this migration are finished units: no claim, no lease
    with op.batch_alter_table('run_units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('run_units', schema=None) as batch_op:
        batch_op.drop_column('lease_until')
        batch_op.drop_column('claimed_by')

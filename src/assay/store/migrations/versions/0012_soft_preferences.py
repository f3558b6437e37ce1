"""Comparisons: a soft preference, the probability that the first response is preferred.

Revision ID: 0012_soft_preferences
Revises: 0011
Create Date: 2026-12-10 12:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0012_soft_preferences'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('comparisons', sa.Column('probability', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('comparisons') as batch:
        batch.drop_column('probability')

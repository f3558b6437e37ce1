"""Run units record their tokens, cost and whether they were answered from the cache.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 10:50:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('run_units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prompt_tokens', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('completion_tokens', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cost_usd', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('cached', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('run_units', schema=None) as batch_op:
        batch_op.drop_column('cached')
        batch_op.drop_column('cost_usd')
        batch_op.drop_column('completion_tokens')
        batch_op.drop_column('prompt_tokens')

"""Skips: a rater closes an assignment they cannot judge, with a reason; its slot returns to the queue.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 14:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('skips',
    sa.Column('assignment_id', sa.String(length=64), nullable=False),
    sa.Column('campaign_id', sa.String(length=64), nullable=False),
    sa.Column('rater_id', sa.String(length=300), nullable=False),
    sa.Column('unit_id', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], ),
    sa.PrimaryKeyConstraint('assignment_id')
    )
    op.create_index('ix_skips_campaign', 'skips', ['campaign_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_skips_campaign', table_name='skips')
    op.drop_table('skips')

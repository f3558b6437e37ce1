"""The lead dashboard on a big campaign: covering indexes for its counts and export, and its statistics kept.

Revision ID: 0014_campaign_dashboard
Revises: 0013
Create Date: 2026-12-04 22:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0014_campaign_dashboard'
down_revision = '0013'
branch_labels = None
depends_on = None

# (table, index, columns now, columns before)
_WIDENED = [
    ('assignments', 'ix_assignments_campaign', ['campaign_id', 'rater_id', 'status', 'is_gold'], ['campaign_id']),
    ('judgments', 'ix_judgments_campaign', ['campaign_id', 'id'], ['campaign_id']),
    ('comparisons', 'ix_comparisons_campaign', ['campaign_id', 'id'], ['campaign_id']),
]


def upgrade() -> None:
    # each index keeps its name and its leading column, so every query that used it still can
    for table, name, cols, _ in _WIDENED:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, cols, unique=False)
    op.create_table(
        'campaign_stats',
        sa.Column('campaign_id', sa.String(length=64), nullable=False),
        sa.Column('done', sa.Integer(), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=False),
        sa.Column('stats', sa.JSON(), nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id']),
        sa.PrimaryKeyConstraint('campaign_id'),
    )


def downgrade() -> None:
    op.drop_table('campaign_stats')
    for table, name, _, cols in _WIDENED:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, cols, unique=False)

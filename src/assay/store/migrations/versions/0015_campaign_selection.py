"""Campaigns that label a sample: how it was drawn (campaigns.selection) and every frame item's inclusion probability.

Revision ID: 0015_campaign_selection
Revises: 0014_campaign_dashboard
Create Date: 2026-12-05 01:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0015_campaign_selection'
down_revision = '0014_campaign_dashboard'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: every unit of the dataset is in the campaign, as before this migration
    op.add_column('campaigns', sa.Column('selection', sa.JSON(none_as_null=True), nullable=True))
    op.create_table(
        'campaign_frame',
        sa.Column('campaign_id', sa.String(length=64), nullable=False),
        sa.Column('item_id', sa.String(length=64), nullable=False),
        sa.Column('probability', sa.Float(), nullable=False),
        sa.Column('selected', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id']),
        sa.PrimaryKeyConstraint('campaign_id', 'item_id'),
    )


def downgrade() -> None:
    op.drop_table('campaign_frame')
    with op.batch_alter_table('campaigns') as batch:
        batch.drop_column('selection')

"""The rating queue skips full units by index: campaign units say whether they have room for another
rater (a partial index holds only those), and claims are indexed by rater.

Without them, claiming the next unit scanned past every unit already rated by ``overlap`` raters and
through every claim of the campaign, so each claim cost more as a campaign progressed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 13:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('campaign_units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('has_room', sa.Boolean(), nullable=False, server_default=sa.true()))
    # units already claimed by as many raters as their campaign's overlap are full (gold and
    # calibration units never are: every rater gets them)
    op.execute("UPDATE campaign_units SET has_room = false WHERE NOT is_gold AND n_claims >= "
               "(SELECT overlap FROM campaigns c WHERE c.id = campaign_units.campaign_id AND NOT c.calibration)")
    op.create_index('ix_campaign_units_room', 'campaign_units', ['campaign_id', 'is_gold', 'position'], unique=False,
                    postgresql_where=sa.text('has_room'), sqlite_where=sa.text('has_room'))
    op.create_index('ix_unit_claims_rater', 'unit_claims', ['campaign_id', 'rater_id', 'unit_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_unit_claims_rater', table_name='unit_claims')
    op.drop_index('ix_campaign_units_room', table_name='campaign_units')
    with op.batch_alter_table('campaign_units', schema=None) as batch_op:
        batch_op.drop_column('has_room')

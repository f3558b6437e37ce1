"""Rating app under attack: login limits reserved before a password check, one pending assignment
per rater and campaign, edge cases that belong to a campaign.

- ``login_limits``: a counter per key (name; address and name; address), incremented atomically
  before a password is checked, so concurrent guesses cannot all pass the check.
- ``ux_assignments_one_pending``: a partial unique index. A submit racing a skip (or two tabs
  asking for the next item) could each claim a unit; now the second claim fails. A store that
  already has a rater with several pending assignments in a campaign keeps the oldest; the others
  are released (assignment and claim deleted, the unit's slot back in the queue): nobody answered
  them, and the rater gets them again in turn.
- ``edge_cases.campaign_id``: the campaign whose raters raised a case, so that only its owner sees
  and resolves it. Cases stored before this migration name no campaign (NULL).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 12:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# pending assignments with an older pending one of the same rater in the same campaign
_EXTRA = """SELECT a.id FROM assignments a WHERE a.status = 'pending' AND EXISTS (
  SELECT 1 FROM assignments b WHERE b.campaign_id = a.campaign_id AND b.rater_id = a.rater_id
  AND b.status = 'pending' AND (b.created_at < a.created_at OR (b.created_at = a.created_at AND b.id < a.id)))"""


def upgrade() -> None:
    op.create_table('login_limits',
                    sa.Column('key', sa.String(length=200), nullable=False),
                    sa.Column('n', sa.Integer(), nullable=False),
                    sa.Column('window_end', sa.Float(), nullable=False),
                    sa.Column('span', sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint('key'))
    op.create_index('ix_login_limits_end', 'login_limits', ['window_end'], unique=False)

    op.add_column('edge_cases', sa.Column('campaign_id', sa.String(length=64), nullable=True))
    op.create_index('ix_edge_cases_campaign', 'edge_cases', ['campaign_id'], unique=False)

    op.execute(f"""UPDATE campaign_units SET has_room = true, n_claims = n_claims - (
  SELECT count(*) FROM unit_claims cl WHERE cl.campaign_id = campaign_units.campaign_id
  AND cl.unit_id = campaign_units.unit_id AND cl.assignment_id IN ({_EXTRA}))
WHERE EXISTS (SELECT 1 FROM unit_claims cl WHERE cl.campaign_id = campaign_units.campaign_id
  AND cl.unit_id = campaign_units.unit_id AND cl.assignment_id IN ({_EXTRA}))""")
    op.execute(f"DELETE FROM unit_claims WHERE assignment_id IN ({_EXTRA})")
    op.execute(f"DELETE FROM assignments WHERE id IN ({_EXTRA})")
    op.create_index('ux_assignments_one_pending', 'assignments', ['campaign_id', 'rater_id'], unique=True,
                    postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_index('ux_assignments_one_pending', table_name='assignments')
    op.drop_index('ix_edge_cases_campaign', table_name='edge_cases')
    with op.batch_alter_table('edge_cases') as batch:
        batch.drop_column('campaign_id')
    op.drop_index('ix_login_limits_end', table_name='login_limits')
    op.drop_table('login_limits')

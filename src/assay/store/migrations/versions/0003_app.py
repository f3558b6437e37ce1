"""The rating app: users, sessions, login attempts, campaign units and claims, gold answers, submissions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 11:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('rater_id', sa.String(length=300), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('app_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_name', sa.String(length=100), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_name'], ['users.name'], ),
    sa.PrimaryKeyConstraint('token_hash')
    )
    op.create_index('ix_app_sessions_user', 'app_sessions', ['user_name'], unique=False)
    op.create_table('login_attempts',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_login_attempts_key_at', 'login_attempts', ['key', 'at'], unique=False)
    op.create_table('campaign_units',
    sa.Column('campaign_id', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.String(length=64), nullable=False),
    sa.Column('item_id', sa.String(length=64), nullable=False),
    sa.Column('response_ids', sa.JSON(), nullable=False),
    sa.Column('is_gold', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('n_claims', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
    sa.PrimaryKeyConstraint('campaign_id', 'unit_id')
    )
    op.create_index('ix_campaign_units_queue', 'campaign_units', ['campaign_id', 'is_gold', 'position'], unique=False)
    op.create_table('unit_claims',
    sa.Column('campaign_id', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.String(length=64), nullable=False),
    sa.Column('rater_id', sa.String(length=300), nullable=False),
    sa.Column('assignment_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('campaign_id', 'unit_id', 'rater_id')
    )
    op.create_table('campaign_members',
    sa.Column('campaign_id', sa.String(length=64), nullable=False),
    sa.Column('rater_id', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
    sa.PrimaryKeyConstraint('campaign_id', 'rater_id')
    )
    op.create_table('gold_answers',
    sa.Column('campaign_id', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.String(length=64), nullable=False),
    sa.Column('dimension', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('label', sa.String(length=200), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('winner', sa.String(length=64), nullable=True),
    sa.Column('ranking', sa.JSON(), nullable=True),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
    sa.PrimaryKeyConstraint('campaign_id', 'unit_id', 'dimension')
    )
    op.create_table('submissions',
    sa.Column('assignment_id', sa.String(length=64), nullable=False),
    sa.Column('campaign_id', sa.String(length=64), nullable=False),
    sa.Column('rater_id', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('record_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('assignment_id')
    )


def downgrade() -> None:
    op.drop_table('submissions')
    op.drop_table('gold_answers')
    op.drop_table('campaign_members')
    op.drop_table('unit_claims')
    op.drop_index('ix_campaign_units_queue', table_name='campaign_units')
    op.drop_table('campaign_units')
    op.drop_index('ix_login_attempts_key_at', table_name='login_attempts')
    op.drop_table('login_attempts')
    op.drop_index('ix_app_sessions_user', table_name='app_sessions')
    op.drop_table('app_sessions')
    op.drop_table('users')

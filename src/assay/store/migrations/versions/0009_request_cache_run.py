"""Request cache: the run that made each entry, and indexes for pruning by age, run and model.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 12:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # entries made before this migration keep run_id NULL: nothing recorded which run made them
    op.add_column('request_cache', sa.Column('run_id', sa.String(length=64), nullable=True))
    op.create_index('ix_request_cache_created', 'request_cache', ['created_at'], unique=False)
    op.create_index('ix_request_cache_run', 'request_cache', ['run_id'], unique=False)
    op.create_index('ix_request_cache_model', 'request_cache', ['model'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_request_cache_model', table_name='request_cache')
    op.drop_index('ix_request_cache_run', table_name='request_cache')
    op.drop_index('ix_request_cache_created', table_name='request_cache')
    with op.batch_alter_table('request_cache') as batch:
        batch.drop_column('run_id')

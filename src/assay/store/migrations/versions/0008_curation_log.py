"""Curation: what each cleaning step removed or changed, item by item.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 16:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('curation_log',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('item_id', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('step', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('related_id', sa.String(length=64), nullable=True),
    sa.Column('new_item_id', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON(none_as_null=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_curation_log_run', 'curation_log', ['run_id'], unique=False)
    op.create_index('ix_curation_log_item', 'curation_log', ['item_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_curation_log_item', table_name='curation_log')
    op.drop_index('ix_curation_log_run', table_name='curation_log')
    op.drop_table('curation_log')

"""Responses: time to first token of streamed answers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 14:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('responses', sa.Column('ttft_ms', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('responses') as batch:
        batch.drop_column('ttft_ms')

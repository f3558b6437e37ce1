"""Red teaming and the failure library: attempts, and versioned failure-library entries.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 15:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

J = sa.JSON(none_as_null=True)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('attempts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('behavior_id', sa.String(length=64), nullable=False),
    sa.Column('model', sa.String(length=300), nullable=False),
    sa.Column('attack', sa.String(length=100), nullable=False),
    sa.Column('attack_config', J, nullable=False),
    sa.Column('stream', sa.Integer(), nullable=False),
    sa.Column('turn', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.String(length=64), nullable=True),
    sa.Column('item_id', sa.String(length=64), nullable=False),
    sa.Column('response_id', sa.String(length=64), nullable=True),
    sa.Column('success', sa.Boolean(), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('scorer', sa.String(length=300), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['behavior_id'], ['items.id'], ),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_attempts_model_attack', 'attempts', ['model', 'attack'], unique=False)
    op.create_index('ix_attempts_behavior', 'attempts', ['behavior_id'], unique=False)
    op.create_index('ix_attempts_run', 'attempts', ['run_id'], unique=False)
    op.create_table('library',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('entry', sa.String(length=120), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('hypothesis', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=200), nullable=True),
    sa.Column('tags', J, nullable=False),
    sa.Column('severity', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('examples', J, nullable=False),
    sa.Column('models', J, nullable=False),
    sa.Column('detector', J, nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('evidence', J, nullable=False),
    sa.Column('created_by', sa.String(length=300), nullable=True),
    sa.Column('created_at', TS, nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_library_entry_version', 'library', ['entry', 'version'], unique=True)


def downgrade() -> None:
    op.drop_index('ix_library_entry_version', table_name='library')
    op.drop_table('library')
    op.drop_index('ix_attempts_run', table_name='attempts')
    op.drop_index('ix_attempts_behavior', table_name='attempts')
    op.drop_index('ix_attempts_model_attack', table_name='attempts')
    op.drop_table('attempts')

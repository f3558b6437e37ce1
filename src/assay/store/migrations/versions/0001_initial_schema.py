"""Initial schema: every record table, the run-unit ledger and the request cache.

Revision ID: 0001
Revises: 
Create Date: 2026-11-28 10:31:47.113267
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('rubric', sa.String(length=220), nullable=False),
    sa.Column('guideline_version', sa.Integer(), nullable=False),
    sa.Column('dimensions', sa.JSON(), nullable=False),
    sa.Column('overlap', sa.Integer(), nullable=False),
    sa.Column('gold_share', sa.Float(), nullable=False),
    sa.Column('calibration', sa.Boolean(), nullable=False),
    sa.Column('blind', sa.Boolean(), nullable=False),
    sa.Column('min_justification', sa.Integer(), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('datasets',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('edge_cases',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('rubric', sa.String(length=220), nullable=False),
    sa.Column('dimension', sa.String(length=100), nullable=True),
    sa.Column('response_id', sa.String(length=64), nullable=True),
    sa.Column('item_id', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('guideline_version', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('guidelines',
    sa.Column('rubric', sa.String(length=220), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('edge_case_id', sa.String(length=64), nullable=True),
    sa.Column('author', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('rubric', 'version')
    )
    op.create_table('models',
    sa.Column('id', sa.String(length=300), nullable=False),
    sa.Column('provider', sa.String(length=50), nullable=False),
    sa.Column('base_url', sa.Text(), nullable=True),
    sa.Column('api_key_env', sa.String(length=200), nullable=True),
    sa.Column('family', sa.String(length=200), nullable=True),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('price_input_per_mtok', sa.Float(), nullable=True),
    sa.Column('price_output_per_mtok', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('raters',
    sa.Column('id', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('model', sa.String(length=300), nullable=True),
    sa.Column('template_digest', sa.String(length=64), nullable=True),
    sa.Column('program_version', sa.String(length=50), nullable=True),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('request_cache',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('model', sa.String(length=300), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('response', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest')
    )
    op.create_table('rubrics',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('name', 'version')
    )
    op.create_table('runs',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('succeeded', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('cached', sa.Integer(), nullable=False),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('cost_usd', sa.Float(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('assignments',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('campaign_id', sa.String(length=64), nullable=False),
    sa.Column('rater_id', sa.String(length=300), nullable=False),
    sa.Column('response_ids', sa.JSON(), nullable=False),
    sa.Column('shown_order', sa.JSON(), nullable=False),
    sa.Column('is_gold', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
    sa.ForeignKeyConstraint(['rater_id'], ['raters.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_campaign', ['campaign_id'], unique=False)
        batch_op.create_index('ix_assignments_rater', ['rater_id', 'campaign_id'], unique=False)

    op.create_table('items',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('dataset', sa.String(length=200), nullable=False),
    sa.Column('external_id', sa.Text(), nullable=True),
    sa.Column('prompt', sa.Text(), nullable=True),
    sa.Column('messages', sa.JSON(), nullable=True),
    sa.Column('reference', sa.Text(), nullable=True),
    sa.Column('category', sa.String(length=200), nullable=True),
    sa.Column('language', sa.String(length=50), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('cluster', sa.String(length=200), nullable=True),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['dataset'], ['datasets.name'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.create_index('ix_items_dataset', ['dataset'], unique=False)

    op.create_table('run_units',
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('unit_key', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('result_id', sa.String(length=64), nullable=True),
    sa.Column('error_kind', sa.String(length=50), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('run_id', 'unit_key')
    )
    op.create_table('comparisons',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('item_id', sa.String(length=64), nullable=False),
    sa.Column('rater_id', sa.String(length=300), nullable=False),
    sa.Column('response_ids', sa.JSON(), nullable=False),
    sa.Column('shown_order', sa.JSON(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('winner', sa.String(length=64), nullable=True),
    sa.Column('ranking', sa.JSON(), nullable=True),
    sa.Column('strength', sa.Integer(), nullable=True),
    sa.Column('rubric', sa.String(length=220), nullable=True),
    sa.Column('dimension', sa.String(length=100), nullable=True),
    sa.Column('justification', sa.Text(), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('flag_note', sa.Text(), nullable=True),
    sa.Column('time_spent_s', sa.Float(), nullable=True),
    sa.Column('guideline_version', sa.Integer(), nullable=True),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.Column('campaign_id', sa.String(length=64), nullable=True),
    sa.Column('assignment_id', sa.String(length=64), nullable=True),
    sa.Column('supersedes', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ),
    sa.ForeignKeyConstraint(['rater_id'], ['raters.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('comparisons', schema=None) as batch_op:
        batch_op.create_index('ix_comparisons_campaign', ['campaign_id'], unique=False)
        batch_op.create_index('ix_comparisons_item', ['item_id'], unique=False)
        batch_op.create_index('ix_comparisons_rater', ['rater_id'], unique=False)

    op.create_table('responses',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('item_id', sa.String(length=64), nullable=False),
    sa.Column('model', sa.String(length=300), nullable=False),
    sa.Column('sample_index', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('prompt_tokens', sa.Integer(), nullable=True),
    sa.Column('completion_tokens', sa.Integer(), nullable=True),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('cost_usd', sa.Float(), nullable=True),
    sa.Column('finish_reason', sa.String(length=50), nullable=True),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ),
    sa.ForeignKeyConstraint(['model'], ['models.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.create_index('ix_responses_item', ['item_id'], unique=False)
        batch_op.create_index('ix_responses_model', ['model'], unique=False)

    op.create_table('judgments',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('response_id', sa.String(length=64), nullable=False),
    sa.Column('rater_id', sa.String(length=300), nullable=False),
    sa.Column('rubric', sa.String(length=220), nullable=False),
    sa.Column('dimension', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('label', sa.String(length=200), nullable=True),
    sa.Column('justification', sa.Text(), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('flag_note', sa.Text(), nullable=True),
    sa.Column('time_spent_s', sa.Float(), nullable=True),
    sa.Column('guideline_version', sa.Integer(), nullable=True),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.Column('campaign_id', sa.String(length=64), nullable=True),
    sa.Column('assignment_id', sa.String(length=64), nullable=True),
    sa.Column('supersedes', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['rater_id'], ['raters.id'], ),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('judgments', schema=None) as batch_op:
        batch_op.create_index('ix_judgments_campaign', ['campaign_id'], unique=False)
        batch_op.create_index('ix_judgments_rater', ['rater_id'], unique=False)
        batch_op.create_index('ix_judgments_response', ['response_id'], unique=False)
        batch_op.create_index('ix_judgments_rubric_dim', ['rubric', 'dimension'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('judgments', schema=None) as batch_op:
        batch_op.drop_index('ix_judgments_rubric_dim')
        batch_op.drop_index('ix_judgments_response')
        batch_op.drop_index('ix_judgments_rater')
        batch_op.drop_index('ix_judgments_campaign')

    op.drop_table('judgments')
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index('ix_responses_model')
        batch_op.drop_index('ix_responses_item')

    op.drop_table('responses')
    with op.batch_alter_table('comparisons', schema=None) as batch_op:
        batch_op.drop_index('ix_comparisons_rater')
        batch_op.drop_index('ix_comparisons_item')
        batch_op.drop_index('ix_comparisons_campaign')

    op.drop_table('comparisons')
    op.drop_table('run_units')
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_index('ix_items_dataset')

    op.drop_table('items')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_assignments_rater')
        batch_op.drop_index('ix_assignments_campaign')

    op.drop_table('assignments')
    op.drop_table('runs')
    op.drop_table('rubrics')
    op.drop_table('request_cache')
    op.drop_table('raters')
    op.drop_table('models')
    op.drop_table('guidelines')
    op.drop_table('edge_cases')
    op.drop_table('datasets')
    op.drop_table('campaigns')

"""audit trail and review decision history

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 15:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('actor_email', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('actor_name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('target_kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('target_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('work_item_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('shot_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('size_label', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('sentence_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('project_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.create_index('ix_audit_action', ['action', 'at'], unique=False)
        batch_op.create_index('ix_audit_actor', ['actor_email', 'at'], unique=False)
        batch_op.create_index('ix_audit_at', ['at', 'id'], unique=False)
        batch_op.create_index('ix_audit_sentence', ['sentence_id', 'at'], unique=False)
        batch_op.create_index('ix_audit_work_item', ['work_item_id', 'shot_id', 'at'], unique=False)

    op.create_table('review_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('decision', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reviewer_email', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('reviewer_name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['imageversion.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('review_decision', schema=None) as batch_op:
        batch_op.create_index('ix_review_decision_version', ['version_id', 'id'], unique=False)

    # Reviews made before the history existed become its first entries (the free-text name, or "unknown").
    op.execute(
        "INSERT INTO review_decision (version_id, decision, reviewer_email, reviewer_name, note, at) "
        "SELECT id, review_state, COALESCE(NULLIF(reviewer, ''), 'unknown'), COALESCE(reviewer, ''), review_note, "
        "COALESCE(reviewed_at, created_at) FROM imageversion "
        "WHERE review_state <> 'pending' OR reviewed_at IS NOT NULL ORDER BY id"
    )


def downgrade() -> None:
    with op.batch_alter_table('review_decision', schema=None) as batch_op:
        batch_op.drop_index('ix_review_decision_version')
    op.drop_table('review_decision')
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_work_item')
        batch_op.drop_index('ix_audit_sentence')
        batch_op.drop_index('ix_audit_at')
        batch_op.drop_index('ix_audit_actor')
        batch_op.drop_index('ix_audit_action')
    op.drop_table('audit')

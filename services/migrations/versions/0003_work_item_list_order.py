"""work item list order index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 11:58:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An expression index on the list's order, (length(id), id), so ordered first pages stop early.
    op.create_index('ix_workitem_order', 'workitem', [sa.text('length(id)'), 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_workitem_order', table_name='workitem')

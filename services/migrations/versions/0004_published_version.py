"""export plan row: which version the stable file holds

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 15:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL on existing rows: the first reconcile compares their stable file with the current version's bytes.
    with op.batch_alter_table('exportplanrow') as batch:
        batch.add_column(sa.Column('published_version_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('exportplanrow') as batch:
        batch.drop_column('published_version_id')

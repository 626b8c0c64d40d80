"""image version: whether the backend used the seed

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 16:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every version so far was recorded as if its seed counted; OpenAI's images API has no seed, so its were not.
    with op.batch_alter_table('imageversion') as batch:
        batch.add_column(sa.Column('seed_honoured', sa.Boolean(), nullable=False, server_default=sa.text('true')))
    op.execute("UPDATE imageversion SET seed_honoured = false WHERE backend = 'openai'")


def downgrade() -> None:
    with op.batch_alter_table('imageversion') as batch:
        batch.drop_column('seed_honoured')

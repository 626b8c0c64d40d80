"""review queue order index

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 18:20:00
"""
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The review queue reads images of one review state oldest first, a page at a time (keyset on created_at, id):
    # in this order, a page stops after its rows instead of sorting every pending image.
    op.create_index('ix_imageversion_review_queue', 'imageversion', ['review_state', 'created_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_imageversion_review_queue', table_name='imageversion')

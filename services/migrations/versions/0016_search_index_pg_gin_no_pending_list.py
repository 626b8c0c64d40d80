"""PostgreSQL search: the work items' GIN trigram index without a pending list (fastupdate off, the list merged)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 21:45:00
"""
from alembic import op

from services import search_index


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every search read GIN's pending list in full (see search_index.PG_GIN_WITHOUT_PENDING_LIST).
    search_index.upgrade_postgresql(op.get_bind())


def downgrade() -> None:
    search_index.downgrade_gin_pending_list(op.get_bind())

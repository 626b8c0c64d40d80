"""substring search indexes: FTS5 trigram tables and triggers (SQLite), pg_trgm GIN indexes (PostgreSQL)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 15:20:00
"""
from alembic import op

from services import search_index


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Filled from the existing rows here; kept in step afterwards by triggers (SQLite) or the index (PostgreSQL).
    search_index.install(op.get_bind())


def downgrade() -> None:
    search_index.uninstall(op.get_bind())

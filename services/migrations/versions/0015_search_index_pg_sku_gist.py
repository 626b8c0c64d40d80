"""PostgreSQL search: SKUs through a GiST trigram index instead of GIN

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 21:10:00
"""
from alembic import op

from services import search_index


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every SKU shares trigrams ('SKU-'), whose GIN posting lists hold every shot (see search_index.PG_INDEXES).
    search_index.upgrade_postgresql(op.get_bind())


def downgrade() -> None:
    search_index.downgrade_postgresql(op.get_bind(), "ix_shot_sku_gist", {"ix_shot_sku_trgm": ("shot", "sku")})

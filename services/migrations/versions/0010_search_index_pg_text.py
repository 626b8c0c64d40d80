"""PostgreSQL search: one trigram index over a work item's id and title together

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 16:05:00
"""
from alembic import op

from services import search_index


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Two GIN indexes (id, title) cost the planner more than a scan; one over both is used (see search_index).
    search_index.upgrade_postgresql(op.get_bind())


def downgrade() -> None:
    search_index.downgrade_postgresql(
        op.get_bind(),
        "ix_workitem_text_trgm",
        {"ix_workitem_id_trgm": ("workitem", "id"), "ix_workitem_title_trgm": ("workitem", "title")},
    )

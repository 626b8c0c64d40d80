"""user preference

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 18:05:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('user_preference',
    sa.Column('user_email', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('grid_density', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('user_email')
    )


def downgrade() -> None:
    op.drop_table('user_preference')

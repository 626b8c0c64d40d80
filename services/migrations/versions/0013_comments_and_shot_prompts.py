"""comments on image versions; a shot's recalled seed and its heroes' dirty flag

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 18:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('author_email', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('author_name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('body', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['imageversion.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.create_index('ix_comment_version', ['version_id', 'id'], unique=False)
    # Plain ADD COLUMN (a constant default): a batch would copy `shot`, which SQLite's foreign keys refuse.
    op.add_column('shot', sa.Column('seed', sa.BigInteger(), nullable=True))
    op.add_column('shot', sa.Column('heroes_dirty', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column('shot', 'heroes_dirty')  # SQLite 3.35+ drops a column in place
    op.drop_column('shot', 'seed')
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.drop_index('ix_comment_version')
    op.drop_table('comment')

"""reference: one row per (work item, shot, sha256), duplicates merged

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 15:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Parallel uploads of one image stored it several times (no constraint). Keep the oldest row of each
    # (work item, shot, sha256), point versions that used a duplicate at it, then delete the duplicates; their
    # files are left to `python -m services gc`, which removes reference files no row points at.
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT id, work_item_id, shot_id, sha256 FROM reference ORDER BY created_at, id"
    )).all()
    kept: dict[tuple[str, str, str], str] = {}
    merged: dict[str, str] = {}
    for ref_id, work_item_id, shot_id, sha256 in rows:
        key = (work_item_id, shot_id, sha256)
        if key in kept:
            merged[ref_id] = kept[key]
        else:
            kept[key] = ref_id
    if merged:
        _repoint_versions(conn, merged)
        conn.execute(sa.text("DELETE FROM reference WHERE id IN :ids").bindparams(sa.bindparam("ids", expanding=True)),
                     {"ids": list(merged)})
    op.drop_index('ix_reference_target', table_name='reference')
    op.create_index('uq_reference_shot_sha256', 'reference', ['work_item_id', 'shot_id', 'sha256'], unique=True)


def _repoint_versions(conn, merged: dict[str, str]) -> None:
    """Versions list the reference ids they were made with: a merged id becomes the kept one."""
    versions = sa.table('imageversion', sa.column('id', sa.Integer), sa.column('references', sa.JSON))
    for version_id, references in conn.execute(sa.select(versions.c.id, versions.c.references)).all():
        if references and any(ref in merged for ref in references):
            repointed = list(dict.fromkeys(merged.get(ref, ref) for ref in references))
            conn.execute(versions.update().where(versions.c.id == version_id).values(references=repointed))


def downgrade() -> None:
    op.drop_index('uq_reference_shot_sha256', table_name='reference')
    op.create_index('ix_reference_target', 'reference', ['work_item_id', 'shot_id'], unique=False)

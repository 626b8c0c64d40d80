"""Data the benchmarks measure against: work items imported through the real importer, and current image
versions attached in bulk (files written like the pipeline writes them, without generating each one)."""

from __future__ import annotations

from sqlalchemy import insert, text

SIZES = (("Desktop", 1920, 800), ("Tablet", 1536, 768), ("Mobile", 750, 1000))


def plan_row(work_item_id: str, shot: int, size: tuple[str, int, int]) -> dict:
    label, width, height = size
    return {
        "shot_id": f"S-{shot}",
        "sku": f"SKU-{work_item_id}-{shot}",
        "size_label": label,
        "width": width,
        "height": height,
        "filename": f"fcc/lifestyle/{work_item_id}/S-{shot}/{label.lower()}.png",
        "prompt": f"Scene {shot} of work item {work_item_id}",
    }


def work_item(work_item_id: str, shots: int) -> None:
    """A work item whose Lifestyle Pack has `shots` shots, each with Desktop, Tablet and Mobile rows."""
    from services.importer import import_data

    plan = [plan_row(work_item_id, s, size) for s in range(1, shots + 1) for size in SIZES]
    import_data(
        {
            "workItems": [
                {
                    "id": work_item_id,
                    "title": f"{shots} shots",
                    "status": "in_review",
                    "lifestylePack": {"exportPlan": plan},
                }
            ]
        }
    )


def rendered_sizes() -> dict[str, tuple[bytes, bytes]]:
    """size label -> (export image, its thumbnail), made once by the real pipeline from one offline render."""
    from services import images
    from services.backends.local import LocalBackend

    master = LocalBackend().generate("Benchmark scene", width=1920, height=800, seed=1, references=[])
    exports = images.export_sizes(master, [(w, h, "x.png") for _, w, h in SIZES])
    return {label: (data, images.make_thumbnail(data)) for (label, _, _), data in zip(SIZES, exports, strict=True)}


def attach_versions(*, work_item_id: str | None = None, files: dict[str, tuple[bytes, bytes]] | None = None) -> int:
    """Give every export row (of one work item, or all) a current version 1; with `files`, write its image,
    thumbnail and stable copy to storage. Review states are mixed. Returns the number of rows."""
    from services.db import session_scope
    from services.models import ImageVersion
    from services.storage import get_storage
    from services.versions import versioned_key

    where, params = ("WHERE work_item_id = :wid", {"wid": work_item_id}) if work_item_id else ("", {})
    storage = get_storage()
    states = ("pending", "approved", "rejected")
    with session_scope() as session:
        plan = session.exec(
            text(f"SELECT id, size_label, width, height, filename FROM exportplanrow {where}"), params=params
        ).all()
        versions = []
        for pk, label, width, height, filename in plan:
            key, thumb_key = versioned_key(filename, 1, f"{pk:06x}"[-6:])
            if files:
                image, thumb = files[label]
                storage.put(key, image)
                storage.put(thumb_key, thumb, content_type="image/webp")
                storage.put(filename, image)
            versions.append(
                {
                    "target_kind": "hero",
                    "target_id": str(pk),
                    "version": 1,
                    "storage_key": key,
                    "thumb_key": thumb_key if files else None,
                    "width": width,
                    "height": height,
                    "prompt": "",
                    "backend": "local",
                    "references": [],
                    "review_state": states[pk % 3],
                }
            )
        if versions:
            session.exec(insert(ImageVersion), params=versions)
        session.exec(
            text(
                "UPDATE exportplanrow SET current_version_id = (SELECT v.id FROM imageversion v "
                f"WHERE v.target_kind = 'hero' AND v.target_id = CAST(exportplanrow.id AS TEXT)) {where}"
            ),
            params=params,
        )
        # Published as written: with `files` the stable copy was just stored; without, there is no file to copy.
        # Otherwise the dashboard's sweeper thread (started by the page's first run) retries every row while the
        # pages run, logging a traceback for each missing file; on Python 3.11 formatting a traceback calls
        # ast.parse, which races with Streamlit compiling the page in the script thread ("AST constructor recursion
        # depth mismatch": the page fails to compile and shows no card).
        session.exec(text(f"UPDATE exportplanrow SET published_version_id = current_version_id {where}"), params=params)
    return len(plan)

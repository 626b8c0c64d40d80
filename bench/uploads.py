"""(5) Uploads: 20 references of 12 MP JPEG through `add_references` (validate, normalise, store, thumbnail, DB row)
against a bare Pillow decode + save of the same files, timed A-B-A so drift hits both alike."""

from __future__ import annotations

import io
import statistics
import time

from PIL import Image

from bench.common import Row, check, kb, measure, temp_data_dir, timed
from bench.photos import camera_jpegs
from services.read_models.heroes import ReferencesAdded

NAME = "uploads"
FILES = 20
TARGET_RATIO = 1.5
TARGET_THUMB_BYTES = 40 * 1024


def bare_pillow(data: bytes) -> bytes:
    """The least any upload path must do: decode the file and encode it again (JPEG, same quality as ours)."""
    out = io.BytesIO()
    with Image.open(io.BytesIO(data)) as image:
        image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def add_shot(work_item_id: str = "1", shot_id: str = "S-1") -> None:
    """A work item with one shot for the references to belong to."""
    from services.importer import import_data

    row = {
        "shot_id": shot_id,
        "sku": "SKU-1",
        "size_label": "Desktop",
        "width": 1920,
        "height": 800,
        "filename": f"fcc/lifestyle/{work_item_id}/{shot_id}/desktop.png",
    }
    import_data(
        {
            "workItems": [
                {"id": work_item_id, "title": "Uploads", "status": "open", "lifestylePack": {"exportPlan": [row]}}
            ]
        }
    )


def stored_sizes(result: ReferencesAdded) -> tuple[list[int], list[int]]:
    """Bytes of each stored reference and of its thumbnail."""
    from services.db import session_scope
    from services.models import Reference
    from services.storage import get_storage

    storage = get_storage()
    ids = [r.id for r in result.references]
    with session_scope() as session:
        refs = [session.get(Reference, i) for i in ids]
    return [len(storage.get(r.storage_key)) for r in refs], [len(storage.get(r.thumb_key)) for r in refs]


def stages(data: bytes) -> dict[str, float]:
    """Seconds of the pipeline's parts for one file, to say where the time goes."""
    from services.images import make_thumbnail, validate_upload

    start = time.perf_counter()
    checked = validate_upload(data, filename="x.jpg")
    middle = time.perf_counter()
    make_thumbnail(checked.data)
    return {
        "validate": middle - start,
        "thumbnail": time.perf_counter() - middle,
        "bare": timed(lambda: bare_pillow(data)),
    }


def run(quick: bool = False) -> list[Row]:
    from services.lifestyle import ReferenceUpload, add_references

    count = 4 if quick else FILES
    files = camera_jpegs(count)
    rows: list[Row] = []
    # 20 references on one shot: over the default cap of 16 per shot, so the bench raises it
    with temp_data_dir(NAME, RESHOOT_MAX_REFERENCES_PER_SHOT="64", RESHOOT_MAX_UPLOAD_FILES="64"):
        add_shot()
        bare_pillow(files[0])  # warm-up: codecs loaded
        before = timed(lambda: [bare_pillow(f) for f in files])
        added: list[ReferencesAdded] = []
        ours = timed(
            lambda: added.append(
                add_references(
                    work_item_id="1",
                    options=ReferenceUpload(shot_id="S-1", files=[(f"photo-{i}.jpg", f) for i, f in enumerate(files)]),
                )
            )
        )
        result = added[-1]
        after = timed(lambda: [bare_pillow(f) for f in files])
        bare = (before + after) / 2
        originals, thumbs = stored_sizes(result)
        parts = stages(files[0])
    uploaded = statistics.median(len(f) for f in files)
    rows.append(
        check(
            NAME,
            f"per-image time ÷ bare Pillow decode+save ({count} × 12 MP JPEG)",
            ours / bare,
            TARGET_RATIO,
            note=f"{ours / count * 1000:.0f} ms vs {bare / count * 1000:.0f} ms per image; one file: validate "
            f"{parts['validate'] * 1000:.0f} ms (with its thumbnail; from the stored file a thumbnail takes "
            f"{parts['thumbnail'] * 1000:.0f} ms), bare {parts['bare'] * 1000:.0f} ms",
        )
    )
    rows.append(
        check(
            NAME,
            "median thumbnail size",
            statistics.median(thumbs) / 1024,
            TARGET_THUMB_BYTES / 1024,
            fmt="{:.1f}",
            unit=" KB",
            note=f"largest {kb(max(thumbs))}; 512 px WebP",
        )
    )
    rows.append(
        measure(
            NAME,
            "stored reference vs uploaded file (median)",
            f"{kb(statistics.median(originals))} vs {kb(uploaded)}",
            note=f"thumbnail = 1/{statistics.median(originals) / statistics.median(thumbs):.0f} of the stored file",
        )
    )
    return rows

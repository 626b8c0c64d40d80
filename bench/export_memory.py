"""Export memory: `reviews.export_approved` of a 200-shot work item (600 approved heroes at Desktop/Tablet/Mobile,
local storage) streamed chunk by chunk to a file, with photo-sized heroes (1 MB of noise each, which does not
compress: a ZIP of about 600 MB) and with the offline renderer's small ones; against the small export joined into
one bytes object (what building it in memory costs) and a 50-shot export; side by side in one run.

Peak growth is Python's traced allocation peak (tracemalloc) over the export, from reading the database to the
last chunk. What stays is one image at a time plus the manifest (every target's entry), which grows with shots.
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc

from sqlalchemy import text

from bench.common import Row, check, measure, temp_data_dir
from bench.fixtures import attach_versions, rendered_sizes, work_item

NAME = "export_memory"
SHOTS = 200
FEW_SHOTS = 50
TARGET_PEAK_SHARE = 0.05  # the streamed peak stays under 5 % of the ZIP it writes


def _photo_sized() -> dict[str, tuple[bytes, bytes]]:
    """size label -> (a PNG of about 1 MB of noise, a thumbnail): the bytes of a real backend's photo."""
    import io

    import numpy as np
    from PIL import Image

    from services.images import make_thumbnail

    pixels = np.random.default_rng(1).integers(0, 256, (580, 580, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG", compress_level=1)
    return {label: (out.getvalue(), make_thumbnail(out.getvalue())) for label in ("Desktop", "Tablet", "Mobile")}


def _approve_all() -> None:
    from services.db import session_scope

    with session_scope() as session:
        session.exec(text("UPDATE imageversion SET review_state = 'approved', reviewer = 'bench'"))


def _export(work_item_id: str, *, streamed: bool) -> tuple[float, int, float]:
    """(peak traced growth in MB, ZIP bytes, seconds) of one export, streamed to a file or joined in memory."""
    from services.reviews import export_approved

    tracemalloc.start()
    start = time.perf_counter()
    export = export_approved(work_item_id=work_item_id)
    if streamed:
        size = 0
        with tempfile.TemporaryFile() as out:
            for chunk in export.chunks:
                out.write(chunk)
                size += len(chunk)
    else:
        size = len(b"".join(export.chunks))
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20, size, seconds


def run(quick: bool = False) -> list[Row]:
    shots, few = (40, 10) if quick else (SHOTS, FEW_SHOTS)
    with temp_data_dir(NAME):
        work_item("big", shots)
        work_item("small", shots)
        work_item("few", few)
        attach_versions(work_item_id="big", files=_photo_sized())
        rendered = rendered_sizes()
        attach_versions(work_item_id="small", files=rendered)
        attach_versions(work_item_id="few", files=rendered)
        _approve_all()
        big, big_size, big_seconds = _export("big", streamed=True)
        small, small_size, _ = _export("small", streamed=True)
        in_memory, _, _ = _export("small", streamed=False)
        few_streamed, few_size, _ = _export("few", streamed=True)
    big_mb, small_mb = big_size / 2**20, small_size / 2**20
    return [
        check(
            NAME,
            f"peak memory growth streaming {shots} photo-sized shots ({3 * shots} heroes) ÷ ZIP size",
            big / big_mb,
            TARGET_PEAK_SHARE,
            fmt="{:.3f}",
            note=f"+{big:.1f} MB peak for a {big_mb:.0f} MB ZIP written in {big_seconds:.1f} s",
        ),
        measure(
            NAME,
            f"peak growth, {big_mb:.0f} MB ZIP ÷ {small_mb:.0f} MB ZIP (same {shots} shots)",
            f"{big / max(small, 0.01):.2f}",
            note=f"+{big:.1f} MB vs +{small:.1f} MB: the image bytes do not add up, one image is held at a time",
        ),
        measure(
            NAME,
            "peak growth: joined in memory ÷ streamed",
            f"{in_memory / max(small, 0.01):.1f}",
            note=f"+{in_memory:.0f} MB vs +{small:.1f} MB for the {small_mb:.0f} MB ZIP",
        ),
        measure(
            NAME,
            f"peak growth streaming {shots} shots ÷ {few} shots",
            f"{small / max(few_streamed, 0.01):.2f}",
            note=f"+{few_streamed:.1f} MB for {few} ({few_size / 2**20:.0f} MB ZIP): the manifest lists every target, "
            f"about {1024 * (small - few_streamed) / (3 * (shots - few)):.0f} KB a hero",
        ),
    ]

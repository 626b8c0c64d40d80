"""(3) Generate-all: N shots × Desktop/Tablet/Mobile through the real job path (use case → Job row → Huey consumer
→ concurrent shots), with the backend replaced by one that costs a fixed latency L per call.

The backend returns the offline renderer's image (rendered once per size, then reused), so a call costs L and
nothing else, like a remote backend: what is left is our own work (queue, export sizes, thumbnails, DB). The
baselines are machine-independent: ceil(N / concurrency) × L, and 3N × L for one call per size, one after
another (the naive way's least possible time; its image work would come on top).
"""

from __future__ import annotations

import math
import os
import threading
import time
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING

from bench.common import QueryCounter, Row, check, measure, temp_data_dir, timed
from bench.fixtures import work_item

if TYPE_CHECKING:
    from services.read_models.jobs import JobPublic

NAME = "generate"
LATENCY = 0.2  # seconds per backend call
SLOW_LATENCY = 1.0
TARGET_RATIO = 1.25


class LatencyBackend:
    """The `local` backend behind a fixed latency per call; counts calls (thread-safe)."""

    def __init__(self, latency: float):
        from services.backends.local import LocalBackend

        self.inner = LocalBackend()
        self.name, self.model, self.capabilities = "local", self.inner.model, self.inner.capabilities
        self.latency = latency
        self.calls = 0
        self._lock = threading.Lock()
        self._rendered: dict[tuple[int, int], bytes] = {}

    def generate(self, prompt, *, width, height, seed, references, progress=None, **_options) -> bytes:
        start = time.perf_counter()
        with self._lock:
            self.calls += 1
            image = self._rendered.get((width, height))
            if image is None:
                image = self._rendered[width, height] = self.inner.generate(
                    "Benchmark scene", width=width, height=height, seed=1, references=[]
                )
        time.sleep(max(0.0, self.latency - (time.perf_counter() - start)))
        return image


def generate_all(work_item_id: str) -> JobPublic:
    """Click to done: start the job and wait for it; the finished job."""
    from services.jobs import wait_for_job
    from services.lifestyle import start_heroes_job

    started = start_heroes_job(work_item_id=work_item_id)
    job = wait_for_job(started.job_id, timeout=600)
    assert job.status == "succeeded", job
    return job


def _queued_seconds(job: JobPublic) -> float:
    if job.created_at is None or job.started_at is None:
        return 0.0
    return (job.started_at - job.created_at).total_seconds()


@contextmanager
def image_work_reused():
    """Export sizes and thumbnails computed once per distinct input, then reused: what remains is the job
    system alone (queue, threads, backend slots, storage writes, DB). Shows what bounds the real runs."""
    from services import images

    originals = images.export_sizes, images.make_thumbnail, images.export_sizes_with_thumbnails
    exports, thumbs, pairs = {}, {}, {}

    def export_sizes(master, targets, *, focal=(0.5, 0.5), **options):
        key = (hash(master), tuple((w, h) for w, h, _ in targets))
        if key not in exports:
            exports[key] = originals[0](master, targets, focal=focal, **options)
        return exports[key]

    def make_thumbnail(data, **options):
        if not isinstance(data, bytes):  # an image in memory, from inside export_sizes_with_thumbnails
            return originals[1](data, **options)
        if hash(data) not in thumbs:
            thumbs[hash(data)] = originals[1](data, **options)
        return thumbs[hash(data)]

    def export_sizes_with_thumbnails(master, targets, *, focal=(0.5, 0.5), **options):
        key = (hash(master), tuple((w, h) for w, h, _ in targets))
        if key not in pairs:
            pairs[key] = originals[2](master, targets, focal=focal, **options)
        return pairs[key]

    images.export_sizes, images.make_thumbnail, images.export_sizes_with_thumbnails = (
        export_sizes,
        make_thumbnail,
        export_sizes_with_thumbnails,
    )
    try:
        yield
    finally:
        images.export_sizes, images.make_thumbnail, images.export_sizes_with_thumbnails = originals


# (N, L, image work reused?): the two sizes at 200 ms; N=48 without our image work (the bound);
# N=12 at a latency nearer a real backend's.
CONFIGS = ((12, LATENCY, False), (48, LATENCY, False), (48, LATENCY, True), (12, SLOW_LATENCY, False))
QUICK_CONFIGS = ((4, LATENCY, False), (12, LATENCY, False), (12, LATENCY, True))


def run(quick: bool = False) -> list[Row]:
    from services import backends
    from services.config import get_settings
    from services.jobs import start_embedded_worker

    rows: list[Row] = []
    original = backends.get_backend
    backend = LatencyBackend(LATENCY)
    backends.get_backend = lambda name=None: backend
    try:
        with temp_data_dir(NAME):
            concurrency = get_settings().generation_concurrency
            start_embedded_worker()
            work_item("warm-up", 2)
            generate_all("warm-up")  # consumer threads, codecs, the backend's renders
            for i, (n, latency, reused) in enumerate(QUICK_CONFIGS if quick else CONFIGS):
                backend.latency, backend.calls = latency, 0
                label = f"N={n}, L={latency * 1000:.0f} ms" + (", image work reused" if reused else "")
                item_id = f"wi-{i}"
                work_item(item_id, n)
                finished: list[JobPublic] = []
                cpu, queries = time.process_time(), QueryCounter()
                with image_work_reused() if reused else nullcontext(), queries.active():
                    wall = timed(lambda finished=finished, item_id=item_id: finished.append(generate_all(item_id)))
                job = finished[0]
                cpu = time.process_time() - cpu
                ideal = math.ceil(n / concurrency) * latency
                rows.append(
                    check(
                        NAME,
                        f"{label}: wall time ÷ (ceil(N/{concurrency}) × L)",
                        wall / ideal,
                        TARGET_RATIO,
                        note=f"{wall:.2f} s vs {ideal:.2f} s; queued {_queued_seconds(job):.2f} s; "
                        f"our CPU {cpu / n * 1000:.0f} ms per shot ({os.cpu_count()} cores); "
                        f"{queries.count / n:.0f} SQL statements per shot (every thread, the waiter's polls and "
                        "heartbeats included)",
                    )
                )
                if reused:
                    continue
                rows.append(
                    check(
                        NAME,
                        f"{label}: backend calls per shot",
                        backend.calls / n,
                        1.0,
                        note=f"{backend.calls} calls for {len((job.result or {}).get('generated') or [])} images",
                    )
                )
                if latency == LATENCY:
                    bound = 3 * n * latency
                    rows.append(
                        measure(
                            NAME,
                            f"{label}: speed-up over one call per size, serial (3N × L)",
                            f"{bound / wall:.1f}×",
                            f"3N × L = {bound:.1f} s, that way's least; vs {wall:.2f} s",
                        )
                    )
    finally:
        backends.get_backend = original
    return rows

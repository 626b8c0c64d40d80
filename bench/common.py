"""What every benchmark shares: a throwaway data dir, timers, a SQL statement counter, and result rows."""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event

# Everything a benchmark writes goes to its own temp dir; these are pointed there (or cleared) while it runs.
OVERRIDDEN = ("RESHOOT_DATA_DIR", "RESHOOT_DATABASE_URL", "RESHOOT_STORAGE_URL", "RESHOOT_QUEUE_URL")
CLEARED = (
    "RESHOOT_S3_ENDPOINT_URL",
    "RESHOOT_S3_PUBLIC_URL",
    "RESHOOT_IMAGE_BACKEND",
    "RESHOOT_GENERATION_CONCURRENCY",
    "RESHOOT_KEEP_VERSIONS",
)


@dataclass
class Row:
    """One line of the results table."""

    benchmark: str
    metric: str
    value: str
    target: str = ""
    met: bool | None = None  # None: a measurement without a target
    note: str = ""


def check(
    benchmark: str,
    metric: str,
    value: float,
    target: float,
    *,
    fmt: str = "{:.2f}",
    higher_is_better=False,
    note: str = "",
    unit: str = "",
) -> Row:
    """A row comparing `value` to `target` (≤ target unless `higher_is_better`)."""
    met = value >= target if higher_is_better else value <= target
    sign = "≥" if higher_is_better else "≤"
    return Row(benchmark, metric, fmt.format(value) + unit, f"{sign} {fmt.format(target)}{unit}", met, note)


def measure(benchmark: str, metric: str, value: str, note: str = "") -> Row:
    return Row(benchmark, metric, value, "", None, note)


@contextmanager
def temp_data_dir(name: str = "bench", *, keep: bool = False, **env: str) -> Iterator[Path]:
    """A fresh RESHOOT_DATA_DIR (SQLite, local media, SQLite queue), migrated; the old environment comes back after."""
    from services.config import get_settings

    saved = {k: os.environ.get(k) for k in (*OVERRIDDEN, *CLEARED, *env)}
    tmp = tempfile.mkdtemp(prefix=f"reshoot-{name}-")
    path = Path(tmp) / "data"
    try:
        for k in CLEARED:
            os.environ.pop(k, None)
        os.environ.update(
            {
                "RESHOOT_DATA_DIR": str(path),
                "RESHOOT_DATABASE_URL": f"sqlite:///{path / 'reshoot.db'}",
                "RESHOOT_STORAGE_URL": f"file://{path / 'media'}",
                "RESHOOT_QUEUE_URL": f"sqlite:///{path / 'queue.db'}",
                **env,  # e.g. S3 storage instead of the local directory
            }
        )
        get_settings.cache_clear()
        from services.db import migrate

        migrate()
        yield path
    finally:
        _stop_workers()
        try:
            from services.db import engine_for

            engine_for(get_settings().database_url).dispose()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            get_settings.cache_clear()
            if not keep:
                import shutil

                shutil.rmtree(tmp, ignore_errors=True)


def _stop_workers() -> None:
    import sys

    jobs = sys.modules.get("services.jobs")
    if jobs is not None:
        jobs.stop_embedded_worker()


class QueryCounter:
    """Counts SQL statements sent through the current engine while active: from every thread, or only from
    threads called `thread` (e.g. Streamlit's "ScriptRunner.scriptThread", leaving out job heartbeats)."""

    def __init__(self, thread: str | None = None) -> None:
        self.count = 0
        self.thread = thread
        self._lock = threading.Lock()

    def _on_execute(self, *_args) -> None:
        if self.thread is not None and threading.current_thread().name != self.thread:
            return
        with self._lock:
            self.count += 1

    @contextmanager
    def active(self) -> Iterator[QueryCounter]:
        from services.db import get_engine

        engine = get_engine()
        event.listen(engine, "before_cursor_execute", self._on_execute)
        try:
            yield self
        finally:
            event.remove(engine, "before_cursor_execute", self._on_execute)


def count_queries(fn: Callable[[], object], *, thread: str | None = None) -> int:
    counter = QueryCounter(thread)
    with counter.active():
        fn()
    return counter.count


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(runs: dict[str, Callable[[], object]], *, repeats: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds of each callable, run in turn (A B A B …) so machine noise hits them alike."""
    for _ in range(warmup):
        for fn in runs.values():
            fn()
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            samples[name].append(timed(fn))
    return {name: statistics.median(s) for name, s in samples.items()}


def kb(n: float) -> str:
    return f"{n / 1024:.1f} KB"

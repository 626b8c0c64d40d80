"""(1) The Work Item detail page (Lifestyle Hero Preview grid) in AppTest at 6, 60 and 240 shots × 3 sizes,
rerun after a warm-up, side by side with an empty page and with the same grid written the naive way
(full-size image bytes passed to `st.image`).

Per run: time ÷ the empty page's, SQL statements from the script thread, and the image bytes the page sends
(Streamlit's media store) or references (`/assets/` URLs, counted at the stored file's size).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlparse

from bench.common import QueryCounter, Row, check, interleaved, kb, measure, temp_data_dir, timed
from bench.fixtures import attach_versions, rendered_sizes, work_item

NAME = "grid"
ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = str(ROOT / "dashboard.py")
DETAIL_PAGE = "pages/work_item.py"
EMPTY = str(Path(__file__).parent / "pages" / "empty.py")
NAIVE = str(Path(__file__).parent / "pages" / "naive_grid.py")
SCRIPT_THREAD = "ScriptRunner.scriptThread"
TARGET_TIME_RATIO = 3.0  # at 60 shots
TARGET_BYTES_FACTOR = 10.0
NAIVE_UP_TO = 60  # shots; the naive page is run at these sizes only
TIMEOUT = 300


class MediaBytes:
    """Bytes handed to Streamlit's media store (what `st.image(bytes)` sends the browser), while active."""

    def __init__(self) -> None:
        self.total = 0
        self._lock = threading.Lock()

    @contextmanager
    def active(self):
        from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

        original = MemoryMediaFileStorage.load_and_get_id

        def counting(storage, path_or_data, *args, **kwargs):
            if isinstance(path_or_data, bytes):
                with self._lock:
                    self.total += len(path_or_data)
            return original(storage, path_or_data, *args, **kwargs)

        MemoryMediaFileStorage.load_and_get_id = counting
        try:
            yield self
        finally:
            MemoryMediaFileStorage.load_and_get_id = original


def referenced_bytes(at) -> tuple[int, int]:
    """(bytes, images) of the `/assets/` image URLs on the page, at their stored files' sizes (0 if missing)."""
    from services.storage import get_storage

    storage, total, count = get_storage(), 0, 0
    for image in at.get("image"):
        for url in image.value:
            path = urlparse(url).path
            if "/assets/" in path:
                file = storage.path(unquote(path.split("/assets/", 1)[1]))
                total += file.stat().st_size if file.exists() else 0
                count += 1
    return total, count


def detail_page(work_item_id: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    at.run()
    at.query_params["id"] = work_item_id
    at.switch_page(DETAIL_PAGE)
    return at


def script_page(path: str, **query: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(path, default_timeout=TIMEOUT)
    at.query_params.update(query)
    return at


def elements(at) -> int:
    """Elements and blocks the run produced (widgets, images, captions, containers, columns)."""

    def count(node) -> int:
        children = getattr(node, "children", None)
        return 1 + (sum(count(c) for c in children.values()) if isinstance(children, dict) else 0)

    return count(at._tree) - 1


def one_run(at) -> dict:
    """Run `at` once: seconds, SQL statements from the script thread, image bytes sent and referenced, elements."""
    queries, media = QueryCounter(SCRIPT_THREAD), MediaBytes()
    with queries.active(), media.active():
        seconds = timed(at.run)
    assert not at.exception, [e.value for e in at.exception]
    referenced, images = referenced_bytes(at)
    return {"seconds": seconds, "queries": queries.count, "sent": media.total, "referenced": referenced,
            "images": images, "elements": elements(at)}


def run(quick: bool = False) -> list[Row]:
    import logging

    # Reading AppTest results outside a script run makes Streamlit warn about a missing ScriptRunContext.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").disabled = True
    shots = (6, 24) if quick else (6, 60, 240)
    checked = shots[-1] if quick else 60  # the targets are at 60 shots
    repeats = {6: 7, 24: 5, 60: 5, 240: 2}
    rows: list[Row] = []
    with temp_data_dir(NAME):
        files = rendered_sizes()
        for n in shots:
            work_item(f"wi-{n}", n)
        attach_versions(files=files)
        empty = script_page(EMPTY)
        stats, medians = {}, {}
        for n in shots:
            page = detail_page(f"wi-{n}")
            times = interleaved({"empty": empty.run, "page": page.run}, repeats=repeats[n], warmup=1)
            ours = stats[n] = one_run(page)
            medians[n] = times["page"]
            ratio = times["page"] / times["empty"]
            note = (f"{times['page'] * 1000:.0f} ms vs {times['empty'] * 1000:.0f} ms; {ours['elements']} elements, "
                    f"{ours['queries']} SQL statements")
            if n == checked:
                rows.append(check(NAME, f"{n} shots: time ÷ empty page", ratio, TARGET_TIME_RATIO, fmt="{:.1f}", note=note))
            else:
                rows.append(measure(NAME, f"{n} shots: time ÷ empty page", f"{ratio:.1f}", note))
            if n > NAIVE_UP_TO:
                continue  # the naive page pushes every full image through each run: seconds per run at this size
            naive = script_page(NAIVE, id=f"wi-{n}")
            if n == shots[0]:
                naive.run()  # warm-up: image codecs, Streamlit's image path
            theirs = one_run(naive)
            page_bytes = ours["sent"] + ours["referenced"]
            rows.append(check(
                NAME, f"{n} shots: image bytes per run, naive page ÷ ours", theirs["sent"] / max(1, page_bytes),
                TARGET_BYTES_FACTOR, fmt="{:.0f}", higher_is_better=True,
                note=f"ours {kb(page_bytes)} ({ours['images']} thumbnail URLs, {kb(ours['sent'])} as bytes); naive "
                     f"{kb(theirs['sent'])} as bytes, and {theirs['seconds'] / times['empty']:.0f}× the empty page's time",
            ))
        low, high = shots[0], shots[-1]
        per_card = (medians[high] - medians[low]) / (high - low)
        rows.append(measure(NAME, "cost of one more card", f"{per_card * 1000:.1f} ms",
                            f"{(stats[high]['elements'] - stats[low]['elements']) / (high - low):.0f} elements per card; "
                            f"the empty page: {times['empty'] * 1000:.0f} ms"))
        rows.append(check(
            NAME, f"SQL statements per run, {high} shots − {low} shots", stats[high]["queries"] - stats[low]["queries"], 0,
            fmt="{:.0f}", note=", ".join(f"{n} shots: {s['queries']}" for n, s in stats.items()),
        ))
    return rows

"""(1) The Work Item detail page (Lifestyle Hero Preview grid) in AppTest at 6, 60 and 240 shots × 3 sizes,
rerun after a warm-up, side by side with an empty page and with the same grid written the naive way
(full-size image bytes passed to `st.image`, one card per shot).

Per run: time ÷ the empty page's (and at the checked size the script thread's CPU), SQL statements from the
script thread, cards rendered (the grid pages, so at most 12), and the image bytes the page sends (Streamlit's
media store) or references (`/assets/` URLs, counted at the stored file's size) per card shown.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from unittest import mock
from urllib.parse import unquote, urlparse

from bench.common import QueryCounter, Row, check, interleaved, kb, measure, temp_data_dir, timed
from bench.fixtures import attach_versions, rendered_sizes, work_item

NAME = "grid"
ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = str(ROOT / "dashboard.py")
DETAIL_PAGE = "pages/work_item.py"
EMPTY = str(Path(__file__).parent / "pages" / "empty.py")
NAIVE = str(Path(__file__).parent / "pages" / "naive_grid.py")
FLOORS = {  # what a grid of one fragment per card costs whatever its cards draw (run with ?cards=CARDS_PER_PAGE)
    "fragments of one Markdown element": str(Path(__file__).parent / "pages" / "floor_markdown.py"),
    "fragments of one Components-v2 component": str(Path(__file__).parent / "pages" / "floor_component.py"),
}
SCRIPT_THREAD = "ScriptRunner.scriptThread"
TARGET_TIME_RATIO = 5.0  # at 60 shots (issue 15)
TARGET_BYTES_FACTOR = 10.0
NAIVE_UP_TO = 60  # shots; the naive page is run at these sizes only
TIMEOUT = 300
CPU_RUNS = 20


class MediaBytes:
    """Bytes handed to Streamlit's media store (what `st.image(bytes)` sends the browser), while active."""

    def __init__(self) -> None:
        self.total = 0
        self.images = 0
        self._lock = threading.Lock()

    @contextmanager
    def active(self):
        from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

        original = MemoryMediaFileStorage.load_and_get_id

        def counting(storage, path_or_data, *args, **kwargs):
            if isinstance(path_or_data, bytes):
                with self._lock:
                    self.total += len(path_or_data)
                    self.images += 1
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
    urls = [url for image in at.get("image") for url in image.value]
    urls += [src for m in at.get("markdown") for src in re.findall(r'<img src="([^"]+)"', m.value)]  # card Markdown
    for url in urls:
        path = urlparse(url).path
        if "/assets/" in path:
            file = storage.path(unquote(path.split("/assets/", 1)[1]))
            total += file.stat().st_size if file.exists() else 0
            count += 1
    return total, count


@contextmanager
def server_script_cache():
    """While active, every AppTest run shares one script cache, as a server does (it compiles each page script once).
    AppTest makes a new cache each run, so each run would recompile `dashboard.py` and the page, Streamlit's "magic"
    AST pass included: a cost a server pays once, not per run."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test, local_script_runner

    shared = ScriptCache()
    saved = app_test.ScriptCache, local_script_runner.ScriptCache
    app_test.ScriptCache = local_script_runner.ScriptCache = lambda: shared
    try:
        yield shared
    finally:
        app_test.ScriptCache, local_script_runner.ScriptCache = saved


@contextmanager
def script_cpu() -> Iterator[list[float]]:
    """While active, the CPU seconds of each AppTest script run's own thread (the script, Streamlit's elements and
    messages), appended in order: what a run costs the server, without AppTest's starting and reading of the run."""
    from streamlit.runtime.scriptrunner.script_runner import ScriptRunner

    seconds: list[float] = []
    original = ScriptRunner._run_script

    def counting(runner, *args, **kwargs):
        start = time.thread_time()
        try:
            return original(runner, *args, **kwargs)
        finally:
            seconds.append(time.thread_time() - start)

    ScriptRunner._run_script = counting
    try:
        yield seconds
    finally:
        ScriptRunner._run_script = original


@contextmanager
def cards_drawn_as_nothing():
    """While active, the Work Item page's cards draw nothing (each card's fragment is a no-op): what the page costs
    around its cards (header, Actions panel, bulk bar, pager, its SQL statements)."""
    with mock.patch("ui.hero_card._card_fragment", lambda key: lambda work_item_id, shot_id: None):
        yield


# What the Work Item page draws and reads besides its frame (the navigation and sidebar, the back link, title and
# caption, the heading row's title and link, and get_work_item's SQL statements).
PAGE_PARTS = (
    "services.jobs.active_job_for",
    "ui.actions_panel.actions_panel",
    "ui.demo_progress.demo_progress",
    "ui.export_button.export_button",
    "ui.grid_density.density_toggle",
    "ui.bulk_review.bulk_bar",
    "ui.hero_card.turn_to_linked_shot",
    "ui.hero_card.hero_grid",
    "ui.large_view.open_linked_large_view",
)


@contextmanager
def frame_only():
    """While active, the Work Item page draws only its frame: no Actions panel, bulk bar, grid or pager. What any
    Work Item page costs before it shows a card."""
    with ExitStack() as stack:
        for name in PAGE_PARTS:
            stack.enter_context(mock.patch(name, lambda *args, **kwargs: None))
        yield


def run_within(context, at):
    """`at.run`, inside `context()` each time."""

    def run():
        with context():
            return at.run()

    return run


def least_cpu_ms(at, runs: int) -> float:
    """The least script-thread CPU of `runs` runs of `at`, in ms (the least: other processes only add to it)."""
    with server_script_cache(), script_cpu() as seconds:
        for _ in range(runs):
            at.run()
    return min(seconds) * 1000


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


def cards(at) -> int:
    """Hero cards on the page (each, comfortable or compact, has one `View larger` button over its thumbnail)."""
    return sum(1 for button in at.button if (button.key or "").startswith("detail_view_"))


def one_run(at) -> dict:
    """Run `at` once: seconds, SQL statements from the script thread, image bytes sent (and how many images) and
    referenced, elements, cards, pagers."""
    queries, media = QueryCounter(SCRIPT_THREAD), MediaBytes()
    with queries.active(), media.active():
        seconds = timed(at.run)
    assert not at.exception, [e.value for e in at.exception]
    referenced, images = referenced_bytes(at)
    return {
        "seconds": seconds,
        "queries": queries.count,
        "sent": media.total,
        "sent_images": media.images,
        "referenced": referenced,
        "images": images,
        "elements": elements(at),
        "cards": cards(at),
        "pagers": len(at.get("pagination")),
    }


def elements_per_card(stats: dict[int, dict]) -> float:
    """Elements a card adds: between the runs with the fewest and the most cards, without the pager."""
    few, most = min(stats.values(), key=lambda s: s["cards"]), max(stats.values(), key=lambda s: s["cards"])
    if few["cards"] == most["cards"]:
        return float("nan")
    own = lambda s: s["elements"] - s["pagers"]  # noqa: E731
    return (own(most) - own(few)) / (most["cards"] - few["cards"])


def run(quick: bool = False) -> list[Row]:
    import logging

    from ui.hero_card import CARDS_PER_PAGE

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
        stats, medians, empty_ms = {}, {}, {}
        for n in shots:
            page = detail_page(f"wi-{n}")
            floors = {name: script_page(path, cards=str(CARDS_PER_PAGE)) for name, path in FLOORS.items()}
            chrome, frame = detail_page(f"wi-{n}"), detail_page(f"wi-{n}")
            runs = {"empty": empty.run, "page": page.run} | (
                {name: at.run for name, at in floors.items()}
                | {"without cards": run_within(cards_drawn_as_nothing, chrome), "frame": run_within(frame_only, frame)}
                if n == checked
                else {}
            )
            with server_script_cache():
                times = interleaved(runs, repeats=repeats[n], warmup=1)
            ours = stats[n] = one_run(page)
            medians[n], empty_ms[n] = times["page"], times["empty"]
            ratio = times["page"] / times["empty"]
            note = (
                f"{times['page'] * 1000:.0f} ms vs {times['empty'] * 1000:.0f} ms; {ours['cards']} cards, "
                f"{ours['elements']} elements, {ours['queries']} SQL statements"
            )
            if n == checked:
                rows.append(
                    check(NAME, f"{n} shots: time ÷ empty page", ratio, TARGET_TIME_RATIO, fmt="{:.1f}", note=note)
                )
                page_cpu, empty_cpu = least_cpu_ms(page, CPU_RUNS), least_cpu_ms(empty, CPU_RUNS)
                rows.append(
                    measure(
                        NAME,
                        f"{n} shots: script-thread CPU per run",
                        f"{page_cpu:.1f} ms",
                        f"the least of {CPU_RUNS} runs; an empty page {empty_cpu:.2f} ms; "
                        f"{page_cpu / max(1, ours['cards']):.1f} ms a card shown, the page's own elements included "
                        "(the rest of a run's time is AppTest starting the run and reading its messages)",
                    )
                )
                for name, at in floors.items():
                    rows.append(
                        measure(
                            NAME,
                            f"floor: {CARDS_PER_PAGE} {name}: time ÷ empty page",
                            f"{times[name] / times['empty']:.1f}",
                            f"{times[name] * 1000:.0f} ms, run in turn with the page; script-thread CPU "
                            f"{least_cpu_ms(at, CPU_RUNS):.1f} ms (the page's {page_cpu:.1f} ms), {elements(at)} "
                            "elements: what one fragment per card costs before the cards' own elements",
                        )
                    )
                with cards_drawn_as_nothing():
                    chrome_cpu, chrome_elements = least_cpu_ms(chrome, CPU_RUNS), elements(chrome)
                rows.append(
                    measure(
                        NAME,
                        f"{n} shots, the page around its cards: time ÷ empty page",
                        f"{times['without cards'] / times['empty']:.1f}",
                        f"{times['without cards'] * 1000:.0f} ms, run in turn with the page, every card's fragment "
                        f"drawing nothing: the header, Actions panel, bulk bar, pager and the same SQL statements; "
                        f"script-thread CPU {chrome_cpu:.1f} ms (the page's {page_cpu:.1f} ms), {chrome_elements} "
                        "elements",
                    )
                )
                with frame_only():
                    frame_cpu, frame_elements, frame_queries = (
                        least_cpu_ms(frame, CPU_RUNS),
                        elements(frame),
                        one_run(frame)["queries"],
                    )
                rows.append(
                    measure(
                        NAME,
                        f"{n} shots, the page's frame only: time ÷ empty page",
                        f"{times['frame'] / times['empty']:.1f}",
                        f"{times['frame'] * 1000:.0f} ms, run in turn with the page, drawing only the navigation, "
                        "sidebar, back link, title, caption and the heading row's title and link, after "
                        f"get_work_item ({frame_queries} SQL statements): no Actions panel, bulk bar, grid or pager; "
                        f"script-thread CPU {frame_cpu:.1f} ms, {frame_elements} elements",
                    )
                )
                recompiled = interleaved({"empty": empty.run, "page": page.run}, repeats=repeats[n], warmup=1)
                rows.append(
                    measure(
                        NAME,
                        f"{n} shots: time ÷ empty page, scripts recompiled every run (AppTest's default)",
                        f"{recompiled['page'] / recompiled['empty']:.1f}",
                        f"{recompiled['page'] * 1000:.0f} ms vs {recompiled['empty'] * 1000:.0f} ms; a server "
                        "compiles each script once, so the time ÷ empty page row shares one script cache across runs",
                    )
                )
            else:
                rows.append(measure(NAME, f"{n} shots: time ÷ empty page", f"{ratio:.1f}", note))
            if n > NAIVE_UP_TO:
                continue  # the naive page pushes every full image through each run: seconds per run at this size
            naive = script_page(NAIVE, id=f"wi-{n}")
            if n == shots[0]:
                naive.run()  # warm-up: image codecs, Streamlit's image path
            theirs = one_run(naive)
            page_bytes = ours["sent"] + ours["referenced"]
            ours_per_card = page_bytes / max(1, ours["cards"])
            theirs_per_card = theirs["sent"] / max(1, theirs["sent_images"])  # the naive page: one image a shot
            rows.append(
                check(
                    NAME,
                    f"{n} shots: image bytes per card shown, naive page ÷ ours",
                    theirs_per_card / max(1, ours_per_card),
                    TARGET_BYTES_FACTOR,
                    fmt="{:.0f}",
                    higher_is_better=True,
                    note=f"ours {kb(page_bytes)} for {ours['cards']} cards ({ours['images']} thumbnail URLs, "
                    f"{kb(ours['sent'])} as bytes); naive {kb(theirs['sent'])} as bytes for {theirs['sent_images']} "
                    f"cards, and {theirs['seconds'] / times['empty']:.0f}× the empty page's time",
                )
            )
        low, high = shots[0], shots[-1]
        rows.append(
            measure(
                NAME,
                "cards rendered",
                ", ".join(f"{n} shots: {s['cards']}" for n, s in stats.items()),
                f"the grid shows at most {CARDS_PER_PAGE} cards a page",
            )
        )
        per_card_ms = (medians[low] - empty_ms[low]) * 1000 / max(1, stats[low]["cards"])
        rows.append(
            measure(
                NAME,
                f"time per card, {low} shots",
                f"{per_card_ms:.1f} ms",
                f"(page − empty page) ÷ {stats[low]['cards']} cards, so the page's own elements count too; "
                f"{elements_per_card(stats):.0f} elements per card (pager not counted)",
            )
        )
        rows.append(
            check(
                NAME,
                f"SQL statements per run, {high} shots − {low} shots",
                stats[high]["queries"] - stats[low]["queries"],
                0,
                fmt="{:.0f}",
                note=", ".join(f"{n} shots: {s['queries']}" for n, s in stats.items()),
            )
        )
    return rows

"""The results table: Markdown with the date and the machine it was measured on."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Row

RESULTS_FILE = Path(__file__).resolve().parent / "results.md"
MET = {True: "yes", False: "**no**", None: ""}


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> str:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        return f"{pages * size / 1024**3:.0f} GB RAM"
    except (ValueError, OSError):
        return "RAM unknown"


def machine() -> str:
    """One line naming the machine: CPU, cores, RAM, OS, Python, and how busy it was."""
    try:
        load = "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    except OSError:
        load = "load unknown"
    return (
        f"{_cpu()}, {os.cpu_count()} cores, {_memory_gb()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; {load}"
    )


# What bounds a result that misses its target, by benchmark and a word of the measure (docs/performance.md has more).
BOUNDS = {
    (
        "grid",
        "time",
    ): "Bound: the page's frame alone (navigation, sidebar, title, get_work_item) costs 2.3-3x an empty page, and 12 "
    "fragments of one element each add 0.7-1.5x (the 'frame only' and 'floor' rows). That leaves about 1-2x for the"
    " Actions panel, bulk bar, pager and every card's own image, decision and buttons, where each Streamlit element"
    " or widget call costs about 0.1 ms (11 a card, 7 compact): no grid of one fragment per card meets 5x on this "
    "page. The page around its cards alone costs about 5x (its row).",
    ("memory", "RSS"): "Bound: Streamlit keeps each closed session (at most 128) for server.disconnectedSessionTTL "
    "(30 s in .streamlit/config.toml); memory stops growing once sessions expire. A kept session of the 60-shot page "
    "holds ~190 KB, nearly all Streamlit's own: its widget registry (~108 widgets, ~94 KB) and fragment storage (12 "
    "card fragments' deep-copied cursors, ~53 KB); the cards' read models are shared between sessions.",
    ("generate", "wall"): "Bound: our own CPU per shot (image work, about 60 % of it: the master's decode, 2 bilinear "
    "crops, 2 PNG encodes, 3 WebP thumbnails; see shot_cpu) and the job system's work (22 SQL statements and 6 commits a shot on its path, see "
    "tests/test_shot_sql.py; storage writes; threads) on 2 cores: it runs beside the next backend calls, so a "
    "loaded machine's CPU bounds it, and on a quiet one the claim and plan before each call and the last shots' "
    "work remain.",
    ("scaleout", "wall"): "Bound: 16 shots a second on 2 cores leave 125 ms of CPU a shot for a worker's work "
    "(statements, exports), PostgreSQL's and this benchmark's own stand-in and poller.",
    ("listing", "indexed search SKU"): "Bound: every SKU shares trigrams (its 'SKU-' prefix), and FTS5 intersects "
    "those trigrams' lists, one entry per shot (PostgreSQL's SKUs go through GiST, which descends by signatures); a "
    "search at 100 work items takes ~2 ms on SQLite, so the ratio shows the database's own work.",
    ("listing", "search"): "Bound: the Work Items page's search counts at most 1,000 matches past the page "
    "('1,000+') and past that walks the list order, checking each work item and its shots' SKUs (~250 of them for "
    "a term in a tenth of the rows); PostgreSQL's GIN index still answers a common term with a bitmap of all its "
    "matches before the limit applies. A search at 100 work items takes ~2 ms (SQLite), so the ratio shows that "
    "work.",
    ("uploads", "time"): "Bound: validation decodes, normalises, encodes and makes a thumbnail; the bare baseline "
    "only decodes and saves.",
}


def _bound(row: Row) -> str:
    if row.met is not False:
        return ""
    return next((text for (bench, word), text in BOUNDS.items() if bench == row.benchmark and word in row.metric), "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(rows: list[Row]) -> str:
    lines = ["| Benchmark | Measure | Result | Target | Met | Notes |", "|---|---|---|---|---|---|"]
    for r in rows:
        note = " ".join(filter(None, (r.note, _bound(r))))
        lines.append(
            "| " + " | ".join(_cell(c) for c in (r.benchmark, r.metric, r.value, r.target, MET[r.met], note)) + " |"
        )
    return "\n".join(lines)


def write_results(rows: list[Row], seconds: dict[str, float]) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    took = ", ".join(f"{name} {s:.0f} s" for name, s in seconds.items())
    RESULTS_FILE.write_text(
        f"Measured {stamp} with `python -m bench` on: {machine()}.\n"
        f"Run time: {took} ({sum(seconds.values()):.0f} s in all). Ratios compare runs made side by side in the same "
        f"process; counts do not depend on the machine.\n\n{render(rows)}\n"
    )

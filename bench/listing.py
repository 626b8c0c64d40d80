"""(4) Listing at scale: 10,000 work items with 100,000 export-plan rows vs 100 work items, same shape.

Both catalogues are imported through the real importer (work items from JSON, export plans from CSV), every
export row gets a current image version (so the list's image/review counts have work to do), and the same
list/search/filter calls are timed against both databases in turn.
"""

from __future__ import annotations

import csv
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import Row, check, count_queries, interleaved, measure, temp_data_dir
from bench.fixtures import SIZES, attach_versions, plan_row

NAME = "listing"
SMALL, LARGE = 100, 10_000
ROWS_PER_ITEM = 10  # 100,000 rows for 10,000 work items
STATUSES = ("open", "in_review", "approved", "done")
WORDS = ("Patio", "Kitchen", "Linen", "Garden", "Nursery", "Office", "Bathroom", "Lighting", "Rug", "Outdoor")
TARGET_RATIO = 3.0


def catalogue(n: int) -> tuple[dict, list[dict]]:
    """`n` work items as import JSON (every tenth without a Lifestyle Pack) and exactly 10·n export-plan rows as
    CSV records, spread over the others' shots (Desktop/Tablet/Mobile each)."""
    items = [
        {"id": str(i), "title": f"{WORDS[i % len(WORDS)]} collection {i}", "status": STATUSES[i % len(STATUSES)]}
        for i in range(1, n + 1)
    ]
    with_pack = [i for i in range(1, n + 1) if i % 10]
    base, extra = divmod(n * ROWS_PER_ITEM, len(with_pack))
    rows: list[dict] = []
    for k, i in enumerate(with_pack):
        rows.extend(
            {"work_item_id": str(i), **plan_row(str(i), j // len(SIZES) + 1, SIZES[j % len(SIZES)])}
            for j in range(base + (k < extra))
        )
    return {"workItems": items}, rows


def build(directory: Path, n: int) -> dict[str, float]:
    """Import a catalogue of `n` work items into the current database; seconds and row counts."""
    from services.importer import import_data, import_export_plan_csv

    data, rows = catalogue(n)
    csv_path = directory / f"plan-{n}.csv"
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    start = time.perf_counter()
    import_data(data)
    items_seconds = time.perf_counter() - start
    start = time.perf_counter()
    summary = import_export_plan_csv(csv_path)
    csv_seconds = time.perf_counter() - start
    assert summary.created.export_plan_rows == len(rows), summary.created
    attach_versions()
    return {"items_seconds": items_seconds, "csv_seconds": csv_seconds, "rows": len(rows)}


QUERIES: dict[str, dict] = {
    "first page": {},
    "search title": {"search": "kitchen"},
    "search SKU": {"search": "SKU-7-2"},
    "status filter": {"status": "in_review"},
    "has pack = no": {"has_pack": False},
    "search + status + pack": {"search": "patio", "status": "approved", "has_pack": True},
}


def _found(page: Any) -> str:
    """A page's total as the Work Items page shows it ("1,000+" when counting stopped)."""
    return f"{page.total:,}{'+' if page.total_capped else ''}"


def _use(url: str) -> None:
    """Point the settings at the database at `url` (the engine is cached per URL)."""
    from services.config import get_settings

    os.environ["RESHOOT_DATABASE_URL"] = url
    get_settings.cache_clear()


def _using(url: str, fn: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        _use(url)
        return fn()

    return run


def run(quick: bool = False) -> list[Row]:
    from services.db import migrate
    from services.work_items import LIST_COUNT_LIMIT, list_work_items

    large_n = 1_000 if quick else LARGE
    rows: list[Row] = []
    with temp_data_dir(NAME) as path:
        large_url = os.environ["RESHOOT_DATABASE_URL"]
        small_url = f"sqlite:///{path / 'small.db'}"
        _using(small_url, lambda: (migrate(), build(path, SMALL)))()
        large = _using(large_url, lambda: build(path, large_n))()
        rows.append(
            measure(NAME, f"import {large_n:,} work items (JSON)", f"{large_n / large['items_seconds']:,.0f} items/s")
        )
        rows.append(
            measure(
                NAME,
                f"import {large['rows']:,}-row export plan (CSV)",
                f"{large['rows'] / large['csv_seconds']:,.0f} rows/s",
                f"{large['csv_seconds']:.1f} s",
            )
        )
        for label, kwargs in QUERIES.items():

            def query(kwargs=kwargs):
                return list_work_items(**kwargs, page=1, page_size=25, count_limit=LIST_COUNT_LIMIT)  # as the page

            times = interleaved({"small": _using(small_url, query), "large": _using(large_url, query)}, repeats=9)
            queries = {}
            for size, url in (("small", small_url), ("large", large_url)):
                _use(url)
                queries[size] = count_queries(query)
            found = _found(_using(large_url, query)())
            rows.append(
                check(
                    NAME,
                    f"{label}: time at {large_n:,} ÷ at {SMALL}",
                    times["large"] / times["small"],
                    TARGET_RATIO,
                    note=f"{times['large'] * 1000:.1f} ms vs {times['small'] * 1000:.1f} ms; {found} match; "
                    f"{queries['large']} queries (at {SMALL}: {queries['small']})",
                )
            )
        rows += search_rows(path, quick)
        _use(large_url)  # the data dir's own database, for the cleanup
    return rows


# --- Indexed search at 100, 10,000 and 100,000 work items -------------------------------------------------

SEARCH_SIZES = (100, 10_000, 100_000)
SEARCH_TARGET = 2.0
SHOTS_PER_ITEM = 3


def product_code(i: int) -> str:
    """Six letters that name one work item (as a product line would), e.g. in a reviewer's search."""
    letters, n = [], i * 2_654_435_761 % 26**6
    for _ in range(6):
        n, r = divmod(n, 26)
        letters.append(chr(65 + r))
    return "".join(letters)


def search_catalogue(n: int) -> None:
    """`n` work items of the same shape at every size (a pack of 3 shots with SKUs on 9 in 10), written in bulk
    through SQL (the search triggers index every row as they would for the importer's)."""
    from sqlalchemy import insert

    from services.db import session_scope
    from services.models import LifestylePack, Shot, WorkItem

    chunk = 5_000
    for start in range(1, n + 1, chunk):
        ids = range(start, min(n, start + chunk - 1) + 1)
        with session_scope() as session:
            session.exec(
                insert(WorkItem),
                params=[
                    {
                        "id": str(i),
                        "title": f"{WORDS[i % len(WORDS)]} collection {i} {product_code(i)}",
                        "status": STATUSES[i % len(STATUSES)],
                    }
                    for i in ids
                ],
            )
            session.exec(insert(LifestylePack), params=[{"id": i, "work_item_id": str(i)} for i in ids if i % 10])
            session.exec(
                insert(Shot),
                params=[
                    {"pack_id": i, "work_item_id": str(i), "shot_id": f"S-{k}", "sku": f"SKU-{i}-{k}", "position": k}
                    for i in ids
                    if i % 10
                    for k in range(1, SHOTS_PER_ITEM + 1)
                ],
            )


SEARCHES = {
    "title, one work item": product_code(42),
    "title, a tenth of them": "kitchen",
    "SKU, one work item": "SKU-77-2",
}


def search_rows(path: Path, quick: bool) -> list[Row]:
    """Title and SKU search at each size ÷ at 100 on SQLite, and on PostgreSQL when one answers on 127.0.0.1:5432."""
    sizes = (100, 1_000, 5_000) if quick else SEARCH_SIZES
    rows = _search_rows("SQLite", {n: f"sqlite:///{path / f'search-{n}.db'}" for n in sizes})
    with _postgres_databases(sizes) as urls:
        if urls:
            rows += _search_rows("PostgreSQL", urls)
        else:
            rows.append(measure(NAME, "indexed search on PostgreSQL", "skipped", "no PostgreSQL on 127.0.0.1:5432"))
    return rows


def _as_a_scan(runs: dict[int, Callable[[], object]]) -> dict[int, float]:
    """The same searches with every term taking the short-term path: on SQLite a row-by-row LIKE, as before the index
    (PostgreSQL's planner would still use pg_trgm for it, so it has no such baseline)."""
    import services.work_items as work_items

    saved, work_items.MIN_INDEXED_TERM = work_items.MIN_INDEXED_TERM, 10**6
    try:
        return interleaved(runs, repeats=5)
    finally:
        work_items.MIN_INDEXED_TERM = saved


@contextmanager
def _postgres_databases(sizes: tuple[int, ...]) -> Iterator[dict[int, str]]:
    """A throwaway database per size on the machine's PostgreSQL (none when it does not answer), dropped after."""
    try:
        import psycopg

        admin = psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3", autocommit=True
        )
    except Exception:
        yield {}
        return
    token = secrets.token_hex(3)
    names = {n: f"reshoot_bench_search_{n}_{token}" for n in sizes}
    try:
        for name in names.values():
            admin.execute(f'CREATE DATABASE "{name}"')
        yield {n: f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}" for n, name in names.items()}
    finally:
        from services.db import engine_for

        for name in names.values():
            engine_for(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}").dispose()
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _search_rows(database: str, urls: dict[int, str]) -> list[Row]:
    """The searches at each size ÷ at the smallest, through the trigram index, measured in turn in one run; and
    the same searches as a substring scan (the index switched off), for comparison."""
    import services.work_items as work_items
    from services.db import migrate
    from services.search_index import refresh_statistics

    sizes = list(urls)
    start = time.perf_counter()
    for n, url in urls.items():
        _using(url, lambda n=n: (migrate(), search_catalogue(n), refresh_statistics()))()  # as an import does
    rows = [
        measure(
            NAME,
            f"{database}: search catalogues of {', '.join(f'{n:,}' for n in sizes)} work items (bulk SQL)",
            f"{time.perf_counter() - start:.1f} s",
        )
    ]
    smallest = sizes[0]
    for label, term in SEARCHES.items():

        def query(term=term):  # as the Work Items page asks
            return work_items.list_work_items(
                search=term, page=1, page_size=25, count_limit=work_items.LIST_COUNT_LIMIT
            )

        indexed = interleaved({n: _using(url, query) for n, url in urls.items()}, repeats=9)
        scanned = _as_a_scan({n: _using(url, query) for n, url in urls.items()}) if database == "SQLite" else {}
        for n in sizes[1:]:
            found = _found(_using(urls[n], query)())
            scan = f"; as a scan: {scanned[n] / scanned[smallest]:.1f}× ({scanned[n] * 1000:.1f} ms)" if scanned else ""
            rows.append(
                check(
                    NAME,
                    f"{database}: indexed search {label}: time at {n:,} ÷ at {smallest}",
                    indexed[n] / indexed[smallest],
                    SEARCH_TARGET,
                    note=f"{indexed[n] * 1000:.1f} ms vs {indexed[smallest] * 1000:.1f} ms; {found} match{scan}",
                )
            )
    return rows

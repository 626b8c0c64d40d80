"""Work Items page: the demo items from the database, searched, filtered and paged in SQL."""

from __future__ import annotations

from services.importer import import_data
from tests.pages.conftest import open_page, texts
from ui.navigation import work_items_key


def test_lists_the_demo_work_items_with_counts(demo):
    at = open_page()
    assert at.title[0].value == "Work Items"
    table = at.dataframe[0].value
    assert list(table["ID"]) == ["7", "12", "15", "21"]
    row = table.set_index("ID").loc["12"]
    assert row["Title"] == "Kitchen Essentials — Cookware Refresh"
    assert row["Shots"] == 3 and bool(row["Pack"]) is True
    assert bool(table.set_index("ID").loc["15"]["Pack"]) is False
    assert "4 work items" in texts(at)


def test_review_counts_progress_and_links_to_the_queue(demo):
    from services.identity import Actor, Role, acting_as
    from services.versions import ReviewDecisionOptions, set_review
    from tests.test_review_queue import add_image

    made = [add_image("12", "KT-1", size, minute=n) for n, size in enumerate(("Desktop", "Tablet", "Mobile"))]
    made.append(add_image("12", "KT-2", "Desktop", minute=5))
    with acting_as(Actor("ana@example.com", "Ana", Role.reviewer)):
        set_review(version_id=made[0], options=ReviewDecisionOptions(state="approved"))
        set_review(version_id=made[1], options=ReviewDecisionOptions(state="rejected"))
    at = open_page()
    table = at.dataframe[0].value.set_index("ID")
    twelve = table.loc["12"]
    assert (twelve["Approved"], twelve["Rejected"], twelve["Pending"]) == (1, 1, 2)
    assert twelve["Reviewed"] == 0.5 and table.loc["7"]["Reviewed"] == 0
    [link] = [e for e in at.get("page_link") if "review_queue" in e.proto.page]
    assert link.proto.label == "Review pending (2)" and not link.proto.disabled


def test_search_status_and_pack_filters(demo):
    at = open_page()
    at.text_input(key=work_items_key("search")).input("cookware").run()
    assert list(at.dataframe[0].value["ID"]) == ["12"]

    at.text_input(key=work_items_key("search")).input("").run()
    at.selectbox(key=work_items_key("status")).select("open").run()
    assert list(at.dataframe[0].value["ID"]) == ["12", "15"]

    at.selectbox(key=work_items_key("status")).select("All").run()
    at.selectbox(key=work_items_key("pack")).select("Without Lifestyle Pack").run()
    assert list(at.dataframe[0].value["ID"]) == ["15"]

    at.text_input(key=work_items_key("search")).input("no such thing").run()
    assert "No work items match these filters." in texts(at)


def test_pages_through_many_work_items(demo):
    import_data(
        {"workItems": [{"id": f"bulk-{n:03d}", "title": f"Bulk item {n}", "status": "open"} for n in range(40)]}
    )
    at = open_page()
    first = at.dataframe[0].value
    assert len(first) == 25 and "44 work items" in texts(at)
    at.session_state[work_items_key("page")] = 2
    at.run()
    second = at.dataframe[0].value
    assert len(second) == 19
    assert not set(first["ID"]) & set(second["ID"])


def test_a_search_with_many_matches_counts_some_and_pages_on(demo, monkeypatch):
    """The page counts a search's matches up to a limit past the page it shows ("30+"); paging on counts further."""
    from services import work_items

    monkeypatch.setattr(work_items, "LIST_COUNT_LIMIT", 30)
    import_data(
        {"workItems": [{"id": f"bulk-{n:03d}", "title": f"Bulk item {n}", "status": "open"} for n in range(60)]}
    )
    at = open_page()
    at.text_input(key=work_items_key("search")).input("bulk").run()
    pages = lambda: at.get("pagination")[0].proto.num_pages  # noqa: E731
    assert len(at.dataframe[0].value) == 25 and "30+ work items · select a row to open it" in texts(at)
    assert pages() == 2  # one past the 30 counted
    at.session_state[work_items_key("page")] = 2
    at.run()
    assert at.dataframe[0].value["ID"].iloc[0] == "bulk-025" and "55+ work items" in texts(at) and pages() == 3
    at.session_state[work_items_key("page")] = 3
    at.run()
    assert len(at.dataframe[0].value) == 10 and "60 work items" in texts(at) and pages() == 3


def test_selecting_a_row_opens_its_detail(demo):
    at = open_page()
    at.session_state[work_items_key("table")] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.query_params.get("id") in ("12", ["12"])
    assert at.title[0].value == "Kitchen Essentials — Cookware Refresh"


def test_a_search_with_a_nul_character_says_why_instead_of_failing(demo):
    at = open_page()
    at.text_input(key=work_items_key("search")).input("cook\x00ware").run()
    assert not at.exception
    assert "NUL" in at.error[0].value and "search" in at.error[0].value


def test_a_fresh_demo_shows_its_rendering_progress_then_the_images(demo):
    from services.demo import demo_render_progress, load_demo
    from services.jobs import get_job, start_embedded_worker, stop_embedded_worker, wait_for_job

    at = open_page()
    assert demo_render_progress() is None and "Rendering demo images" not in texts(at)
    stop_embedded_worker()  # the demo's jobs stay queued while the page is looked at
    job_ids = load_demo().job_ids
    progress = demo_render_progress()
    assert (
        progress is not None
        and progress.done == 0
        and progress.total == sum(max(get_job(j).progress_total, 1) for j in job_ids)
    )
    at.run()
    [bar] = at.get("progress")
    assert bar.proto.text == f"Rendering demo images: 0 of {progress.total}. This page updates by itself."
    assert set(at.dataframe[0].value["Pending"]) == {0}

    start_embedded_worker()
    for job_id in job_ids:
        assert wait_for_job(job_id, timeout=120).status == "succeeded"
    assert demo_render_progress() is None
    at.run()
    assert not at.get("progress") and "Rendering demo images" not in texts(at)
    assert at.dataframe[0].value.set_index("ID").loc["7"]["Pending"] == 12  # new images wait for review


def test_a_fresh_server_shows_its_first_page_while_the_demo_loads(db, monkeypatch):
    """The demo set is imported in the background: the first page does not wait for it, and says so."""
    import threading

    from services import demo

    release = threading.Event()
    real = demo.ensure_demo_loaded
    monkeypatch.setattr(demo, "ensure_demo_loaded", lambda: release.wait(60) and real(generate_images=False))
    at = open_page()
    [bar] = at.get("progress")
    assert bar.proto.text == "Loading the demo set… This page updates by itself."
    assert "No work items match these filters." in texts(at)
    release.set()
    for _ in range(100):
        if demo.demo_render_progress() is None:
            break
        threading.Event().wait(0.1)
    at.run()
    assert not at.get("progress") and list(at.dataframe[0].value["ID"]) == ["7", "12", "15", "21"]

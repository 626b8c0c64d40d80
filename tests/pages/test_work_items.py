"""Work Items page: the demo items from the database, searched, filtered and paged in SQL."""

from __future__ import annotations

from services.importer import import_data
from tests.pages.conftest import open_page, texts


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


def test_search_status_and_pack_filters(demo):
    at = open_page()
    at.text_input(key="wi_search").input("cookware").run()
    assert list(at.dataframe[0].value["ID"]) == ["12"]

    at.text_input(key="wi_search").input("").run()
    at.selectbox(key="wi_status").select("open").run()
    assert list(at.dataframe[0].value["ID"]) == ["12", "15"]

    at.selectbox(key="wi_status").select("All").run()
    at.selectbox(key="wi_pack").select("Without Lifestyle Pack").run()
    assert list(at.dataframe[0].value["ID"]) == ["15"]

    at.text_input(key="wi_search").input("no such thing").run()
    assert "No work items match these filters." in texts(at)


def test_pages_through_many_work_items(demo):
    import_data({"workItems": [{"id": f"bulk-{n:03d}", "title": f"Bulk item {n}", "status": "open"} for n in range(40)]})
    at = open_page()
    first = at.dataframe[0].value
    assert len(first) == 25 and "44 work items" in texts(at)
    at.session_state["wi_page"] = 2
    at.run()
    second = at.dataframe[0].value
    assert len(second) == 19
    assert not set(first["ID"]) & set(second["ID"])


def test_selecting_a_row_opens_its_detail(demo):
    at = open_page()
    at.session_state["wi_table"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.query_params.get("id") in ("12", ["12"])
    assert at.title[0].value == "Kitchen Essentials — Cookware Refresh"


def test_a_search_with_a_nul_character_says_why_instead_of_failing(demo):
    at = open_page()
    at.text_input(key="wi_search").input("cook\x00ware").run()
    assert not at.exception
    assert "NUL" in at.error[0].value and "search" in at.error[0].value

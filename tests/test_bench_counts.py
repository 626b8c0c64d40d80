"""The benchmarks' machine-independent counts, measured the way `python -m bench` measures them (no timings)."""

from __future__ import annotations

import pytest

from bench import generate, grid, uploads
from bench.fixtures import attach_versions, rendered_sizes, work_item
from bench.photos import camera_jpegs

ELEMENTS_PER_CARD = 11  # 7 with the image, caption and references as one Markdown; + the Select box (bulk review),
# `Edit prompt` (a popover) and a row of Approve and Reject; - the bordered box (the fragment's own container is framed
# by CSS) and the rejected sizes' notes (in the card's Markdown)
ELEMENTS_PER_COMPACT_CARD = 7  # its actions are in a menu whose contents exist only while it is open


@pytest.fixture
def latency_backend(monkeypatch):
    """The benchmark's fixed-latency backend (no latency here) behind every `get_backend()` call."""
    from services import backends

    backend = generate.LatencyBackend(0.0)
    monkeypatch.setattr(backends, "get_backend", lambda name=None: backend)
    return backend


def test_generate_all_calls_the_backend_once_per_shot(db, latency_backend):
    work_item("wi", 5)
    job = generate.generate_all("wi")
    assert latency_backend.calls == 5
    assert len(job.result["generated"]) == 15 and not job.result["failed"]


def test_detail_page_runs_the_same_sql_at_6_and_240_shots(db):
    work_item("small", 6)
    work_item("large", 240)
    attach_versions()
    counts, cards, runs = {}, {}, {}
    for name in ("small", "large"):
        page = grid.detail_page(name)
        page.run()  # the first run of the page (session state, caches)
        run = runs[name] = grid.one_run(page)
        counts[name], cards[name] = run["queries"], (run["cards"], run["images"], run["pagers"])
    assert counts["small"] == counts["large"] > 0
    assert cards == {"small": (6, 6, 0), "large": (12, 12, 1)}  # the grid pages: 12 cards, one thumbnail each
    # A card: its grid cell (the fragment's container, framed as the card by CSS), the Select box, the size switch,
    # View larger (over the thumbnail), one Markdown (thumbnail, review badges, texts, the rejected sizes' notes), a
    # row of Approve and Reject (its note only while open), Upload reference (the uploader only while open), Edit
    # prompt (the editor only while open), Regenerate shot.
    assert grid.elements_per_card({6: runs["small"], 240: runs["large"]}) == ELEMENTS_PER_CARD
    assert (
        grid.elements_per_card(
            {6: {"cards": 6, "elements": 70, "pagers": 0}, 240: {"cards": 12, "elements": 119, "pagers": 1}}
        )
        == 8
    )


def test_a_compact_card_has_fewer_elements_and_the_same_sql(db):
    from services.preferences import set_grid_density

    work_item("small", 6)
    work_item("large", 240)
    attach_versions()
    set_grid_density(density="compact")  # the local user's, whom the page runs as
    runs = {}
    for name in ("small", "large"):
        page = grid.detail_page(name)
        page.run()
        runs[name] = grid.one_run(page)
    assert (runs["small"]["cards"], runs["large"]["cards"]) == (6, 12)
    assert runs["small"]["queries"] == runs["large"]["queries"] > 0
    # Its grid cell (the fragment's container, framed by CSS), Select box and View larger (both over the thumbnail),
    # one Markdown, and a row of the size switch and the ⋮ menu.
    assert grid.elements_per_card({6: runs["small"], 240: runs["large"]}) == ELEMENTS_PER_COMPACT_CARD


def test_the_page_around_its_cards_is_the_page_less_its_cards(db):
    """What `bench grid` times as the page around its cards: the same run and SQL statements, no card elements."""
    work_item("wi", 60)
    attach_versions()
    page = grid.detail_page("wi")
    page.run()  # the first run of the page (session state, caches)
    with_cards = grid.one_run(page)
    with grid.cards_drawn_as_nothing():
        around = grid.one_run(page)
    assert (with_cards["cards"], around["cards"]) == (12, 0)
    assert around["queries"] == with_cards["queries"] > 0
    assert around["pagers"] == with_cards["pagers"] == 1
    assert around["elements"] == with_cards["elements"] - 12 * ELEMENTS_PER_CARD


def test_the_pages_frame_is_the_page_without_its_panels_and_grid(db):
    """What `bench grid` times as the page's frame: its title, the work item's read and nothing the page shows below."""
    work_item("wi", 60)
    attach_versions()
    page = grid.detail_page("wi")
    page.run()
    whole = grid.one_run(page)
    with grid.frame_only():
        frame = grid.one_run(page)
        assert page.title[0].value == "60 shots"
        assert not page.button and not page.checkbox and not page.segmented_control  # no panel, bulk bar or card
    assert (frame["cards"], frame["pagers"]) == (0, 0)
    assert 0 < frame["queries"] < whole["queries"]


def test_grid_references_ten_times_fewer_image_bytes_than_the_naive_page(db):
    work_item("wi", 6)
    attach_versions(files=rendered_sizes())
    page, naive = grid.detail_page("wi"), grid.script_page(grid.NAIVE, id="wi")
    page.run()
    ours, theirs = grid.one_run(page), grid.one_run(naive)
    assert ours["images"] == ours["cards"] == theirs["sent_images"] == 6
    assert ours["sent"] == 0  # thumbnails by URL, no bytes through the script run
    assert theirs["sent"] >= 10 * ours["referenced"] > 0


def test_uploaded_photo_thumbnails_are_small(db):
    from services.lifestyle import ReferenceUpload, add_references

    uploads.add_shot("1", "S-1")
    files = camera_jpegs(2, width=2000, height=1500)
    result = add_references(
        work_item_id="1",
        options=ReferenceUpload(shot_id="S-1", files=[(f"photo-{i}.jpg", f) for i, f in enumerate(files)]),
    )
    originals, thumbs = uploads.stored_sizes(result)
    assert len(thumbs) == 2
    assert all(t <= uploads.TARGET_THUMB_BYTES for t in thumbs)
    assert all(o >= 20 * t for o, t in zip(originals, thumbs, strict=True))

"""The large view as a review station: previous / next shot across grid pages, sizes, Approve / Reject with a note,
100 % zoom, compare with the previous version, and what the version was made from. (AppTest reruns the whole page
on a click; the dialog reopens from `?shot=&size=`, as after a reload.)"""

from __future__ import annotations

import pytest

from services.identity import current_actor
from services.importer import import_data
from services.jobs import wait_for_job
from services.lifestyle import GenerateHeroesOptions, ReferenceUpload, add_references, start_heroes_job
from services.versions import review_history
from services.work_items import get_work_item
from tests.pages.conftest import open_page, texts
from tests.pages.test_work_item import png
from ui.hero_state import card_key
from ui.large_view import large_view_key, large_view_note_key

DETAIL = "pages/work_item.py"


def _made(work_item_id: str, **kwargs) -> dict[tuple[str, str], int]:
    started = start_heroes_job(work_item_id=work_item_id, options=GenerateHeroesOptions(**kwargs))
    assert wait_for_job(started.job_id, timeout=180).status == "succeeded"
    return {
        (shot.shot_id, row.size_label): row.version_id
        for shot in get_work_item(work_item_id).shots
        for row in shot.rows
        if row.version_id
    }


def _shown(at) -> tuple[str, str]:
    return at.query_params["shot"], at.query_params["size"]


@pytest.fixture
def fourteen(db):
    """A work item of 14 shots (two grid pages), its heroes made."""
    sizes = [("Desktop", 1920, 800), ("Tablet", 1536, 768), ("Mobile", 750, 1334)]
    shots = [{"shot_id": f"PT-{n}", "sku": f"PATIO-{n:02d}", "prompt": f"patio scene {n}"} for n in range(1, 15)]
    plan = [
        {
            "shot_id": s["shot_id"],
            "sku": s["sku"],
            "size_label": label,
            "width": w,
            "height": h,
            "filename": f"fcc/lifestyle/30/{s['shot_id']}/{label.lower()}.png",
        }
        for s in shots
        for label, w, h in sizes
    ]
    import_data(
        {
            "workItems": [
                {
                    "id": "30",
                    "title": "Patio",
                    "status": "open",
                    "lifestylePack": {"version": "v2", "shots": shots, "exportPlan": plan},
                }
            ]
        }
    )
    return _made("30", shot_ids=["PT-11", "PT-12", "PT-13"])


@pytest.mark.timeout(240)
def test_next_and_previous_go_through_shots_and_sizes_across_the_grid_page(fourteen):
    at = open_page(DETAIL, id="30", shot="PT-12", size="Tablet")
    assert not at.exception
    assert "**PT-12** · PATIO-12 · shot 12 of 14" in texts(at)
    at.button(key=large_view_key("next", "30")).click().run()  # → PT-13 is on the grid's second page
    assert not at.exception
    assert _shown(at) == ("PT-13", "Tablet") and "**PT-13** · PATIO-13 · shot 13 of 14" in texts(at)
    assert "PT-13 · PATIO-13 · Tablet 1536×768" in texts(at)
    at.button(key=large_view_key("size_down", "30")).click().run()  # ↓ the next size
    assert _shown(at) == ("PT-13", "Mobile") and "PT-13 · PATIO-13 · Mobile 750×1334" in texts(at)
    assert at.button(key=large_view_key("size_down", "30")).disabled  # the last size
    at.button(key=large_view_key("size_up", "30")).click().run()
    assert _shown(at) == ("PT-13", "Tablet")
    at.button(key=large_view_key("previous", "30")).click().run()
    at.button(key=large_view_key("previous", "30")).click().run()
    assert _shown(at) == ("PT-11", "Tablet") and "**PT-11** · PATIO-11 · shot 11 of 14" in texts(at)
    for _ in range(3):
        at.button(key=large_view_key("next", "30")).click().run()
    assert _shown(at) == ("PT-14", "Tablet") and at.button(key=large_view_key("next", "30")).disabled  # the last shot
    assert "PT-14 · PATIO-14 · Tablet 1536×768" in texts(at) and "No image yet" in texts(at)
    assert at.button(key=large_view_key("approve", "30")).disabled


@pytest.mark.timeout(240)
def test_a_key_pressed_before_the_last_press_was_drawn_acts_where_that_press_went(fourteen):
    """A second ← (or A) can reach the server while the first press's run is still drawing: its callback runs with
    what was drawn before. The state the first press left is set here without a run, as such a press leaves it."""
    at = open_page(DETAIL, id="30", shot="PT-12", size="Tablet")
    at.session_state[large_view_key("shot", "30")] = "PT-11"  # ← pressed, not yet drawn
    at.session_state[card_key("dialog_size", "30", "PT-11")] = "Mobile"  # then ↓
    at.button(key=large_view_key("previous", "30")).click().run()  # drawn at PT-12: its args would say PT-11
    assert _shown(at) == ("PT-10", "Mobile") and "**PT-10** · PATIO-10 · shot 10 of 14" in texts(at)
    at.button(key=large_view_key("next", "30")).click().run()
    at.button(key=large_view_key("next", "30")).click().run()
    assert _shown(at) == ("PT-12", "Mobile")
    at.session_state[card_key("dialog_size", "30", "PT-12")] = "Tablet"  # ↑ pressed, not yet drawn
    at.button(key=large_view_key("approve", "30")).click().run()  # drawn at Mobile
    decided = review_history([fourteen[("PT-12", size)] for size in ("Tablet", "Mobile")])
    assert [d.decision for d in decided[fourteen[("PT-12", "Tablet")]]] == ["approved"]
    assert not decided[fourteen[("PT-12", "Mobile")]]
    assert _shown(at) == ("PT-12", "Tablet") and "✓ Approved by " in texts(at)


@pytest.mark.timeout(240)
def test_approve_and_reject_in_the_large_view_with_a_note(fourteen):
    at = open_page(DETAIL, id="30", shot="PT-12", size="Desktop")
    me = current_actor().label
    at.text_input(key=large_view_note_key("30", "PT-12", "Desktop")).input("Good light")
    at.button(key=large_view_key("approve", "30")).click().run()
    assert not at.exception
    assert f"✓ Approved by {me} · " in texts(at)
    assert (
        at.button(key=large_view_key("approve", "30")).disabled
        and not at.button(key=large_view_key("reject", "30")).disabled
    )
    at.text_input(key=large_view_note_key("30", "PT-12", "Desktop")).input("Logo cut off")
    at.button(key=large_view_key("reject", "30")).click().run()
    version = fourteen[("PT-12", "Desktop")]
    history = review_history([version])[version]
    assert [(d.decision, d.note, d.reviewer) for d in history] == [
        ("rejected", "Logo cut off", me),
        ("approved", "Good light", me),
    ]
    assert at.text_input(key=large_view_note_key("30", "PT-12", "Desktop")).value == ""  # emptied after each decision
    assert _card_badges(at, "PT-12")[0] == f"Desktop: Rejected by {me} · {history[0].at:%Y-%m-%d %H:%M} UTC"


@pytest.mark.timeout(240)
def test_a_note_goes_only_with_its_own_hero_and_waits_there_unsent(fourteen):
    """A note typed on PT-12's Tablet, then ↓ (Mobile) and → with Reject: neither gets it; back on PT-12's Tablet the
    note is still in its box and goes with that decision."""
    at = open_page(DETAIL, id="30", shot="PT-12", size="Tablet")
    at.text_input(key=large_view_note_key("30", "PT-12", "Tablet")).input("Horizon tilted")
    at.button(key=large_view_key("size_down", "30")).click().run()
    assert at.text_input(key=large_view_note_key("30", "PT-12", "Mobile")).value == ""
    at.button(key=large_view_key("size_up", "30")).click().run()
    at.button(key=large_view_key("next", "30")).click().run()
    assert _shown(at) == ("PT-13", "Tablet")
    assert at.text_input(key=large_view_note_key("30", "PT-13", "Tablet")).value == ""
    at.button(key=large_view_key("reject", "30")).click().run()
    at.button(key=large_view_key("next", "30")).click().run()  # one run more without PT-12's box
    at.button(key=large_view_key("previous", "30")).click().run()
    at.button(key=large_view_key("previous", "30")).click().run()
    assert _shown(at) == ("PT-12", "Tablet")
    assert at.text_input(key=large_view_note_key("30", "PT-12", "Tablet")).value == "Horizon tilted"
    at.button(key=large_view_key("reject", "30")).click().run()
    decided = review_history([fourteen[("PT-13", "Tablet")], fourteen[("PT-12", "Tablet")]])
    assert [(d.decision, d.note) for d in decided[fourteen[("PT-13", "Tablet")]]] == [("rejected", None)]
    assert [(d.decision, d.note) for d in decided[fourteen[("PT-12", "Tablet")]]] == [("rejected", "Horizon tilted")]
    assert at.text_input(key=large_view_note_key("30", "PT-12", "Tablet")).value == ""


def _card_badges(at, shot_id: str) -> list[str]:
    import re

    [card] = [m.value for m in at.markdown if f"{shot_id} · " in m.value and "position:relative" in m.value]
    return re.findall(r'<span title="([^"]+)" aria-label', card)


@pytest.mark.timeout(240)
def test_the_large_view_shows_what_the_version_was_made_from_zooms_and_compares(demo):
    add_references(
        work_item_id="12",
        options=ReferenceUpload(shot_id="KT-1", files=[("a.png", png("red")), ("b.png", png("blue"))]),
    )
    _made("12", shot_ids=["KT-1"])
    _made("12", shot_ids=["KT-1"], overwrite=True)  # v2, with the two references
    at = open_page(DETAIL, id="12", shot="KT-1", size="Desktop")
    shown = texts(at)
    assert "KT-1 · KIT-CASTIRON-28 · Desktop 1920×800 · seed " in shown
    assert "v2 · local (offline-renderer-1) · made " in shown
    assert "A 28 cm enamelled cast-iron casserole" in shown  # the prompt
    assert "2 reference images used" in shown
    [refs] = [m.value for m in at.markdown if "reference images used" in m.value]
    assert refs.count("<img ") == 2

    at.button(key=large_view_key("zoom_button", "12")).click().run()
    [zoomed] = [m.value for m in at.markdown if "at 100 %" in m.value]
    assert 'width="1920" height="800"' in zoomed and "overflow:auto" in zoomed
    assert at.button(key=large_view_key("zoom_button", "12")).label == "Fit to window"

    at.button(key=large_view_key("compare_button", "12")).click().run()
    assert not at.exception
    assert at.segmented_control(key=large_view_key("compare_mode", str(_desktop_row_id()))).value == "Side by side"
    assert {c.value for c in at.caption} >= {"v1", "v2"}
    assert at.button(key=large_view_key("compare_button", "12")).label == "Stop comparing"


def _desktop_row_id() -> int:
    [shot] = [s for s in get_work_item("12").shots if s.shot_id == "KT-1"]
    return shot.rows[0].id

"""Work Item detail: the Actions panel (spec 001) and the Lifestyle Hero Preview grid (spec 000)."""

from __future__ import annotations

import io
import json
import re
import tempfile
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import event
from sqlmodel import delete, select

from services import messages
from services.config import get_settings
from services.db import get_engine, session_scope
from services.identity import current_actor
from services.importer import import_data, import_file
from services.jobs import stop_embedded_worker, wait_for_job
from services.lifestyle import GenerateHeroesOptions, list_references, start_heroes_job
from services.models import ExportPlanRow, Shot
from services.storage import get_storage
from tests.pages.conftest import open_page, texts
from ui import job_progress, no_pack
from ui.actions_panel import panel_key
from ui.hero_state import card_key, renewable_key
from ui.large_view import large_view_key
from ui.toasts import ZERO_WIDTH_SPACE

DETAIL = "pages/work_item.py"


def png(color: str = "red", size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def card_images(at) -> list[str]:
    """The `src` of every <img> in the cards' Markdown (thumbnails and reference thumbnails)."""
    return [src for m in at.markdown for src in re.findall(r'<img src="([^"]+)"', m.value)]


def toasts(at) -> list[str]:
    return [t.value for t in at.toast]


def upload_popover(at, shot_id: str = "KT-1", work_item_id: str = "12") -> str:
    """The key of the card's `Upload reference` popover as drawn now."""
    return renewable_key("upload_open", work_item_id, shot_id, at.session_state)


def upload(at, files, shot_id: str = "KT-1", work_item_id: str = "12"):
    """Open the card's `Upload reference` popover (its uploader exists only while open), then pick `files`."""
    at.session_state[upload_popover(at, shot_id, work_item_id)] = True
    at.run()
    [uploader] = at.file_uploader
    return uploader.set_value(files).run()


def regenerate(at, shot_id: str, work_item_id: str = "12") -> None:
    """Click the card's `Regenerate shot`: a short job ends inside the click (its wait), a longer one shows the
    card busy while it runs and is waited for here."""
    at.button(key=card_key("regenerate", work_item_id, shot_id)).click().run()
    job_key = card_key("job", work_item_id, shot_id)
    if job_key in at.session_state:
        busy = at.button(key=card_key("regenerate", work_item_id, shot_id))
        assert busy.label == messages.REGENERATE_SHOT_LOADING and busy.disabled
        assert wait_for_job(at.session_state[job_key], timeout=60).status == "succeeded"
        at.run()
    assert job_key not in at.session_state


def test_a_long_regeneration_shows_the_card_busy_until_it_ends(demo, monkeypatch):
    monkeypatch.setattr(job_progress, "QUICK_WAIT_SECONDS", 0.0)  # as for a backend slower than the click's wait
    at = open_page(DETAIL, id="12")
    stop_embedded_worker()  # the job stays queued while the card is looked at
    at.button(key=card_key("regenerate", "12", "KT-1")).click().run()
    assert _busy(at) == {"KT-1": True, "KT-2": False, "KT-3": False}
    assert wait_for_job(at.session_state[card_key("job", "12", "KT-1")], timeout=60).status == "succeeded"
    at.run()
    assert _busy(at) == {"KT-1": False, "KT-2": False, "KT-3": False}
    assert toasts(at) == [f"**{messages.HEROES_REGENERATED_TITLE}**  \n{messages.heroes_regenerated_body('KT-1')}"]
    assert any("/assets/fcc/lifestyle/12/KT-1/" in u for u in card_images(at))


def test_a_short_regeneration_shows_the_new_image_in_the_clicks_card_rerun(demo, monkeypatch):
    monkeypatch.setattr(job_progress, "QUICK_WAIT_SECONDS", 120.0)  # "short" on any machine: ends within the wait
    at = open_page(DETAIL, id="12")
    at.button(key=card_key("regenerate", "12", "KT-1")).click().run()
    assert card_key("job", "12", "KT-1") not in at.session_state and _busy(at)["KT-1"] is False
    assert toasts(at) == [f"**{messages.HEROES_REGENERATED_TITLE}**  \n{messages.heroes_regenerated_body('KT-1')}"]
    assert any("/assets/fcc/lifestyle/12/KT-1/" in u for u in card_images(at))


def test_actions_panel_and_cards_show_the_seed_copy(demo):
    at = open_page(DETAIL, id="12")
    assert at.title[0].value == "Kitchen Essentials — Cookware Refresh"
    generate = at.button(key=panel_key("generate", "12"))
    assert generate.label == messages.GENERATE_BUTTON and generate.help == messages.GENERATE_TOOLTIP
    assert not generate.disabled
    shown = texts(at)
    for line in ("KT-1 · KIT-CASTIRON-28", "KT-3 · KIT-KETTLE-MATTE", "1920×800", "Desktop", messages.GENERATE_SUBCOPY):
        assert line in shown
    assert "fcc/lifestyle/12/KT-1/desktop.png" in shown  # no image yet: the placeholder names the file
    assert not at.image and not card_images(at)
    regenerate = at.button(key=card_key("regenerate", "12", "KT-1"))
    assert regenerate.label == messages.REGENERATE_SHOT and regenerate.help == messages.REGENERATE_SHOT_TOOLTIP
    assert at.checkbox(key=panel_key("dry_run", "12")).label == "Dry run"  # in the Advanced popover


def test_work_item_without_pack_has_the_disabled_button_and_tooltip(demo):
    at = open_page(DETAIL, id="15")
    generate = at.button(key=panel_key("generate", "15"))
    assert generate.disabled
    assert generate.help == messages.GENERATE_TOOLTIP_NO_PACK == "Run Lifestyle Pack v2 first."
    assert messages.PACK_NOT_FOUND_BODY in texts(at)
    shown = texts(at)
    assert "No Lifestyle Pack yet." in shown and "Work item 15 · open · no Lifestyle Pack" in shown
    assert "no shots in its export plan" not in shown and "Open SKU Switcher" not in shown  # no grid, no Validate link
    assert "Import a Lifestyle Pack on Settings" in [link.proto.label for link in at.get("page_link")]
    codes = [c.value for c in at.code]
    assert codes == [
        no_pack.csv_example("15").strip(),
        no_pack.json_example("15", "Bedroom Textiles — Autumn Linen", "open"),
    ]


def test_the_no_pack_examples_import_as_shown(demo):
    """The format shown to a user with no pack is a format the importer takes: after it, the grid is there."""
    with tempfile.TemporaryDirectory() as folder:
        plan = Path(folder) / "plan.csv"
        plan.write_text(no_pack.csv_example("15"))
        import_file(plan, work_item_id="15")
    at = open_page(DETAIL, id="15")
    shown = texts(at)
    assert (
        "No Lifestyle Pack yet." not in shown and "S-1 · SKU-123" in shown and "Work item 15 · open · 1 shot" in shown
    )
    import_data(
        json.loads(no_pack.json_example("15", "Bedroom Textiles — Autumn Linen", "open"))
    )  # the JSON example imports too (the same pack)


def test_unknown_work_item_says_so(demo):
    at = open_page(DETAIL, id="nope")
    assert "Work item nope was not found." in texts(at)


def test_generate_shows_progress_then_the_seed_toast(demo, backend_gate):
    at = open_page(DETAIL, id="12")
    at.button(key=panel_key("generate", "12")).click().run()
    running = at.button(key=panel_key("generate", "12"))  # the job waits at the gate: still running whatever the load
    assert running.label == messages.GENERATE_BUTTON_LOADING and running.disabled
    assert at.get("progress") and not toasts(at)
    backend_gate.set()
    job = wait_for_job(at.session_state[panel_key("job", "12")], timeout=60)
    assert job.status == "succeeded"
    at.run()
    assert toasts(at) == [
        f"**{messages.HEROES_GENERATED_TITLE}**  \n"
        "Created 9 images across 3 shots (KT-1, KT-2, KT-3). Validate them in SKU Switcher."
    ]
    assert at.button(key=panel_key("generate", "12")).label == messages.GENERATE_BUTTON
    thumbs = card_images(at)
    assert len(thumbs) == 3 and all(u.startswith("http://") and "/assets/fcc/lifestyle/12/" in u for u in thumbs)

    at.button(key=panel_key("generate", "12")).click().run()  # again: every target exists
    # Skipping everything ends the job as it is recorded: the click's own run shows the toast if the job ended
    # before the panel looked; otherwise the panel holds the job's id and its end shows the toast.
    shown = toasts(at)
    if panel_key("job", "12") in at.session_state:
        assert not shown
        wait_for_job(at.session_state[panel_key("job", "12")], timeout=60)
        at.run()
        shown = toasts(at)
    assert panel_key("job", "12") not in at.session_state
    assert shown and shown[-1].endswith("No new images created. All targets already exist.")


def test_dry_run_answers_at_once(demo):
    at = open_page(DETAIL, id="12")
    at.checkbox(key=panel_key("dry_run", "12")).check().run()
    at.multiselect(key=panel_key("shots", "12")).select("KT-2").run()
    at.button(key=panel_key("generate", "12")).click().run()
    assert panel_key("job", "12") not in at.session_state
    assert toasts(at) == [
        f"**{messages.HEROES_GENERATED_TITLE}**  \nDry run complete. 3 images would be created across 1 shot (KT-2)."
    ]


def test_advanced_options_are_summarised_beside_the_button_and_reset(demo):
    at = open_page(DETAIL, id="7")
    assert "Options:" not in texts(at) and not [b for b in at.button if b.key == panel_key("reset", "7")]
    at.checkbox(key=panel_key("overwrite", "7")).check().run()
    at.multiselect(key=panel_key("shots", "7")).select("OL-1").select("OL-3").run()
    assert ":material/tune: Options: **Overwrite · 2 of 4 shots**" in [c.value for c in at.caption]
    at.checkbox(key=panel_key("dry_run", "7")).check().run()
    assert ":material/tune: Options: **Dry run · Overwrite · 2 of 4 shots**" in [c.value for c in at.caption]
    at.button(key=panel_key("reset", "7")).click().run()
    assert "Options:" not in texts(at)
    assert (
        at.checkbox(key=panel_key("dry_run", "7")).value,
        at.checkbox(key=panel_key("overwrite", "7")).value,
        at.multiselect(key=panel_key("shots", "7")).value,
    ) == (False, False, [])


def test_size_switch_and_large_view(demo):
    at = open_page(DETAIL, id="12")
    regenerate(at, "KT-2")
    at.segmented_control(key=card_key("size", "12", "KT-2")).set_value("Mobile").run()
    shown = texts(at)
    assert "750×1000" in shown and "fcc/lifestyle/12/KT-2/mobile.png" in shown
    at.button(key=card_key("view", "12", "KT-2")).click().run()
    assert not at.exception
    shown = texts(at)
    assert "KT-2 · KIT-KNIFE-SET-5 · Mobile 750×1000" in shown  # opens at the size the card shows
    full = [u for image in at.image for u in image.value if "/mobile.v" in u and "thumb" not in u]
    assert full and full[0].startswith("http://") and "/assets/fcc/lifestyle/12/KT-2/" in full[0]


def test_upload_reference_stores_and_shows_them(demo):
    at = open_page(DETAIL, id="12")
    assert not at.file_uploader  # created only once the popover is opened
    opened = upload_popover(at)
    upload(at, [("a.png", png("red"), "image/png"), ("b.jpg", png("blue"), "image/jpeg")])
    assert not at.exception
    assert toasts(at) == [f"**{messages.REFERENCES_SAVED_TITLE}**  \nSaved 2 reference images for KT-1."]
    assert upload_popover(at) != opened and not at.session_state[upload_popover(at)]  # closed: a new popover
    assert not at.file_uploader
    # With the next click in the card the browser still says `open` for the popover it showed: it stays closed (it
    # used to open again, with its file picker, and the click after that only closed it).
    at.session_state[opened] = True
    at.run()
    assert not at.exception and not at.file_uploader
    stored = list_references("12", "KT-1")
    assert len(stored) == 2 and list_references("12", "KT-2") == []
    label = at.button(key=card_key("references", "12", "KT-1")).label  # the thumbnails are the button that opens them
    shown = re.findall(r"!\[ref\]\(([^)]+)\)", label)
    assert len(shown) == 2 and all("/assets/fcc/lifestyle_refs/12/KT-1/" in u for u in shown)
    assert not at.image  # no st.image per picture

    upload(at, [(f"{c}.png", png(c), "image/png") for c in ("green", "yellow", "white")])
    label = at.button(key=card_key("references", "12", "KT-1")).label
    assert label.endswith(" +2 more") and len(re.findall(r"!\[ref\]\(", label)) == 3


def test_upload_button_reads_uploading_while_it_saves(demo, monkeypatch):
    """Spec 000: `Uploading…` (disabled) while the files are saved: the label is drawn before the save starts."""
    import ui.hero_card

    def stop(*_args):  # end the run mid-save, to look at what the card shows meanwhile
        raise RuntimeError("stopped mid-save")

    monkeypatch.setattr(ui.hero_card, "save_references", stop)
    at = open_page(DETAIL, id="12")
    upload(at, [("a.png", png("red"), "image/png")])
    [popover] = [p for p in at.get("popover") if p.proto.popover.label == messages.UPLOAD_REFERENCE_LOADING]
    assert popover.proto.popover.disabled


def test_references_dialog_shows_every_reference_and_deletes_after_confirming(demo):
    at = open_page(DETAIL, id="12")
    upload(at, [(f"{c}.png", png(c), "image/png") for c in ("red", "green", "blue", "white")])
    at.button(key=card_key("references", "12", "KT-1")).click().run()
    assert not at.exception
    refs = list_references("12", "KT-1")
    assert len([u for image in at.image for u in image.value if "lifestyle_refs/12/KT-1/" in u]) == 4  # all, large
    assert f"uploaded by {current_actor().email} · " in texts(at) and "red.png" in texts(at)
    first = refs[0].id
    at.button(key=card_key(f"ref_delete_{first}", "12", "KT-1")).click().run()
    # A browser reruns only the dialog; AppTest reruns the page, which closes it: open it again to go on.
    at.button(key=card_key("references", "12", "KT-1")).click().run()
    assert "Delete red.png?" in texts(at) and len(list_references("12", "KT-1")) == 4  # asks first
    at.button(key=card_key(f"ref_yes_{first}", "12", "KT-1")).click().run()
    assert [r.id for r in list_references("12", "KT-1")] == [r.id for r in refs[1:]]
    assert toasts(at)[-1] == "**Reference deleted**  \nred.png is no longer a reference of KT-1."
    assert at.button(key=card_key("references", "12", "KT-1")).label.count("![ref](") == 3  # 3 left, no "+N more"
    assert "more" not in at.button(key=card_key("references", "12", "KT-1")).label


def test_bad_upload_shows_the_error_toast_and_stores_nothing(demo):
    at = open_page(DETAIL, id="12")
    upload(at, [("good.png", png(), "image/png"), ("broken.png", b"not an image", "image/png")])
    assert not at.exception
    [toast] = toasts(at)
    assert toast.startswith(f"**{messages.REFERENCES_FAILED_TITLE}**  \nbroken.png: ")
    assert list_references("12", "KT-1") == []
    assert get_storage().list("fcc/lifestyle_refs") == []


def test_regenerate_shot_then_compare_v1_v2(demo):
    at = open_page(DETAIL, id="12")
    regenerate(at, "KT-1")
    first = toasts(at)[-1]
    assert first == f"**{messages.HEROES_REGENERATED_TITLE}**  \n{messages.heroes_regenerated_body('KT-1')}"
    assert card_key("compare", "12", "KT-1") not in [b.key for b in at.button]  # only one version so far
    upload(at, ("ref.png", png("purple"), "image/png"))
    regenerate(at, "KT-1")
    # Seconds later, the same words again: they must differ from the toast still on screen, or the browser drops
    # this one (it keeps a toast whose place and text equal a visible one's); a zero-width space is the difference.
    second = toasts(at)[-1]
    assert second != first and second == first + ZERO_WIDTH_SPACE
    assert at.button(key=card_key("regenerate", "12", "KT-1")).label == messages.REGENERATE_SHOT
    compare = at.button(key=card_key("compare", "12", "KT-1"))
    assert compare.label == "Compare v1 / v2"
    compare.click().run()
    assert not at.exception
    assert {"v1", "v2"} <= set(c.value for c in at.caption)
    pair = [u for image in at.image for u in image.value if "/KT-1/desktop.v" in u and "thumb" not in u]
    assert len(pair) == 2 and pair[0] != pair[1]


def _busy(at, work_item_id: str = "12") -> dict[str, bool]:
    """Each card's shot id -> whether its `Regenerate shot` reads `Regenerating…` and is disabled."""
    buttons = [b for b in at.button if (b.key or "").startswith(f"detail_regenerate_{work_item_id}_")]
    for b in buttons:
        assert b.disabled == (b.label == messages.REGENERATE_SHOT_LOADING), (b.key, b.label, b.disabled)
    return {b.key.rsplit("_", 1)[1]: b.disabled for b in buttons}


def test_cards_show_jobs_started_elsewhere(demo):
    at = open_page(DETAIL, id="12")
    stop_embedded_worker()  # so the jobs below stay queued while the page is looked at
    kt2 = start_heroes_job(
        work_item_id="12", options=GenerateHeroesOptions(shot_ids=["KT-2"], overwrite=True)
    ).job_id  # e.g. another reviewer's
    at.run()
    assert not at.exception
    assert _busy(at) == {"KT-1": False, "KT-2": True, "KT-3": False}
    assert card_key("job", "12", "KT-2") not in at.session_state  # not this session's job
    every_shot = start_heroes_job(work_item_id="12").job_id  # e.g. from the API, for all shots
    at.run()
    assert _busy(at) == {"KT-1": True, "KT-2": True, "KT-3": True}
    assert at.button(key=panel_key("generate", "12")).disabled  # the panel polls the all-shots job
    for job_id in (kt2, every_shot):
        assert wait_for_job(job_id, timeout=60).status == "succeeded"
    at.run()
    assert not at.exception
    assert _busy(at) == {"KT-1": False, "KT-2": False, "KT-3": False}
    assert at.button(key=card_key("regenerate", "12", "KT-2")).label == messages.REGENERATE_SHOT
    thumbs = card_images(at)
    assert len(thumbs) == 3 and any("/assets/fcc/lifestyle/12/KT-2/" in u for u in thumbs)


def _work_item_with_shots(work_item_id: str, count: int) -> None:
    sizes = (("Desktop", 1920, 800), ("Tablet", 1536, 768), ("Mobile", 750, 1000))
    shots = [{"shot_id": f"S-{n}", "sku": f"SKU-{n}", "prompt": f"Scene {n}"} for n in range(count)]
    plan = [
        {
            "shot_id": f"S-{n}",
            "sku": f"SKU-{n}",
            "size_label": label,
            "width": w,
            "height": h,
            "filename": f"fcc/lifestyle/{work_item_id}/S-{n}/{label.lower()}.png",
        }
        for n in range(count)
        for label, w, h in sizes
    ]
    import_data(
        {
            "workItems": [
                {
                    "id": work_item_id,
                    "title": f"{count} shots",
                    "status": "open",
                    "lifestylePack": {"version": "v2", "shots": shots, "exportPlan": plan},
                }
            ]
        }
    )


def _remove_shots(work_item_id: str, shot_ids: list[str]) -> None:
    with session_scope() as session:
        shots = select(Shot.id).where(Shot.work_item_id == work_item_id, Shot.shot_id.in_(shot_ids))
        session.exec(delete(ExportPlanRow).where(ExportPlanRow.shot_pk.in_(shots)))
        session.exec(delete(Shot).where(Shot.id.in_(shots)))


def _queries_for_one_run(at) -> int:
    count = 0

    def listener(*_args):
        nonlocal count
        count += 1

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", listener)
    try:
        at.run()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert not at.exception
    return count


@pytest.mark.timeout(120)
def test_detail_page_queries_do_not_grow_with_shots(db):
    _work_item_with_shots("six", 6)
    _work_item_with_shots("sixty", 60)
    small, large = open_page(DETAIL, id="six"), open_page(DETAIL, id="sixty")
    stop_embedded_worker()  # its heartbeat thread would add queries of its own
    assert len(large.button(key=card_key("regenerate", "sixty", "S-11")).label) > 0
    assert _queries_for_one_run(small) == _queries_for_one_run(large)


def _cards(at) -> list[str]:
    return [b.key.rsplit("_", 1)[1] for b in at.button if (b.key or "").startswith("detail_regenerate_")]


def test_the_grid_shows_twelve_cards_a_page(db):
    _work_item_with_shots("many", 30)
    at = open_page(DETAIL, id="many")
    assert _cards(at) == [f"S-{n}" for n in range(12)]
    [pager] = at.pagination
    assert pager.num_pages == 3 and pager.value == 1
    assert at.multiselect(key=panel_key("shots", "many")).options == [f"S-{n}" for n in range(30)]  # every shot
    assert "Work item many · open · 30 shots" in texts(at)
    pager.set_value(3).run()
    assert not at.exception
    assert _cards(at) == [f"S-{n}" for n in range(24, 30)]
    assert "S-24 · SKU-24" in texts(at)
    at.segmented_control(key=card_key("size", "many", "S-29")).set_value("Mobile").run()  # a card on page 3 still works
    assert "Mobile · 750×1000" in texts(at) and _cards(at)[-1] == "S-29"


def test_a_page_past_the_end_shows_the_last_page(db):
    _work_item_with_shots("many", 30)
    at = open_page(DETAIL, id="many")
    at.pagination[0].set_value(3).run()
    _remove_shots("many", [f"S-{n}" for n in range(14, 30)])  # the pack lost shots since the page was picked
    at.run()
    assert not at.exception
    assert _cards(at) == ["S-12", "S-13"] and at.pagination[0].value == 2


def test_a_few_shots_need_no_pager(demo):
    at = open_page(DETAIL, id="12")
    assert _cards(at) == ["KT-1", "KT-2", "KT-3"] and not at.pagination


def test_the_large_view_says_whether_the_seed_was_used(demo, fake_openai, monkeypatch):
    at = open_page(DETAIL, id="12")
    regenerate(at, "KT-2")  # the offline renderer: its seed counts
    at.button(key=card_key("view", "12", "KT-2")).click().run()
    [seed] = [p for line in texts(at).splitlines() for p in line.split(" · ") if p.startswith("seed ")]
    assert seed.removeprefix("seed ").isdigit()
    monkeypatch.setenv("RESHOOT_IMAGE_BACKEND", "openai")
    get_settings.cache_clear()
    at = open_page(DETAIL, id="12")
    regenerate(at, "KT-2")
    at.button(key=card_key("view", "12", "KT-2")).click().run()
    assert "KT-2 · KIT-KNIFE-SET-5 · Desktop 1920×800 · seed not used by this backend" in texts(at)


def test_a_link_opens_a_shots_large_view_at_its_size(demo):
    at = open_page(DETAIL, id="12", shot="KT-2", size="Mobile")
    switch_key = lambda: renewable_key("dialog_size_switch", "12", "KT-2", at.session_state)  # noqa: E731
    assert not at.exception
    assert "KT-2 · KIT-KNIFE-SET-5 · Mobile 750×1000" in texts(at)  # the dialog's caption
    assert at.segmented_control(key=switch_key()).value == "Mobile"
    assert (at.query_params["shot"], at.query_params["size"]) == ("KT-2", "Mobile")
    at.segmented_control(key=switch_key()).set_value("Tablet").run()
    assert at.query_params["size"] == "Tablet"  # the address bar follows the open view
    assert "KT-2 · KIT-KNIFE-SET-5 · Tablet 1536×768" in texts(at)
    clicked = switch_key()
    at.button(key=large_view_key("size_down", "12")).click().run()  # ↓: a new switch, at the size the key chose
    assert switch_key() != clicked and at.segmented_control(key=switch_key()).value == "Mobile"
    assert at.query_params["size"] == "Mobile" and "KT-2 · KIT-KNIFE-SET-5 · Mobile 750×1000" in texts(at)


def test_a_link_to_a_shot_on_another_grid_page_turns_to_it(db):
    _work_item_with_shots("many", 30)
    at = open_page(DETAIL, id="many", shot="S-27", size="Tablet")
    assert not at.exception
    assert _cards(at) == [f"S-{n}" for n in range(24, 30)]
    assert "S-27 · SKU-27 · Tablet 1536×768" in texts(at)


def test_view_larger_puts_the_shot_in_the_address_bar(demo):
    at = open_page(DETAIL, id="12")
    at.segmented_control(key=card_key("size", "12", "KT-1")).set_value("Tablet").run()
    at.button(key=card_key("view", "12", "KT-1")).click().run()
    assert (at.query_params["shot"], at.query_params["size"]) == ("KT-1", "Tablet")
    assert "KT-1 · KIT-CASTIRON-28 · Tablet 1536×768" in texts(at)


def plain_toasts(at) -> list[str]:
    """Toasts with Markdown's escaped underscores read back as typed."""
    return [t.replace("\\_", "_") for t in toasts(at)]


def test_too_many_files_or_a_full_shot_toast_the_limit_and_store_nothing(demo, monkeypatch):
    monkeypatch.setenv("RESHOOT_MAX_UPLOAD_FILES", "2")
    monkeypatch.setenv("RESHOOT_MAX_REFERENCES_PER_SHOT", "3")
    get_settings.cache_clear()
    at = open_page(DETAIL, id="12")
    upload(at, [(f"{c}.png", png(c), "image/png") for c in ("red", "green", "blue")])
    assert not at.exception
    assert any("At most 2 images at once (RESHOOT_MAX_UPLOAD_FILES)" in t for t in plain_toasts(at))
    assert list_references("12", "KT-1") == []

    upload(at, [(f"{c}.png", png(c), "image/png") for c in ("red", "green")])
    upload(at, [(f"{c}.png", png(c), "image/png") for c in ("blue", "white")])
    assert any("at most 3 reference images (RESHOOT_MAX_REFERENCES_PER_SHOT)" in t for t in plain_toasts(at))
    assert len(list_references("12", "KT-1")) == 2

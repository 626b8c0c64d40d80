"""SKU Switcher: one SKU's Desktop/Tablet/Mobile heroes, approve/reject with a note, filter to pending."""

from __future__ import annotations

from services.config import get_settings
from services.jobs import wait_for_job
from services.lifestyle import start_heroes_job
from services.work_items import get_work_item, list_work_items
from tests.pages.conftest import open_page, texts
from ui.review import sku_key
from ui.review_thread import comment_body_key, comment_button_key, thread_open_key

PAGE = "pages/sku_switcher.py"


def generated(work_item_id: str) -> None:
    assert wait_for_job(start_heroes_job(work_item_id=work_item_id).job_id, timeout=60).status == "succeeded"


def frame_buttons(at, state: str) -> list:
    return [b for b in at.button if b.key and b.key.startswith(sku_key(state, ""))]


def test_frames_follow_the_real_aspect_ratios(demo):
    generated("21")
    at = open_page(PAGE, id="21")
    assert at.selectbox(key=sku_key("work_item")).value == "21"
    assert at.selectbox(key=sku_key("sku", "21")).options == ["OFF-DESK-120-OAK", "OFF-CHAIR-ERGO-GRY"]
    shown = texts(at)
    assert "HO-1 · OFF-DESK-120-OAK" in shown and "6 pending · 0 approved" in shown
    [frames] = [h.value for h in at.get("html")]
    for label, size, grow in (
        ("Desktop", "1920×800", "2.4000"),
        ("Tablet", "1536×768", "2.0000"),
        ("Mobile", "750×1000", "0.7500"),
    ):
        assert f"{label} · {size}" in frames and f"aspect-ratio:{size.replace('×', '/')}" in frames
        assert f"flex:{grow} 1 0" in frames  # widths follow width/height, so the three share one height
    assert frames.count('<img src="http://') == 3 and frames.count("/assets/fcc/lifestyle/21/HO-1/") == 3

    at.selectbox(key=sku_key("sku", "21")).select("OFF-CHAIR-ERGO-GRY").run()
    assert "HO-2 · OFF-CHAIR-ERGO-GRY" in texts(at)


def test_approve_reject_with_note_and_pending_filter(demo, monkeypatch):
    generated("21")
    monkeypatch.setenv("RESHOOT_USER", "Ana")  # the signed-in person, as the local user
    at = open_page(PAGE, id="21")
    assert "Your decisions are recorded as Ana." in texts(at)
    versions = [row.version_id for row in get_work_item("21").shots[0].rows]
    at.text_input(key=sku_key("note", versions[0])).input("Crop the lamp").run()
    at.button(key=sku_key("rejected", versions[0])).click().run()
    assert at.text_input(key=sku_key("note", versions[0])).value == ""  # the note went with the decision
    at.button(key=sku_key("approved", versions[1])).click().run()
    rows = get_work_item("21").shots[0].rows
    assert [r.review_state for r in rows] == ["rejected", "approved", "pending"]
    shown = texts(at)
    assert "Rejected by Ana · “Crop the lamp” · " in shown and "4 pending · 1 approved · 1 rejected" in shown
    assert at.button(key=sku_key("approved", versions[1])).disabled
    assert at.text_input(key=sku_key("note", versions[0])).value == ""  # the note field empties after the decision

    monkeypatch.setenv("RESHOOT_USER", "Ben")  # a second reviewer changes the first one's decision
    at.button(key=sku_key("approved", versions[0])).click().run()
    shown = texts(at)
    assert "Approved by Ben · " in shown and "Rejected by Ana" not in shown  # the latest; the thread keeps all
    assert [e.label for e in at.expander] == ["History and comments"] * 3  # closed: nothing read for them
    assert get_work_item("21").shots[0].rows[0].review_state == "approved"

    summary = next(i for i in list_work_items().items if i.id == "21")
    assert (summary.pending_reviews, summary.approved_count) == (4, 2)

    at.toggle(key=sku_key("pending_only")).set_value(True).run()
    assert [b.key for b in frame_buttons(at, "approved")] == [f"sku_approved_{versions[2]}"]
    at.button(key=sku_key("approved", versions[2])).click().run()
    assert at.selectbox(key=sku_key("sku", "21")).options == ["OFF-CHAIR-ERGO-GRY"]  # HO-1 has nothing pending now


def test_the_thread_shows_both_decisions_with_their_people_and_a_comment_with_its_author(demo, monkeypatch):
    generated("21")
    version = get_work_item("21").shots[0].rows[0].version_id
    monkeypatch.setenv("RESHOOT_USER", "Ana")
    at = open_page(PAGE, id="21")
    at.text_input(key=sku_key("note", version)).input("Crop the lamp").run()
    at.button(key=sku_key("rejected", version)).click().run()
    monkeypatch.setenv("RESHOOT_USER", "Ben")
    at.button(key=sku_key("approved", version)).click().run()
    assert f"sku_thread_{version}_body" not in at.session_state  # the thread is drawn only once opened
    at.session_state[thread_open_key(sku_key("thread", version))] = True
    at.run()
    [thread] = [m.value for m in at.markdown if m.value.startswith("**History**")]
    assert ":red[Rejected] by **Ana** · " in thread and "“Crop the lamp”" in thread
    assert ":green[Approved] by **Ben** · " in thread and thread.index("Ana") < thread.index("Ben")  # oldest first
    assert "No comments yet." in thread

    at.text_area(key=comment_body_key(sku_key("thread", version))).input("The lamp is *cut* off")
    at.button(key=comment_button_key(sku_key("thread", version))).click()
    at.session_state[thread_open_key(sku_key("thread", version))] = (
        True  # AppTest sends no expander state: open it again
    )
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    [thread] = [m.value for m in at.markdown if m.value.startswith("**History**")]
    assert "- **Ben** · " in thread and "The lamp is \\*cut\\* off" in thread  # shown literally, with its author
    assert "Approved by Ben · 2026" in texts(at) and " · 1 comment" in texts(at)  # on the size's line


def test_a_viewer_sees_the_thread_but_cannot_comment(demo, monkeypatch):
    generated("21")
    version = get_work_item("21").shots[0].rows[0].version_id
    monkeypatch.setenv("RESHOOT_AUTH", "oidc")
    get_settings.cache_clear()
    at = open_page(PAGE, user={"is_logged_in": True, "email": "vic@example.com", "name": "Vic"}, id="21")
    at.session_state[thread_open_key(sku_key("thread", version))] = True
    at.run()
    assert "**History**" in texts(at)  # a viewer reads the thread
    assert at.text_area(key=comment_body_key(sku_key("thread", version))).disabled
    button = at.button(key=comment_button_key(sku_key("thread", version)))
    assert button.disabled and button.help.startswith("Needs the reviewer role")


def test_item_without_images_and_unknown_id(demo):
    at = open_page(PAGE, id="7")
    assert "0 pending · 0 approved · 0 rejected · 12 without an image" in texts(at)
    [frames] = [h.value for h in at.get("html")]
    assert not frame_buttons(at, "approved") and "fcc/lifestyle/7/OL-1/desktop.png" in frames and "<img" not in frames
    assert "No image yet" in texts(at)
    at.toggle(key=sku_key("pending_only")).set_value(True).run()
    assert "Nothing is waiting for review here." in texts(at)

    at = open_page(PAGE, id="nope")
    assert "Work item nope was not found." in texts(at)


def test_device_frames_escape_file_names():
    from services.read_models.heroes import HeroTarget
    from ui.review import device_row_html

    html = device_row_html(
        [
            HeroTarget(
                id=1,
                shot_id="S-1",
                sku="SKU",
                size_label="<b>Mobile</b>",
                width=750,
                height=1000,
                filename="fcc/<script>x</script>.png",
            )
        ]
    )
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;Mobile" in html


def test_a_link_opens_the_sku_and_the_address_bar_follows_the_pick(demo):
    at = open_page(PAGE, id="21", sku="OFF-CHAIR-ERGO-GRY")
    assert at.selectbox(key=sku_key("sku", "21")).value == "OFF-CHAIR-ERGO-GRY"
    assert at.query_params["id"] == "21" and at.query_params["sku"] == "OFF-CHAIR-ERGO-GRY"
    assert "HO-2 · OFF-CHAIR-ERGO-GRY" in texts(at) and "HO-1 · OFF-DESK-120-OAK" not in texts(at)
    at.selectbox(key=sku_key("sku", "21")).select("OFF-DESK-120-OAK").run()
    assert at.query_params["sku"] == "OFF-DESK-120-OAK"
    assert open_page(PAGE, id="21", sku="NOT-A-SKU").selectbox(key=sku_key("sku", "21")).value == "OFF-DESK-120-OAK"

"""The review thread in the large view: history (decisions with their people) and comments with their authors."""

from __future__ import annotations

from services.identity import Actor, Role, acting_as
from services.versions import ReviewDecisionOptions, set_review
from services.work_items import get_work_item
from tests.pages.conftest import open_page, texts
from tests.pages.test_work_item import DETAIL, regenerate
from ui.hero_state import card_key
from ui.large_view import large_view_key
from ui.review_thread import comment_body_key, comment_button_key, thread_open_key

THREAD = card_key("thread_Desktop", "12", "KT-2")


def test_the_large_view_shows_history_and_takes_a_comment(demo, monkeypatch):
    monkeypatch.setenv("RESHOOT_USER", "Cleo")
    at = open_page(DETAIL, id="12")
    regenerate(at, "KT-2")
    version = get_work_item("12").shots[1].rows[0].version_id
    with acting_as(Actor("ana@example.com", "Ana", Role.reviewer)):
        set_review(version_id=version, options=ReviewDecisionOptions(state="rejected", note="Knives look blurry"))
    with acting_as(Actor("ben@example.com", "Ben", Role.reviewer)):
        set_review(version_id=version, options=ReviewDecisionOptions(state="approved"))
    at.button(key=card_key("view", "12", "KT-2")).click().run()
    assert ":green[Approved] by Ben · " in texts(at) and "no comments" in texts(at)  # the latest decision
    assert comment_body_key(THREAD) not in at.session_state  # closed: not drawn

    at.session_state[thread_open_key(THREAD)] = True
    at.run()
    [thread] = [m.value for m in at.markdown if m.value.startswith("**History**")]
    assert ":red[Rejected] by **Ana** · " in thread and "“Knives look blurry”" in thread
    assert ":green[Approved] by **Ben** · " in thread

    at.text_area(key=comment_body_key(THREAD)).input("Approved, but the handle is cut off")
    at.button(key=comment_button_key(THREAD)).click()
    at.session_state[thread_open_key(THREAD)] = True  # AppTest sends no expander state
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    [thread] = [m.value for m in at.markdown if m.value.startswith("**History**")]
    assert "- **Cleo** · " in thread and "Approved, but the handle is cut off" in thread
    assert "1 comment" in texts(at)


def _open_thread():
    """The work item page with KT-2's large view open at Desktop and its thread open."""
    at = open_page(DETAIL, id="12")
    regenerate(at, "KT-2")
    at.button(key=card_key("view", "12", "KT-2")).click().run()
    at.session_state[thread_open_key(THREAD)] = True
    return at.run()


def test_a_comment_typed_and_not_sent_waits_while_the_thread_is_closed(demo):
    at = _open_thread()
    at.text_area(key=comment_body_key(THREAD)).input("The handle is cut off")
    at.session_state[thread_open_key(THREAD)] = False  # closed before sending
    at.run()
    assert comment_body_key(THREAD) not in [t.key for t in at.text_area]
    at.run()  # and another run while closed
    at.session_state[thread_open_key(THREAD)] = True
    at.run()
    assert at.text_area(key=comment_body_key(THREAD)).value == "The handle is cut off"
    assert "no comments" in texts(at)


def test_a_refused_comment_stays_in_its_box(demo):
    at = _open_thread()
    at.text_area(key=comment_body_key(THREAD)).input("Crop \x00 wider")  # a character no database stores
    at.button(key=comment_button_key(THREAD)).click()
    at.session_state[thread_open_key(THREAD)] = True
    at.run()
    assert not at.exception
    assert at.text_area(key=comment_body_key(THREAD)).value == "Crop \x00 wider"
    assert "no comments" in texts(at)
    assert [t.value for t in at.toast if "Couldn’t add the comment" in t.value]


def test_a_comment_typed_and_not_sent_waits_while_the_large_view_shows_another_shot(demo):
    at = _open_thread()
    at.text_area(key=comment_body_key(THREAD)).input("The handle is cut off")
    at.button(key=large_view_key("next", "12")).click().run()  # KT-3: KT-2's thread is not drawn
    assert comment_body_key(THREAD) not in [t.key for t in at.text_area]
    at.button(key=large_view_key("previous", "12")).click().run()
    at.session_state[thread_open_key(THREAD)] = True
    at.run()
    assert at.text_area(key=comment_body_key(THREAD)).value == "The handle is cut off"

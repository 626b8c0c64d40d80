"""Review queue page: pending heroes one at a time, oldest first; filters; A/X/→ decide and move; n of m reviewed;
the same queries with 10 or 1,000 pending."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from services.db import session_scope
from services.models import ExportPlanRow, ReviewDecision, Shot
from services.versions import review_queue_count
from tests.pages.conftest import open_page, texts
from tests.test_review_queue import add_image
from tests.test_work_items import count_queries
from ui.review_queue import note_key, queue_key

QUEUE = "pages/review_queue.py"


def _rows(work_item_id: str) -> list[tuple[str, str]]:
    """(shot id, size) of every hero target of the work item, in plan order."""
    with session_scope() as s:
        return list(
            s.exec(
                select(Shot.shot_id, ExportPlanRow.size_label)
                .join(ExportPlanRow, col(ExportPlanRow.shot_pk) == Shot.id)
                .where(Shot.work_item_id == work_item_id)
                .order_by(col(Shot.position), col(ExportPlanRow.position))
            ).all()
        )


@pytest.fixture
def pending(demo) -> list[int]:
    """Five pending heroes of work item 7 then three of 12, a minute apart (oldest first)."""
    made = []
    targets = [("7", *t) for t in _rows("7")[:5]] + [("12", *t) for t in _rows("12")[:3]]
    for minute, (work_item_id, shot_id, size) in enumerate(targets):
        made.append(add_image(work_item_id, shot_id, size, minute=minute, backend="openai" if minute % 2 else "local"))
    return made


def shown(at) -> str:
    """The hero on screen: its work item link's query (id, shot, size)."""
    [link] = [e for e in at.get("page_link") if "work_item" in e.proto.page]
    return link.proto.query_string


def _decisions() -> list[tuple[int, str, str | None]]:
    with session_scope() as s:
        rows = s.exec(select(ReviewDecision).order_by(col(ReviewDecision.id))).all()
        return [(d.version_id, d.decision, d.note) for d in rows]


def test_triage_by_keys_approve_reject_with_note_next_and_previous(pending):
    at = open_page(QUEUE)
    assert at.title[0].value == "Review queue"
    assert "0 of 8 reviewed" in at.get("progress")[0].proto.text
    first = shown(at)
    assert "id=7" in first and f"shot={_rows('7')[0][0]}" in first
    assert at.button(key=queue_key("approve")).proto.shortcut == "a"
    assert at.button(key=queue_key("reject")).proto.shortcut == "x"
    assert at.button(key=queue_key("previous")).disabled  # the oldest: nothing before it

    at.button(key=queue_key("approve")).click().run()
    at.text_input(key=note_key(pending[1])).input("Logo cut off").run()
    at.button(key=queue_key("reject")).click().run()
    assert _decisions() == [(pending[0], "approved", None), (pending[1], "rejected", "Logo cut off")]
    assert at.text_input(key=note_key(pending[2])).value == ""  # the note went with its decision
    assert "2 of 8 reviewed" in at.get("progress")[0].proto.text

    third = shown(at)
    at.button(key=queue_key("next")).click().run()  # skip the third
    assert shown(at) != third
    at.button(key=queue_key("previous")).click().run()
    assert shown(at) == third
    assert review_queue_count() == 6 and not at.exception


def test_a_note_goes_only_with_its_own_hero_and_waits_there_unsent(pending):
    at = open_page(QUEUE)
    at.text_input(key=note_key(pending[0])).input("Horizon tilted")
    at.button(key=queue_key("next")).click().run()
    assert at.text_input(key=note_key(pending[1])).value == ""
    at.button(key=queue_key("reject")).click().run()  # the second hero, without the first one's note
    at.button(key=queue_key("previous")).click().run()
    assert at.text_input(key=note_key(pending[0])).value == "Horizon tilted"
    at.button(key=queue_key("reject")).click().run()
    assert _decisions() == [(pending[1], "rejected", None), (pending[0], "rejected", "Horizon tilted")]


def test_a_second_arrow_pressed_before_the_first_was_drawn_moves_on_again(pending):
    """A second → (or ←) can reach the server while the first press's run is still drawing: its callback runs with
    what was drawn before. The cursor the first press left is set here without a run, as such a press leaves it."""
    at = open_page(QUEUE)
    first, first_cursor = shown(at), at.session_state[queue_key("cursor")]
    at.button(key=queue_key("next")).click().run()
    second, second_cursor = shown(at), at.session_state[queue_key("cursor")]
    at.button(key=queue_key("previous")).click().run()
    assert shown(at) == first
    at.session_state[queue_key("cursor")] = second_cursor  # → pressed, not yet drawn
    at.button(key=queue_key("next")).click().run()  # drawn at the first: its hero after is the second
    third = shown(at)
    assert third not in (first, second)
    at.session_state[queue_key("cursor")] = second_cursor  # ← pressed, not yet drawn
    at.button(key=queue_key("previous")).click().run()
    assert shown(at) == first and at.session_state[queue_key("cursor")] == first_cursor


def test_v_compares_with_the_previous_version(pending):
    shot_id, size = _rows("7")[0]
    add_image("7", shot_id, size, minute=-1)  # a v2 of the first hero (its v1 leaves the queue), the oldest now
    at = open_page(QUEUE)
    assert shown(at) == f"id=7&shot={shot_id}&size={size}"
    compare = at.button(key=queue_key("compare"))
    assert compare.proto.shortcut == "v" and not compare.disabled and compare.label == "Compare"
    compare.click().run()
    assert {"v1", "v2 (in review)"} <= {c.value for c in at.caption} and not at.exception
    at.button(key=queue_key("next")).click().run()
    assert at.button(key=queue_key("compare")).disabled  # a first version: nothing to compare with


def test_filters_narrow_the_queue_and_start_a_new_count(pending):
    at = open_page(QUEUE, work_item="12")
    assert at.text_input(key=queue_key("work_item")).value == "12"
    assert "0 of 3 reviewed" in at.get("progress")[0].proto.text and "id=12" in shown(at)
    at.text_input(key=queue_key("work_item")).input("").run()
    at.selectbox(key=queue_key("backend")).select("openai").run()
    assert "0 of 4 reviewed" in at.get("progress")[0].proto.text
    at.text_input(key=queue_key("sku")).input("no such sku").run()
    assert "Nothing pending here" in texts(at)
    at.text_input(key=queue_key("sku")).input("bad\x00").run()
    assert not at.exception and "NUL" in at.error[0].value


def test_deciding_the_last_one_says_all_done(pending):
    at = open_page(QUEUE, work_item="12")
    for _ in range(3):
        at.button(key=queue_key("approve")).click().run()
    assert "3 of 3 reviewed" in at.get("progress")[0].proto.text
    assert "Nothing pending here" in texts(at)


def test_a_viewer_sees_the_queue_but_cannot_decide(pending, monkeypatch):
    from services.config import get_settings

    monkeypatch.setenv("RESHOOT_AUTH", "oidc")
    get_settings.cache_clear()
    from services.auth import NewUser, add_user

    add_user(options=NewUser(email="viola@example.com", role="viewer"))
    at = open_page(QUEUE, user={"is_logged_in": True, "email": "viola@example.com", "name": "Viola"})
    assert (
        at.button(key=queue_key("approve")).disabled
        and "Needs the reviewer role" in at.button(key=queue_key("approve")).help
    )
    assert not at.button(key=queue_key("next")).disabled


def _page_queries(pending_heroes: int) -> int:
    at = open_page(QUEUE)
    with count_queries() as statements:
        at.run()
    assert f"0 of {pending_heroes} reviewed" in at.get("progress")[0].proto.text
    return len([s for s in statements if s.lstrip().upper().startswith("SELECT")])


def test_the_page_takes_the_same_queries_with_10_or_1000_pending(demo):
    from services.importer import import_data
    from tests.test_work_items import _item

    import_data({"workItems": [_item("big", "Many heroes", shots=334, sku_prefix="BIG")]})
    targets = _rows("big")
    for minute, (shot_id, size) in enumerate(targets[:10]):
        add_image("big", shot_id, size, minute=minute)
    few = _page_queries(10)
    for minute, (shot_id, size) in enumerate(targets[10:1000], start=10):
        add_image("big", shot_id, size, minute=minute)
    assert _page_queries(1000) == few, few

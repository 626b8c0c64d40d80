"""The work item page's bulk bar: select cards → approve / reject with one note / regenerate as one job; all
pending of the work item or of a SKU; the Review pending link."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from services.db import session_scope
from services.jobs import wait_for_job
from services.models import ImageVersion, Job, ReviewDecision, Shot
from tests.pages.conftest import open_page
from tests.pages.test_review_queue import _rows
from tests.test_review_queue import add_image
from ui.bulk_review import bulk_key, select_key

DETAIL = "pages/work_item.py"


@pytest.fixture
def heroes(demo) -> dict[tuple[str, str], int]:
    """Every hero of work item 12 with a pending current image."""
    return {(shot_id, size): add_image("12", shot_id, size, minute=n) for n, (shot_id, size) in enumerate(_rows("12"))}


def states() -> dict[int, str]:
    with session_scope() as s:
        return dict(s.exec(select(ImageVersion.id, ImageVersion.review_state)).all())


def decisions() -> list[tuple[int, str, str | None]]:
    with session_scope() as s:
        rows = s.exec(select(ReviewDecision).order_by(col(ReviewDecision.id))).all()
        return [(d.version_id, d.decision, d.note) for d in rows]


def select_card(at, shot_id: str):
    at.checkbox(key=select_key("12", shot_id)).check().run()
    return at


def test_select_two_cards_then_reject_with_one_note(heroes):
    at = open_page(DETAIL, id="12")
    approve = at.button(key=bulk_key("approved", "12"))
    assert approve.disabled and approve.label == "Approve 0 heroes"  # nothing selected yet
    select_card(at, "KT-1")
    select_card(at, "KT-3")
    reject = at.button(key=bulk_key("rejected", "12"))
    assert reject.label == "Reject 6 heroes" and not reject.disabled  # every size of both shots
    at.text_input(key=bulk_key("note", "12")).input("Wrong mug colour").run()
    at.button(key=bulk_key("rejected", "12")).click().run()
    chosen = {v for (shot_id, _), v in heroes.items() if shot_id in ("KT-1", "KT-3")}
    assert {v for v, state, note in decisions()} == chosen
    assert {(state, note) for _, state, note in decisions()} == {("rejected", "Wrong mug colour")}
    assert not at.checkbox(key=select_key("12", "KT-1")).value  # the selection is cleared after the decision
    assert any("Rejected 6 heroes" in t.value for t in at.toast)
    assert not at.exception


def test_all_pending_in_the_work_item_and_of_a_sku(heroes):
    with session_scope() as s:
        sku = s.exec(select(Shot.sku).where(Shot.work_item_id == "12", Shot.shot_id == "KT-2")).one()
    at = open_page(DETAIL, id="12")
    at.button_group(key=bulk_key("scope", "12")).set_value("sku").run()
    at.selectbox(key=bulk_key("sku", "12")).select(sku).run()
    assert at.button(key=bulk_key("approved", "12")).label == "Approve 3 heroes"
    at.button(key=bulk_key("approved", "12")).click().run()
    kt2 = {v for (shot_id, _), v in heroes.items() if shot_id == "KT-2"}
    assert {v for v, s in states().items() if s == "approved"} == kt2

    at.button_group(key=bulk_key("scope", "12")).set_value("all").run()
    [link] = [e for e in at.get("page_link") if "review_queue" in e.proto.page]
    assert link.proto.label == "Review pending (6)" and "work_item=12" in link.proto.query_string
    assert at.button(key=bulk_key("regenerate", "12")).disabled  # regenerate takes selected shots or a SKU
    at.button(key=bulk_key("approved", "12")).click().run()
    assert set(states().values()) == {"approved"} and len(decisions()) == 9


def test_regenerate_the_selection_as_one_job(heroes):
    at = open_page(DETAIL, id="12")
    select_card(at, "KT-1")
    select_card(at, "KT-2")
    assert at.button(key=bulk_key("regenerate", "12")).label == "Regenerate 2 shots"
    at.button(key=bulk_key("regenerate", "12")).click().run()
    with session_scope() as s:
        [job] = s.exec(select(Job)).all()
    assert job.params["shotIds"] == ["KT-1", "KT-2"] and job.params["overwrite"] is True
    assert wait_for_job(job.id, timeout=120).status == "succeeded"
    assert any("Regeneration started" in t.value for t in at.toast)


def test_a_viewer_cannot_decide_in_bulk(heroes, monkeypatch):
    from services.auth import NewUser, add_user
    from services.config import get_settings

    monkeypatch.setenv("RESHOOT_AUTH", "oidc")
    get_settings.cache_clear()
    add_user(options=NewUser(email="viola@example.com", role="viewer"))
    at = open_page(DETAIL, user={"is_logged_in": True, "email": "viola@example.com", "name": "Viola"}, id="12")
    at.button_group(key=bulk_key("scope", "12")).set_value("all").run()
    approve = at.button(key=bulk_key("approved", "12"))
    assert approve.label == "Approve 9 heroes" and approve.disabled and "Needs the reviewer role" in approve.help

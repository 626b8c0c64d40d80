"""Activity page: filters by person, action, work item and date; pages in SQL; CSV export; reviewers and admins only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import event

from services import identity
from services.audit import ActivityFilter, AuditAction, Target, record
from services.db import get_engine, session_scope
from services.identity import Actor, Role, acting_as
from services.jobs import stop_embedded_worker
from services.storyboard import UpdateSentenceOptions, update_sentence
from services.versions import ReviewDecisionOptions, set_review
from tests.pages.conftest import open_page, texts
from ui.activity import activity_key, csv_bytes

PAGE = "pages/activity.py"
ANA = Actor("ana@example.com", "Ana", Role.reviewer)
BEN = Actor("ben@example.com", "Ben", Role.admin)
LAST_WEEK = datetime.now(UTC) - timedelta(days=7)


def changes(actor: Actor, n: int, *, work_item_id: str = "12", at: datetime | None = None) -> None:
    """`n` shot-lock changes by `actor` (audit rows only, as a use case writes them)."""
    with acting_as(actor), session_scope() as s:
        for i in range(n):
            entry = record(
                s,
                action=AuditAction.lock_shot,
                target=Target("shot", "KT-1", work_item_id, "KT-1"),
                before={"locked": i % 2 == 1},
                after={"locked": i % 2 == 0},
            )
            if at is not None:
                entry.at = at


def test_filters_paging_and_csv(demo):
    changes(ANA, 55)
    changes(BEN, 3, work_item_id="21", at=LAST_WEEK)
    with acting_as(BEN):
        update_sentence(sentence_id="sent_001", options=UpdateSentenceOptions(image_prompt="a farm at dusk"))

    at = open_page(PAGE)
    table = at.dataframe[0].value
    assert (
        len(table) == 50
        and not at.button(key=activity_key("older")).disabled
        and at.button(key=activity_key("newer")).disabled
    )
    newest = table.iloc[0]
    assert (newest["Who"], newest["Action"], newest["Where"]) == ("Ben", "Edit prompt", "sentence sent_001")
    assert newest["Change"].startswith("imagePrompt: ") and newest["Change"].endswith(" → a farm at dusk")
    at.button(key=activity_key("older")).click().run()
    assert at.button(key=activity_key("older")).disabled and "Page 2" in texts(at)
    older = at.dataframe[0].value
    assert 9 <= len(older) <= 50 and "Import" in set(older["Action"])  # the demo's import, by the local user

    at.selectbox(key=activity_key("person")).select("ben@example.com").run()
    people = at.dataframe[0].value
    assert set(people["Who"]) == {"Ben"} and len(people) == 4 and "Page 1" in texts(at)  # a filter starts at page 1

    at.multiselect(key=activity_key("actions")).select(AuditAction.lock_shot).run()
    assert list(at.dataframe[0].value["Where"]) == ["21 · KT-1"] * 3
    at.date_input(key=activity_key("dates")).set_value((date.today(), date.today())).run()
    assert not at.dataframe and "No change matches these filters." in texts(at)
    at.date_input(key=activity_key("dates")).set_value((LAST_WEEK.date(), LAST_WEEK.date())).run()
    assert len(at.dataframe[0].value) == 3

    at.selectbox(key=activity_key("person")).set_value(None).run()
    at.date_input(key=activity_key("dates")).set_value(()).run()
    at.text_input(key=activity_key("work_item")).input("12").run()
    assert set(at.dataframe[0].value["Who"]) == {"Ana"} and len(at.dataframe[0].value) == 50
    assert len(at.get("download_button")) == 1  # its data (below) is built only when clicked

    exported = list(csv.DictReader(io.StringIO(csv_bytes(ActivityFilter(actor_email="ben@example.com")).decode())))
    assert [r["action"] for r in exported] == ["sentence.prompt", "shot.lock", "shot.lock", "shot.lock"]
    assert exported[0]["after"] == '{"imagePrompt": "a farm at dusk"}' and exported[0]["at"].endswith("Z")
    assert exported[1]["work_item_id"] == "21" and exported[1]["actor_name"] == "Ben"


def test_the_csv_export_is_bounded(demo, monkeypatch):
    changes(ANA, 30)
    from services import audit

    rows = list(csv.reader(io.StringIO("".join(audit.activity_csv(ActivityFilter(), limit=10)))))
    assert len(rows) == 11 and rows[0][0] == "at"


def test_queries_per_page_run_do_not_grow_with_the_trail(demo):
    def statements_for_a_page_run() -> int:
        sent: list[str] = []
        record_statement = lambda conn, cursor, statement, *args: sent.append(statement)  # noqa: E731
        at = open_page()
        stop_embedded_worker()  # its heartbeat and sweeper threads would add statements of their own
        event.listen(get_engine(), "before_cursor_execute", record_statement)
        try:
            at.switch_page(PAGE).run()
        finally:
            event.remove(get_engine(), "before_cursor_execute", record_statement)
        assert not at.exception
        return len(sent)

    changes(ANA, 5)
    few = statements_for_a_page_run()
    changes(BEN, 400)
    changes(Actor("cy@example.com", "Cy", Role.reviewer), 40)
    assert statements_for_a_page_run() == few


def test_viewers_are_told_the_page_is_for_reviewers(demo, monkeypatch):
    changes(ANA, 2)
    monkeypatch.setattr(identity, "current_actor", lambda: Actor("vi@example.com", "Vi", Role.viewer))
    at = open_page(PAGE)
    assert "Activity is for reviewers and admins." in texts(at) and not at.dataframe


def test_review_decisions_are_listed_with_the_reviewer(demo):
    from services.jobs import wait_for_job
    from services.lifestyle import GenerateHeroesOptions, start_heroes_job
    from services.work_items import get_work_item

    wait_for_job(
        start_heroes_job(work_item_id="21", options=GenerateHeroesOptions(shot_ids=["HO-1"])).job_id, timeout=60
    )
    version_id = get_work_item("21").shots[0].rows[0].version_id
    with acting_as(ANA):
        set_review(version_id=version_id, options=ReviewDecisionOptions(state="approved", note="Good light"))
    at = open_page(PAGE)
    at.multiselect(key=activity_key("actions")).select(AuditAction.review).run()
    [row] = at.dataframe[0].value.to_dict("records")
    assert (row["Who"], row["Where"]) == ("Ana", "21 · HO-1 · Desktop")
    assert row["Change"] == "state: pending → approved; reviewer: null → Ana; note: Good light"

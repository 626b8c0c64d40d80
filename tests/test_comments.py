"""The review thread of an image version: decisions (who, when, decision, note) and comments."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlmodel import select

from services import comments, versions
from services.db import session_scope
from services.errors import ReshootError
from services.identity import Actor, Role, acting_as
from services.models import AuditEntry, ExportPlanRow
from tests.test_work_items import count_queries

ANA = Actor("ana@example.com", "Ana", Role.reviewer)
BO = Actor("bo@example.com", "Bo", Role.reviewer)
VIC = Actor("vic@example.com", "Vic", Role.viewer)


def hero_version(n: int = 1) -> int:
    with session_scope() as s:
        row = s.exec(select(ExportPlanRow).where(ExportPlanRow.work_item_id == "7")).first()
    out = io.BytesIO()
    Image.new("RGB", (32, 18), (n * 40 % 256, 80, 160)).save(out, format="PNG")
    new = versions.NewImage("hero", str(row.id), row.filename, out.getvalue(), 32, 18, f"prompt {n}", n, "fake")
    [version] = versions.save_new_versions([new], lambda s, vs: versions.set_current(s, vs[0]))
    return version.id


def test_comments_keep_their_authors_in_order_and_are_audited(demo):
    version_id = hero_version()
    with acting_as(ANA):
        first = comments.add_comment(
            version_id=version_id, options=comments.NewComment(body="  The lamp is cut off.  ")
        )
    with acting_as(BO):
        comments.add_comment(version_id=version_id, options=comments.NewComment(body="Agreed, crop wider"))
    listed = comments.list_comments(version_id=version_id)
    assert [(c.author, c.body) for c in listed] == [("Ana", "The lamp is cut off."), ("Bo", "Agreed, crop wider")]
    assert first.model_dump(mode="json")["authorEmail"] == "ana@example.com"
    with session_scope() as s:
        audited = s.exec(select(AuditEntry).where(AuditEntry.action == "version.comment")).all()
    assert [(a.actor_email, a.target_id, a.after["body"]) for a in audited] == [
        ("ana@example.com", str(version_id), "The lamp is cut off."),
        ("bo@example.com", str(version_id), "Agreed, crop wider"),
    ]


def test_history_lists_every_decision_with_its_person_oldest_first(demo):
    version_id = hero_version()
    with acting_as(ANA):
        versions.set_review(
            version_id=version_id, options=versions.ReviewDecisionOptions(state="rejected", note="Too dark")
        )
    with acting_as(BO):
        versions.set_review(version_id=version_id, options=versions.ReviewDecisionOptions(state="approved"))
        comments.add_comment(version_id=version_id, options=comments.NewComment(body="Fixed by the new crop"))
    thread = comments.version_thread(version_id=version_id)
    assert [(d.decision, d.reviewer, d.note) for d in thread.decisions] == [
        ("rejected", "Ana", "Too dark"),
        ("approved", "Bo", None),
    ]
    assert [c.body for c in thread.comments] == ["Fixed by the new crop"]


def test_counts_and_summaries_for_many_versions_in_one_query(demo):
    a, b, c = hero_version(1), hero_version(2), hero_version(3)
    with acting_as(ANA):
        for body in ("one", "two"):
            comments.add_comment(version_id=a, options=comments.NewComment(body=body))
        comments.add_comment(version_id=c, options=comments.NewComment(body="three"))
        versions.set_review(version_id=a, options=versions.ReviewDecisionOptions(state="rejected", note="Wrong sofa"))
    with count_queries() as counted:
        counts = comments.comment_counts(version_ids=[a, b, c])
    assert counts == {a: 2, b: 0, c: 1} and len(counted) == 1
    with count_queries() as counted:
        summaries = comments.thread_summaries(version_ids=[a, b, c])
    assert len(counted) == 1
    assert (summaries[a].review_state, summaries[a].reviewer, summaries[a].review_note) == (
        "rejected",
        "Ana",
        "Wrong sofa",
    )
    assert [summaries[v].comment_count for v in (a, b, c)] == [2, 0, 1]
    assert summaries[b].review_state == "pending" and summaries[b].reviewer is None


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("   ", "is empty"),
        ("a\x00b", "NUL"),
        ("x" * (comments.MAX_COMMENT_LENGTH + 1), f"longer than {comments.MAX_COMMENT_LENGTH}"),
    ],
)
def test_a_bad_comment_is_refused_with_its_reason(demo, body, why):
    version_id = hero_version()
    with acting_as(ANA), pytest.raises(ReshootError) as e:
        comments.add_comment(version_id=version_id, options=comments.NewComment(body=body))
    assert e.value.code == "INVALID_REQUEST" and why in str(e.value.details)
    assert comments.list_comments(version_id=version_id) == []


def test_a_viewer_may_read_but_not_comment_and_unknown_versions_are_404(demo):
    version_id = hero_version()
    with acting_as(VIC):
        with pytest.raises(ReshootError) as e:
            comments.add_comment(version_id=version_id, options=comments.NewComment(body="nice"))
        assert e.value.code == "FORBIDDEN"
        assert comments.list_comments(version_id=version_id) == []
    with acting_as(ANA), pytest.raises(ReshootError) as e:
        comments.add_comment(version_id=987654, options=comments.NewComment(body="hello?"))
    assert e.value.code == "VERSION_NOT_FOUND" and e.value.status == 404

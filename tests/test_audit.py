"""The audit trail: every mutating use case writes its audit rows, as the acting person, in the same transaction.

How a forgotten audit row fails here:
- `test_every_public_use_case_function_is_classified` lists every public function of every `services` module
  that is not infrastructure (a new module counts automatically). Each must be exercised by a SCENARIO (which
  asserts its audit rows), by READS (run and shown to write nothing a person changed), or be named in
  NOT_CHANGES with the reason it records nothing of its own.
- While a scenario or a read runs, `WriteWatch` sees every SQL statement: a transaction that inserts, updates or
  deletes rows of any table except job bookkeeping (job updates, events, worker heartbeats) and does not insert
  an `audit` row in that same transaction fails the test — so an audit row written afterwards, in its own
  transaction, does not count, and a writer declared a read fails too.
"""

from __future__ import annotations

import importlib
import inspect
import io
import pkgutil
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import event
from sqlmodel import col, select

import services
from services import (
    audit,
    auth,
    comments,
    demo,
    hero_prompts,
    importer,
    jobs,
    lifestyle,
    preferences,
    reviews,
    storyboard,
    sweeper,
    versions,
    work_items,
)
from services.audit import AuditAction
from services.db import get_engine, session_scope
from services.identity import Actor, Role, acting_as
from services.models import ApiToken, AuditEntry, ExportPlanRow, ImageVersion, Job, ReviewDecision, Shot, User

# Modules that are not use cases: plumbing, models, formats, the HTTP and CLI front ends (they call use cases).
INFRASTRUCTURE_MODULES = {
    "api",
    "audit",
    "backends",
    "cli",
    "config",
    "db",
    "errors",
    "identity",
    "images",
    "import_format",  # the import file formats as models (the use cases are services.importer's)
    "messages",
    "migrations",
    "models",
    "operator_errors",
    "read_models",
    "search_index",
    "status",
    "storable_text",
    "storage",
}

# An admin: the scenarios include admin-only use cases (import, other people's jobs, users); who may do what is
# tested in tests/test_auth.py.
RITA = Actor("rita@example.com", "Rita Reviewer", Role.admin)
BOOKKEEPING = {
    ("UPDATE", "job"),
    ("INSERT", "event"),
    ("DELETE", "event"),
    ("INSERT", "workerprocess"),
    ("UPDATE", "workerprocess"),
    ("DELETE", "workerprocess"),
    ("UPDATE", "generationclaim"),
    ("INSERT", "backendlease"),
    ("UPDATE", "backendlease"),
}
# Columns that follow a recorded change by themselves (which version the stable file serves).
BOOKKEEPING_COLUMNS = {
    "exportplanrow": {"published_version_id"},
    "users": {"last_seen_at", "display_name"},
    "api_tokens": {"last_used_at"},
}
WRITE = re.compile(r'^\s*(INSERT INTO|UPDATE|DELETE FROM)\s+"?(\w+)"?', re.IGNORECASE)
SET_COLUMNS = re.compile(r"\bSET\s+(.*?)(?:\s+WHERE\b|$)", re.IGNORECASE | re.DOTALL)


class WriteWatch:
    """Per connection, the tables a transaction wrote; at commit, a person's change without an audit row is noted."""

    def __init__(self) -> None:
        self.open: dict[int, set[tuple[str, str]]] = {}
        self.unaudited: list[set[tuple[str, str]]] = []
        self.lock = threading.Lock()

    def statement(self, conn, cursor, statement, parameters, context, executemany) -> None:
        found = WRITE.match(statement)
        if found:
            verb, table = found.group(1).split()[0].upper(), found.group(2).lower()
            if verb == "UPDATE" and _only_bookkeeping(table, statement):
                return
            with self.lock:
                self.open.setdefault(id(conn), set()).add((verb, found.group(2).lower()))

    def commit(self, conn) -> None:
        with self.lock:
            writes = self.open.pop(id(conn), set())
        changes = writes - BOOKKEEPING - {("INSERT", "audit")}
        if changes and ("INSERT", "audit") not in writes:
            self.unaudited.append(changes)

    def rollback(self, conn) -> None:
        with self.lock:
            self.open.pop(id(conn), None)


def _only_bookkeeping(table: str, statement: str) -> bool:
    columns = SET_COLUMNS.search(statement)
    names = set(re.findall(r'"?(\w+)"?\s*=', columns.group(1))) if columns else set()
    return bool(names) and names <= BOOKKEEPING_COLUMNS.get(table, set())


@pytest.fixture
def watch(db):
    engine, seen = get_engine(), WriteWatch()
    hooks = (("before_cursor_execute", seen.statement), ("commit", seen.commit), ("rollback", seen.rollback))
    for name, hook in hooks:
        event.listen(engine, name, hook)
    yield seen
    for name, hook in hooks:
        event.remove(engine, name, hook)


# --- The world the scenarios act on ----------------------------------------------------------------------


def png(color=(200, 90, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, format="PNG")
    return buffer.getvalue()


def hero_row(shot_id: str = "KT-1", size: str = "Desktop") -> ExportPlanRow:
    with session_scope() as s:
        return s.exec(
            select(ExportPlanRow)
            .join(Shot, col(Shot.id) == ExportPlanRow.shot_pk)
            .where(Shot.shot_id == shot_id, ExportPlanRow.size_label == size)
        ).one()


def hero_sku(shot_id: str) -> str:
    with session_scope() as s:
        return s.exec(select(Shot.sku).where(Shot.work_item_id == "12", Shot.shot_id == shot_id)).one()


def generate(shot_id: str = "KT-1") -> dict[str, Any]:
    return jobs.wait_for_job(
        lifestyle.start_heroes_job(
            work_item_id="12", options=lifestyle.GenerateHeroesOptions(shot_ids=[shot_id], overwrite=True)
        ).job_id,
        timeout=60,
    )


def two_versions() -> tuple[int, int]:
    """The Desktop hero of KT-1 made twice (as another person): (older, current) version ids."""
    with acting_as(Actor("olaf@example.com", "Olaf", Role.reviewer)):
        generate(), generate()
    row = hero_row()
    with session_scope() as s:
        ids = s.exec(
            select(ImageVersion.id)
            .where(ImageVersion.target_kind == "hero", ImageVersion.target_id == str(row.id))
            .order_by(col(ImageVersion.version))
        ).all()
    return ids[-2], ids[-1]


def failed_job() -> str:
    with session_scope() as s:
        job = s.exec(select(Job).where(Job.kind == "lifestyle_heroes")).first()
        job.status, job.result = "failed", None
        s.add(job)
        return job.id


@dataclass
class Scenario:
    name: str
    covers: tuple[str, ...]  # the public functions it exercises
    act: Callable[[Any], Any]  # gets what `prepare` returned
    expected: dict[str, int]  # action -> rows the acting person must have written at least
    prepare: Callable[[Path], Any] = lambda folder: None  # runs before watching (gets a temporary folder)
    empty_database: bool = False


def _failed_sentence_job() -> str:
    job_id = jobs.wait_for_job(
        storyboard.regenerate_sentence_image(
            sentence_id="sent_002", options=storyboard.RegenerateImageOptions(seed=3)
        ).job_id,
        timeout=60,
    ).id
    with session_scope() as s:
        job = s.get(Job, job_id)
        job.status = "failed"
        s.add(job)
    return job_id


def _user(email: str) -> str:
    with session_scope() as s:
        s.add(User(email=email, role="reviewer"))
    return email


def _token(email: str) -> str:
    _user(email)
    with session_scope() as s:
        token = ApiToken(user_email=email, token_hash=auth.hash_token("rsh_x"), prefix="rsh_x")
        s.add(token)
    return token.id


def _refused(call: Callable[[], Any]) -> str:
    try:
        call()
    except Exception as e:  # a read that refuses (401/403) still must not write
        return type(e).__name__
    return "ok"


def _json_file(folder: Path) -> Path:
    path = folder / "items.json"
    path.write_text('{"workItems": [{"id": "98", "title": "From a file", "status": "open"}]}', encoding="utf-8")
    return path


SCENARIOS = [
    Scenario(
        "generate heroes (regenerate shot) and its job",
        (
            "services.lifestyle.generate_lifestyle_heroes",
            "services.lifestyle.start_heroes_job",
            "services.lifestyle.run_claim",
            "services.lifestyle.summarize",
            "services.jobs.enqueue",
            "services.jobs.execute_claim",
            "services.jobs.wait_for_job",
            "services.versions.save_new_versions",
            "services.versions.set_current",
        ),
        lambda _: generate("KT-2"),
        {"heroes.generate": 1, "version.create": 3},
    ),
    Scenario(
        "regenerate a sentence image and its job",
        (
            "services.storyboard.regenerate_sentence_image",
            "services.storyboard.run_claim",
            "services.storyboard.summarize",
        ),
        lambda _: jobs.wait_for_job(
            storyboard.regenerate_sentence_image(
                sentence_id="sent_001", options=storyboard.RegenerateImageOptions(seed=7)
            ).job_id,
            timeout=60,
        ),
        {"sentence.regenerate": 1, "version.create": 1},
    ),
    Scenario(
        "edit a prompt",
        ("services.storyboard.update_sentence",),
        lambda _: storyboard.update_sentence(
            sentence_id="sent_001", options=storyboard.UpdateSentenceOptions(image_prompt="a farm at dusk")
        ),
        {"sentence.prompt": 1},
    ),
    Scenario(
        "upload references",
        ("services.lifestyle.add_references",),
        lambda _: lifestyle.add_references(
            work_item_id="12",
            options=lifestyle.ReferenceUpload(shot_id="KT-1", files=[("a.png", png()), ("b.png", png((1, 2, 3)))]),
        ),
        {"reference.upload": 1},
    ),
    Scenario(
        "delete a reference",
        ("services.lifestyle.delete_reference",),
        lambda ref: lifestyle.delete_reference(ref),
        {"reference.delete": 1},
        prepare=lambda _: (
            lifestyle.add_references(
                work_item_id="12", options=lifestyle.ReferenceUpload(shot_id="KT-1", files=[("a.png", png())])
            )
            .references[0]
            .id
        ),
    ),
    Scenario(
        "lock a shot",
        ("services.lifestyle.set_shot_locked",),
        lambda _: lifestyle.set_shot_locked("12", "KT-1", True),
        {"shot.lock": 1},
    ),
    Scenario(
        "review a version",
        ("services.versions.set_review",),
        lambda v: versions.set_review(
            version_id=v[1], options=versions.ReviewDecisionOptions(state="approved", note="ok")
        ),
        {"version.review": 1},
        prepare=lambda _: two_versions(),
    ),
    Scenario(
        "comment on a version",
        ("services.comments.add_comment",),
        lambda v: comments.add_comment(version_id=v[1], options=comments.NewComment(body="The lamp is cut off")),
        {"version.comment": 1},
        prepare=lambda _: two_versions(),
    ),
    Scenario(
        "approve many heroes at once (selected versions, then all pending of a SKU)",
        ("services.versions.decide_many",),
        lambda v: (
            versions.decide_many(state="approved", version_ids=list(v)),
            versions.decide_many(state="rejected", note="soft", work_item_id="12", sku=hero_sku("KT-2")),
        ),
        {"version.review": 4},
        prepare=lambda _: (two_versions(), generate("KT-2"))[0],
    ),
    Scenario(
        "edit a hero prompt",
        ("services.hero_prompts.update_shot_prompt",),
        lambda _: hero_prompts.update_shot_prompt(
            work_item_id="12", shot_id="KT-1", options=hero_prompts.UpdateShotPromptOptions(prompt="knives on oak")
        ),
        {"shot.prompt": 1},
    ),
    Scenario(
        "set a shot's seed",
        ("services.hero_prompts.set_shot_seed",),
        lambda _: hero_prompts.set_shot_seed(work_item_id="12", shot_id="KT-1", seed=42),
        {"shot.seed": 1},
    ),
    Scenario(
        "use an earlier version's seed and prompt",
        ("services.hero_prompts.use_version_for_shot",),
        lambda v: (
            hero_prompts.update_shot_prompt(
                work_item_id="12", shot_id="KT-1", options=hero_prompts.UpdateShotPromptOptions(prompt="other")
            ),
            hero_prompts.use_version_for_shot(version_id=v[0]),
        ),
        {"shot.prompt": 2, "shot.seed": 1},
        prepare=lambda _: two_versions(),
    ),
    Scenario(
        "favourite a version",
        ("services.versions.set_favourite",),
        lambda v: versions.set_favourite(v[0], True),
        {"version.favourite": 1},
        prepare=lambda _: two_versions(),
    ),
    Scenario(
        "lock a version",
        ("services.versions.set_locked",),
        lambda v: versions.set_locked(v[0], True),
        {"version.lock": 1},
        prepare=lambda _: two_versions(),
    ),
    Scenario(
        "restore a version",
        ("services.versions.restore_version",),
        lambda v: versions.restore_version(v[0]),
        {"version.restore": 1},
        prepare=lambda _: two_versions(),
    ),
    Scenario(
        "retention removes old files",
        ("services.versions.apply_retention",),
        lambda _: versions.apply_retention("hero", str(hero_row().id), keep=1),
        {"version.retention": 1},
        prepare=lambda _: two_versions(),
    ),
    Scenario(
        "retry a failed heroes job",
        ("services.jobs.retry_job", "services.lifestyle.retry"),
        lambda job_id: jobs.retry_job(job_id),
        {"job.retry": 1, "heroes.generate": 1},
        prepare=lambda _: (generate(), failed_job())[1],
    ),
    Scenario(
        "retry a failed sentence job",
        ("services.storyboard.retry",),
        jobs.retry_job,
        {"job.retry": 1, "sentence.regenerate": 1},
        prepare=lambda _: _failed_sentence_job(),
    ),
    Scenario(
        "import JSON",
        ("services.importer.import_data",),
        lambda _: importer.import_data({"workItems": [{"id": "99", "title": "New", "status": "open"}]}),
        {"data.import": 1},
    ),
    Scenario(
        "import a file",
        ("services.importer.import_file",),
        lambda path: importer.import_file(path),
        {"data.import": 1},
        prepare=_json_file,
    ),
    Scenario(
        "import an export plan CSV",
        ("services.importer.import_export_plan_csv",),
        lambda _: importer.import_export_plan_csv(
            io.StringIO(
                "work_item_id,shot_id,sku,size_label,width,height,filename\n"
                "12,KT-9,SKU-9,Desktop,1920,800,fcc/lifestyle/12/KT-9/desktop.png\n"
            )
        ),
        {"data.import": 1},
    ),
    Scenario(
        "load the demo",
        ("services.demo.load_demo",),
        lambda _: demo.load_demo(generate_images=False),
        {"data.import": 1},
        empty_database=True,
    ),
    Scenario(
        "load the demo into an empty database",
        ("services.demo.ensure_demo_loaded",),
        lambda _: demo.ensure_demo_loaded(generate_images=False),
        {"data.import": 1},
        empty_database=True,
    ),
    Scenario(
        "first sign-in through a proxy",
        ("services.auth.sign_in", "services.auth.proxy_actor"),
        lambda _: auth.proxy_actor({"X-Forwarded-Email": RITA.email}, "127.0.0.1"),
        {"user.sign_in": 1},
    ),
    Scenario(
        "add a user",
        ("services.auth.add_user",),
        lambda _: auth.add_user(options=auth.NewUser(email="new@example.com", role="reviewer")),
        {"user.add": 1},
    ),
    Scenario(
        "change a role",
        ("services.auth.set_role",),
        lambda email: auth.set_role(options=auth.SetRoleOptions(email=email, role="admin")),
        {"user.role": 1},
        prepare=lambda _: _user("new@example.com"),
    ),
    Scenario(
        "disable a user",
        ("services.auth.set_disabled",),
        lambda email: auth.set_disabled(options=auth.SetDisabledOptions(email=email)),
        {"user.disable": 1},
        prepare=lambda _: _user("new@example.com"),
    ),
    Scenario(
        "create an API token",
        ("services.auth.create_token",),
        lambda _: auth.create_token(options=auth.CreateTokenOptions(name="script")),
        {"token.create": 1},
        prepare=lambda _: _user(RITA.email),
    ),
    Scenario(
        "revoke an API token",
        ("services.auth.revoke_token",),
        auth.revoke_token,
        {"token.revoke": 1},
        prepare=lambda _: _token(RITA.email),
    ),
    Scenario(
        "choose the compact grid",
        ("services.preferences.set_grid_density",),
        lambda _: preferences.set_grid_density(density="compact"),
        {"user.preference": 1},
    ),
]


@pytest.fixture
def world(db, fake_backend, tmp_path):
    return tmp_path


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_mutating_use_case_writes_its_audit_rows_in_the_same_transaction(scenario, world, watch):
    if not scenario.empty_database:
        demo.load_demo(generate_images=False)
    prepared = scenario.prepare(world)
    watch.unaudited.clear()
    with session_scope() as s:
        last = s.exec(select(AuditEntry.id).order_by(col(AuditEntry.id).desc())).first() or 0
    with acting_as(RITA):
        scenario.act(prepared)
    jobs.stop_embedded_worker()  # every job it started has ended (they were waited for)
    with session_scope() as s:
        rows = s.exec(select(AuditEntry).where(col(AuditEntry.id) > last)).all()
    assert watch.unaudited == [], f"changes committed without an audit row: {watch.unaudited}"
    for action, at_least in scenario.expected.items():
        mine = [r for r in rows if r.action == action and r.actor_email == RITA.email]
        assert len(mine) >= at_least, (action, [(r.action, r.actor_email) for r in rows])
    assert {r.actor_email for r in rows} == {RITA.email}, "every row names the person who acted"


# --- Functions that change nothing a person did ------------------------------------------------------------


def _job_id() -> str:
    with session_scope() as s:
        return s.exec(select(Job.id)).first()


READS: dict[str, Callable[[], Any]] = {
    "services.work_items.list_work_items": lambda: work_items.list_work_items(search="kit"),
    "services.work_items.get_work_item": lambda: work_items.get_work_item("12"),
    "services.work_items.list_statuses": work_items.list_statuses,
    "services.work_items.shots_by_sku": lambda: work_items.shots_by_sku("12"),
    "services.storyboard.list_projects": storyboard.list_projects,
    "services.storyboard.get_storyboard": lambda: storyboard.get_storyboard("coffee-origins"),
    "services.storyboard.list_sentences": lambda: storyboard.list_sentences("coffee-origins"),
    "services.storyboard.get_sentence": lambda: storyboard.get_sentence("sent_001"),
    "services.storyboard.sentence_target_key": lambda: storyboard.sentence_target_key("sent_001"),
    "services.storyboard.seed_to_use": lambda: storyboard.seed_to_use(-1),
    "services.lifestyle.list_references": lambda: lifestyle.list_references("12"),
    "services.demo.demo_render_progress": demo.demo_render_progress,
    "services.demo.demo_load_failure": demo.demo_load_failure,
    "services.lifestyle.heroes_target_key": lambda: lifestyle.heroes_target_key("12", ["KT-1"]),
    "services.versions.list_versions": lambda: versions.list_versions("hero", hero_row().id),
    "services.versions.get_version": lambda: versions.get_version(hero_row().current_version_id),
    "services.versions.review_queue": versions.review_queue,
    "services.versions.review_queue_count": versions.review_queue_count,
    "services.versions.hero_size_labels": versions.hero_size_labels,
    "services.versions.review_history": lambda: versions.review_history([hero_row().current_version_id]),
    "services.comments.list_comments": lambda: comments.list_comments(version_id=hero_row().current_version_id),
    "services.comments.version_thread": lambda: comments.version_thread(version_id=hero_row().current_version_id),
    "services.comments.comment_counts": lambda: comments.comment_counts(version_ids=[hero_row().current_version_id]),
    "services.comments.thread_summaries": lambda: comments.thread_summaries(
        version_ids=[hero_row().current_version_id]
    ),
    "services.hero_prompts.shot_prompt": lambda: hero_prompts.shot_prompt(work_item_id="12", shot_id="KT-1"),
    "services.hero_prompts.card_summaries": lambda: hero_prompts.card_summaries(work_item_id="12", shot_ids=["KT-1"]),
    "services.hero_prompts.rejected_heroes": lambda: hero_prompts.rejected_heroes(work_item_id="12"),
    "services.versions.url_for": lambda: versions.url_for("a/b.png"),
    "services.versions.versioned_key": lambda: versions.versioned_key("a/b.png", 2, "abc"),
    "services.versions.image_urls": lambda: versions.image_urls(None),
    "services.versions.version_public": lambda: versions.version_public(
        ImageVersion(
            id=1, target_kind="hero", target_id="1", version=1, storage_key="k", width=1, height=1, backend="x"
        )
    ),
    "services.jobs.get_job": lambda: jobs.get_job(_job_id()),
    "services.reviews.export_approved": lambda: b"".join(reviews.export_approved(work_item_id="12").chunks),
    "services.reviews.download_name": lambda: reviews.download_name("7"),
    "services.reviews.manifest_csv": lambda: reviews.manifest_csv(reviews.export_approved(work_item_id="12").manifest),
    "services.jobs.wait_until_finished": lambda: jobs.wait_until_finished(_job_id(), timeout=5),
    "services.versions.file_metadata": lambda: versions.file_metadata(hero_row().current_version_id),
    "services.versions.provenance_text": lambda: versions.provenance_text(
        versions.NewImage(
            target_kind="hero",
            target_id="1",
            base_key="a/b.png",
            data=b"",
            width=1,
            height=1,
            prompt="p",
            seed=1,
            backend="local",
        ),
        1,
    ),
    "services.jobs.get_jobs": lambda: jobs.get_jobs([_job_id()]),
    "services.jobs.list_jobs": jobs.list_jobs,
    "services.jobs.job_public": lambda: jobs.job_public(Job(kind="lifestyle_heroes", target_key="x")),
    "services.jobs.active_job_for": lambda: jobs.active_job_for("heroes:12:*"),
    "services.jobs.active_jobs_for": lambda: jobs.active_jobs_for(["heroes:12:*"]),
    "services.jobs.events_since": lambda: jobs.events_since(project_id="coffee-origins"),
    "services.jobs.latest_event_id": lambda: jobs.latest_event_id(project_id="coffee-origins"),
    "services.jobs.consumer_alive": jobs.consumer_alive,
    "services.jobs.requester": lambda: jobs.requester("ana@example.com"),
    "services.jobs.recover_orphaned_jobs": jobs.recover_orphaned_jobs,
    "services.jobs.requeue_lost_jobs": jobs.requeue_lost_jobs,
    "services.jobs.start_embedded_worker": jobs.start_embedded_worker,
    "services.jobs.start_embedded_workers_if_enabled": jobs.start_embedded_workers_if_enabled,
    "services.jobs.embedded_workers_enabled": jobs.embedded_workers_enabled,
    "services.jobs.list_workers": jobs.list_workers,
    "services.lifestyle.hero_unit_key": lambda: lifestyle.hero_unit_key("12", "KT-1"),
    "services.lifestyle.units_for": lambda: lifestyle.units_for(jobs.get_job(_job_id())),
    "services.storyboard.units_for": lambda: storyboard.units_for(
        jobs.job_public(Job(kind="sentence_image", target_key="sentence:sent_001", sentence_id="sent_001"))
    ),
    "services.jobs.stop_embedded_worker": jobs.stop_embedded_worker,
    "services.jobs.backend_slot": lambda: [None for _ in [jobs.backend_slot().__enter__()]],
    "services.jobs.registration.handlers": lambda: jobs.registration.handlers("lifestyle_heroes"),
    "services.jobs.registration.event_job_type": lambda: jobs.registration.event_job_type("sentence_image"),
    # Keeping served files equal to the recorded current version, and sweeping files no row points at:
    "services.versions.publish_current": lambda: versions.publish_current(hero_row().id),
    "services.versions.publish_current_many": lambda: versions.publish_current_many([hero_row().id]),
    "services.versions.retention_due": lambda: versions.retention_due(ImageVersion(version=6)),
    "services.versions.stale_stable_copies": versions.stale_stable_copies,
    "services.versions.reconcile_stable_copies": versions.reconcile_stable_copies,
    "services.versions.served_key": lambda: versions.served_key(hero_row().filename),
    "services.sweeper.find_orphans": sweeper.find_orphans,
    "services.sweeper.sweep": lambda: sweeper.sweep(grace_seconds=0),
    "services.sweeper.start_maintenance": sweeper.start_maintenance,
    "services.sweeper.stop_maintenance": sweeper.stop_maintenance,
    # Who acts and what they may do (the changes to users and tokens are scenarios above)
    "services.auth.auth_mode": auth.auth_mode,
    "services.auth.unauthenticated": lambda: auth.unauthenticated("test"),
    "services.auth.why_not": lambda: auth.why_not(Role.admin),
    "services.auth.require": lambda: auth.require(Role.viewer),
    "services.auth.requires": lambda: auth.requires(Role.viewer)(lambda: None)(),
    "services.auth.is_loopback": lambda: auth.is_loopback("127.0.0.1"),
    "services.auth.unsafe_bind_message": lambda: auth.unsafe_bind_message("0.0.0.0", server="API"),
    "services.auth.normalise_email": lambda: auth.normalise_email("A@Example.com"),
    "services.auth.user_public": lambda: auth.user_public(User(email="a@example.com")),
    "services.auth.list_users": auth.list_users,
    "services.auth.role_from_groups": lambda: auth.role_from_groups(["x"]),
    "services.auth.hash_token": lambda: auth.hash_token("rsh_x"),
    "services.auth.token_public": lambda: auth.token_public(
        ApiToken(user_email="a@example.com", token_hash="h", prefix="p")
    ),
    "services.auth.list_tokens": lambda: auth.list_tokens(options=auth.ListTokensOptions(all_users=True)),
    "services.auth.actor_for_token": lambda: _refused(lambda: auth.actor_for_token("rsh_unknown")),
    "services.auth.bearer_token": lambda: auth.bearer_token("Bearer rsh_x"),
    "services.auth.peer_is_trusted_proxy": lambda: auth.peer_is_trusted_proxy("127.0.0.1"),
    "services.auth.proxy_identity": lambda: auth.proxy_identity({"X-Forwarded-Email": "a@example.com"}),
    "services.preferences.get_preferences": preferences.get_preferences,
}

NOT_CHANGES = {
    "services.demo.load_demo_in_background": "runs ensure_demo_loaded (audited by its scenario) in a thread",
    "services.jobs.run_worker": "runs job consumers until the process is stopped (blocks); jobs record as their requester",
    "services.jobs.leases.after_call": "sets what this thread does once its backend call ends (no database)",
    "services.jobs.register": "declares a job kind when its use-case module is imported (no database)",
}


def test_reads_change_nothing_a_person_did(world, watch):
    demo.load_demo(generate_images=False)
    generate()
    watch.unaudited.clear()
    for name, call in READS.items():
        call()
        assert watch.unaudited == [], f"{name} wrote {watch.unaudited} without an audit row: it is not a read"
    jobs.stop_embedded_worker()


def _use_case_functions() -> set[str]:
    """Public functions of the use-case modules, and of the modules of use-case packages (services/jobs/): a function
    a package re-exports is named by the package (`services.jobs.get_job`), as its callers name it."""
    found = set()
    for info in pkgutil.iter_modules(services.__path__):
        if info.name.startswith("_") or info.name in INFRASTRUCTURE_MODULES:
            continue
        package = importlib.import_module(f"services.{info.name}")
        modules = [package]
        if info.ispkg:
            modules += [
                importlib.import_module(f"{package.__name__}.{sub.name}")
                for sub in pkgutil.iter_modules(package.__path__)
                if not sub.name.startswith("_")
            ]
        for module in modules:
            for name, f in inspect.getmembers(module, inspect.isfunction):
                if f.__module__ != module.__name__ or name.startswith("_"):
                    continue
                exported = getattr(package, name, None) is f
                found.add(f"{package.__name__ if exported else module.__name__}.{name}")
    return found


def test_every_public_use_case_function_is_classified():
    covered = {name for s in SCENARIOS for name in s.covers}
    unclassified = _use_case_functions() - covered - set(READS) - set(NOT_CHANGES)
    assert not unclassified, (
        f"{sorted(unclassified)}: a new use case? If it changes anything, call services.audit.record() in its "
        "transaction and add a Scenario here that asserts the rows; if it only reads, add it to READS."
    )
    stale = (covered | set(READS) | set(NOT_CHANGES)) - _use_case_functions()
    assert not stale, f"{sorted(stale)} no longer exist: remove them here"


# --- Review history ------------------------------------------------------------------------------------


def test_two_decisions_by_two_people_stay_visible_and_the_latest_is_the_state(world):
    demo.load_demo(generate_images=False)
    generate()
    version_id = hero_row().current_version_id
    with acting_as(Actor("ana@example.com", "Ana", Role.reviewer)):
        versions.set_review(
            version_id=version_id, options=versions.ReviewDecisionOptions(state="approved", note="Good light")
        )
    with acting_as(Actor("ben@example.com", "Ben", Role.admin)):
        state = versions.set_review(
            version_id=version_id, options=versions.ReviewDecisionOptions(state="rejected", note="Logo cut off")
        )
    assert (state.review_state, state.reviewer, state.review_note) == ("rejected", "Ben", "Logo cut off")
    history = versions.review_history([version_id])[version_id]
    assert [(d.decision, d.reviewer_email, d.note) for d in history] == [
        ("rejected", "ben@example.com", "Logo cut off"),
        ("approved", "ana@example.com", "Good light"),
    ]
    with session_scope() as s:
        assert (
            s.exec(select(ReviewDecision).where(ReviewDecision.version_id == version_id)).all()[0].reviewer_name
            == "Ana"
        )
    trail = audit.hero_history("12", "KT-1", "Desktop")
    reviews = [e for e in trail if e.action == AuditAction.review]
    assert [(e.actor_email, e.change) for e in reviews] == [
        ("ben@example.com", "state: approved → rejected; reviewer: Ana → Ben; note: Logo cut off"),
        ("ana@example.com", "state: pending → approved; reviewer: null → Ana; note: Good light"),
    ]


def test_jobs_record_who_requested_them_and_their_versions_are_theirs(world):
    demo.load_demo(generate_images=False)
    with acting_as(RITA):
        job = generate("KT-3")
    assert job.status == "succeeded"
    with session_scope() as s:
        assert s.get(Job, job.id).requested_by == RITA.email
    created = [e for e in audit.hero_history("12", "KT-3") if e.action == AuditAction.new_version]
    assert len(created) == 3 and {e.actor_email for e in created} == {RITA.email}
    assert {e.size_label for e in created} == {"Desktop", "Tablet", "Mobile"} and all(
        e.after["jobId"] == job.id for e in created
    )
    assert [v.created_by for v in versions.list_versions("hero", hero_row("KT-3").id)] == [
        RITA.email
    ]  # versions show who


def test_a_single_shot_job_and_the_job_retrying_it_are_in_that_shots_history(world):
    demo.load_demo(generate_images=False)
    job = generate("KT-2")
    retried = jobs.retry_job(failed_job())
    rows = [e for e in audit.hero_history("12", "KT-2") if e.target_kind == "job"]
    assert [(e.action, e.target_id) for e in rows] == [
        (AuditAction.generate_heroes, retried.id),
        (AuditAction.generate_heroes, job.id),
    ]
    with session_scope() as s:
        retry_row = s.exec(select(AuditEntry).where(AuditEntry.action == AuditAction.retry_job)).one()
    assert (retry_row.target_id, retry_row.work_item_id, retry_row.after) == (
        retried.id,
        "12",
        {"jobId": retried.id},
    )

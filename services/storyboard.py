"""Storyboards (spec 002): sentences with image prompts, dirty flags, and one-image regeneration with a seed."""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from pydantic import Field
from sqlalchemy import func
from sqlmodel import Session, col, select

from services import backends, images, jobs
from services.audit import AuditAction, Target, record
from services.auth import requires
from services.db import session_scope
from services.enums import AuditTargetKind, JobKind, JobStatus, TargetKind
from services.errors import ReshootError
from services.identity import Role
from services.messages import IMAGE_REGENERATION_STARTED, NO_IMAGE_PROMPT, SENTENCE_NOT_FOUND
from services.models import CastMember, ImageVersion, Project, Section, Sentence, stored_id, utcnow
from services.options import Options
from services.read_models.jobs import JobPublic
from services.read_models.storyboard import (
    CastMemberPublic,
    ImageJobStarted,
    ProjectPublic,
    SectionPublic,
    SentenceImageParams,
    SentenceImageResult,
    SentencePublic,
    StoryboardPublic,
)
from services.storable_text import require_storable
from services.storage import get_storage
from services.versions import NewImage, apply_retention, image_urls, save_new_versions

log = logging.getLogger("reshoot.storyboard")

KIND = JobKind.sentence_image
SENTENCE_IMAGE_JOB = jobs.register(KIND, event_job_type="image")  # spec 002 listens for "image"
SCENE_SIZE = (1024, 576)  # 16:9; the backend is asked for its nearest size
MAX_SEED = 2**63 - 1
# Seeds are kept in a signed 64-bit column and every backend takes 0..2^63-1 (ComfyUI's sampler up to 2^64-1,
# the local renderer any integer), so that is the range a typed seed is reduced to.
SEED_RANGE = MAX_SEED + 1
RANDOM_SEED = -1  # what A1111 and ComfyUI users type for "pick one for me"


class UpdateSentenceOptions(Options):
    image_prompt: str = Field(max_length=10_000)


class RegenerateImageOptions(Options):
    """None or -1: a random seed; any other whole number is used, reduced to the backends' range (`seed_to_use`)."""

    seed: int | None = None

    @classmethod
    def from_text(cls, text: str | None) -> RegenerateImageOptions:
        """From a typed seed field: empty means random; anything but a whole number raises ValidationError."""
        text = (text or "").strip()
        return cls.model_validate({"seed": text or None}, strict=False)


def seed_to_use(seed: int | None) -> tuple[int, bool]:
    """`(seed the backend gets, whether the user chose it)`: None or -1 draw a random one; any other integer is
    reduced into 0..MAX_SEED (a negative or huge number the user typed stays reproducible)."""
    if seed is None or seed == RANDOM_SEED:
        return secrets.randbelow(2**31), False
    return seed % SEED_RANGE, True


def sentence_target_key(sentence_id: str) -> str:
    return f"sentence:{sentence_id}"


def _sentences_public(session: Session, sentences: list[Sentence]) -> list[SentencePublic]:
    """Many sentences with two more queries (versions, active jobs), whatever their number."""
    version_ids = [x.current_version_id for x in sentences if x.current_version_id]
    versions = (
        {v.id: v for v in session.exec(select(ImageVersion).where(col(ImageVersion.id).in_(version_ids)))}
        if version_ids
        else {}
    )
    active = jobs.active_jobs_for([sentence_target_key(x.id) for x in sentences])
    out = []
    for sentence in sentences:
        version = versions.get(sentence.current_version_id) if sentence.current_version_id else None
        url, thumb_url = image_urls(version)
        out.append(
            SentencePublic(
                id=sentence.id,
                project_id=sentence.project_id,
                section_id=sentence.section_id,
                position=sentence.position,
                text=sentence.text,
                image_prompt=sentence.image_prompt,
                image_file=url,
                thumb_url=thumb_url,
                seed=sentence.seed,
                seed_honoured=version.seed_honoured if version else None,
                is_image_dirty=sentence.is_image_dirty,
                is_video_dirty=sentence.is_video_dirty,
                updated_at=sentence.updated_at,
                version_id=sentence.current_version_id,
                active_job_id=job.id if (job := active.get(sentence_target_key(sentence.id))) else None,
            )
        )
    return out


def _require_sentence(session: Session, sentence_id: Any) -> Sentence:
    sentence = session.get(Sentence, sentence_id) if isinstance(sentence_id, str) else None
    if sentence is None:
        raise ReshootError(SENTENCE_NOT_FOUND, 404, None, SENTENCE_NOT_FOUND)
    return sentence


def _require_project(session: Session, project_id: Any) -> Project:
    project = session.get(Project, project_id) if isinstance(project_id, str) else None
    if project is None:
        raise ReshootError("PROJECT_NOT_FOUND", 404, {"projectId": str(project_id)}, "Project not found")
    return project


def _ordered_sentences(session: Session, project_id: str) -> list[Sentence]:
    return list(
        session.exec(
            select(Sentence)
            .join(Section, col(Section.id) == Sentence.section_id)
            .where(Sentence.project_id == project_id)
            .order_by(col(Section.position), col(Section.id), col(Sentence.position), col(Sentence.id))
        )
    )


# --- Reading ------------------------------------------------------------------------------------------


def list_projects() -> list[ProjectPublic]:
    with session_scope() as session:
        counts = dict(
            session.exec(select(Sentence.project_id, func.count(col(Sentence.id))).group_by(Sentence.project_id)).all()
        )
        dirty = dict(
            session.exec(
                select(Sentence.project_id, func.count(col(Sentence.id)))
                .where(col(Sentence.is_image_dirty).is_(True))
                .group_by(Sentence.project_id)
            ).all()
        )
        projects = session.exec(select(Project).order_by(col(Project.created_at), col(Project.id))).all()
        return [
            ProjectPublic(
                id=p.id,
                title=p.title,
                sentence_count=counts.get(p.id, 0),
                dirty_image_count=dirty.get(p.id, 0),
                created_at=p.created_at,
            )
            for p in projects
        ]


def get_storyboard(project_id: str) -> StoryboardPublic:
    """The project's sections with their sentences, and its cast, in a constant number of queries."""
    with session_scope() as session:
        project = _require_project(session, project_id)
        cast = session.exec(
            select(CastMember)
            .where(CastMember.project_id == project_id)
            .order_by(col(CastMember.position), col(CastMember.id))
        ).all()
        sections = session.exec(
            select(Section).where(Section.project_id == project_id).order_by(col(Section.position), col(Section.id))
        ).all()
        by_section: dict[str, list[SentencePublic]] = defaultdict(list)
        for sentence in _sentences_public(session, _ordered_sentences(session, project_id)):
            by_section[sentence.section_id].append(sentence)
        return StoryboardPublic(
            id=project.id,
            title=project.title,
            cast=[
                CastMemberPublic(
                    id=c.id,
                    name=c.name,
                    reference_images=[get_storage().url(key) for key in c.reference_images],
                    style_lora=c.style_lora,
                    position=c.position,
                )
                for c in cast
            ],
            sections=[
                SectionPublic(id=sec.id, title=sec.title, position=sec.position, sentences=by_section.get(sec.id, []))
                for sec in sections
            ],
        )


def list_sentences(project_id: str) -> list[SentencePublic]:
    with session_scope() as session:
        _require_project(session, project_id)
        return _sentences_public(session, _ordered_sentences(session, project_id))


def get_sentence(sentence_id: str) -> SentencePublic:
    with session_scope() as session:
        return _sentences_public(session, [_require_sentence(session, sentence_id)])[0]


# --- Editing and regenerating -----------------------------------------------------------------------------


@requires(Role.reviewer)
def update_sentence(*, sentence_id: str, options: UpdateSentenceOptions) -> SentencePublic:
    """Save an edited prompt; a changed prompt sets isImageDirty and isVideoDirty (the video is made from the image)."""
    image_prompt = options.image_prompt
    require_storable({"imagePrompt": image_prompt})
    with session_scope() as session:
        sentence = _require_sentence(session, sentence_id)
        if image_prompt != (sentence.image_prompt or ""):
            record(
                session,
                action=AuditAction.edit_prompt,
                target=Target(
                    AuditTargetKind.sentence, sentence.id, sentence_id=sentence.id, project_id=sentence.project_id
                ),
                before={"imagePrompt": sentence.image_prompt},
                after={"imagePrompt": image_prompt},
            )
            sentence.image_prompt = image_prompt
            sentence.is_image_dirty = True
            sentence.is_video_dirty = True
            sentence.updated_at = utcnow()
            session.add(sentence)
    return get_sentence(sentence_id)


@requires(Role.reviewer)
def regenerate_sentence_image(
    *, sentence_id: str, options: RegenerateImageOptions = RegenerateImageOptions()
) -> ImageJobStarted:
    """Queue one image for a sentence: `{"jobId", "message": "Image regeneration started"}`. A random seed is
    picked when none (or -1) is given; any other integer is reduced to the backends' range (`seed_to_use`). The
    seed used is recorded on the job, the new version and the sentence.

    One image per sentence is generated at a time: a request while one is queued or running gets that job back,
    unless it names a different seed (409 ALREADY_GENERATING with the running job's id: it would be lost)."""
    chosen, seed_given = seed_to_use(options.seed)
    with session_scope() as session:
        sentence = _require_sentence(session, sentence_id)
        prompt = (sentence.image_prompt or "").strip()
        if not prompt:
            raise ReshootError(NO_IMAGE_PROMPT, 400, None, NO_IMAGE_PROMPT)
        project_id = sentence.project_id
    job, created = jobs.enqueue(
        KIND,
        sentence_target_key(sentence_id),
        SentenceImageParams(prompt=prompt, seed=chosen, seed_given=seed_given),
        units=[jobs.Unit(sentence_target_key(sentence_id), sentence_id)],
        sentence_id=sentence_id,
        project_id=project_id,
        action=AuditAction.regenerate_sentence_image,
    )
    running_seed = SentenceImageParams.model_validate(job.params).seed
    if not created and seed_given and running_seed != chosen:
        raise ReshootError(
            "ALREADY_GENERATING",
            409,
            {"jobId": job.id, "seed": running_seed},
            f"An image for this sentence is already being generated with seed {running_seed}; "
            "wait for it to finish, then generate again with your seed.",
        )
    return ImageJobStarted(job_id=job.id, message=IMAGE_REGENERATION_STARTED)


@SENTENCE_IMAGE_JOB.retry
def retry(job: JobPublic) -> ImageJobStarted:
    """Same sentence; the same seed if the user gave one, a new random one otherwise."""
    request = SentenceImageParams.model_validate(job.params)
    seed = request.seed if request.seed_given else None
    return regenerate_sentence_image(sentence_id=job.sentence_id or "", options=RegenerateImageOptions(seed=seed))


@SENTENCE_IMAGE_JOB.units_for
def units_for(job: JobPublic) -> tuple[list[jobs.Unit], None]:
    """A job's one unit: its sentence's image."""
    sentence_id = job.sentence_id or ""
    return [jobs.Unit(sentence_target_key(sentence_id), sentence_id)], None


@SENTENCE_IMAGE_JOB.summarize
def summarize(job: JobPublic, claims: list[jobs.ClaimOutcome]) -> tuple[dict[str, Any], str]:
    """The job's result is its one image's (or it fails as the image did)."""
    [claim] = claims
    if claim.status != JobStatus.succeeded:
        message = jobs.WORKER_DIED_MESSAGE if claim.error_code == "WORKER_DIED" else claim.message
        raise jobs.JobFailed(claim.error_code or "INTERNAL_ERROR", message, detail=claim.detail)
    return claim.outcome or {}, "Image regenerated"


@SENTENCE_IMAGE_JOB.run_claim
def run_claim(ctx: jobs.ClaimContext) -> dict[str, Any]:
    """One backend call with the cast's reference images and style LoRA (recorded in the job's result)."""
    request = SentenceImageParams.model_validate(ctx.params)
    prompt, seed = request.prompt, request.seed
    with session_scope() as session:
        sentence = _require_sentence(session, ctx.sentence_id)
        cast = session.exec(
            select(CastMember)
            .where(CastMember.project_id == sentence.project_id)
            .order_by(col(CastMember.position), col(CastMember.id))
        ).all()
    backend = backends.get_backend()
    ref_keys, references = _cast_references(cast) if backend.capabilities.accepts_references else ([], [])
    if backend.capabilities.max_references:
        ref_keys, references = (
            ref_keys[: backend.capabilities.max_references],
            references[: backend.capabilities.max_references],
        )
    style_lora = next((c.style_lora for c in cast if c.style_lora), None)
    width, height = backends.nearest_size(backend.capabilities, *SCENE_SIZE)
    ctx.report("Generating image")
    with jobs.backend_slot():
        data = backend.generate(
            prompt, width=width, height=height, seed=seed, references=references, style_lora=style_lora
        )
    width, height = images.image_size(data)
    new = NewImage(
        target_kind=TargetKind.sentence,
        target_id=sentence.id,
        base_key=f"storyboard/{sentence.project_id}/{sentence.id}/image.png",
        data=data,
        width=width,
        height=height,
        prompt=prompt,
        seed=seed,
        seed_honoured=backend.capabilities.honours_seed,
        backend=backend.name,
        model=backend.model,
        references=ref_keys,
        job_id=ctx.id,
        subject={"projectId": sentence.project_id, "sentenceId": sentence.id},
    )

    def move_pointer(session: Session, versions: list[ImageVersion]) -> None:
        row = _require_sentence(session, sentence.id)
        row.current_version_id = versions[0].id
        row.seed = seed
        if (row.image_prompt or "").strip() == prompt:  # edited again meanwhile: the image is still out of date
            row.is_image_dirty = False
        row.updated_at = utcnow()
        session.add(row)

    version = save_new_versions([new], move_pointer)[0]
    apply_retention(TargetKind.sentence, sentence.id)
    # ImageVersion has no LoRA column; the job that made the version (version.job_id) keeps it.
    used_lora = style_lora if backend.capabilities.accepts_style_lora else None
    result = SentenceImageResult(
        sentence_id=sentence.id,
        version_id=stored_id(version),
        seed=seed,
        seed_honoured=backend.capabilities.honours_seed,
        image_file=get_storage().url(version.storage_key),
        style_lora=used_lora,
    )
    return result.model_dump(mode="json")


def _cast_references(cast: Sequence[CastMember]) -> tuple[list[str], list[bytes]]:
    storage, keys, data = get_storage(), [], []
    for key in (k for member in cast for k in member.reference_images):
        try:
            data.append(storage.get(key))
            keys.append(key)
        except ReshootError:
            log.warning("Cast reference %s is missing; generating without it", key)
    return keys, data

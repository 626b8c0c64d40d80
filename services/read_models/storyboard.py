"""Storyboards as spec 002 writes them: projects, their cast and sections, and sentences."""

from __future__ import annotations

from services.read_models import ReadModel, UtcDatetime


class ProjectPublic(ReadModel):
    """A storyboard project in the list, with how many of its sentences there are and how many images are dirty."""

    id: str
    title: str
    sentence_count: int
    dirty_image_count: int
    created_at: UtcDatetime | None


class SentenceFields(ReadModel):
    """A sentence's fields spec 002's client reads (its JSON leads with them; the API puts `ok` after them)."""

    id: str
    project_id: str
    image_prompt: str | None
    image_file: str | None  # the current image's URL
    is_image_dirty: bool
    is_video_dirty: bool
    seed: int | None  # the current image's seed
    seed_honoured: bool | None  # False: the backend that made the current image ignores seeds (OpenAI)
    updated_at: UtcDatetime | None


class SentencePlacement(ReadModel):
    """Where a sentence sits and what Reshoot adds: its section, text, thumbnail, version and running job."""

    section_id: str
    position: int
    text: str
    thumb_url: str | None
    version_id: int | None
    active_job_id: str | None  # a queued or running image job for this sentence


class SentencePublic(SentencePlacement, SentenceFields):  # pydantic orders fields from the last base first
    pass


class CastMemberPublic(ReadModel):
    id: str
    name: str
    reference_images: list[str]  # URLs
    style_lora: str | None
    position: int


class SectionPublic(ReadModel):
    id: str
    title: str
    sentences: list[SentencePublic]
    position: int


class StoryboardPublic(ReadModel):
    id: str
    title: str
    sections: list[SectionPublic]
    cast: list[CastMemberPublic]

    def sentences(self) -> list[SentencePublic]:
        """Every sentence in reading order."""
        return [sentence for section in self.sections for sentence in section.sentences]


class SentenceImageParams(ReadModel):
    """A sentence-image job's request, as its row stores it: the prompt and seed, and whether the person chose it."""

    prompt: str
    seed: int
    seed_given: bool = False


class SentenceImageResult(ReadModel):
    """A finished sentence-image job's result (the job's `result` JSON; spec 002's image event carries it)."""

    ok: bool = True
    sentence_id: str
    version_id: int
    seed: int
    seed_honoured: bool
    image_file: str
    style_lora: str | None


class ImageJobStarted(ReadModel):
    """The spec's 202 answer to regenerate-image."""

    job_id: str
    message: str

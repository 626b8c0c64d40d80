"""The Scene Inspector (spec 002): one sentence's image, prompt editor, regeneration with a seed, and history."""

from __future__ import annotations

import html
from functools import partial

import streamlit as st
from pydantic import ValidationError

from services import messages
from services.audit import sentence_history
from services.enums import JobStatus, TargetKind
from services.errors import ReshootError
from services.identity import Role
from services.jobs import retry_job
from services.read_models.jobs import JobPublic
from services.read_models.storyboard import SentencePublic
from services.read_models.versions import ListedVersion, VersionPublic
from services.storyboard import (
    RegenerateImageOptions,
    UpdateSentenceOptions,
    get_sentence,
    regenerate_sentence_image,
    update_sentence,
)
from services.versions import list_versions, restore_version, set_favourite
from ui.activity import RECENT_SHOWN, recent_changes
from ui.compare import image_compare
from ui.debounced_text_area import debounced_text_area
from ui.images import absolute_url, placeholder
from ui.job_progress import finish_once, job_progress, wait_briefly
from ui.permissions import lacks, why_disabled
from ui.seeds import seed_words
from ui.toasts import escape_markdown, queue_toast, show_queued_toasts

HISTORY_SHOWN = 8
EARLIER_CARD_WIDTH = 200  # px: room for `seed 9223372036854775807` on one line
SEED_HELP = ". Empty or -1: a random seed; any other whole number is used (reduced to the backend's range)."
SEED_ERROR = "The seed must be a whole number, or empty (or -1) for a random one."

_DIMMED = """<div style="position:relative">
<img src="{url}" alt="Scene image, regenerating" style="display:block;width:100%;opacity:.4;border-radius:.5rem">
<div style="position:absolute;inset:0;display:flex;align-items:center;justify-content:center">
<div class="reshoot-spinner" role="status" aria-label="Generating"></div></div></div>
<style>.reshoot-spinner{{width:2.5rem;height:2.5rem;border:4px solid rgba(255,255,255,.25);border-top-color:#14b8a6;
border-radius:50%;animation:reshoot-spin 1s linear infinite}}@keyframes reshoot-spin{{to{{transform:rotate(360deg)}}}}</style>"""


def inspector_key(name: str, sentence_id: str) -> str:
    return f"sb_{name}_{sentence_id}"


def running_job(sentence: SentencePublic) -> str | None:
    return st.session_state.get(inspector_key("job", sentence.id)) or sentence.active_job_id


def preview(sentence: SentencePublic, *, generating: bool) -> None:
    """The current image; dimmed under a spinner while a new one is being made."""
    url = absolute_url(sentence.image_file)
    if not url:
        placeholder(None, text=messages.REGENERATE_IMAGE_LOADING if generating else messages.NO_IMAGE, height=220)
    elif generating:
        st.html(_DIMMED.format(url=html.escape(url, quote=True)))
    else:
        st.image(url, width="stretch")


def _preview_of_job(sentence: SentencePublic, job: JobPublic) -> None:
    """The preview while `job` regenerates the image, then (read afresh) the image it made."""
    if job.finished:
        preview(get_sentence(sentence.id), generating=False)
    else:
        preview(sentence, generating=True)


def save_prompt(text: str, sentence_id: str) -> None:
    """Auto-save while typing: a changed prompt marks the image and the video dirty."""
    try:
        update_sentence(sentence_id=sentence_id, options=UpdateSentenceOptions(image_prompt=text))
    except ReshootError as e:
        queue_toast("Couldn’t save the prompt", e.message or e.code, kind="error")


USE_VERSION_HELP = "Use this seed / prompt: the Image Prompt and the Seed field take this version's"


def use_seed_and_prompt(sentence_id: str, version: VersionPublic) -> None:
    """`Use this seed / prompt`: the image prompt becomes the version's (saved: the image is then dirty unless it
    is the current one's) and the Seed field its seed, so `Regenerate Image` makes that picture again."""
    try:
        update_sentence(sentence_id=sentence_id, options=UpdateSentenceOptions(image_prompt=version.prompt))
    except ReshootError as e:
        queue_toast("Couldn’t use that version", e.message or e.code, kind="error")
        return
    honoured = version.seed_honoured and version.seed is not None
    st.session_state[inspector_key("seed", sentence_id)] = str(version.seed) if honoured else ""
    seed = f"seed {version.seed}" if honoured else "a random seed (its backend ignored seeds)"
    queue_toast("Seed and prompt recalled", f"v{version.version}'s prompt and {seed}: Regenerate Image to use them.")


def start_regeneration(sentence_id: str, options: RegenerateImageOptions) -> None:
    try:
        started = regenerate_sentence_image(sentence_id=sentence_id, options=options)
    except ReshootError as e:
        queue_toast("Couldn’t regenerate the image", e.message or e.code, kind="error")
        return
    st.session_state.pop(inspector_key("failed", sentence_id), None)
    finished = wait_briefly(started.job_id)  # a short job's image then shows in this click's rerun
    if finished:
        finish_once(finished, lambda job: regeneration_finished(sentence_id, job))
    else:
        st.session_state[inspector_key("job", sentence_id)] = started.job_id


def regenerate_with_typed_seed(sentence_id: str) -> None:
    """`Regenerate Image`: the seed in the field (reduced to the backend's range by the service); random when the
    field is empty or says -1."""
    try:
        options = RegenerateImageOptions.from_text(st.session_state.get(inspector_key("seed", sentence_id)))
    except ValidationError:
        st.session_state[inspector_key("seed_error", sentence_id)] = True
        return
    start_regeneration(sentence_id, options)


def retry_failed(sentence_id: str) -> None:
    failed = st.session_state.pop(inspector_key("failed", sentence_id), None)
    if failed:
        try:
            st.session_state[inspector_key("job", sentence_id)] = retry_job(failed.id).id
        except ReshootError as e:
            st.session_state[inspector_key("failed", sentence_id)] = failed
            queue_toast("Couldn’t retry", e.message or e.code, kind="error")


def regeneration_finished(sentence_id: str, job: JobPublic) -> None:
    st.session_state.pop(inspector_key("job", sentence_id), None)
    if job.status == JobStatus.succeeded:
        result = job.image_result()
        used = result.seed if result else None
        st.session_state[inspector_key("seed_used", sentence_id)] = used  # shown in the field on the next run
        queue_toast("Image regenerated", f"Seed {used if used is not None else '—'}.")
    else:
        st.session_state[inspector_key("failed", sentence_id)] = job


def prompt_editor(sentence: SentencePublic, *, disabled: bool) -> str:
    """The spec's ImagePromptEditor: saved ~500 ms after the last keystroke, live character count."""
    return debounced_text_area(
        messages.PROMPT_LABEL,
        sentence.image_prompt or "",
        key=inspector_key("prompt", sentence.id),
        on_save=save_prompt,
        args=(sentence.id,),
        placeholder=messages.PROMPT_PLACEHOLDER,
        hint=messages.PROMPT_RECOMMENDATION,
        disabled=disabled or lacks(Role.reviewer),
    )


def seed_field(sentence_id: str, *, disabled: bool) -> None:
    """Optional seed (spec 002): empty or -1 for a random one; after a run it shows the seed that was used, so
    `Regenerate Image` again reproduces the image."""
    key = inspector_key("seed", sentence_id)
    used = st.session_state.pop(inspector_key("seed_used", sentence_id), None)
    if used is not None:
        st.session_state[key] = str(used)
    st.text_input(
        "Seed",
        key=key,
        placeholder="Random",
        help=why_disabled(Role.reviewer, messages.SEED_TOOLTIP + SEED_HELP),
        disabled=disabled or lacks(Role.reviewer),
    )


def regenerate_controls(sentence: SentencePublic, *, prompt: str, generating: bool) -> None:
    sentence_id = sentence.id
    seed_col, button_col = st.columns([2, 3], vertical_alignment="bottom")
    with seed_col:
        seed_field(sentence_id, disabled=generating)
    button_col.button(
        messages.REGENERATE_IMAGE_LOADING if generating else messages.REGENERATE_IMAGE,
        type="primary",
        icon=":material/refresh:",
        disabled=generating or not prompt.strip() or lacks(Role.reviewer),
        help=why_disabled(Role.reviewer),
        width="stretch",
        key=inspector_key("regenerate", sentence_id),
        on_click=regenerate_with_typed_seed,
        args=(sentence_id,),
    )
    if st.session_state.pop(inspector_key("seed_error", sentence_id), False):
        st.error(SEED_ERROR, icon=":material/error:")
    st.button(
        messages.REGENERATE_WITH_NEW_SEED,
        icon=":material/casino:",
        disabled=generating or not prompt.strip() or lacks(Role.reviewer),
        help=why_disabled(Role.reviewer),
        width="stretch",
        key=inspector_key("reseed", sentence_id),
        on_click=start_regeneration,
        args=(sentence_id, RegenerateImageOptions()),
    )


def error_state(sentence_id: str) -> None:
    failed = st.session_state.get(inspector_key("failed", sentence_id))
    if not failed:
        return
    reason = failed.message or failed.error_code or "Unknown error"
    st.error(f"Image generation failed: {reason}", icon=":material/error:")
    st.button(
        "Retry",
        icon=":material/replay:",
        key=inspector_key("retry", sentence_id),
        on_click=retry_failed,
        args=(sentence_id,),
        disabled=lacks(Role.reviewer),
        help=why_disabled(Role.reviewer),
    )


def earlier_caption(version: ListedVersion) -> str:
    """`v3 ★`, the seed and who made it, one per line: a 19-digit seed fits the card's width on its own line."""
    lines = [
        f"v{version.version}" + (" ★" if version.favourite else ""),
        seed_words(version.seed, version.seed_honoured),
        f"by {escape_markdown(version.created_by)}" if version.created_by else "",
    ]
    return "  \n".join(line for line in lines if line)


def history(sentence_id: str) -> None:
    """Before/after of the two newest images, then earlier versions to restore or mark as favourite."""
    versions = [v for v in list_versions(TargetKind.sentence, sentence_id) if v.url]
    if len(versions) >= 2:
        after, before = versions[0], versions[1]
        st.markdown("**Before / after**")
        image_compare(
            before.url,
            after.url,
            width=after.width,
            height=after.height,
            labels=(f"v{before.version}", f"v{after.version}"),
            key=inspector_key("compare", sentence_id),
        )
    earlier = [v for v in versions if not v.is_current][:HISTORY_SHOWN]
    if not earlier:
        return
    st.markdown("**Earlier versions**")
    with st.container(horizontal=True, gap="small"):
        for version in earlier:
            picture = version.thumb_url or version.url
            assert picture is not None  # only versions whose file is kept are listed
            with st.container(border=True, width=EARLIER_CARD_WIDTH, gap="xsmall"):
                st.image(absolute_url(picture), width="stretch")
                st.caption(earlier_caption(version))
                restore_col, favourite_col, use_col = st.columns(3, gap="xsmall")
                restore_col.button(
                    ":material/restore:",
                    disabled=lacks(Role.reviewer),
                    help=why_disabled(Role.reviewer, "Make this version current again"),
                    key=inspector_key(f"restore_{version.id}", sentence_id),
                    on_click=_restore,
                    args=(version.id,),
                )
                favourite_col.button(
                    ":material/star:" if not version.favourite else ":material/star_rate:",
                    disabled=lacks(Role.reviewer),
                    help=why_disabled(
                        Role.reviewer,
                        "Unmark favourite" if version.favourite else "Mark as favourite (kept by retention)",
                    ),
                    key=inspector_key(f"favourite_{version.id}", sentence_id),
                    on_click=_set_favourite,
                    args=(version.id, not version.favourite),
                )
                use_col.button(
                    ":material/input:",
                    disabled=lacks(Role.reviewer),
                    help=why_disabled(Role.reviewer, USE_VERSION_HELP),
                    key=inspector_key(f"use_{version.id}", sentence_id),
                    on_click=use_seed_and_prompt,
                    args=(sentence_id, version),
                )


def _restore(version_id: int) -> None:
    restore_version(version_id)


def _set_favourite(version_id: int, favourite: bool) -> None:
    set_favourite(version_id, favourite)


def scene_inspector(sentence: SentencePublic) -> None:
    """Everything the spec's SceneInspector shows, for `sentence`."""
    show_queued_toasts()  # queued by a click's callback in this run (a short job that ended inside the click)
    sentence_id = sentence.id
    job_id = running_job(sentence)
    generating = job_id is not None
    image_tab, video_tab = st.tabs(["IMAGE", "VIDEO"])
    # A job this session waits for: its watching fragment draws the picture, so its end shows the new image in a
    # rerun of that fragment alone, before the rerun of the page (about a second's work on a loaded machine).
    waiting = generating and job_id == st.session_state.get(inspector_key("job", sentence_id))
    with image_tab:
        if not waiting:
            preview(sentence, generating=generating)
        if job_id:
            job_progress(
                job_id,
                on_finish=lambda job: regeneration_finished(sentence_id, job),
                unit="steps",
                waiting=waiting,
                picture=partial(_preview_of_job, sentence) if waiting else None,
            )
        elif sentence.seed is not None:
            st.caption(seed_words(sentence.seed, sentence.seed_honoured).capitalize())
        error_state(sentence_id)
        prompt = prompt_editor(sentence, disabled=generating)
        if sentence.is_image_dirty and sentence.image_file:
            st.warning(messages.PROMPT_DIRTY, icon=":material/edit_note:")
        regenerate_controls(sentence, prompt=prompt, generating=generating)
        history(sentence_id)
        recent_changes(sentence_history(sentence_id, limit=RECENT_SHOWN))
    with video_tab:
        if sentence.is_video_dirty:
            st.warning("Video is out of date: its image or prompt changed since it was made.", icon=":material/movie:")
        else:
            st.success("Video is up to date with the current image.", icon=":material/movie:")

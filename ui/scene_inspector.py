"""The Scene Inspector (seed 002): one sentence's image, prompt editor, regeneration with a seed, and history."""

from __future__ import annotations

import html
from typing import Any

import streamlit as st

from services import messages
from services.errors import ReshootError
from services.jobs import retry_job
from services.storyboard import regenerate_sentence_image, update_sentence
from services.versions import list_versions, restore_version, set_favourite
from ui.compare import image_compare
from ui.images import absolute_url, placeholder
from ui.job_progress import job_progress
from ui.toasts import queue_toast

HISTORY_SHOWN = 8
MAX_UI_SEED = 2**53 - 1  # the largest whole number a browser's number input holds exactly

_DIMMED = """<div style="position:relative">
<img src="{url}" alt="Scene image, regenerating" style="display:block;width:100%;opacity:.4;border-radius:.5rem">
<div style="position:absolute;inset:0;display:flex;align-items:center;justify-content:center">
<div class="reshoot-spinner" role="status" aria-label="Generating"></div></div></div>
<style>.reshoot-spinner{{width:2.5rem;height:2.5rem;border:4px solid rgba(255,255,255,.25);border-top-color:#14b8a6;
border-radius:50%;animation:reshoot-spin 1s linear infinite}}@keyframes reshoot-spin{{to{{transform:rotate(360deg)}}}}</style>"""


def _key(name: str, sentence_id: str) -> str:
    return f"sb_{name}_{sentence_id}"


def running_job(sentence: dict[str, Any]) -> str | None:
    return st.session_state.get(_key("job", sentence["id"])) or sentence.get("activeJobId")


def preview(sentence: dict[str, Any], *, generating: bool) -> None:
    """The current image; dimmed under a spinner while a new one is being made."""
    url = absolute_url(sentence.get("imageFile"))
    if not url:
        placeholder(None, text=messages.REGENERATE_IMAGE_LOADING if generating else messages.NO_IMAGE, height=220)
    elif generating:
        st.html(_DIMMED.format(url=html.escape(url, quote=True)))
    else:
        st.image(url, width="stretch")


def save_prompt(sentence_id: str) -> None:
    """Auto-save on change: a changed prompt marks the image and the video dirty."""
    try:
        update_sentence(sentence_id, image_prompt=st.session_state[_key("prompt", sentence_id)])
    except ReshootError as e:
        queue_toast("Couldn’t save the prompt", e.message or e.code, kind="error")


def start_regeneration(sentence_id: str, seed: int | None) -> None:
    try:
        started = regenerate_sentence_image(sentence_id, seed=seed)
    except ReshootError as e:
        queue_toast("Couldn’t regenerate the image", e.message or e.code, kind="error")
        return
    st.session_state.pop(_key("failed", sentence_id), None)
    st.session_state[_key("job", sentence_id)] = started["jobId"]


def regenerate_with_seed(sentence_id: str) -> None:
    """`Regenerate with new seed`: the seed typed in, or a new random one when the box is empty."""
    seed = st.session_state.get(_key("seed", sentence_id))
    start_regeneration(sentence_id, None if seed is None else int(seed))


def retry_failed(sentence_id: str) -> None:
    failed = st.session_state.pop(_key("failed", sentence_id), None)
    if failed:
        try:
            st.session_state[_key("job", sentence_id)] = retry_job(failed["id"])["id"]
        except ReshootError as e:
            st.session_state[_key("failed", sentence_id)] = failed
            queue_toast("Couldn’t retry", e.message or e.code, kind="error")


def regeneration_finished(sentence_id: str, job: dict[str, Any]) -> None:
    st.session_state.pop(_key("job", sentence_id), None)
    if job["status"] == "succeeded":
        queue_toast("Image regenerated", f"Seed {(job.get('result') or {}).get('seed', '—')}.")
    else:
        st.session_state[_key("failed", sentence_id)] = job


def prompt_editor(sentence: dict[str, Any], *, disabled: bool) -> str:
    key = _key("prompt", sentence["id"])
    st.session_state.setdefault(key, sentence.get("imagePrompt") or "")
    value = st.text_area(
        messages.PROMPT_LABEL,
        key=key,
        height=150,
        placeholder=messages.PROMPT_PLACEHOLDER,
        disabled=disabled,
        on_change=save_prompt,
        args=(sentence["id"],),
    )
    count, hint = st.columns(2)
    count.caption(f"{len(value)} characters")
    hint.caption(messages.PROMPT_RECOMMENDATION, text_alignment="right")
    return value


def regenerate_controls(sentence: dict[str, Any], *, prompt: str, generating: bool) -> None:
    sentence_id = sentence["id"]
    st.button(
        messages.REGENERATE_IMAGE_LOADING if generating else messages.REGENERATE_IMAGE,
        type="primary",
        icon=":material/refresh:",
        disabled=generating or not prompt.strip(),
        width="stretch",
        key=_key("regenerate", sentence_id),
        on_click=start_regeneration,
        args=(sentence_id, None),
    )
    seed_col, button_col = st.columns([2, 3], vertical_alignment="bottom")
    seed_col.number_input(
        "Seed", min_value=0, max_value=MAX_UI_SEED, step=1, value=None, placeholder="Random", help=messages.SEED_TOOLTIP,
        key=_key("seed", sentence_id), disabled=generating,
    )
    button_col.button(
        messages.REGENERATE_WITH_NEW_SEED,
        icon=":material/casino:",
        disabled=generating or not prompt.strip(),
        width="stretch",
        key=_key("reseed", sentence_id),
        on_click=regenerate_with_seed,
        args=(sentence_id,),
    )


def error_state(sentence_id: str) -> None:
    failed = st.session_state.get(_key("failed", sentence_id))
    if not failed:
        return
    reason = failed.get("message") or failed.get("errorCode") or "Unknown error"
    st.error(f"Image generation failed: {reason}", icon=":material/error:")
    st.button("Retry", icon=":material/replay:", key=_key("retry", sentence_id), on_click=retry_failed,
              args=(sentence_id,))


def history(sentence_id: str) -> None:
    """Before/after of the two newest images, then earlier versions to restore or mark as favourite."""
    versions = [v for v in list_versions("sentence", sentence_id) if v.get("url")]
    if len(versions) >= 2:
        after, before = versions[0], versions[1]
        st.markdown("**Before / after**")
        image_compare(before["url"], after["url"], width=after["width"], height=after["height"],
                      labels=(f"v{before['version']}", f"v{after['version']}"), key=_key("compare", sentence_id))
    earlier = [v for v in versions if not v["isCurrent"]][:HISTORY_SHOWN]
    if not earlier:
        return
    st.markdown("**Earlier versions**")
    with st.container(horizontal=True, gap="small"):
        for version in earlier:
            with st.container(border=True, width=150, gap="xsmall"):
                st.image(absolute_url(version.get("thumbUrl") or version["url"]), width="stretch")
                star = " ★" if version["favourite"] else ""
                st.caption(f"v{version['version']} · seed {version['seed']}{star}")
                restore_col, favourite_col = st.columns(2, gap="xsmall")
                restore_col.button(":material/restore:", help="Make this version current again",
                                   key=_key(f"restore_{version['id']}", sentence_id),
                                   on_click=restore_version, args=(version["id"],))
                favourite_col.button(":material/star:" if not version["favourite"] else ":material/star_rate:",
                                     help="Unmark favourite" if version["favourite"] else "Mark as favourite (kept by retention)",
                                     key=_key(f"favourite_{version['id']}", sentence_id),
                                     on_click=set_favourite, args=(version["id"], not version["favourite"]))


def scene_inspector(sentence: dict[str, Any]) -> None:
    """Everything the seed's SceneInspector shows, for `sentence` (sentence JSON)."""
    sentence_id = sentence["id"]
    job_id = running_job(sentence)
    generating = job_id is not None
    image_tab, video_tab = st.tabs(["IMAGE", "VIDEO"])
    with image_tab:
        preview(sentence, generating=generating)
        if job_id:
            job_progress(job_id, on_finish=lambda job: regeneration_finished(sentence_id, job), unit="steps")
        elif sentence.get("seed") is not None:
            st.caption(f"Seed {sentence['seed']}")
        error_state(sentence_id)
        prompt = prompt_editor(sentence, disabled=generating)
        if sentence.get("isImageDirty") and sentence.get("imageFile"):
            st.warning(messages.PROMPT_DIRTY, icon=":material/edit_note:")
        regenerate_controls(sentence, prompt=prompt, generating=generating)
        history(sentence_id)
    with video_tab:
        if sentence.get("isVideoDirty"):
            st.warning("Video is out of date: its image or prompt changed since it was made.", icon=":material/movie:")
        else:
            st.success("Video is up to date with the current image.", icon=":material/movie:")

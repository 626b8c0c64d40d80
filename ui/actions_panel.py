"""The Work Item Actions panel (spec 001): `Generate Lifestyle Hero Images` with an Advanced popover."""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from services import messages
from services.enums import JobStatus
from services.errors import ReshootError
from services.identity import Role
from services.lifestyle import GenerateHeroesOptions, generate_lifestyle_heroes
from services.messages import plural
from services.read_models.heroes import HeroesResult, WorkItemDetail
from services.read_models.jobs import JobPublic
from ui.hero_prompt import rejected_in_selection
from ui.job_progress import job_progress
from ui.permissions import lacks, why_disabled
from ui.toasts import escape_markdown, queue_toast


def panel_key(name: str, work_item_id: str) -> str:
    return f"detail_{name}_{work_item_id}"


def panel_job(work_item_id: str) -> str | None:
    """The job the panel polls (and toasts at its end) as of the last run; cards leave it to the panel."""
    return st.session_state.get(panel_key("panel_job", work_item_id))


def error_toast(code: str | None) -> None:
    title, body = messages.lifestyle_error_toast(code)
    queue_toast(title, body, kind="warning" if code == "LIFESTYLE_PACK_NOT_FOUND" else "error")


def start_generation(work_item_id: str) -> None:
    """The button's click: a dry run answers at once; otherwise a job starts and its id is kept for polling."""
    state = st.session_state
    try:
        options = GenerateHeroesOptions(
            shot_ids=state.get(panel_key("shots", work_item_id)) or None,
            dry_run=state.get(panel_key("dry_run", work_item_id), False),
            overwrite=state.get(panel_key("overwrite", work_item_id), False),
        )
        result = generate_lifestyle_heroes(work_item_id=work_item_id, options=options)
    except ValidationError:
        error_toast("INVALID_REQUEST")
        return
    except ReshootError as e:
        error_toast(e.code)
        return
    except Exception:
        error_toast("INTERNAL_ERROR")
        return
    if isinstance(result, HeroesResult):  # a dry run
        queue_toast(messages.HEROES_GENERATED_TITLE, messages.lifestyle_result_body(result))
    else:
        state[panel_key("job", work_item_id)] = result.job_id


def generation_finished(work_item_id: str, job: JobPublic) -> None:
    st.session_state.pop(panel_key("job", work_item_id), None)
    result = job.heroes_result()
    if job.status != JobStatus.succeeded or result is None:
        error_toast(job.error_code)
        return
    queue_toast(messages.HEROES_GENERATED_TITLE, messages.lifestyle_result_body(result))
    if result.failed:
        queue_toast(messages.GENERATE_FAILED_TITLE, messages.shots_failed_body(result.failed), kind="error")


def options_summary(work_item_id: str, shot_count: int) -> str | None:
    """`Dry run · Overwrite · 2 of 4 shots` for the Advanced options that differ from a plain run; None if none."""
    state = st.session_state
    shots = state.get(panel_key("shots", work_item_id)) or []
    parts = [
        name
        for name, on in (
            ("Dry run", state.get(panel_key("dry_run", work_item_id))),
            ("Overwrite", state.get(panel_key("overwrite", work_item_id))),
        )
        if on
    ]
    if shots:
        parts.append(f"{len(shots)} of {plural(shot_count, 'shot')}")
    return " · ".join(parts) or None


def reset_options(work_item_id: str) -> None:
    st.session_state[panel_key("dry_run", work_item_id)] = False
    st.session_state[panel_key("overwrite", work_item_id)] = False
    st.session_state[panel_key("shots", work_item_id)] = []


def actions_panel(item: WorkItemDetail, *, active_job: JobPublic | None = None) -> None:
    """The panel for `item` (from `get_work_item()`); `active_job` is a generate job already running for it."""
    work_item_id = item.id
    job_id = st.session_state.get(panel_key("job", work_item_id)) or (active_job.id if active_job else None)
    st.session_state[panel_key("panel_job", work_item_id)] = job_id
    has_pack = item.has_pack
    with st.container(border=True):
        st.markdown("**Actions**")
        button_col, advanced_col = st.columns([3, 1], vertical_alignment="center")
        button_col.button(
            messages.GENERATE_BUTTON_LOADING if job_id else messages.GENERATE_BUTTON,
            type="primary",
            icon=":material/auto_awesome:",
            disabled=bool(job_id) or not has_pack or lacks(Role.reviewer),
            help=why_disabled(
                Role.reviewer, messages.GENERATE_TOOLTIP if has_pack else messages.GENERATE_TOOLTIP_NO_PACK
            ),
            key=panel_key("generate", work_item_id),
            on_click=start_generation,
            args=(work_item_id,),
            width="stretch",
        )
        with advanced_col.popover(
            "Advanced",
            icon=":material/tune:",
            width="stretch",
            disabled=bool(job_id) or not has_pack or lacks(Role.reviewer),
            help=why_disabled(Role.reviewer),
        ):
            st.checkbox(
                "Dry run", key=panel_key("dry_run", work_item_id), help="Report what would be created; write nothing."
            )
            st.checkbox("Overwrite existing images", key=panel_key("overwrite", work_item_id))
            st.multiselect(
                "Shots",
                item.shot_ids,  # every shot, not only the grid page's
                key=panel_key("shots", work_item_id),
                placeholder="All shots",
            )
        summary = options_summary(work_item_id, len(item.shot_ids)) if has_pack else None
        if summary:  # a plain click applies these: say so where the button is, with a way back to the defaults
            with st.container(horizontal=True, gap="small", vertical_alignment="center"):
                st.caption(f":material/tune: Options: **{escape_markdown(summary)}**", width="content")
                st.button(
                    "Reset",
                    icon=":material/restart_alt:",
                    type="tertiary",
                    key=panel_key("reset", work_item_id),
                    disabled=bool(job_id),
                    on_click=reset_options,
                    args=(work_item_id,),
                    help="Back to the defaults: all shots, no overwrite, not a dry run",
                )
        st.caption(messages.GENERATE_SUBCOPY if has_pack else messages.PACK_NOT_FOUND_BODY)
        if has_pack:
            rejected_in_selection(work_item_id, st.session_state.get(panel_key("shots", work_item_id)) or None)
        if job_id:
            job_progress(job_id, on_finish=lambda job: generation_finished(work_item_id, job))

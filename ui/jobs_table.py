"""The jobs table: status, progress, target, duration and error of recent jobs; retry a failed one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from services.enums import JobStatus
from services.errors import ReshootError
from services.identity import Role, current_actor
from services.jobs import list_jobs, retry_job
from services.messages import plural
from services.read_models.jobs import JobPublic
from ui.permissions import lacks, why_disabled
from ui.toasts import escape_markdown, queue_toast, show_queued_toasts

STATUS_ICONS = {
    JobStatus.queued: "⏳ queued",
    JobStatus.running: "▶ running",
    JobStatus.succeeded: "✓ succeeded",
    JobStatus.failed: "✕ failed",
}
REFRESH_SECONDS = 2.0
LIMIT = 200


def jobs_key(name: str, job_id: str | None = None) -> str:
    """The Jobs page's widget keys: `status`, `table`, and `retry` of a job."""
    return f"jobs_{name}" if job_id is None else f"jobs_{name}_{job_id}"


def _time(value: datetime | None) -> datetime | None:
    """Aware UTC (a naive value, as SQLite may give, is UTC)."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def duration(job: JobPublic, *, now: datetime | None = None) -> str:
    started, finished = _time(job.started_at), _time(job.finished_at)
    if started is None:
        return ""
    seconds = ((finished or now or datetime.now(UTC)) - started).total_seconds()
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {int(seconds % 60)} s"


def target(job: JobPublic) -> str:
    if job.work_item_id:
        request = job.heroes_params()
        shots = request.shot_ids if request else None
        return f"Work item {job.work_item_id}" + (f" · {', '.join(shots)}" if shots else "")
    if job.sentence_id:
        return f"Sentence {job.sentence_id}"
    return job.target_key


def error_text(job: JobPublic) -> str:
    """The message first (what a person reads), then the code; the whole text is in the row's details."""
    if job.status != JobStatus.failed:
        return ""
    message = job.message.strip()
    code = job.error_code or "ERROR"
    return f"{message} ({code})" if message else code


def progress(job: JobPublic) -> str:
    """`3 of 12`; a job that failed, or finished with failed shots, says how many images it made, never
    `12 of 12` as if complete (its counter counts attempts)."""
    done, total = job.progress_done, job.progress_total
    if not total:
        return ""
    if not job.finished:
        return f"{done} of {total}"  # its result is read (validated) only once it has ended
    result = job.heroes_result()  # a sentence's job makes one image: nothing to count
    failed_shots = len(result.failed) if result else 0
    made = len(result.generated) if result else 0
    if job.status == JobStatus.failed:
        return f"{made} of {total} made · failed"
    if job.status == JobStatus.succeeded and failed_shots:
        return f"{made} of {total} made · {plural(failed_shots, 'shot')} failed"
    return f"{done} of {total}"


def rows(jobs: list[JobPublic]) -> list[dict[str, Any]]:
    """The table's rows, one a job, by column name."""
    return [
        {
            "Job": job.id,
            "Kind": str(job.kind),
            "Status": STATUS_ICONS[job.status],
            "Progress": progress(job),
            "Target": target(job),
            "By": job.requested_by or "",
            "Duration": duration(job),
            "Attempts": job.attempts,
            "Error": error_text(job),
            "Created": _time(job.created_at),
        }
        for job in jobs
    ]


def retry(job_id: str) -> None:
    try:
        new = retry_job(job_id)
    except ReshootError as e:
        queue_toast("Couldn’t retry the job", e.message or e.code, kind="error")
        return
    queue_toast("Job queued again", f"Retrying as {new.id}.")


def jobs_table(status: JobStatus | None, *, polling: bool) -> None:
    """The table (run as a fragment; `polling` says whether it was registered to refresh itself)."""
    jobs = list_jobs(status=status, limit=LIMIT)
    active = any(job.active for job in jobs)
    if polling != active:
        st.rerun()  # start or stop the automatic refresh
    show_queued_toasts()
    if not jobs:
        st.info("No jobs yet. Generating images on a Work Item or in the Storyboard creates them.")
        return
    st.caption(
        ("1 job" if len(jobs) == 1 else f"{len(jobs)} most recent jobs")
        + (" · refreshing while jobs run" if active else "")
    )
    event = st.dataframe(
        rows(jobs),
        key=jobs_key("table"),
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        # What a person looks for first comes first: at 1024 px the columns past Error need a scroll.
        column_order=("Status", "Progress", "Target", "Error", "Duration", "Kind", "Created", "Attempts", "Job"),
        column_config={
            "Job": st.column_config.TextColumn(width="medium"),
            "Target": st.column_config.TextColumn(width="medium"),
            "Error": st.column_config.TextColumn(width="large", help="Select the row to read the whole error"),
            "Created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
        },
    )
    if not event.selection.rows:
        failed = sum(job.status == JobStatus.failed for job in jobs)
        st.caption(
            "Select a job to see its details or retry it"
            + (f" ({plural(failed, 'failed job')}: select one to read its whole error)." if failed else ".")
        )
        return
    job = jobs[event.selection.rows[0]]
    with st.container(border=True):
        st.markdown(f"**{escape_markdown(job.id)}** · {escape_markdown(job.kind)} · {job.status}")
        if job.status == JobStatus.failed:  # wrapped in full, however long
            st.error(escape_markdown(error_text(job)), icon=":material/error:")
        else:
            st.text(job.message)
        if job.status == JobStatus.failed:
            if job.error_detail:
                long = job.error_detail.count("\n") > 10
                st.code(job.error_detail, language=None, wrap_lines=True, height=260 if long else "content")
            needs = Role.reviewer if job.requested_by == current_actor().email else Role.admin  # anyone's: admin
            st.button(
                "Retry",
                icon=":material/replay:",
                type="primary",
                key=jobs_key("retry", job.id),
                disabled=lacks(needs),
                help=why_disabled(needs),
                on_click=retry,
                args=(job.id,),
            )

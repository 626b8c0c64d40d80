"""A fragment that polls one job's row and, once it has finished, hands it over and reruns the app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from services.jobs import get_job

POLL_SECONDS = 1.5
FINISHED = ("succeeded", "failed")
_HANDLED_KEY = "ui_finished_jobs"


def progress_text(job: dict[str, Any], unit: str = "images") -> str:
    done, total = job.get("progressDone") or 0, job.get("progressTotal") or 0
    if total:
        return f"{done} of {total} {unit}"
    return "Queued…" if job.get("status") == "queued" else "Starting…"


def _poll(job_id: str, on_finish: Callable[[dict[str, Any]], None], unit: str) -> None:
    job = get_job(job_id)
    if job["status"] in FINISHED:
        handled = st.session_state.setdefault(_HANDLED_KEY, set())
        if job_id not in handled:  # a late timer tick must not toast twice
            handled.add(job_id)
            on_finish(job)
        st.rerun()
    total = job.get("progressTotal") or 0
    st.progress((job.get("progressDone") or 0) / total if total else 0.0, text=progress_text(job, unit))


def job_progress(job_id: str, *, on_finish: Callable[[dict[str, Any]], None], unit: str = "images") -> None:
    """Progress of `job_id`, re-read every POLL_SECONDS in its own fragment; `on_finish(job)` runs once at the end."""
    st.fragment(_poll, run_every=POLL_SECONDS)(job_id, on_finish, unit)

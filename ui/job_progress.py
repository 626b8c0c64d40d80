"""Waiting for a job in the dashboard, so that its result shows within a fraction of a second of its end.

A click first waits briefly for its own job (`wait_briefly`): a short job, such as the offline renderer's, ends
inside the click's own rerun, which then shows the result (for a card: a rerun of that card alone). A longer job
started by a click in a fragment is watched by that fragment itself (`own_job_progress`, then `hold_and_rerun` at
the end of its run): each of its own reruns shows the progress, waits for the job's end for up to HOLD_SECONDS
(woken at once when this process finishes it, see `services.jobs.wait_until_finished`) and reruns the fragment,
so the end shows in a rerun of that fragment alone. In a full run of the app (where a fragment may not rerun
itself) the job is watched by a small fragment of its own (`job_progress`), and at the end the app reruns; given a
`picture` (the Scene Inspector's image), that fragment's rerun that sees the end draws the result first, and the app
reruns at its next tick. A run of the parent that finds the job finished (`settle`) shows the result itself.

Measured and dropped: waking only the card's keyed fragment from the watcher through a Components v2 trigger
(`st.rerun(scope=key)` in its callback) took 2–4 s from mount to callback on a loaded 2-core machine, slower
than the full rerun it was meant to save.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from services.enums import JobStatus
from services.jobs import get_job, wait_until_finished
from services.read_models.jobs import JobPublic

POLL_SECONDS = 1.5  # someone else's job (another session, the API): nobody here is waiting for it
# A job this session started and waits for: each run of the fragment watching it waits for the job's end for up
# to HOLD_SECONDS (woken at once when this process finishes it), so the end is seen at once at a fraction of the
# reruns of a plain fast poll (each rerun costs the server and the browser far more than waiting); a watching
# fragment of its own (in a full run) reruns every FAST_POLL_SECONDS. A click on another card waits for a held run
# to end (at most HOLD_SECONDS): Streamlit queues fragment reruns behind a running one.
FAST_POLL_SECONDS = 0.5
HOLD_SECONDS = 0.4
QUICK_WAIT_SECONDS = 1.0  # how long a click waits for its own job before showing progress instead
_HANDLED_KEY = "ui_finished_jobs"
_ROUND_KEY = "ui_job_poll_from_parent"


def progress_text(job: JobPublic, unit: str = "images") -> str:
    done, total = job.progress_done, job.progress_total
    if total:
        return f"{done} of {total} {unit}"
    return "Queued…" if job.status == JobStatus.queued else "Starting…"


def wait_briefly(job_id: str, seconds: float | None = None) -> JobPublic | None:
    """The job once it has finished, if that happens within `seconds` (QUICK_WAIT_SECONDS); None if it is still
    queued or running. Waiting costs next to nothing (`services.jobs.wait_until_finished`)."""
    job = wait_until_finished(job_id, QUICK_WAIT_SECONDS if seconds is None else seconds)
    return job if job.finished else None


def settle(job_id: str, on_finish: Callable[[JobPublic], None]) -> bool:
    """True if the job has finished (`on_finish` has then run once): the caller shows the result at once."""
    job = get_job(job_id)
    if not job.finished:
        return False
    finish_once(job, on_finish)
    return True


def finish_once(job: JobPublic, on_finish: Callable[[JobPublic], None]) -> bool:
    """Run `on_finish(job)` unless it already ran for this job in this session (a late timer tick, a second
    waiter); True if it ran now."""
    handled = st.session_state.setdefault(_HANDLED_KEY, set())
    if job.id in handled:
        return False
    handled.add(job.id)
    on_finish(job)
    return True


def _held_job(job_id: str, hold: float) -> JobPublic:
    """The job's row; while it has not finished, watched for up to `hold` seconds."""
    finished = wait_briefly(job_id, hold) if hold else None
    return finished or get_job(job_id)


def _poll(
    job_id: str,
    on_finish: Callable[[JobPublic], None],
    unit: str,
    hold: float,
    picture: Callable[[JobPublic], None] | None,
) -> None:
    # Hold only in the fragment's own reruns: in its parent's run (a full run, a card run) it must not delay the
    # rest of the page. The parent marks each of its calls (job_progress below).
    own_rerun = st.session_state.get(_ROUND_KEY, {}).pop(job_id, None) is None
    job = _held_job(job_id, hold if own_rerun else 0.0)
    # With a picture, a rerun of its own that sees the end shows the result in it at once, and the app reruns at the
    # next tick; a run of the parent that finds the job finished reruns the app at once.
    if job.finished and not (finish_once(job, on_finish) and picture and own_rerun):
        st.rerun()
    if picture:
        picture(job)
    if not job.finished:
        _progress_bar(job, unit)


def _progress_bar(job: JobPublic, unit: str) -> None:
    total = job.progress_total
    st.progress(job.progress_done / total if total else 0.0, text=progress_text(job, unit))


def rerun_of_one_fragment() -> bool:
    """True while one fragment reruns on its own (a click in it, `st.rerun(scope="fragment")`): only then may it end
    its run by rerunning itself (`hold_and_rerun`). Not in a full run of the app (Streamlit refuses), nor when other
    fragments run in the same run (a click on another card during a held run): each of their reruns would start
    with the first of them again, so a fragment queued after one that reruns itself would wait for its job's end."""
    ctx = get_script_run_ctx(suppress_warning=True)
    return bool(ctx and len(ctx.fragment_ids_this_run or ()) == 1)


def own_job_progress(job_id: str, *, on_finish: Callable[[JobPublic], None], held: bool, unit: str = "images") -> None:
    """Progress of a job this session started and waits for. `held`: the fragment calling this watches the job
    itself (its run ends with `hold_and_rerun(job_id)`), so a bar is all this shows; otherwise a fragment of its own
    watches it (`job_progress`, waiting)."""
    if held:
        _progress_bar(get_job(job_id), unit)
    else:
        job_progress(job_id, on_finish=on_finish, unit=unit, waiting=True)


def hold_and_rerun(job_id: str) -> None:
    """The end of a fragment's own rerun (`rerun_of_one_fragment()`) that showed `own_job_progress(job_id, held=True)`:
    wait for the job's end for up to HOLD_SECONDS, then rerun only this fragment, which shows the result (its
    `settle`), or the progress so far and holds again."""
    wait_briefly(job_id, HOLD_SECONDS)
    st.rerun(scope="fragment")


def job_progress(
    job_id: str,
    *,
    on_finish: Callable[[JobPublic], None],
    unit: str = "images",
    waiting: bool = False,
    picture: Callable[[JobPublic], None] | None = None,
) -> None:
    """Progress of `job_id` in its own fragment; `on_finish(job)` runs once at the end, then the app reruns.
    `waiting`: this session started the job and waits for it, so its end is seen at once (held runs).
    `picture(job)`: drawn above the bar in each of its runs; the run that sees the end draws it with the finished
    job and no bar, so the result shows in that rerun of the fragment alone, and the app reruns at the next tick
    (FAST_POLL_SECONDS later, for the rest of the page)."""
    st.session_state.setdefault(_ROUND_KEY, {})[job_id] = True  # this call is the parent's, not a rerun
    every = FAST_POLL_SECONDS if waiting else POLL_SECONDS
    st.fragment(_poll, run_every=every)(job_id, on_finish, unit, HOLD_SECONDS if waiting else 0.0, picture)

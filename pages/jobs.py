"""Jobs: every generation job with status, progress, target, duration and error; refreshes itself while any runs."""

import streamlit as st

from services.enums import JobStatus
from services.jobs import list_jobs
from ui.jobs_table import REFRESH_SECONDS, jobs_key, jobs_table

STATUSES = ["All", *(str(status) for status in JobStatus)]

st.title("Jobs")
status = st.segmented_control("Status", STATUSES, default="All", key=jobs_key("status")) or "All"
status_filter = None if status == "All" else JobStatus(status)
polling = any(job.active for job in list_jobs(status=status_filter, limit=200))
st.fragment(jobs_table, run_every=REFRESH_SECONDS if polling else None)(status_filter, polling=polling)

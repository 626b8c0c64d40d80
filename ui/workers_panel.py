"""Settings: the job workers alive on the configured queue and what each generates now."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from services.config import get_settings
from services.jobs import embedded_workers_enabled, list_workers

REFRESH_SECONDS = 5


def _where(embedded: bool) -> str:
    return "dashboard / API threads" if embedded else "worker process"


def _ago(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    seconds = (datetime.now(UTC) - moment).total_seconds()
    return f"{max(0, round(seconds))} s ago"


@st.fragment(run_every=REFRESH_SECONDS)
def workers_panel() -> None:
    settings = get_settings()
    here = "on" if embedded_workers_enabled() else "off (RESHOOT_EMBEDDED_WORKERS=0, or the Redis queue's default)"
    st.caption(
        f"Job threads in this dashboard: {here} · backend calls at once across every worker: "
        f"{settings.backend_concurrency or 'no limit (RESHOOT_BACKEND_CONCURRENCY)'}"
    )
    workers = list_workers()
    if not workers:
        st.warning(
            "No worker is alive on this queue: generation jobs wait until one starts (`python -m services worker`).",
            icon=":material/warning:",
        )
        return
    rows = [
        {
            "Worker": w.id,
            "Runs as": _where(w.embedded),
            "Threads": w.concurrency,
            "Heartbeat": _ago(w.heartbeat_at),
            "Generating now": ", ".join(r.target for r in w.running) or "—",
        }
        for w in workers
    ]
    st.dataframe(rows, hide_index=True, width="stretch")

"""While the demo set's images render (a fresh data dir), a line that says how far they are and reruns the page
as they arrive, so counts and cards fill in by themselves."""

from __future__ import annotations

import streamlit as st

from services.demo import demo_render_progress

POLL_SECONDS = 2.0


def demo_progress() -> None:
    """Nothing once the demo's images exist (one query); otherwise a self-refreshing progress bar."""
    progress = demo_render_progress()
    if progress is not None:
        st.fragment(_poll, run_every=POLL_SECONDS)((progress.loading, progress.done))


def _poll(shown: tuple[bool, int]) -> None:
    """`shown`: (loading, done) as the page was drawn; any change reruns the page."""
    progress = demo_render_progress()
    if progress is None or (progress.loading, progress.done) != shown:
        st.rerun()  # the whole page: the list's image counts and the cards show what was just made
    if progress.loading:
        st.progress(0.0, text="Loading the demo set… This page updates by itself.")
        return
    st.progress(
        progress.done / max(progress.total, 1),
        text=f"Rendering demo images: {progress.done} of {progress.total}. This page updates by itself.",
    )

"""AppTest helpers: the dashboard on the demo set, opened at one page."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

DASHBOARD = str(Path(__file__).resolve().parents[2] / "dashboard.py")
TIMEOUT = 30


@pytest.fixture(autouse=True)
def _stop_embedded_worker():
    """The dashboard starts job consumers in this process; stop them when the test ends."""
    yield
    from services.jobs import stop_embedded_worker

    stop_embedded_worker()


@pytest.fixture
def backend_gate(monkeypatch):
    """A gate in front of the image backend: generation jobs wait in their worker until the test sets it, so the
    page is looked at while the job is known to be running (not raced against a fast job's end)."""
    from services import backends

    gate, real = threading.Event(), backends.get_backend
    monkeypatch.setattr(backends, "get_backend", lambda *args, **kwargs: gate.wait(60) and real(*args, **kwargs))
    yield gate
    gate.set()  # never leave a worker waiting on it


def open_page(page: str | None = None, *, user: dict | None = None, **query: str) -> AppTest:
    """Run the dashboard, then switch to `page` (e.g. "pages/work_item.py") with `query` as URL parameters;
    `user` is what `st.user` says (with RESHOOT_AUTH=oidc)."""
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    if user is not None:
        at.user = user
    at.run()
    if page:
        at.query_params.update(query)
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    """Every markdown, caption, text, title, header, alert and toast shown, as one string to search in."""
    parts = [
        e.value
        for kind in (
            "title",
            "header",
            "subheader",
            "markdown",
            "caption",
            "text",
            "info",
            "warning",
            "error",
            "success",
            "toast",
        )
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)

"""Settings: what Reshoot runs on and whether each part answers; importing work items, storyboards, export plans."""

import streamlit as st

from services.config import get_settings
from services.identity import Role
from services.read_models.status import ComponentStatus
from services.status import redact, system_status
from ui.import_panel import import_panel
from ui.people import tokens_panel, users_panel
from ui.permissions import lacks
from ui.toasts import escape_markdown
from ui.workers_panel import workers_panel


@st.cache_data(ttl=15, show_spinner="Checking database, storage, queue and backend…")
def _status(settings_key: tuple) -> list[ComponentStatus]:
    return system_status()


settings = get_settings()
st.title("Settings")
if lacks(Role.admin):  # the system, import and users are for admins; everyone manages their own API tokens
    st.info("What Reshoot runs on, imports and users are managed by admins.", icon=":material/lock:")
    st.subheader("Your API tokens")
    tokens_panel()
    st.stop()
st.subheader("In use")
if st.button("Check again", icon=":material/refresh:", key="settings_recheck"):
    _status.clear()
for entry in _status((settings.database_url, settings.storage_url, settings.queue_url, settings.image_backend)):
    with st.container(border=True):
        name_col, detail_col = st.columns([1, 4], vertical_alignment="center")
        name_col.markdown(f"**{entry.component}**")
        name_col.badge(
            "Reachable" if entry.ok else "Problem",
            icon=":material/check:" if entry.ok else ":material/error:",
            color="green" if entry.ok else "red",
        )
        detail_col.text(entry.in_use or "—")
        detail_col.caption(escape_markdown(entry.message))

st.caption(
    f"Data dir `{settings.data_dir}` · generation concurrency {settings.generation_concurrency} · "
    f"keep {settings.keep_versions} versions · uploads up to {settings.max_upload_mb} MB · "
    f"assets at `{escape_markdown(settings.asset_base_url)}`"
)
if settings.s3_endpoint_url:
    st.caption(f"S3 endpoint `{redact(settings.s3_endpoint_url)}`")

st.subheader("Workers")
workers_panel()

st.subheader("Import")
import_panel()

st.subheader("Users")
users_panel()
st.subheader("API tokens")
tokens_panel()

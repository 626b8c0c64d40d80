"""`File metadata` in the hero large view: the text chunks inside the image file (how a downloaded copy says it
was made), read from storage only while the expander is open."""

from __future__ import annotations

import json

import streamlit as st

from services.errors import ReshootError
from services.versions import file_metadata


def file_metadata_expander(version_id: int | None, *, key: str) -> None:
    if version_id is None:
        return
    with st.expander("File metadata", icon=":material/info:", key=key, on_change="rerun"):
        if not st.session_state.get(key):
            return
        try:
            chunks = file_metadata(version_id)
        except ReshootError as e:
            st.caption(f"The file could not be read: {e.message}")
            return
        if not chunks:
            st.caption(
                "This file carries no generation metadata: Reshoot writes it into PNG files (not JPEG or WebP "
                "exports) generated since it started doing so."
            )
            return
        names = ", ".join(f"`{name}`" for name in chunks)
        st.caption(f"PNG text chunks in the file ({names}), as image tools (A1111, ComfyUI, exiftool) read them")
        for name, text in chunks.items():
            st.code(_pretty(text), language="json" if name == "reshoot" else None, wrap_lines=True)


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text

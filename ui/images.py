"""Images by URL: absolute URLs for `st.image`, and a placeholder naming the file when there is no image."""

from __future__ import annotations

from typing import Literal, overload
from urllib.parse import urlparse

import streamlit as st

from ui.toasts import escape_markdown


def origin() -> str:
    """`scheme://host:port` the browser uses for this app (assets are served by the same server)."""
    page_url = st.context.url
    if page_url:
        parsed = urlparse(page_url)
        if parsed.scheme in ("http", "https") and parsed.netloc:
            return f"{parsed.scheme}://{parsed.netloc}"
    return f"http://localhost:{st.get_option('server.port')}"


@overload
def absolute_url(url: str) -> str: ...
@overload
def absolute_url(url: str | None) -> str | None: ...
def absolute_url(url: str | None) -> str | None:
    """`st.image` takes only absolute http(s) URLs: prefix a relative `/assets/…` with the app's origin."""
    if not url or url.startswith(("http://", "https://", "data:")):
        return url
    return origin() + (url if url.startswith("/") else "/" + url)


def placeholder(filename: str | None, *, height: int = 150, text: str | None = None) -> None:
    """A bordered box with the file's name, where an image would be (the spec's `onError` fallback)."""
    with st.container(border=True, height=height, horizontal_alignment="center", vertical_alignment="center"):
        st.caption(":material/image_not_supported: " + escape_markdown(text or filename or "No image"))


def image_or_placeholder(
    url: str | None, filename: str | None, *, width: int | Literal["stretch", "content"] = "stretch", height: int = 150
) -> None:
    """The image at `url`, or a placeholder with `filename` when there is none."""
    if url:
        st.image(absolute_url(url), width=width)
    else:
        placeholder(filename, height=height)

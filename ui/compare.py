"""Before/after of two images at the same size: side by side, and one frame with a slider that wipes between them."""

from __future__ import annotations

import html
from typing import Protocol

import streamlit as st

from services.read_models.versions import VersionPublic
from services.versions import get_version
from ui.images import absolute_url, image_or_placeholder

_SLIDER_HTML = """<!doctype html><html><head><style>
body {{ margin: 0; font: 12px system-ui, sans-serif; color: #cbd5e1; background: transparent; }}
.frame {{ position: relative; width: 100%; aspect-ratio: {ratio}; background: #0f172a; border-radius: 6px; overflow: hidden; }}
.frame img {{ position: absolute; inset: 0; width: 100%; height: 100%; object-fit: contain; }}
#after {{ clip-path: inset(0 0 0 50%); }}
.line {{ position: absolute; top: 0; bottom: 0; left: 50%; width: 2px; background: #14b8a6; pointer-events: none; }}
.tag {{ position: absolute; top: 6px; padding: 2px 6px; border-radius: 4px; background: rgba(15,23,42,.75); }}
input {{ width: 100%; margin: 8px 0 0; accent-color: #14b8a6; }}
</style></head><body>
<div class="frame"><img src="{before}" alt="{before_label}"><img id="after" src="{after}" alt="{after_label}">
<div class="line" id="line"></div><span class="tag" style="left:6px">{before_label}</span>
<span class="tag" style="right:6px">{after_label}</span></div>
<input type="range" min="0" max="100" value="50" aria-label="Wipe between {before_label} and {after_label}"
 oninput="document.getElementById('after').style.clipPath='inset(0 0 0 '+this.value+'%)';document.getElementById('line').style.left=this.value+'%'">
</body></html>"""


def slider_html(before_url: str, after_url: str, *, ratio: float, labels: tuple[str, str]) -> str:
    """A self-contained page: `after` drawn over `before`, a range input moves the wipe line."""
    return _SLIDER_HTML.format(
        ratio=f"{ratio:.4f}",
        before=html.escape(before_url, quote=True),
        after=html.escape(after_url, quote=True),
        before_label=html.escape(labels[0], quote=True),
        after_label=html.escape(labels[1], quote=True),
    )


def image_compare(
    before_url: str | None,
    after_url: str | None,
    *,
    width: int,
    height: int,
    labels: tuple[str, str] = ("v1", "v2"),
    key: str,
) -> None:
    """Show two versions of one target at the same size; the mode switch is a widget keyed by `key`."""
    mode = st.segmented_control(
        "Compare", ["Side by side", "Slider"], default="Side by side", key=key, label_visibility="collapsed"
    )
    if mode == "Slider" and before_url and after_url:
        page = slider_html(absolute_url(before_url), absolute_url(after_url), ratio=width / height, labels=labels)
        st.iframe(page, height="content", alt=f"Wipe between {labels[0]} and {labels[1]}")
        return
    for column, url, label in zip(st.columns(2), (before_url, after_url), labels, strict=True):
        with column:
            st.caption(label)
            image_or_placeholder(url, label)


class ComparedImage(Protocol):
    """A current hero image that knows its previous version (`HeroTarget`, `QueuedHero`)."""

    @property
    def previous_version_id(self) -> int | None: ...
    @property
    def version(self) -> int | None: ...
    @property
    def url(self) -> str | None: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...


def compare_with_previous(
    current: ComparedImage, *, key: str, current_label: str | None = None
) -> VersionPublic | None:
    """`current`'s previous version (the newest older one whose file is still stored) beside it (`image_compare`);
    that version, or None (and nothing drawn) when there is none."""
    before = get_version(current.previous_version_id) if current.previous_version_id else None
    if before is not None:
        image_compare(
            before.url,
            current.url,
            width=current.width,
            height=current.height,
            labels=(f"v{before.version}", current_label or f"v{current.version}"),
            key=key,
        )
    return before

"""A multi-line text area that saves while the user types: `on_save(text)` runs about `debounce_ms` after the last
keystroke, at once on blur or Ctrl/Cmd+Enter, and when the tab is hidden or closed. The character count under it
updates on every keystroke in the browser.

Streamlit 1.67's `st.text_area` sends its value only on blur or Ctrl+Enter, `st.text_input(live=...)` and
streamlit-keyup are single-line, so this is a small Components v2 element (inline HTML/CSS/JS, no build step).
The element keeps its caret across the rerun a save triggers because it has a stable key; a new `value` from
Python (a save made in another session) replaces the text only while nothing typed here is waiting to be saved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

DEBOUNCE_MS = 500

_HTML = """<div class="dta">
<label class="dta-label"></label>
<textarea class="dta-input" spellcheck="true"></textarea>
<div class="dta-footer"><span class="dta-count" aria-live="polite"></span><span class="dta-hint"></span></div>
</div>"""

_CSS = """
.dta { display: flex; flex-direction: column; gap: .25rem; font-family: var(--st-font, sans-serif); }
.dta-label { font-size: .875rem; color: var(--st-text-color, inherit); }
.dta-input {
  box-sizing: border-box; width: 100%; resize: vertical; padding: .5rem .75rem; font: inherit; font-size: 1rem;
  line-height: 1.5; color: var(--st-text-color, inherit); background: var(--st-secondary-background-color, #f0f2f6);
  border: 1px solid var(--st-border-color, transparent); border-radius: var(--st-base-radius, .5rem); outline: none;
}
.dta-input:focus { border-color: var(--st-primary-color, #ff4b4b); }
.dta-input:disabled { opacity: .6; cursor: not-allowed; }
.dta-footer { display: flex; justify-content: space-between; gap: 1rem; font-size: .875rem; opacity: .7;
  color: var(--st-text-color, inherit); }
"""

# Keeps its own state on the root element: the render function runs again on every rerun with new `data`.
_JS = """
export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  const root = parentElement.querySelector(".dta");
  const area = root.querySelector("textarea");
  const count = root.querySelector(".dta-count");
  const state = root.__dta || (root.__dta = { timer: null, sent: null, value: null });
  root.querySelector(".dta-label").textContent = data.label;
  root.querySelector(".dta-hint").textContent = data.hint || "";
  area.setAttribute("aria-label", data.label);
  area.placeholder = data.placeholder || "";
  area.disabled = !!data.disabled;
  area.style.height = data.height + "px";
  const showCount = () => { count.textContent = area.value.length + " characters"; };
  if (state.sent !== null && state.sent === data.value) state.sent = null;  // our save came back
  if (state.value === null || (data.value !== state.value && state.timer === null && state.sent === null)) {
    area.value = data.value;  // first render, or saved elsewhere while nothing typed here waits
  }
  state.value = data.value;
  const send = () => {
    state.timer = null;
    if (area.value === state.value && state.sent === null) return;
    state.sent = area.value;
    setTriggerValue("save", area.value);
  };
  const flush = () => { if (state.timer !== null) { clearTimeout(state.timer); send(); } };
  area.oninput = () => {
    showCount();
    clearTimeout(state.timer);
    state.timer = setTimeout(send, data.debounceMs);
  };
  area.onblur = flush;
  area.onkeydown = (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) flush(); };
  const onHide = () => { if (document.visibilityState === "hidden") flush(); };
  document.addEventListener("visibilitychange", onHide);
  window.addEventListener("pagehide", flush);
  showCount();
  return () => {
    document.removeEventListener("visibilitychange", onHide);
    window.removeEventListener("pagehide", flush);
  };
}
"""

_COMPONENT = st.components.v2.component("reshoot_debounced_text_area", html=_HTML, css=_CSS, js=_JS)


def saved_text(key: str) -> str | None:
    """The text the element just sent for saving (this run only), or None."""
    state = st.session_state.get(key)
    text = state.get("save") if state is not None else None
    return text if isinstance(text, str) else None


def debounced_text_area(
    label: str,
    value: str,
    *,
    key: str,
    on_save: Callable[..., Any],
    args: tuple[Any, ...] = (),
    placeholder: str = "",
    hint: str = "",
    disabled: bool = False,
    height: int = 150,
    debounce_ms: int = DEBOUNCE_MS,
) -> str:
    """A text area showing `value` (the saved text); `on_save(text, *args)` runs in a callback when the user has
    paused typing for `debounce_ms`, left the field, or pressed Ctrl/Cmd+Enter. Returns `value`."""

    def save() -> None:
        text = saved_text(key)
        if text is not None and text != value:
            on_save(text, *args)

    _COMPONENT(
        key=key,
        data={
            "label": label,
            "value": value,
            "placeholder": placeholder,
            "hint": hint,
            "disabled": disabled,
            "height": height,
            "debounceMs": debounce_ms,
        },
        on_save_change=save,
    )
    return value

"""A hero card's prompt and review notes: the shot's scene prompt (edited in a popover whose editor exists only
while it is open, saved as typed like the storyboard's), the dirty mark while the heroes are older than the prompt,
the seed the next `Regenerate shot` uses when one was recalled, the shown size's comment count, and the rejected
sizes' notes (the last line of a card's texts, and in `Regenerate shot`'s tooltip).

What it shows comes from `services.hero_prompts.card_summaries` (one query per grid run, `load_card_notes`), kept in
session state per card, so a card rerun reads nothing unless the card changed something.
"""

from __future__ import annotations

import html

import streamlit as st

from services.enums import TargetKind
from services.errors import ReshootError
from services.hero_prompts import (
    UpdateShotPromptOptions,
    card_summaries,
    rejected_heroes,
    set_shot_seed,
    update_shot_prompt,
    use_version_for_shot,
)
from services.identity import Role
from services.read_models.hero_prompts import ShotCardSummary, ShotPrompt
from services.read_models.heroes import HeroTarget
from services.read_models.versions import ListedVersion, VersionPublic
from services.versions import list_versions
from ui.debounced_text_area import debounced_text_area
from ui.hero_state import card_key
from ui.images import absolute_url
from ui.permissions import lacks, why_disabled
from ui.seeds import seed_words
from ui.shared_models import shared_card_notes
from ui.toasts import escape_markdown, queue_toast, show_toast

PROMPT_LABEL = "Scene prompt"
PROMPT_BUTTON = "Edit prompt"
PROMPT_HINT = "Used by the next Regenerate shot, with the shot's references"
PROMPT_DIRTY = "Prompt edited: regenerate to apply"
_LINE = "font-size:.8rem;line-height:1.4;white-space:nowrap;overflow:hidden;text-overflow:ellipsis"
PROMPT_SHOWN = 300  # characters of a version's prompt in the versions list
VERSIONS_SHOWN = 10
_DIRTY_COLOUR = "#f59e0b"  # amber: reads on the dark and the light theme
_REJECTED_COLOUR = "#f87171"  # the rejected badge's red (ui.card_review)
_NOTE = "font-size:.8rem;line-height:1.4;margin-top:2px"  # wraps: a note may be long


def _notes_key(work_item_id: str, shot_id: str) -> str:
    return card_key("prompt_notes", work_item_id, shot_id)


def load_card_notes(work_item_id: str, shot_ids: list[str]) -> None:
    """Read the notes of these cards (one query) into session state; call where the grid or a card reads its shot."""
    found = card_summaries(work_item_id=work_item_id, shot_ids=shot_ids)
    for shot_id in shot_ids:
        st.session_state[_notes_key(work_item_id, shot_id)] = shared_card_notes(
            work_item_id, shot_id, found.get(shot_id)
        )


def card_notes(work_item_id: str, shot_id: str) -> ShotCardSummary | None:
    return st.session_state.get(_notes_key(work_item_id, shot_id))


def _keep_shot(work_item_id: str, shot_id: str, shot: ShotPrompt) -> None:
    notes = card_notes(work_item_id, shot_id)
    if notes is not None:
        st.session_state[_notes_key(work_item_id, shot_id)] = notes.model_copy(update={"shot": shot})


def card_notes_html(work_item_id: str, shot_id: str, size_label: str) -> str:
    """The lines under a card's texts (part of its one Markdown element): the shown size's comment count, the
    dirty mark, a recalled seed. Empty when there is nothing to say."""
    notes = card_notes(work_item_id, shot_id)
    if notes is None:
        return ""
    lines = []
    size = notes.sizes.get(size_label)
    if size is not None and size.comment_count:
        count = size.comment_count
        lines.append(f'<div style="{_LINE};opacity:.75">{count} comment{"s" if count != 1 else ""}</div>')
    if notes.shot.heroes_dirty and notes.sizes:
        lines.append(f'<div style="{_LINE};color:{_DIRTY_COLOUR}">&#x270E;&#xFE0E; {PROMPT_DIRTY}</div>')
    if notes.shot.seed is not None:
        lines.append(f'<div style="{_LINE};opacity:.75">Next run: seed {html.escape(str(notes.shot.seed))}</div>')
    return "".join(lines)


def rejected_notes_text(work_item_id: str, shot_id: str) -> str:
    """`Rejected: Desktop by Ana, “Blade looks bent”`, one line per rejected size; empty when none is."""
    notes = card_notes(work_item_id, shot_id)
    if notes is None:
        return ""
    said = []
    for label, size in notes.sizes.items():
        if size.review_state == "rejected":
            line = f"{label}" + (f" by {size.reviewer}" if size.reviewer else "")
            said.append(line + (f", “{size.review_note}”" if size.review_note else ""))
    return "Rejected: " + "; ".join(said) if said else ""


def rejected_notes(work_item_id: str, shot_id: str) -> None:
    """What the rejecting reviewers said, just above `Regenerate shot` in a compact card's menu (nothing when no size
    is rejected)."""
    text = rejected_notes_text(work_item_id, shot_id)
    if text:
        st.caption(f":red[:material/cancel:] {escape_markdown(text)}")


def rejected_notes_html(work_item_id: str, shot_id: str) -> str:
    """`rejected_notes` as the last line of a card's one Markdown element (no element of its own)."""
    text = rejected_notes_text(work_item_id, shot_id)
    return f'<div style="{_NOTE};color:{_REJECTED_COLOUR}">&#x2717; {html.escape(text)}</div>' if text else ""


REJECTED_SHOWN = 5


def rejected_in_selection(work_item_id: str, shot_ids: list[str] | None) -> None:
    """In the Actions panel: the rejected heroes among the selected shots (all shots: None) and their notes, so
    whoever starts the regeneration sees what to change first (one query; nothing shown when none is rejected)."""
    found = rejected_heroes(work_item_id=work_item_id, shot_ids=shot_ids, limit=REJECTED_SHOWN + 1)
    if not found:
        return
    lines = [
        f"- {escape_markdown(f'{r.shot_id} {r.size_label} v{r.version} rejected')}"
        + (f" by {escape_markdown(r.reviewer)}" if r.reviewer else "")
        + (f": “{escape_markdown(r.note)}”" if r.note else "")
        for r in found[:REJECTED_SHOWN]
    ]
    if len(found) > REJECTED_SHOWN:
        lines.append("- and more: see the cards")
    scope = "the selected shots" if shot_ids else "this work item"
    st.caption(f":red[:material/cancel:] Rejected heroes in {scope}:\n" + "\n".join(lines))


def regenerate_help(work_item_id: str, shot_id: str, usual: str) -> str:
    """`Regenerate shot`'s tooltip: the usual words, then the rejected sizes' notes."""
    text = rejected_notes_text(work_item_id, shot_id)
    return f"{usual}\n\n{text}" if text else usual


def save_prompt(text: str, work_item_id: str, shot_id: str) -> None:
    try:
        saved = update_shot_prompt(
            work_item_id=work_item_id, shot_id=shot_id, options=UpdateShotPromptOptions(prompt=text)
        )
    except ReshootError as e:
        queue_toast("Couldn’t save the prompt", e.message or e.code, kind="error")
        return
    _keep_shot(work_item_id, shot_id, saved)


def random_seed(work_item_id: str, shot_id: str) -> None:
    try:
        saved = set_shot_seed(work_item_id=work_item_id, shot_id=shot_id, seed=None)
    except ReshootError as e:
        queue_toast("Couldn’t change the seed", e.message or e.code, kind="error")
        return
    _keep_shot(work_item_id, shot_id, saved)


def prompt_popover(work_item_id: str, shot_id: str, *, disabled: bool) -> None:
    """`Edit prompt`: the shot's scene prompt, saved ~500 ms after the last keystroke; the editor is created only
    while the popover is open (a card stays light). Its label never changes: that would close it while typing."""
    notes = card_notes(work_item_id, shot_id)
    popover = st.popover(
        PROMPT_BUTTON,
        icon=":material/edit_note:",
        help=why_disabled(Role.reviewer, "The shot's scene prompt, sent to the image backend with its references"),
        disabled=notes is None or lacks(Role.reviewer),
        width="stretch",
        key=card_key("prompt_open", work_item_id, shot_id),
        on_change="rerun",
    )
    if not popover.open or notes is None:
        return
    with popover:
        prompt_editor(work_item_id, shot_id, disabled=disabled)


def prompt_editor(work_item_id: str, shot_id: str, *, disabled: bool) -> None:
    """The shot's scene prompt editor and, when a seed was recalled, `Use a random seed` (call only where it is
    shown: inside the open `Edit prompt` popover, or a compact card's open menu)."""
    notes = card_notes(work_item_id, shot_id)
    if notes is None:
        return
    debounced_text_area(
        PROMPT_LABEL,
        notes.shot.prompt,
        key=card_key("prompt", work_item_id, shot_id),
        on_save=save_prompt,
        args=(work_item_id, shot_id),
        placeholder="Describe the scene the product is shown in…",
        hint=PROMPT_HINT,
        disabled=disabled,
        height=120,
    )
    if notes.shot.seed is not None:
        st.caption(f"The next Regenerate shot uses seed {notes.shot.seed}, recalled from an earlier version.")
        st.button(
            "Use a random seed",
            icon=":material/casino:",
            type="tertiary",
            key=card_key("prompt_random_seed", work_item_id, shot_id),
            disabled=disabled,
            on_click=random_seed,
            args=(work_item_id, shot_id),
        )


def use_seed_and_prompt(version_id: int, version: int) -> None:
    """`Use this seed / prompt` on a hero version: its shot takes that prompt, and that seed for its next runs."""
    try:
        saved = use_version_for_shot(version_id=version_id)
    except ReshootError as e:
        show_toast("Couldn’t use that version", e.message or e.code, kind="error")
        return
    _keep_shot(saved.work_item_id, saved.shot_id, saved)
    seed = f"seed {saved.seed}" if saved.seed is not None else "a random seed (its backend ignored seeds)"
    show_toast(
        "Seed and prompt recalled", f"The next Regenerate shot of {saved.shot_id} uses v{version}'s prompt and {seed}."
    )


def use_version_button(version: VersionPublic, *, key: str) -> None:
    """`Use this seed / prompt` for one hero version."""
    st.button(
        f"Use v{version.version}'s seed / prompt",
        icon=":material/input:",
        type="tertiary",
        key=key,
        disabled=lacks(Role.reviewer),
        help=why_disabled(
            Role.reviewer,
            "Set the shot's prompt to this version's and make its next Regenerate shot use this version's seed",
        ),
        on_click=use_seed_and_prompt,
        args=(version.id, version.version),
    )


def version_line(version: ListedVersion) -> str:
    """`**v2** (current) · seed 42 · by ana · 2026-12-01 14:03 UTC`, then the prompt it was made from."""
    head = [f"**v{version.version}**" + (" (current)" if version.is_current else "")]
    seed = seed_words(version.seed, version.seed_honoured)
    head += [seed] if seed else []
    head += [f"by {escape_markdown(version.created_by)}"] if version.created_by else []
    head += [escape_markdown(f"{version.created_at:%Y-%m-%d %H:%M} UTC")]
    prompt = version.prompt
    shown = prompt if len(prompt) <= PROMPT_SHOWN else prompt[: PROMPT_SHOWN - 1] + "…"
    return " · ".join(head) + f"  \n{escape_markdown(shown)}"


def hero_versions(work_item_id: str, shot_id: str, row: HeroTarget) -> None:
    """The large view's `Versions` of the shown size (read only while open): each with its seed, who made it,
    its prompt, and `Use this seed / prompt`."""
    if not row.version_id:
        return
    box = st.expander(
        "Versions: seeds and prompts",
        icon=":material/history:",
        key=card_key("versions_open", work_item_id, shot_id),
        on_change="rerun",
    )
    if not box.open:
        return
    with box:
        for version in list_versions(TargetKind.hero, str(row.id))[:VERSIONS_SHOWN]:
            picture, words = st.columns([1, 5], vertical_alignment="top")
            thumb = absolute_url(version.thumb_url or version.url)
            if thumb:
                picture.image(thumb, width="stretch")
            with words:
                st.markdown(version_line(version))
                use_version_button(version, key=card_key(f"use_version_{version.id}", work_item_id, shot_id))

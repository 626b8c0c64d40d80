"""Every user-facing string from the spec, word for word, in one place."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.read_models.heroes import FailedShot, HeroesResult
    from services.read_models.imports import ImportSummary

# --- Spec 001: the Actions panel button ----------------------------------------------------------
GENERATE_BUTTON = "Generate Lifestyle Hero Images"
GENERATE_BUTTON_LOADING = "Generating…"
GENERATE_TOOLTIP = "Uses Lifestyle Pack v2 to create Desktop, Tablet, and Mobile heroes for this Work Item."
GENERATE_SUBCOPY = "Uses Lifestyle Pack v2 to auto-generate Desktop/Tablet/Mobile hero images for this Work Item."
GENERATE_TOOLTIP_NO_PACK = "Run Lifestyle Pack v2 first."

HEROES_GENERATED_TITLE = "Lifestyle heroes generated"
PACK_NOT_FOUND_TITLE = "Lifestyle Pack not found"
PACK_NOT_FOUND_BODY = "Run Lifestyle Pack v2 for this Work Item before generating hero images."
INVALID_REQUEST_TITLE = "Invalid request"
INVALID_REQUEST_BODY = "Check shot selection or options and try again."
GENERATE_FAILED_TITLE = "Couldn’t generate lifestyle images"
GENERATE_FAILED_BODY = "Something went wrong on the server. Try again or contact the dev pod."

# --- Spec 000: per-shot card ------------------------------------------------------------------------
UPLOAD_REFERENCE = "Upload reference"
UPLOAD_REFERENCE_LOADING = "Uploading…"
UPLOAD_REFERENCE_TOOLTIP = "Upload one or more reference images for this shot."
REGENERATE_SHOT = "Regenerate shot"
REGENERATE_SHOT_LOADING = "Regenerating…"
REGENERATE_SHOT_TOOLTIP = "Regenerate Desktop, Tablet, and Mobile heroes for this shot."
LARGE_VIEW_TOOLTIP = "Click to view larger"

REFERENCES_SAVED_TITLE = "Reference images saved"
REFERENCES_FAILED_TITLE = "Couldn’t save reference images"
REFERENCES_FAILED_BODY = "Unexpected error. Try again or contact the dev pod."
HEROES_REGENERATED_TITLE = "Lifestyle heroes regenerated"
REGENERATE_FAILED_TITLE = "Couldn’t regenerate shot"

# --- Spec 002: storyboard scene inspector ---------------------------------------------------------
IMAGE_REGENERATION_STARTED = "Image regeneration started"
SENTENCE_NOT_FOUND = "Sentence not found"
NO_IMAGE_PROMPT = "No image prompt to generate from"
REGENERATE_IMAGE = "Regenerate Image"
REGENERATE_IMAGE_LOADING = "Generating..."
REGENERATE_WITH_NEW_SEED = "Regenerate with new seed"
SEED_TOOLTIP = "Regenerate with specific seed"
PROMPT_LABEL = "Image Prompt"
PROMPT_PLACEHOLDER = "Describe the visual scene..."
PROMPT_RECOMMENDATION = "50-150 words recommended"
PROMPT_DIRTY = "Prompt changed. Regenerate to update image."
NO_IMAGE = "No image generated"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def references_saved_body(count: int, shot_id: str) -> str:
    """`Saved 2 reference images for OL-2.` (the spec's wording; singular for one)."""
    return f"Saved {plural(count, 'reference image')} for {shot_id}."


def regenerate_failed_body(shot_id: str) -> str:
    return f"Something went wrong while regenerating {shot_id}."


def heroes_regenerated_body(shot_id: str) -> str:
    return f"Regenerated lifestyle heroes for {shot_id}. Validate in SKU Switcher."


def _natural(shot_id: str) -> list[Any]:
    """`OL-2` before `OL-10`."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", shot_id)]


def _shots_in_order(shot_ids: Iterable[str]) -> list[str]:
    return sorted(dict.fromkeys(shot_ids), key=_natural)


SHOT_LIST_MAX = 4  # longer lists are shortened, so the call to action stays inside the toast's three lines
SHOT_LIST_MAX_CHARS = 28


def shot_list(shots: list[str]) -> str:
    """`OL-1, OL-2, OL-3`, or `OL-1, OL-2, … and 27 more` when that would be long."""
    full = ", ".join(shots)
    if len(shots) <= SHOT_LIST_MAX and len(full) <= SHOT_LIST_MAX_CHARS:
        return full
    shown = shots[:2] if len(", ".join(shots[:2])) <= SHOT_LIST_MAX_CHARS else shots[:1]
    return f"{', '.join(shown)}, … and {len(shots) - len(shown)} more"


def _across(shots: list[str]) -> str:
    return f"across {plural(len(shots), 'shot')} ({shot_list(shots)})"


def _exist(count: int) -> str:
    return f"{plural(count, 'image')} already exist{'s' if count == 1 else ''}"


def _validate(created: int) -> str:
    return f"Validate {'it' if created == 1 else 'them'} in SKU Switcher."


def lifestyle_result_body(result: HeroesResult) -> str:
    """The success toast body: spec 001's template with plurals right, the shot list counting every shot
    involved (created and skipped) and shortened when long, and a dry run that says what it would skip."""
    created, skipped = result.generated, result.skipped_existing
    shots = _shots_in_order([target.shot_id for target in created] + [target.shot_id for target in skipped])
    if result.dry_run:
        if created and skipped:
            return (
                f"Dry run complete. {plural(len(created), 'image')} would be created and "
                f"{plural(len(skipped), 'existing image')} skipped {_across(shots)}."
            )
        if created:
            return f"Dry run complete. {plural(len(created), 'image')} would be created {_across(shots)}."
        if skipped:
            return f"Dry run complete. Nothing to do: {_exist(len(skipped))} {_across(shots)}."
        return f"Dry run complete. {NOTHING_TO_GENERATE}"
    if created and not skipped:
        return f"Created {plural(len(created), 'image')} {_across(shots)}. {_validate(len(created))}"
    if created and skipped:
        return (
            f"Created {plural(len(created), 'image')} and skipped {plural(len(skipped), 'existing image')} "
            f"{_across(shots)}. {_validate(len(created))}"
        )
    if skipped:
        return "No new images created. All targets already exist."
    return f"No new images created. {NOTHING_TO_GENERATE}"


NOTHING_TO_GENERATE = "Nothing to do: the selected shots have no export sizes."


def shots_failed_body(failed: list[FailedShot]) -> str:
    """`2 shots failed (OL-3, OL-4): <first message>. Retry them on the Jobs page.`"""
    shots = _shots_in_order(shot.shot_id for shot in failed)
    first = failed[0].message or failed[0].error or "unknown error"
    return f"{plural(len(shots), 'shot')} failed ({shot_list(shots)}): {first}. Retry them on the Jobs page."


_IMPORT_NOUNS = {
    "workItems": ("work item", "work items"),
    "lifestylePacks": ("Lifestyle Pack", "Lifestyle Packs"),
    "shots": ("shot", "shots"),
    "exportPlanRows": ("export plan row", "export plan rows"),
    "projects": ("project", "projects"),
    "castMembers": ("cast member", "cast members"),
    "sections": ("section", "sections"),
    "sentences": ("sentence", "sentences"),
}


def _counted(count: int, kind: str) -> str:
    one, many = _IMPORT_NOUNS.get(kind, (kind, kind))
    return f"{count} {one if count == 1 else many}"


def import_summary(summary: ImportSummary) -> str:
    """`Imported 1 work item, 1 Lifestyle Pack and 90 export plan rows; updated 2 shots.` in words."""
    parts = []
    for outcome, verb in ((summary.created, "Imported"), (summary.updated, "updated")):
        counts = [(kind, n) for kind, n in outcome.model_dump(mode="json").items() if n]
        if counts:
            parts.append(f"{verb} {_and([_counted(n, kind) for kind, n in counts])}")
    if not parts:
        return "Nothing changed: everything in the file was already there."
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def lifestyle_error_toast(code: str | None) -> tuple[str, str]:
    """(title, body) for a failed Generate request, by the spec's error codes."""
    if code == "LIFESTYLE_PACK_NOT_FOUND":
        return PACK_NOT_FOUND_TITLE, PACK_NOT_FOUND_BODY
    if code == "INVALID_REQUEST":
        return INVALID_REQUEST_TITLE, INVALID_REQUEST_BODY
    return GENERATE_FAILED_TITLE, GENERATE_FAILED_BODY

"""Every user-facing string from the seeds, word for word, in one place."""

from __future__ import annotations

from typing import Any

# --- Seed 001: the Actions panel button ----------------------------------------------------------
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

# --- Seed 000: per-shot card ------------------------------------------------------------------------
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

# --- Seed 002: storyboard scene inspector ---------------------------------------------------------
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
    """`Saved 2 reference images for OL-2.` (the seed's spec wording; singular for one)."""
    return f"Saved {plural(count, 'reference image')} for {shot_id}."


def regenerate_failed_body(shot_id: str) -> str:
    return f"Something went wrong while regenerating {shot_id}."


def heroes_regenerated_body(shot_id: str) -> str:
    return f"Regenerated lifestyle heroes for {shot_id}. Validate in SKU Switcher."


def _shots_in_order(items: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(item["shot_id"] for item in items))


def lifestyle_result_body(result: dict[str, Any]) -> str:
    """The success toast body, built exactly as seed 001's template (and its dry-run line)."""
    created = result.get("generated") or []
    skipped = result.get("skippedExisting") or []
    shots = _shots_in_order(created)
    shot_list = ", ".join(shots)
    if result.get("dryRun"):
        return f"Dry run complete. {len(created)} images would be created across {len(shots)} shots ({shot_list})."
    if created and not skipped:
        return f"Created {len(created)} images across {len(shots)} shots ({shot_list}). Validate them in SKU Switcher."
    if created and skipped:
        return (
            f"Created {len(created)} images and skipped {len(skipped)} existing images across "
            f"{len(shots)} shots ({shot_list}). Validate them in SKU Switcher."
        )
    return "No new images created. All targets already exist."


def lifestyle_error_toast(code: str | None) -> tuple[str, str]:
    """(title, body) for a failed Generate request, by the seed's error codes."""
    if code == "LIFESTYLE_PACK_NOT_FOUND":
        return PACK_NOT_FOUND_TITLE, PACK_NOT_FOUND_BODY
    if code == "INVALID_REQUEST":
        return INVALID_REQUEST_TITLE, INVALID_REQUEST_BODY
    return GENERATE_FAILED_TITLE, GENERATE_FAILED_BODY

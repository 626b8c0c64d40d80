"""Toast copy from spec 001's template, word for word, for every case (and the cases the template gets wrong)."""

from __future__ import annotations

import pytest

from services import messages
from services.read_models.heroes import FailedShot, HeroesResult
from services.read_models.imports import ImportSummary


def result(created: dict[str, int], skipped: dict[str, int] | None = None, *, dry_run: bool = False) -> HeroesResult:
    """A seed result: `created`/`skipped` map a shot id to its number of images, in order."""
    return HeroesResult.model_validate(
        {
            "workItemId": "7",
            "dryRun": dry_run,
            "overwrite": False,
            "generated": [
                {"shot_id": shot, "filename": f"{shot}-{i}.png", "width": 1, "height": 1}
                for shot, n in created.items()
                for i in range(n)
            ],
            "skippedExisting": [
                {"shot_id": shot, "filename": f"{shot}-{i}.png", "reason": "EXISTS"}
                for shot, n in (skipped or {}).items()
                for i in range(n)
            ],
            "missingShots": [],
        }
    )


THREE = {"OL-1": 3, "OL-2": 3, "OL-3": 3}


@pytest.mark.parametrize(
    "case, body",
    [
        # The spec's three branches, with its own example numbers.
        (result(THREE), "Created 9 images across 3 shots (OL-1, OL-2, OL-3). Validate them in SKU Switcher."),
        (
            result({"OL-1": 3, "OL-2": 3}, {"OL-3": 3}),
            "Created 6 images and skipped 3 existing images across 3 shots (OL-1, OL-2, OL-3). Validate them in SKU Switcher.",
        ),
        (result({}, THREE), "No new images created. All targets already exist."),
        # The spec's dry-run line, and what it would skip.
        (result(THREE, dry_run=True), "Dry run complete. 9 images would be created across 3 shots (OL-1, OL-2, OL-3)."),
        (
            result({"OL-2": 3}, {"OL-1": 3}, dry_run=True),
            "Dry run complete. 3 images would be created and 3 existing images skipped across 2 shots (OL-1, OL-2).",
        ),
        # A dry run with nothing to do says so.
        (
            result({}, THREE, dry_run=True),
            "Dry run complete. Nothing to do: 9 images already exist across 3 shots (OL-1, OL-2, OL-3).",
        ),
        (result({}, {}, dry_run=True), "Dry run complete. Nothing to do: the selected shots have no export sizes."),
        (result({}, {}), "No new images created. Nothing to do: the selected shots have no export sizes."),
        # Plurals.
        (result({"OL-1": 1}), "Created 1 image across 1 shot (OL-1). Validate it in SKU Switcher."),
        (
            result({"OL-1": 1}, {"OL-1": 1}),
            "Created 1 image and skipped 1 existing image across 1 shot (OL-1). Validate it in SKU Switcher.",
        ),
        (
            result({}, {"OL-1": 1}, dry_run=True),
            "Dry run complete. Nothing to do: 1 image already exists across 1 shot (OL-1).",
        ),
        (result({"OL-1": 1}, dry_run=True), "Dry run complete. 1 image would be created across 1 shot (OL-1)."),
        # Every shot involved is counted: one shot both created (Mobile) and skipped (Desktop) counts once.
        (
            result({"OL-1": 1, "OL-2": 3}, {"OL-1": 2}),
            "Created 4 images and skipped 2 existing images across 2 shots (OL-1, OL-2). Validate them in SKU Switcher.",
        ),
        # Long lists are shortened, so the call to action stays visible.
        (
            result({f"OL-{i}": 3 for i in range(1, 30)}),
            "Created 87 images across 29 shots (OL-1, OL-2, … and 27 more). Validate them in SKU Switcher.",
        ),
        (
            result({f"OL-{i}": 3 for i in range(1, 5)}),
            "Created 12 images across 4 shots (OL-1, OL-2, OL-3, OL-4). Validate them in SKU Switcher.",
        ),
        (
            result({f"OL-{i}": 3 for i in range(1, 6)}, dry_run=True),
            "Dry run complete. 15 images would be created across 5 shots (OL-1, OL-2, … and 3 more).",
        ),
        (
            result({"LIVINGROOM-SOFA-LONG-1": 3, "LIVINGROOM-SOFA-LONG-2": 3}),
            "Created 6 images across 2 shots (LIVINGROOM-SOFA-LONG-1, … and 1 more). Validate them in SKU Switcher.",
        ),
    ],
)
def test_lifestyle_toast_body_word_for_word(case, body):
    assert messages.lifestyle_result_body(case) == body
    # A toast shows about 130 characters of body before `view more` (dashboard.py widens it; tests/e2e checks
    # the spec's toasts show whole in Chromium).
    assert len(body) <= 130


def test_toast_bodies_stay_short_whatever_the_shot_count():
    """Short enough for the toast's three lines (checked in Chromium by tests/e2e): the list never grows."""
    bodies = [
        messages.lifestyle_result_body(result({f"SHOT-{i:04d}": 3 for i in range(n)}, {"SHOT-0000": 1}))
        for n in (5, 50, 5000)
    ]
    assert all(b.endswith("Validate them in SKU Switcher.") for b in bodies), bodies
    assert len(bodies[2]) - len(bodies[0]) == 9  # only the three counts grow, by 3 digits each


def test_seed_titles_and_error_toasts_word_for_word():
    assert messages.HEROES_GENERATED_TITLE == "Lifestyle heroes generated"
    assert messages.lifestyle_error_toast("LIFESTYLE_PACK_NOT_FOUND") == (
        "Lifestyle Pack not found",
        "Run Lifestyle Pack v2 for this Work Item before generating hero images.",
    )
    assert messages.lifestyle_error_toast("INVALID_REQUEST") == (
        "Invalid request",
        "Check shot selection or options and try again.",
    )
    assert (
        messages.lifestyle_error_toast("INTERNAL_ERROR")
        == messages.lifestyle_error_toast(None)
        == (
            "Couldn’t generate lifestyle images",
            "Something went wrong on the server. Try again or contact the dev pod.",
        )
    )


def test_failed_shots_and_reference_counts_in_words():
    failed = [FailedShot(shot_id="OL-3", error="BACKEND_UNAVAILABLE", message="OpenAI is unavailable")]
    assert (
        messages.shots_failed_body(failed)
        == "1 shot failed (OL-3): OpenAI is unavailable. Retry them on the Jobs page."
    )
    many = failed + [FailedShot(shot_id=f"OL-{i}", error="X") for i in range(4, 10)]
    assert messages.shots_failed_body(many).startswith("7 shots failed (OL-3, OL-4, … and 5 more): ")
    assert messages.references_saved_body(2, "OL-2") == "Saved 2 reference images for OL-2."
    assert messages.references_saved_body(1, "OL-2") == "Saved 1 reference image for OL-2."


def _summary(**counts: dict[str, int]) -> ImportSummary:
    empty = {"created": {}, "updated": {}, "unchanged": {}}
    return ImportSummary.model_validate({"changed": True, "keptImagePrompts": [], **empty, **counts})


def test_import_result_in_words():
    summary = _summary(
        created={"workItems": 1, "lifestylePacks": 1, "shots": 30, "exportPlanRows": 90, "sentences": 0},
        updated={"shots": 1},
        unchanged={"workItems": 3},
    )
    assert messages.import_summary(summary) == (
        "Imported 1 work item, 1 Lifestyle Pack, 30 shots and 90 export plan rows; updated 1 shot."
    )
    assert messages.import_summary(_summary(created={"exportPlanRows": 1})) == "Imported 1 export plan row."
    assert messages.import_summary(_summary(updated={"sentences": 2, "projects": 1})) == (
        "Updated 1 project and 2 sentences."  # in the summary's order of kinds
    )
    assert messages.import_summary(_summary()) == "Nothing changed: everything in the file was already there."

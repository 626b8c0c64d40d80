"""`python -m tests.e2e.screenshots`: every page of the dashboard at 1440×900 and at 1024×768, into docs/screenshots/
(`NAME.png` at 1440 px, `NAME-1024.png` at 1024 px).

Starts its own server on a fresh data dir (the demo set with images, references and a second version to compare),
opens each page in headless Chromium, waits until it has finished running and its images have loaded, and saves
a PNG. Run it again whenever a page changes and commit the PNGs.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from ui.grid_density import TOGGLE_KEY
from ui.storyboard_table import storyboard_key

from .helpers import (
    TIMEOUT,
    button,
    card,
    dataframe,
    main_area,
    open_dialog,
    open_page,
    select_dataframe_row,
    wait_idle,
    wait_until,
)
from .server import REPO, VIEWPORT, launch_chromium, prepare_data, running_app

OUT_DIR = REPO / "docs" / "screenshots"
KITCHEN = "Kitchen Essentials — Cookware Refresh"
GARDEN = "Garden Furniture — Summer Range"


# Every <img>, including those inside shadow roots (st.html renders into one), has loaded and decoded.
IMAGES_LOADED = """() => {
  const images = [];
  const walk = (root) => {
    root.querySelectorAll("img").forEach((img) => images.push(img));
    root.querySelectorAll("*").forEach((el) => el.shadowRoot && walk(el.shadowRoot));
  };
  walk(document);
  return images.every((img) => img.complete && img.naturalWidth > 0);
}"""


def images_loaded(page: Page) -> bool:
    return page.evaluate(IMAGES_LOADED)


WIDTHS = {1440: VIEWPORT, 1024: {"width": 1024, "height": 768}}  # px wide -> viewport


def settle(page: Page) -> None:
    wait_idle(page)
    wait_until(lambda: images_loaded(page), message="images never finished loading")
    size = page.viewport_size or VIEWPORT
    page.mouse.move(size["width"] - 1, size["height"] - 1)  # no hover highlight or tooltip in the picture
    page.evaluate("() => document.fonts.ready.then(() => true)")
    wait_idle(page)


def work_items(page: Page, url: str) -> None:
    open_page(page, url, heading="Work Items")


def work_item(page: Page, url: str) -> None:
    open_page(page, f"{url}/work_item?id=12", heading=KITCHEN)
    set_compact(page, False)  # the choice is kept per person: another picture turns it on


def set_compact(page: Page, on: bool) -> None:
    toggle = main_area(page).locator(f".st-key-{TOGGLE_KEY}")
    if toggle.locator("input").is_checked() != on:
        toggle.get_by_text("Compact", exact=True).click()
        # Read at one moment: while the header is laid out anew, the old toggle and the new one are both there.
        turned = f"(inputs) => inputs.length === 1 && inputs[0].checked === {'true' if on else 'false'}"
        wait_until(lambda: toggle.locator("input").evaluate_all(turned), message="the Compact toggle never turned")
        wait_idle(page)


def compact_grid(page: Page, url: str) -> None:
    """Twelve compact cards above the fold (14 shots, two grid pages), with review badges."""
    open_page(page, f"{url}/work_item?id=30", heading=GARDEN)
    set_compact(page, True)
    menus = page.locator('[class*="st-key-detail_menu_30_"]')
    wait_until(lambda: menus.count() == 12, message="the compact grid never showed")


def review_station(page: Page, url: str) -> None:
    """The large view moved to the next shot and the next size by keys, as a reviewer does."""
    work_item(page, url)
    button(card(page, "KT-1 · KIT-CASTIRON-28"), "View larger").click()
    open_dialog(page)
    wait_idle(page)
    page.keyboard.press("ArrowRight")
    wait_idle(page)
    page.keyboard.press("ArrowDown")
    wait_idle(page)
    open_dialog(page).get_by_text("shot 2 of 3").wait_for()


def large_view(page: Page, url: str) -> None:
    work_item(page, url)
    button(card(page, "KT-2 · KIT-KNIFE-SET-5"), "View larger").click()
    open_dialog(page)


def compare(page: Page, url: str) -> None:
    work_item(page, url)
    button(card(page, "KT-1 · KIT-CASTIRON-28"), "Compare v1 / v2").click()
    open_dialog(page)


def review_thread(page: Page, url: str) -> None:
    """The large view's history and comments, with a comment added here."""
    large_view(page, url)
    dialog = open_dialog(page)
    dialog.get_by_text("History and comments").click()
    wait_idle(page)
    dialog.get_by_label("Add a comment").fill("The knife tips are cut off on the right; crop wider for Mobile")
    button(dialog, "Add comment").click()
    wait_idle(page)
    dialog.get_by_text("History and comments").scroll_into_view_if_needed()


def hero_prompt(page: Page, url: str) -> None:
    """A card's `Edit prompt` open, the prompt edited (the card's dirty mark below it)."""
    work_item(page, url)
    button(card(page, "KT-2 · KIT-KNIFE-SET-5"), "Edit prompt").click()
    editor = page.get_by_label("Scene prompt")
    editor.fill(  # the same text at every width (one server serves both)
        "A five-piece chef's knife set on a magnetic walnut strip above a marble counter, fresh herbs and a lemon "
        "on a board, clean Scandinavian kitchen, soft daylight"
    )
    editor.press("Control+Enter")  # saves at once
    wait_idle(page)


def sku_switcher(page: Page, url: str) -> None:
    open_page(page, f"{url}/sku_switcher?id=12", heading="KT-1 · KIT-CASTIRON-28")


def storyboard(page: Page, url: str) -> None:
    open_page(page, f"{url}/storyboard", heading="Storyboard")
    select_dataframe_row(page, dataframe(page, storyboard_key("table", "coffee-origins")), 0, row_height=64)
    main_area(page).get_by_role("heading", name="Scene 1.1").wait_for()


def jobs(page: Page, url: str) -> None:
    open_page(page, f"{url}/jobs", heading="Jobs")


def settings(page: Page, url: str) -> None:
    open_page(page, f"{url}/settings", heading="Settings")


def activity(page: Page, url: str) -> None:
    open_page(page, f"{url}/activity", heading="Activity")


def review_queue(page: Page, url: str) -> None:
    open_page(page, f"{url}/review_queue", heading="Review queue")


PAGES: dict[str, Callable[[Page, str], None]] = {
    "01-work-items": work_items,
    "02-work-item": work_item,
    "03-large-view": large_view,
    "04-compare": compare,
    "05-sku-switcher": sku_switcher,
    "06-storyboard": storyboard,
    "07-jobs": jobs,
    "08-settings": settings,
    "09-activity": activity,
    "10-review-queue": review_queue,
    "11-review-thread": review_thread,
    "12-hero-prompt": hero_prompt,
    "13-compact-grid": compact_grid,
    "14-review-station": review_station,
}


def take_screenshots(
    out_dir: Path, only: list[str] | None = None, widths: tuple[int, ...] = tuple(WIDTHS)
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    with tempfile.TemporaryDirectory(prefix="reshoot-screenshots-") as tmp:
        data_dir = Path(tmp) / "data"
        prepare_data(data_dir, extra=True)
        with running_app(data_dir) as app, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for width in widths:
                for name, visit in PAGES.items():
                    if only and name not in only:
                        continue
                    context = browser.new_context(viewport=WIDTHS[width])
                    context.set_default_timeout(TIMEOUT)
                    page = context.new_page()
                    visit(page, app.url)
                    settle(page)
                    path = out_dir / (f"{name}.png" if width == 1440 else f"{name}-{width}.png")
                    page.screenshot(path=str(path))
                    saved.append(path)
                    print(path.relative_to(REPO) if path.is_relative_to(REPO) else path, flush=True)
                    context.close()
            browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder for the PNGs (default: docs/screenshots)")
    parser.add_argument("pages", nargs="*", metavar="page", help=f"only these pages (default: all): {', '.join(PAGES)}")
    parser.add_argument(
        "--width",
        type=int,
        choices=list(WIDTHS),
        action="append",
        help="only this viewport width (default: 1440 and 1024)",
    )
    args = parser.parse_args()
    unknown = set(args.pages) - set(PAGES)
    if unknown:
        parser.error(f"unknown pages: {', '.join(sorted(unknown))}")
    take_screenshots(args.out, args.pages or None, tuple(args.width or WIDTHS))


if __name__ == "__main__":
    main()

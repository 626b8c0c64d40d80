"""What a person does and sees in the dashboard, in Playwright terms: open a page, wait for Streamlit to finish,
click, pick a table row, upload through the file chooser, read toasts and check that images really loaded."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from playwright.sync_api import Locator, Page, expect

TIMEOUT = 60_000  # ms; generous: a loaded 2-core machine runs scripts and jobs slowly
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"][data-test-connection-state="CONNECTED"]'
# Elements whose code is still loading show as skeletons after the run has finished.
SKELETONS = '[data-testid="stSkeleton"], [data-testid="stSkeletonElement"], [data-testid="stAppSkeleton"]'
TOAST = '[data-testid="stToast"]'
DIALOG = '[data-testid="stDialog"] [role="dialog"]'
TABLE_HEADER_HEIGHT = 35  # px; glide-data-grid's header row in st.dataframe
ROW_MARKER_X = 16  # px from the table's left edge: the row-selection checkbox column

expect.set_options(timeout=TIMEOUT)


def wait_idle(page: Page, timeout: float = TIMEOUT) -> None:
    """Until the app is connected, no script run (full or fragment) is in progress and nothing is a skeleton."""
    page.wait_for_function(
        "([idle, skeletons]) => document.querySelector(idle) && !document.querySelector(skeletons)",
        arg=[IDLE, SKELETONS],
        timeout=timeout,
    )


def wait_until(check: Callable[[], bool], *, message: str, timeout: float = TIMEOUT) -> None:
    """Poll `check` (a browser-side question) until it is true; fail with `message` after `timeout` ms."""
    deadline = time.monotonic() + timeout / 1000
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout / 1000:.0f}s: {message}")
        time.sleep(0.1)


def expect_no_exception(page: Page) -> None:
    """A script error shows as an exception box; fail at once with its text rather than waiting for content."""
    errors = page.locator('[data-testid="stException"]')
    if errors.count():
        raise AssertionError(f"the page shows an exception: {errors.first.inner_text()}")


def open_page(page: Page, url: str, *, heading: str) -> None:
    """Go to `url` and wait until its script has run and `heading` shows (the app is idle before its first run)."""
    page.goto(url)
    wait_idle(page)
    title = main_area(page).get_by_role("heading", name=heading, exact=True)
    wait_until(
        lambda: title.count() > 0 or page.locator('[data-testid="stException"]').count() > 0,
        message=f"{url} never showed the heading {heading!r}",
    )
    expect_no_exception(page)
    wait_idle(page)


def main_area(page: Page) -> Locator:
    return page.locator('[data-testid="stMain"]')


def sidebar_nav(page: Page) -> Locator:
    return page.locator('[data-testid="stSidebarNav"]')


def button(scope: Page | Locator, label: str) -> Locator:
    """A Streamlit button (or popover trigger) by its visible label."""
    # Streamlit also renders a hidden copy of a button that has a tooltip; only the visible one counts.
    selector = '[data-testid^="stBaseButton"], [data-testid="stPopoverButton"]'
    return scope.locator(selector).filter(has_text=label, visible=True)


def tooltip_of(page: Page, target: Locator) -> Locator:
    """Hover `target`'s tooltip anchor and return the tooltip that opens."""
    target.locator("xpath=ancestor::*[@data-testid='stTooltipHoverTarget'][1]").hover()
    return page.locator('[data-testid="stTooltipContent"]')


def toast(page: Page, title: str, body: str) -> Locator:
    return page.locator(TOAST).filter(has_text=title).filter(has_text=body)


def expect_toast(page: Page, title: str, body: str) -> None:
    """The toast is on screen, whole: no `view more` (a toast over three lines is cut, hiding its last words)."""
    shown = toast(page, title, body)
    expect(shown).to_be_visible()
    # Asked at once (not retried): the button is drawn with the toast, and gone only when the toast is.
    assert shown.locator('[data-testid="stToastViewButton"]').count() == 0, f"{title!r} is cut: 'view more'"


def dataframe(page: Page, key: str) -> Locator:
    """The st.dataframe created with `key=…` (Streamlit puts `st-key-<key>` on its element)."""
    return page.locator(f".st-key-{key} [data-testid='stDataFrame']")


def dataframe_cells(frame: Locator, column: int) -> list[str]:
    """Texts of one column (1 = first data column) from the grid's accessibility table."""
    expect(frame.locator("td").first).to_be_attached()
    return frame.locator(f"td[aria-colindex='{column}']").all_text_contents()


def select_dataframe_row(page: Page, frame: Locator, row: int, *, row_height: int = 35) -> None:
    """Tick the row-selection checkbox of data row `row` (0-based); the grid is a canvas, so click by position.

    Callers assert what the selection does (a page opens, an inspector shows): the table may be gone by then."""
    canvas = frame.locator('[data-testid="stDataFrameResizable"]')
    canvas.scroll_into_view_if_needed()
    canvas.click(position={"x": ROW_MARKER_X, "y": TABLE_HEADER_HEIGHT + row * row_height + row_height // 2})


def is_decoded(image: Locator) -> bool:
    """The <img> is in the page, finished loading, and decoded to a real picture."""
    try:
        return bool(image.evaluate("img => img.complete && img.naturalWidth > 0", timeout=2_000))
    except Exception:  # detached by a rerun between finding and asking; ask again
        return False


def expect_image_loaded(image: Locator, *, what: str) -> str:
    """Wait until `image` has decoded (natural width > 0); return its `src`."""
    image.wait_for(state="attached")
    wait_until(lambda: is_decoded(image), message=f"{what} never loaded")
    return image.get_attribute("src") or ""


def pixels(page: Page, src: str) -> bytes:
    """The decoded RGBA pixels of the image at `src`, fetched like the browser does."""
    response = page.request.get(src)
    assert response.ok, f"{src} answered {response.status}"
    return Image.open(io.BytesIO(response.body())).convert("RGBA").tobytes()


def upload_files(page: Page, uploader_scope: Locator, files: list[Path]) -> None:
    """Pick `files` in the real file chooser opened by the uploader's button (`Upload` in its drop zone)."""
    with page.expect_file_chooser() as chooser:
        uploader_scope.locator('[data-testid="stFileUploaderDropzone"] button').click()
    chooser.value.set_files([str(f) for f in files])


def open_dialog(page: Page) -> Locator:
    dialog = page.locator(DIALOG)
    expect(dialog).to_be_visible()
    return dialog


def close_dialog(page: Page) -> None:
    page.locator(DIALOG).get_by_label("Close").click()
    expect(page.locator(DIALOG)).to_have_count(0)


def dataframe_column(frame: Locator, header: str) -> list[str]:
    """Texts of the column headed `header`, top to bottom."""
    heading = frame.locator("th[role='columnheader']").filter(has_text=header).first
    return dataframe_cells(frame, int(heading.get_attribute("aria-colindex")))


def card(page: Page, caption: str, *, has: Locator | None = None) -> Locator:
    """The innermost container (or row) holding the exact text `caption` (and `has`, if given)."""
    blocks = main_area(page).locator('[data-testid="stVerticalBlock"], [data-testid="stHorizontalBlock"]')
    blocks = blocks.filter(has=page.get_by_text(caption, exact=True))
    if has is not None:
        blocks = blocks.filter(has=has)
    # Ancestors come first in document order, so the last match is the innermost one.
    return blocks.last

"""Issue 15: a `Regenerate shot` whose job outlasts the click's own wait ends on its card in reruns of that card
alone, not in a full rerun of the page (which costs the whole grid).

The dashboard runs with the OpenAI backend pointed at the stand-in from tests/fakes, which answers after LATENCY
seconds, longer than the click waits (`ui.job_progress.QUICK_WAIT_SECONDS`). The script runs are read from the
WebSocket: every run starts with a `new_session` message naming the fragments it runs (none: the whole app).
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from playwright.sync_api import Page, expect
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from services import messages
from tests.fakes.openai_server import FakeOpenAI
from ui.job_progress import QUICK_WAIT_SECONDS

from .helpers import (
    button,
    card,
    dataframe,
    expect_toast,
    main_area,
    open_dialog,
    open_page,
    select_dataframe_row,
    wait_idle,
)
from .server import REPO, VIEWPORT, App, prepare_data, running_app

LATENCY = QUICK_WAIT_SECONDS + 1.5  # seconds the stand-in takes per image
HOME_OFFICE = "/work_item?id=21"  # its heroes exist already (server.PREPARE)
HO1 = "HO-1 · OFF-DESK-120-OAK"
HO2 = "HO-2 · OFF-CHAIR-ERGO-GRY"


@pytest.fixture(scope="module")
def slow_app(tmp_path_factory) -> App:
    fake = FakeOpenAI().start()
    fake.latency = LATENCY
    data_dir = tmp_path_factory.mktemp("e2e-slow") / "data"
    prepare_data(data_dir)
    env = {"RESHOOT_IMAGE_BACKEND": "openai", "OPENAI_API_KEY": fake.api_key, "RESHOOT_OPENAI_BASE_URL": fake.base_url}
    try:
        with running_app(data_dir, env=env) as running:
            yield running
    finally:
        fake.stop()


@pytest.fixture
def slow_page(slow_app, browser):
    context = browser.new_context(viewport=VIEWPORT)
    yield context.new_page()
    context.close()


def record_runs(page: Page) -> list[tuple[list[str], list[bytes]]]:
    """Every script run the server starts from now on: the fragments it runs ([] for a run of the whole app) and
    the messages sent for it."""
    runs: list[tuple[list[str], list[bytes]]] = []

    def read(payload: str | bytes) -> None:
        if isinstance(payload, bytes):
            msg = ForwardMsg.FromString(payload)
            if msg.HasField("new_session"):
                runs.append((list(msg.metadata.run.fragment_ids), []))
            elif runs:
                runs[-1][1].append(payload)

    page.on("websocket", lambda ws: ws.on("framereceived", read))
    return runs


def thumbnail_version(hero, shot_id: str = "HO-1") -> int:
    """The version in the card's thumbnail's file name (`desktop.v3-1a2b3c.thumb.webp`)."""
    src = hero.locator(f'img[src*="/fcc/lifestyle/21/{shot_id}/"]').first.get_attribute("src") or ""
    found = re.search(r"\.v(\d+)-", src)
    return int(found.group(1)) if found else 0


def test_a_regeneration_longer_than_the_clicks_wait_ends_in_reruns_of_its_card_alone(slow_app, slow_page):
    page = slow_page
    runs = record_runs(page)
    open_page(page, slow_app.url + HOME_OFFICE, heading="Home Office — Compact Desk Range")
    hero = card(page, HO1)
    before = thumbnail_version(hero)
    runs.clear()
    button(hero, messages.REGENERATE_SHOT).click()
    # Still running after the click's wait: the card shows it busy, with its progress.
    expect(button(hero, messages.REGENERATE_SHOT_LOADING)).to_be_disabled()
    expect(hero.locator('[data-testid="stProgress"]')).to_be_visible()
    expect_toast(page, messages.HEROES_REGENERATED_TITLE, messages.heroes_regenerated_body("HO-1"))
    expect(button(hero, messages.REGENERATE_SHOT)).to_be_enabled()
    wait_idle(page)
    assert thumbnail_version(hero) > before
    fragments = [ids for ids, _ in runs]
    assert fragments and [] not in fragments, f"a full run of the app in {fragments}"
    assert len({tuple(ids) for ids in fragments}) == 1, f"runs of other fragments than the card's: {fragments}"


def test_two_cards_regenerating_at_once_both_show_their_new_image(slow_app, slow_page):
    """A click on a second card while the first one's job runs: the first card's held reruns must not keep the
    second from running (each would start the run again), and both end with their new image."""
    page = slow_page
    open_page(page, slow_app.url + HOME_OFFICE, heading="Home Office — Compact Desk Range")
    first, second = card(page, HO1), card(page, HO2)
    before = thumbnail_version(first), thumbnail_version(second, "HO-2")
    button(first, messages.REGENERATE_SHOT).click()
    expect(button(first, messages.REGENERATE_SHOT_LOADING)).to_be_disabled()
    button(second, messages.REGENERATE_SHOT).click()
    expect(button(second, messages.REGENERATE_SHOT_LOADING)).to_be_disabled()
    for hero in (first, second):
        expect(button(hero, messages.REGENERATE_SHOT)).to_be_enabled()
    wait_idle(page)
    expect_toast(page, messages.HEROES_REGENERATED_TITLE, messages.heroes_regenerated_body("HO-2"))
    assert thumbnail_version(first) > before[0] and thumbnail_version(second, "HO-2") > before[1]


def test_the_large_view_opened_while_its_cards_job_runs_stays_open_until_the_end(slow_app, slow_page):
    """A rerun of the card that does not draw the dialog again would close it: the card stops rerunning itself."""
    page = slow_page
    open_page(page, slow_app.url + HOME_OFFICE, heading="Home Office — Compact Desk Range")
    hero = card(page, HO1)
    before = thumbnail_version(hero)
    button(hero, messages.REGENERATE_SHOT).click()
    expect(button(hero, messages.REGENERATE_SHOT_LOADING)).to_be_disabled()
    button(hero, "View larger").click()
    dialog = open_dialog(page)
    expect_toast(page, messages.HEROES_REGENERATED_TITLE, messages.heroes_regenerated_body("HO-1"))
    wait_idle(page)
    expect(dialog.get_by_text("fcc/lifestyle/21/HO-1/desktop.png")).to_be_visible()
    assert thumbnail_version(hero) > before


def test_a_long_storyboard_regeneration_shows_its_image_in_a_rerun_of_its_watcher_before_the_page_reruns(
    slow_app, slow_page
):
    """The Scene Inspector is not a fragment: the fragment watching the job draws the picture, so the new image
    comes in that fragment's rerun, and the run of the whole page (about a second's work on a loaded machine) after."""
    page = slow_page
    runs = record_runs(page)
    open_page(page, slow_app.url + "/storyboard", heading="Storyboard")
    select_dataframe_row(page, dataframe(page, "sb_table_coffee-origins"), 0, row_height=64)
    main = main_area(page)
    main.get_by_role("heading", name="Scene 1.1").wait_for()
    shown = main.locator('img[src*="/storyboard/coffee-origins/sent_001/image.v"]')
    expect(shown.first).to_be_visible()
    current = max(
        int(re.search(r"\.v(\d+)-", src or "").group(1)) for src in shown.evaluate_all("l => l.map(i => i.src)")
    )
    runs.clear()
    button(main, messages.REGENERATE_IMAGE).click()
    expect(button(main, messages.REGENERATE_IMAGE_LOADING)).to_be_disabled()  # still running after the click's wait
    expect(button(main, messages.REGENERATE_IMAGE)).to_be_enabled()
    wait_idle(page)
    new_image = f"/sent_001/image.v{current + 1}-".encode()
    first = next(ids for ids, payloads in runs if any(new_image in payload for payload in payloads))
    assert first, f"the new image came first in a run of the whole page: {[ids for ids, _ in runs]}"


def test_streamlit_does_not_collect_all_garbage_after_every_run():
    """Streamlit's `runner.postScriptGC` (a full `gc.collect()` after each script and fragment run, 130-170 ms holding
    the GIL here) delayed the rerun a job's end wakes, the job's own work and the delivery of the run's deltas: the
    dashboard's config turns it off. Read through Streamlit's own config, so a misspelt option name fails too."""
    read = subprocess.run(
        [sys.executable, "-c", "from streamlit import config; print(config.get_option('runner.postScriptGC'))"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert read.stdout.strip() == "False"

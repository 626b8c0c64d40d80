"""The dashboard as a real server for browser tests: a fresh data dir, the demo set, `streamlit run` on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers import free_port, running

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0  # seconds; a loaded 2-core CI machine imports Streamlit slowly

# Run in the data dir before the server starts, so the first page load finds data and does not import anything.
# Work item 7 is left without images (the Generate flow makes them); work item 21's heroes and the storyboard's
# first sentence image exist already (SKU Switcher and Storyboard flows). `extra` adds more for screenshots.
PREPARE = """
import sys
from services.db import migrate
from services.demo import DEMO_DIR, load_demo
from services.jobs import stop_embedded_worker, wait_for_job
from services.lifestyle import GenerateHeroesOptions, ReferenceUpload, add_references, start_heroes_job
from services.storyboard import RegenerateImageOptions, list_sentences, regenerate_sentence_image


def run(job_id):
    job = wait_for_job(job_id, timeout=180)
    assert job.status == "succeeded", job


migrate()
load_demo(generate_images=False)
run(start_heroes_job(work_item_id="21").job_id)
run(regenerate_sentence_image(sentence_id="sent_001", options=RegenerateImageOptions(seed=1000)).job_id)
if "--extra" in sys.argv:  # screenshots: more images, references, a v2 to compare
    run(start_heroes_job(work_item_id="12").job_id)
    cast = sorted((DEMO_DIR / "cast").glob("*.png"))
    references = ReferenceUpload(shot_id="KT-1", files=[(p.name, p.read_bytes()) for p in cast])
    add_references(work_item_id="12", options=references)
    run(start_heroes_job(work_item_id="12", options=GenerateHeroesOptions(shot_ids=["KT-1"], overwrite=True)).job_id)
    for i, sentence in enumerate(list_sentences("coffee-origins")):
        if sentence.image_prompt:
            run(regenerate_sentence_image(sentence_id=sentence.id, options=RegenerateImageOptions(seed=2000 + i)).job_id)
    # Decisions to show on the cards, and a work item of 14 shots for the compact grid.
    from services.identity import Actor, Role, acting_as
    from services.importer import import_data
    from services.versions import ReviewDecisionOptions, set_review
    from services.work_items import get_work_item

    sizes = [("Desktop", 1920, 800), ("Tablet", 1536, 768), ("Mobile", 750, 1334)]
    shots = [{"shot_id": f"GF-{n}", "sku": f"GARDEN-{n:02d}", "prompt": f"Teak garden furniture, scene {n}, evening"}
             for n in range(1, 15)]
    plan = [{"shot_id": s["shot_id"], "sku": s["sku"], "size_label": label, "width": w, "height": h,
             "filename": f"fcc/lifestyle/30/{s['shot_id']}/{label.lower()}.png"} for s in shots for label, w, h in sizes]
    import_data({"workItems": [{"id": "30", "title": "Garden Furniture — Summer Range", "status": "in_review",
                                "lifestylePack": {"version": "v2", "shots": shots, "exportPlan": plan}}]})
    run(start_heroes_job(work_item_id="30").job_id)
    ana, ben = Actor("ana@example.com", "Ana", Role.reviewer), Actor("ben@example.com", "Ben", Role.reviewer)
    for item_id, decisions in (
        ("12", {("KT-2", "Desktop"): (ana, "approved", None), ("KT-2", "Mobile"): (ben, "rejected", "Blade cut off")}),
        ("30", {(f"GF-{n}", size): (ana if n % 2 else ben, "rejected" if n % 5 == 0 else "approved", None)
                for n in range(1, 9) for size in ("Desktop", "Tablet") if (n + len(size)) % 3}),
    ):
        rows = {(s.shot_id, r.size_label): r.version_id for s in get_work_item(item_id).shots for r in s.rows}
        for (shot_id, size), (who, state, note) in decisions.items():
            with acting_as(who):
                set_review(version_id=rows[(shot_id, size)], options=ReviewDecisionOptions(state=state, note=note))
stop_embedded_worker()
"""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 900}


@dataclass(frozen=True)
class App:
    url: str
    data_dir: Path
    log: Path


def server_env(data_dir: Path) -> dict[str, str]:
    """This environment without any RESHOOT_* or cloud settings: the offline defaults in `data_dir`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESHOOT_", "OPENAI_", "AWS_"))}
    env.update(
        RESHOOT_DATA_DIR=str(data_dir),
        RESHOOT_IMAGE_BACKEND="local",
        STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
        PYTHONUNBUFFERED="1",
    )
    return env


def prepare_data(data_dir: Path, *, extra: bool = False, repo: Path = REPO) -> None:
    """The demo set without images, plus the few images the flows start from (see PREPARE), by `repo`'s code."""
    args = [sys.executable, "-c", PREPARE] + (["--extra"] if extra else [])
    done = subprocess.run(args, cwd=repo, env=server_env(data_dir), capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"preparing the demo data failed:\n{done.stdout}\n{done.stderr}")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def running_app(
    data_dir: Path,
    *,
    env: dict[str, str] | None = None,
    repo: Path = REPO,
    port: int | None = None,
    address: str = "127.0.0.1",
    extra_args: tuple[str, ...] = (),
) -> Iterator[App]:
    """`streamlit run dashboard.py` (of `repo`) on `address`:<port> (default: 127.0.0.1, a free port) over `data_dir`,
    until the block ends; `env` adds to (or replaces) the offline settings (e.g. another image backend, RESHOOT_AUTH),
    `extra_args` to the command line."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = data_dir.parent / f"streamlit-{port}.log"
    args = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "dashboard.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--browser.gatherUsageStats",
        "false",
        *extra_args,
    ]
    url = f"http://127.0.0.1:{port}"
    with running(
        args,
        ready=lambda: _healthy(url),
        log_path=log_path,
        env={**server_env(data_dir), **(env or {})},
        timeout=START_TIMEOUT,
        cwd=repo,
    ):
        yield App(url=url, data_dir=data_dir, log=log_path)


def launch_chromium(playwright):
    """Debian's Chromium, headless and kept off the network."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)

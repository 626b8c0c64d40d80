"""(6) Upload memory: peak RSS growth of a real API server process (uvicorn) while it takes one request with
N × 25 MB JPEGs (8 MP each) for one shot, against the same server taking one such file, measured in one run.

The request streams to spooled temp files and the files are decoded one at a time, so the peak should not grow
with N. The peak is the kernel's high-water mark (VmHWM), reset just before the request (/proc/PID/clear_refs).
"""

from __future__ import annotations

import io
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from bench.api_server import ApiServer
from bench.common import Row, check, measure, temp_data_dir
from bench.fixtures import work_item

NAME = "upload_memory"
FILES = 50
WIDTH, HEIGHT = 3480, 2320  # noise at JPEG quality 98, no chroma subsampling: about 24.5 MB, under the 25 MB cap
TARGET_GROWTH_MB = 150
LIMITS = {
    "RESHOOT_MAX_UPLOAD_FILES": "64",
    "RESHOOT_MAX_UPLOAD_REQUEST_MB": "1400",
    "RESHOOT_MAX_REFERENCES_PER_SHOT": "64",
}


def big_jpegs(count: int, folder: Path) -> list[Path]:
    """`count` different JPEG files of about 24.5 MB each (random pixels barely compress)."""
    paths = []
    for k in range(count):
        pixels = np.random.default_rng(k).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        path = folder / f"photo-{k}.jpg"
        Image.fromarray(pixels).save(path, "JPEG", quality=98, subsampling=0)
        paths.append(path)
    return paths


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def peak_growth(server: ApiServer, paths: list[Path], shot_id: str) -> tuple[float, float, dict]:
    """(peak RSS growth in MB during one upload request of `paths`, seconds, the answer)."""
    small = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(small, "PNG")
    httpx.post(
        f"{server.base}/api/work-items/1/lifestyle-hero-references",
        data={"shotId": "S-1"},
        files=[("files", ("warm-up.png", small.getvalue(), "image/png"))],
        timeout=60,
    ).raise_for_status()
    pid = server.process.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS now
    before = _status_kb(pid, "VmRSS")
    with ExitStack() as stack:
        files = [("files", (p.name, stack.enter_context(p.open("rb")), "image/jpeg")) for p in paths]
        start = time.perf_counter()
        answer = httpx.post(
            f"{server.base}/api/work-items/1/lifestyle-hero-references",
            data={"shotId": shot_id},
            files=files,
            timeout=900,
        )
        seconds = time.perf_counter() - start
    answer.raise_for_status()
    return (_status_kb(pid, "VmHWM") - before) / 1024, seconds, answer.json()


def run(quick: bool = False) -> list[Row]:
    count = 8 if quick else FILES
    with temp_data_dir(NAME) as data, tempfile.TemporaryDirectory(prefix="reshoot-big-jpegs-") as folder:
        work_item("1", 2)  # shots S-1 and S-2
        paths = big_jpegs(count, Path(folder))
        megabytes = sum(p.stat().st_size for p in paths) / 2**20
        server_temp = data / "server-tmp"  # the server's TMPDIR, where uploads are spooled
        server_temp.mkdir()
        with ApiServer(**LIMITS, TMPDIR=str(server_temp)) as server:
            one, one_seconds, _ = peak_growth(server, paths[:1], "S-1")
        with ApiServer(**LIMITS, TMPDIR=str(server_temp)) as server:
            many, many_seconds, answer = peak_growth(server, paths, "S-2")
        temp_left = list(server_temp.iterdir())
    assert len(answer["references"]) == count, answer
    return [
        check(
            NAME,
            f"peak server RSS growth, one request of {count} × 25 MB JPEG ({megabytes:.0f} MB)",
            many,
            TARGET_GROWTH_MB,
            fmt="{:.0f}",
            unit=" MB",
            note=f"one such file alone: +{one:.0f} MB; {many_seconds / count:.2f} s per file ({one_seconds:.2f} s alone)",
        ),
        measure(
            NAME,
            f"peak growth with {count} files ÷ with 1",
            f"{many / max(one, 1):.2f}",
            note="flat: the body is spooled to temp files and decoded one file at a time",
        ),
        measure(
            NAME,
            "files left in the server's temp dir afterwards",
            str(len(temp_left)),
            note="spooled uploads are anonymous temp files, closed with the request",
        ),
    ]

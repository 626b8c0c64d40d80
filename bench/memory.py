"""(2) Server memory: `streamlit run dashboard.py` on a 60-shot work item with images; a browser-less client
opens the Work Item page 200 times (a new session each time, over Streamlit's own WebSocket protocol; the
thumbnails the page references are fetched on the first load, as a browser with a cache would). RSS of the
server process after 10 and after 200 loads.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
from websockets.sync.client import connect

from bench.common import Row, check, temp_data_dir
from bench.fixtures import attach_versions, rendered_sizes, work_item

NAME = "memory"
ROOT = Path(__file__).resolve().parent.parent
SHOTS = 60
LOADS = 200
FIRST = 10
TARGET_GROWTH = 0.10
PAGE = "work_item"  # url_path of the Work Item page
QUERY = "id=wi-60"
SHORT_TTL = 5  # seconds: server.disconnectedSessionTTL of the comparison series
SHORT_TTL_LOADS = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its children (Linux /proc)."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def _children(pid: int) -> list[int]:
    found = []
    try:
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            found += [int(child), *_children(int(child))]
    except OSError:
        pass
    return found


class Server:
    """`streamlit run dashboard.py` on a free loopback port, stopped on exit."""

    health_path = "/_stcore/health"

    def __init__(self, script: str = "dashboard.py", **options: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            script,
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--global.developmentMode",
            "false",
        ]
        for name, value in options.items():
            args += [f"--{name}", value]
        self.log_path = Path(os.environ["RESHOOT_DATA_DIR"]) / "streamlit.log"
        with self.log_path.open("wb") as log:  # the child writes to its own copy of the handle
            self.process = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}{self.health_path}", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{type(self).__name__} did not start; see {self.log_path}")
            time.sleep(0.1)

    def __exit__(self, *_exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    @property
    def rss(self) -> int:
        return rss_bytes(self.process.pid)


def _rerun(query: str, page: str = "") -> bytes:
    from streamlit.proto.BackMsg_pb2 import BackMsg

    msg = BackMsg()
    msg.rerun_script.query_string = query
    msg.rerun_script.page_name = page
    return msg.SerializeToString()


def run_page(ws, query: str, page: str, timeout: float = 120) -> list[str]:
    """Ask for a run of `page` and read messages until it finished; the image URLs it showed."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    ws.send(_rerun(query, page))
    urls: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        msg = ForwardMsg()
        msg.ParseFromString(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        kind = msg.WhichOneof("type")
        if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            if element.WhichOneof("type") == "imgs":
                urls += [img.url for img in element.imgs.imgs]
            elif element.WhichOneof("type") == "exception":
                raise RuntimeError(f"the page raised: {element.exception.message}")
        elif kind == "script_finished":
            if msg.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                raise RuntimeError("the page failed to compile")
            if msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                return urls


def fetch_images(client: httpx.Client, base: str, urls: list[str]) -> int:
    """GET every image the page references (relative to the server, whatever host the page put in the URL)."""
    total = 0
    for url in urls:
        parsed = urlparse(url)
        response = client.get(base + parsed.path)
        response.raise_for_status()
        total += len(response.content)
    return total


def load_page(server: Server, query: str) -> list[str]:
    """One page load: a new session that runs the page and closes; the image URLs the page showed."""
    with connect(f"ws://127.0.0.1:{server.port}/_stcore/stream", subprotocols=["streamlit"], max_size=None) as ws:
        return run_page(ws, query, PAGE)


def series(loads: int, **options: str) -> dict:
    """Load the page `loads` times on a fresh server; RSS after chosen loads, ms per load, thumbnail bytes."""
    with Server(**options) as server, httpx.Client() as client:
        # The thumbnails' URLs are immutable: a browser fetches them on the first load only.
        fetched = fetch_images(client, server.base, load_page(server, QUERY))
        rss = {1: server.rss}
        start = time.perf_counter()
        for i in range(2, loads + 1):
            load_page(server, QUERY)
            if i in (FIRST, loads // 2, loads):
                rss[i] = server.rss
        return {"rss": rss, "per_load": (time.perf_counter() - start) / (loads - 1), "fetched": fetched}


def _growth_row(metric: str, found: dict, loads: int, note: str = "") -> Row:
    rss = found["rss"]
    mb = {i: f"{v / 2**20:.0f} MB" for i, v in rss.items()}
    kept = (rss[loads] - rss[FIRST]) / (loads - FIRST) / 1024
    return check(
        NAME,
        metric,
        (rss[loads] / rss[FIRST] - 1) * 100,
        TARGET_GROWTH * 100,
        fmt="{:.1f}",
        unit=" %",
        note=f"{mb[FIRST]} → {mb[loads // 2]} ({loads // 2}) → {mb[loads]}; {kept:.0f} KB kept per load; "
        f"{found['per_load'] * 1000:.0f} ms per load{note}",
    )


def run(quick: bool = False) -> list[Row]:
    loads, short = (30, 20) if quick else (LOADS, SHORT_TTL_LOADS)
    with temp_data_dir(NAME):
        work_item("wi-60", SHOTS)
        attach_versions(files=rendered_sizes())
        configured = series(loads)
        expiring = series(short, **{"server.disconnectedSessionTTL": str(SHORT_TTL)})
    return [
        _growth_row(
            f"RSS growth, {FIRST} → {loads} page loads (.streamlit/config.toml)",
            configured,
            loads,
            f"; thumbnails {configured['fetched'] / 1024:.0f} KB on the first",
        ),
        _growth_row(
            f"RSS growth, {FIRST} → {short} page loads, disconnectedSessionTTL={SHORT_TTL} s",
            expiring,
            short,
            "; closed sessions are dropped after the TTL (Streamlit's default keeps them 120 s)",
        ),
    ]

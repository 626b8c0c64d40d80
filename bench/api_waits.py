"""(7) API waits: latency of an unrelated `GET /api/work-items` while N generate requests wait on a slow job,
against the same GET on the same server with nobody waiting, measured in one run (a real uvicorn process).

The backend costs a fixed latency per call, long enough that every measured GET happens while the N requests wait.
"""

from __future__ import annotations

import contextlib
import statistics
import threading
import time

import httpx

from bench.api_server import ApiServer
from bench.common import Row, check, temp_data_dir
from bench.fixtures import work_item

NAME = "api_waits"
WAITERS = 50
SAMPLES = 30
LATENCY = 15.0  # seconds per backend call: the waiting requests outlast the measurement
TARGET_RATIO = 3.0


def get_latencies(client: httpx.Client, base: str, samples: int) -> list[float]:
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        client.get(f"{base}/api/work-items").raise_for_status()
        times.append(time.perf_counter() - start)
    return times


def start_waiters(base: str, count: int) -> list[threading.Thread]:
    """`count` generate requests for one shot, each on its own connection, waiting for the job's end."""

    def post() -> None:
        # the server is stopped under them once the measurement is done
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(
                f"{base}/api/work-items/wi-1/generate-lifestyle-heroes",
                json={"shotIds": ["S-1"], "overwrite": True},
                timeout=LATENCY * 3,
            )

    threads = [threading.Thread(target=post, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def run(quick: bool = False) -> list[Row]:
    waiters, samples = (10, 10) if quick else (WAITERS, SAMPLES)
    with temp_data_dir(NAME):
        work_item("wi-1", 2)
        with ApiServer(latency=LATENCY) as server, httpx.Client(timeout=LATENCY) as client:
            get_latencies(client, server.base, 3)  # warm-up
            idle = get_latencies(client, server.base, samples)
            threads = start_waiters(server.base, waiters)
            time.sleep(2.0)  # the requests are in and waiting (the job's one backend call takes LATENCY)
            busy = get_latencies(client, server.base, samples)
            still_waiting = sum(t.is_alive() for t in threads)
            for thread in threads:
                thread.join()
            idle += get_latencies(client, server.base, samples)  # before and after, so drift hits both alike
    idle_ms, busy_ms = statistics.median(idle) * 1000, statistics.median(busy) * 1000
    return [
        check(
            NAME,
            f"unrelated GET latency while {waiters} requests wait ÷ with none waiting",
            busy_ms / idle_ms,
            TARGET_RATIO,
            note=f"median {busy_ms:.0f} ms vs {idle_ms:.0f} ms (slowest {max(busy) * 1000:.0f} ms); "
            f"{still_waiting} of {waiters} requests were still waiting after the last timed GET",
        )
    ]

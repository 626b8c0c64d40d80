"""A real API server process (uvicorn over `services.api`) for benchmarks, on the benchmark's data dir.

`python -m bench.api_server PORT [LATENCY]` serves the API; with LATENCY (seconds) every backend call is the offline
renderer behind that latency, so jobs last long enough to be waited on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.memory import Server, free_port

ROOT = Path(__file__).resolve().parent.parent


class ApiServer(Server):
    """`python -m bench.api_server` on a free loopback port, stopped on exit; `rss` is its resident memory."""

    health_path = "/openapi.json"

    def __init__(self, *, latency: float | None = None, **env: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "bench.api_server", str(self.port)]
        if latency is not None:
            args.append(str(latency))
        self.log_path = Path(os.environ["RESHOOT_DATA_DIR"]) / f"api-{self.port}.log"
        with self.log_path.open("wb") as log:  # the child writes to its own copy of the handle
            self.process = subprocess.Popen(
                args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env}
            )


def _serve(port: int, latency: float | None) -> None:
    import uvicorn

    if latency is not None:
        from bench.generate import LatencyBackend
        from services import backends

        backend = LatencyBackend(latency)
        backends.get_backend = lambda name=None: backend
    from services.api import create_app

    uvicorn.run(create_app(), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    _serve(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else None)

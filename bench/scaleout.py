"""Scale-out: generate-all of 200 shots on 1, 2 and 4 `python -m services worker` processes (Redis queue,
PostgreSQL database, 4 job threads each, at most 16 backend calls at once across all of them), against an
OpenAI-compatible stand-in on loopback that answers every image request after L = 1 s.

Reports wall ÷ ideal, where the ideal is ceil(N / calls at once) × L with calls at once = min(16, 4 × workers),
the throughput, and the most backend calls the stand-in saw at once. A last run with 4 workers of 8 threads
each (32 threads) checks that RESHOOT_BACKEND_CONCURRENCY keeps them at 16. Skipped, with the reason, when
PostgreSQL or Redis is not reachable (RESHOOT_BENCH_POSTGRES_ADMIN, RESHOOT_BENCH_REDIS_URL).
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.common import Row, check, measure

LATENCY = 1.0
SHOTS = 200
LIMIT = 16  # backend calls at once across every worker
THREADS = 4  # job threads per worker
POSTGRES_ADMIN = os.environ.get(
    "RESHOOT_BENCH_POSTGRES_ADMIN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
)
REDIS_URL = os.environ.get("RESHOOT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SIZES = [("Desktop", 192, 80, "desktop.png"), ("Tablet", 154, 77, "tablet.png"), ("Mobile", 75, 100, "mobile.png")]


class StandIn:
    """Answers POST /v1/images/generations as OpenAI does (b64_json of the size asked), after `latency` seconds;
    counts requests and the most it answered at once."""

    def __init__(self, latency: float):
        self.latency, self.active, self.peak, self.calls = latency, 0, 0, 0
        self.lock = threading.Lock()
        self.pngs: dict[str, bytes] = {}
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with stand_in.lock:
                    stand_in.calls += 1
                    stand_in.active += 1
                    stand_in.peak = max(stand_in.peak, stand_in.active)
                try:
                    time.sleep(stand_in.latency)
                    answer = json.dumps(
                        {
                            "created": int(time.time()),
                            "data": [{"b64_json": stand_in.png(body.get("size") or "1024x1024")}],
                        }
                    ).encode()
                finally:
                    with stand_in.lock:
                        stand_in.active -= 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def png(self, size: str) -> str:
        with self.lock:
            if size not in self.pngs:
                from PIL import Image

                out = io.BytesIO()
                Image.new("RGB", tuple(int(side) for side in size.split("x")), (120, 140, 160)).save(out, format="PNG")
                self.pngs[size] = base64.b64encode(out.getvalue()).decode()
            return self.pngs[size]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def reset(self) -> None:
        with self.lock:
            self.peak = self.calls = 0

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Run:
    workers: int
    threads: int
    seconds: float
    calls: int
    peak: int
    status: str

    @property
    def at_once(self) -> int:
        return min(LIMIT, self.workers * self.threads)


def _unreachable() -> str | None:
    try:
        import psycopg
        import redis
    except ImportError as e:
        return f"{e.name} is not installed (pip install -r requirements.txt)"
    try:
        psycopg.connect(POSTGRES_ADMIN, autocommit=True).close()
    except psycopg.OperationalError as e:
        return f"PostgreSQL is not reachable ({POSTGRES_ADMIN}): {str(e).strip().splitlines()[0]}"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as e:
        return f"Redis is not reachable at {REDIS_URL}: {e}"
    return None


def _import_work_item(item_id: str, shots: int) -> None:
    from services.importer import import_data

    plan = [
        {
            "shot_id": f"S-{n}",
            "sku": f"SKU-{n}",
            "size_label": label,
            "width": w,
            "height": h,
            "filename": f"fcc/lifestyle/{item_id}/S-{n}/{name}",
        }
        for n in range(1, shots + 1)
        for label, w, h, name in SIZES
    ]
    shot_rows = [
        {"shot_id": f"S-{n}", "sku": f"SKU-{n}", "prompt": f"scale-out scene {n}"} for n in range(1, shots + 1)
    ]
    import_data(
        {
            "workItems": [
                {
                    "id": item_id,
                    "title": f"Scale-out {item_id}",
                    "status": "open",
                    "lifestylePack": {"version": "v2", "shots": shot_rows, "exportPlan": plan},
                }
            ]
        }
    )


def _start_workers(count: int, threads: int, env: dict[str, str], log_dir: Path) -> list[subprocess.Popen]:
    from services import jobs

    worker_env = {**os.environ, **env, "RESHOOT_GENERATION_CONCURRENCY": str(threads)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "services", "worker"],
            cwd=PROJECT_ROOT,
            env=worker_env,
            stdout=subprocess.DEVNULL,
            stderr=(log_dir / f"worker-{count}x{threads}-{i}.log").open("wb"),
            start_new_session=True,
        )
        for i in range(count)
    ]
    deadline = time.monotonic() + 90
    while len(jobs.list_workers()) < count:
        for p in processes:
            if p.poll() is not None:
                raise RuntimeError(f"a worker exited at start; see {log_dir}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{count} workers did not register within 90 s; see {log_dir}")
        time.sleep(0.1)
    return processes


def _stop_workers(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in processes:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _generate_all(item_id: str) -> tuple[float, str]:
    from services import jobs, lifestyle
    from services.enums import FINISHED_STATUSES

    start = time.perf_counter()
    job_id = lifestyle.start_heroes_job(work_item_id=item_id).job_id
    while (job := jobs.get_job(job_id)).status not in FINISHED_STATUSES:
        time.sleep(0.05)
    return time.perf_counter() - start, job.status


def _measure(stand_in: StandIn, env: dict[str, str], log_dir: Path, workers: int, threads: int, shots: int) -> Run:
    item_id = f"so-{workers}x{threads}"
    _import_work_item(item_id, shots)
    processes = _start_workers(workers, threads, env, log_dir)
    try:
        stand_in.reset()
        seconds, status = _generate_all(item_id)
    finally:
        _stop_workers(processes)
    run = Run(workers, threads, seconds, stand_in.calls, stand_in.peak, status)
    print(
        f"  {workers} worker(s) × {threads} threads: {seconds:.1f} s, {run.calls} backend calls, at most {run.peak} at once, job {status}",
        flush=True,
    )
    return run


def run(quick: bool = False) -> list[Row]:
    reason = _unreachable()
    if reason:
        print(f"scaleout skipped: {reason}")
        return [measure("scaleout", "skipped", "—", reason)]
    import psycopg
    import redis

    from services.config import get_settings
    from services.db import engine_for, migrate

    shots = 64 if quick else SHOTS
    database = f"reshoot_bench_{secrets.token_hex(4)}"
    queue = f"reshoot-bench-{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    folder = Path(tempfile.mkdtemp(prefix="reshoot-scaleout-"))
    stand_in = StandIn(LATENCY)
    admin = psycopg.conninfo.conninfo_to_dict(POSTGRES_ADMIN)
    env = {
        "RESHOOT_DATA_DIR": str(folder / "data"),
        "RESHOOT_DATABASE_URL": f"postgresql+psycopg://{admin.get('user', 'postgres')}@{admin.get('host', '127.0.0.1')}:{admin.get('port', 5432)}/{database}",
        "RESHOOT_QUEUE_URL": f"{REDIS_URL}?queue={queue}",
        "RESHOOT_STORAGE_URL": f"file://{folder / 'media'}",
        "RESHOOT_IMAGE_BACKEND": "openai",
        "OPENAI_API_KEY": "sk-bench-stand-in",
        "RESHOOT_OPENAI_BASE_URL": stand_in.base_url,
        "RESHOOT_BACKEND_CONCURRENCY": str(LIMIT),
        "RESHOOT_EMBEDDED_WORKERS": "0",  # only the worker processes run jobs
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    runs: list[Run] = []
    try:
        migrate()
        for workers, threads in ((1, THREADS), (2, THREADS), (4, THREADS), (4, 2 * THREADS)):
            runs.append(_measure(stand_in, env, folder, workers, threads, shots))
    finally:
        stand_in.stop()
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        get_settings.cache_clear()
        engine_for(env["RESHOOT_DATABASE_URL"]).dispose()
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"*{queue}*"):
            client.delete(key)
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    return _rows(runs, shots)


def _rows(runs: list[Run], shots: int) -> list[Row]:
    rows, base = [], runs[0]
    for r in runs:
        ideal = math.ceil(shots / r.at_once) * LATENCY
        label = f"{r.workers} worker(s) × {r.threads} threads, {shots} shots, L = {LATENCY:g} s"
        note = (
            f"{r.seconds:.1f} s vs ideal {ideal:.0f} s; {shots / r.seconds:.1f} shots/s ({shots / r.seconds / (shots / base.seconds):.2f}× one worker); "
            f"{r.calls} backend calls, at most {r.peak} at once; job {r.status}"
        )
        if r.workers * r.threads > LIMIT:
            rows.append(
                check(
                    "scaleout",
                    f"{label}: most backend calls at once (limit {LIMIT})",
                    r.peak,
                    LIMIT,
                    fmt="{:.0f}",
                    note=note,
                )
            )
        elif r.at_once == LIMIT:
            rows.append(check("scaleout", f"{label}: wall ÷ ceil(N/{LIMIT})·L", r.seconds / ideal, 1.2, note=note))
        else:
            rows.append(measure("scaleout", f"{label}: wall ÷ ceil(N/{r.at_once})·L", f"{r.seconds / ideal:.2f}", note))
    return rows

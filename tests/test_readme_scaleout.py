"""README's scale-out example, run as written: its commands in order, in one bash shell, against this machine's
PostgreSQL and Redis and a real S3 server started as its trial line does (SeaweedFS, the example's keys). Only what
would collide with other runs differs: the database and queue names and the S3 and dashboard ports; the pip lines
are skipped (README's test command installed everything), and the dashboard runs in the background, headless."""

from __future__ import annotations

import json
import re
import secrets
import subprocess

import pytest

from tests.servers import PROJECT_ROOT, free_port, postgres_admin, seaweedfs

REDIS = "redis://127.0.0.1:6379/0"
WAIT_FOR_HEALTH = """
import sys, time, urllib.request
for _ in range(120):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=2)
        break
    except OSError:
        time.sleep(0.5)
else:
    sys.exit("the dashboard never answered")
"""


def scaleout_blocks() -> tuple[str, str]:
    """The example's two bash blocks: the trial S3 server, then the example itself."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    trial, example = re.findall(r"```bash\n(.*?)```", readme[readme.index("Scale-out example:") :], re.S)[:2]
    return trial, example


def exported(block: str, name: str) -> str:
    return re.search(rf"\b{name}=(\S+)", block).group(1)


def test_the_trial_s3_server_takes_the_examples_keys_on_its_endpoint():
    trial, example = scaleout_blocks()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert exported(trial, name) == exported(example, name)
    assert "weed mini" in trial  # its S3 port defaults to 8333
    assert exported(example, "RESHOOT_S3_ENDPOINT_URL") == "http://127.0.0.1:8333"


@pytest.fixture
def example_services():
    import redis

    postgres_admin().close()  # skips where PostgreSQL is absent
    client = redis.Redis.from_url(REDIS)
    try:
        client.ping()
    except redis.ConnectionError as e:
        pytest.skip(f"Redis at {REDIS} is unreachable: {e}")
    _, example = scaleout_blocks()
    keys = {name: exported(example, name) for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    queue = f"readme-{secrets.token_hex(4)}"
    with seaweedfs(keys, bucket="readme-ready-check") as s3:
        yield {"s3": s3, "database": f"reshoot_readme_{secrets.token_hex(4)}", "queue": queue}
    for key in client.scan_iter(f"*{queue}*"):
        client.delete(key)


def test_the_scaleout_example_runs_two_workers_that_generate_into_s3(example_services, tmp_path):
    _, example = scaleout_blocks()
    names, dashboard_port = example_services, free_port()
    script = (
        example.replace("127.0.0.1:8333", names["s3"]["endpoint"].removeprefix("http://"))
        .replace("5432/reshoot", f"5432/{names['database']}")
        .replace("CREATE DATABASE reshoot", f"CREATE DATABASE {names['database']}")
        .replace(REDIS, f"{REDIS}?queue={names['queue']}")
        .replace(
            "streamlit run dashboard.py",
            f"streamlit run dashboard.py --server.port={dashboard_port} --server.headless=true >{tmp_path}/dashboard.log 2>&1 &",
        )
    )
    lines = [line for line in script.splitlines() if not line.startswith("pip install")]
    then = [  # what a person does next: the dashboard answers, the demo loads, generate-all runs on the workers
        f"python -c '{WAIT_FOR_HEALTH}' http://127.0.0.1:{dashboard_port}/_stcore/health",
        f"python -m services demo >{tmp_path}/demo.log",
        f"python -m services generate-heroes 7 --overwrite --wait >{tmp_path}/result.json",
        f"python -m services workers >{tmp_path}/workers.json",
    ]
    shell = "\n".join(
        ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null' EXIT", f"cd {PROJECT_ROOT}", *lines, *then]
    )
    (tmp_path / "example.sh").write_text(shell)
    try:
        done = subprocess.run(["bash", "example.sh"], cwd=tmp_path, capture_output=True, text=True, timeout=240)
    finally:
        with postgres_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{names["database"]}" WITH (FORCE)')
    # Every line succeeded (set -e), README's own check included: `workers --expect 2` exits 1 with fewer alive.
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]

    result = json.loads((tmp_path / "result.json").read_text())
    assert len(result["generated"]) == 12 and not result.get("failed")
    workers = json.loads((tmp_path / "workers.json").read_text())["workers"]
    assert len(workers) == 2 and not any(w["embedded"] for w in workers)
    stored = names["s3"]["client"].list_objects_v2(Bucket="reshoot-media", Prefix="prod/fcc/lifestyle/7/")
    assert {"prod/fcc/lifestyle/7/OL-1/desktop.png"} <= {o["Key"] for o in stored.get("Contents", [])}

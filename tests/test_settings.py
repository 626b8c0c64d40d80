"""Settings (services/config.py, pydantic-settings): defaults, aliases, `.streamlit/secrets.toml`, and a bad value of
any variable said as one sentence naming it and what it expects, in the CLI, the dashboard and a worker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services import cli, config
from services.config import PROJECT_ROOT, SettingError, Settings, get_settings


@pytest.fixture
def clean(monkeypatch, tmp_path) -> Path:
    """No setting in the environment and an empty secrets file: what a fresh checkout runs with."""
    for name in config.variable_names():
        monkeypatch.delenv(name, raising=False)
    secrets = tmp_path / "secrets.toml"
    monkeypatch.setattr(config, "SECRETS_FILE", secrets)
    get_settings.cache_clear()
    yield secrets
    get_settings.cache_clear()


def test_defaults_run_offline_in_the_data_dir(clean):
    settings = get_settings()
    data = (PROJECT_ROOT / "data" / "runtime").resolve()
    assert settings.data_dir == data
    assert settings.database_url == f"sqlite:///{data / 'reshoot.db'}"
    assert settings.storage_url == f"file://{data / 'media'}"
    assert settings.queue_url == f"sqlite:///{data / 'queue.db'}"
    assert settings.media_dir == data / "media"
    assert settings.model_dump(exclude={"data_dir", "database_url", "storage_url", "queue_url"}) == {
        "s3_endpoint_url": None,
        "s3_region": "us-east-1",
        "s3_public_url": None,
        "image_backend": "local",
        "openai_api_key": None,
        "openai_model": "gpt-image-1",
        "openai_base_url": None,
        "comfyui_url": None,
        "comfyui_workflow": None,
        "comfyui_reference_workflow": None,
        "generation_concurrency": 4,
        "keep_versions": 5,
        "max_upload_mb": 25,
        "max_image_pixels": 50_000_000,
        "max_upload_files": 20,
        "max_upload_request_mb": 200,
        "max_references_per_shot": 16,
        "backend_timeout_seconds": 120.0,
        "asset_base_url": "/assets/",
        "api_wait_seconds": 0.0,
        "gc_interval_seconds": 600.0,
        "gc_grace_seconds": 3600.0,
        "backend_concurrency": 0,
        "embedded_workers": None,
        "api_cors_origins": [],
        "auth": "none",
        "trusted_proxies": ["127.0.0.1", "::1"],
        "default_role": "viewer",
        "groups_claim": "groups",
        "role_groups": {},
        "token_secret": None,
        "public_assets": False,
        "proxy_sign_out_url": "/oauth2/sign_out",
    }
    assert settings.max_upload_bytes == 25 * 1024 * 1024


def test_values_are_parsed_from_the_environment(clean, monkeypatch, tmp_path):
    env = {
        "RESHOOT_DATA_DIR": str(tmp_path / "d"),
        "RESHOOT_KEEP_VERSIONS": "2",
        "RESHOOT_BACKEND_TIMEOUT": "1.5",
        "RESHOOT_EMBEDDED_WORKERS": "off",
        "RESHOOT_API_CORS_ORIGINS": "https://app.example, https://other.example",
        "RESHOOT_AUTH": " OIDC ",
        "RESHOOT_ROLE_GROUPS": "art-leads=admin, designers=Reviewer",
        "RESHOOT_TRUSTED_PROXIES": "10.0.0.0/8,::1",
        "RESHOOT_PUBLIC_ASSETS": "yes",
        "RESHOOT_MAX_UPLOAD_MB": "",  # empty: the default, as unset
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = get_settings()
    assert settings.database_url == f"sqlite:///{tmp_path / 'd' / 'reshoot.db'}"
    assert (settings.keep_versions, settings.backend_timeout_seconds, settings.embedded_workers) == (2, 1.5, False)
    assert settings.api_cors_origins == ["https://app.example", "https://other.example"]
    assert settings.auth == "oidc"
    assert settings.role_groups == {"art-leads": "admin", "designers": "reviewer"}
    assert settings.trusted_proxies == ["10.0.0.0/8", "::1"]
    assert settings.public_assets is True
    assert settings.max_upload_mb == 25


def test_names_read_today_without_the_prefix_still_work(clean, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-plain")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert (get_settings().openai_api_key, get_settings().s3_region) == ("sk-plain", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")  # before AWS_DEFAULT_REGION, as boto3 reads them
    get_settings.cache_clear()
    assert get_settings().s3_region == "eu-central-1"
    monkeypatch.setenv("RESHOOT_S3_REGION", "us-west-2")  # Reshoot's own name first
    get_settings.cache_clear()
    assert get_settings().s3_region == "us-west-2"


def test_secrets_toml_is_read_after_the_environment(clean, monkeypatch):
    clean.write_text(
        'RESHOOT_KEEP_VERSIONS = 3\nOPENAI_API_KEY = "sk-from-secrets"\nRESHOOT_PUBLIC_ASSETS = true\n'
        'reshoot_image_backend = "openai"\nRESHOOT_TRUSTED_PROXIES = ["10.1.0.0/16", "::1"]\n'
        "RESHOOT_GENERATION_CONCURRENCY = 6\n"
        '[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\ncookie_secret = "x"\n'
    )
    monkeypatch.setenv("RESHOOT_GENERATION_CONCURRENCY", "2")  # the environment wins
    settings = get_settings()
    assert settings.keep_versions == 3
    assert settings.openai_api_key == "sk-from-secrets"
    assert settings.public_assets is True
    assert settings.image_backend == "openai"
    assert settings.trusted_proxies == ["10.1.0.0/16", "::1"]
    assert settings.generation_concurrency == 2


def test_a_bad_value_in_secrets_toml_names_the_variable(clean):
    clean.write_text('RESHOOT_KEEP_VERSIONS = "many"\n')
    with pytest.raises(SettingError) as bad:
        get_settings()
    assert bad.value.message == 'RESHOOT_KEEP_VERSIONS must be a whole number ≥ 1, got "many"'


# (variable, a value it refuses, the sentence it answers with after the variable's name)
BAD_VALUES = [
    ("RESHOOT_DATA_DIR", __file__, f'must be a folder path, got "{__file__}"'),  # a file
    (
        "RESHOOT_DATABASE_URL",
        "postgres//oops",
        "must be a database URL such as sqlite:///path/to/reshoot.db or postgresql+psycopg://user@host:5432/reshoot, "
        'got "postgres//oops"',
    ),
    (
        "RESHOOT_STORAGE_URL",
        "/var/media",
        'must be a storage URL such as file:///path/to/media or s3://bucket/prefix, got "/var/media"',
    ),
    (
        "RESHOOT_S3_ENDPOINT_URL",
        "127.0.0.1:8333",
        'must be an http(s) URL such as http://127.0.0.1:8333, got "127.0.0.1:8333"',
    ),
    (
        "RESHOOT_S3_PUBLIC_URL",
        "cdn.example",
        'must be an http(s) URL (or a path starting with /) that object keys are appended to, got "cdn.example"',
    ),
    (
        "RESHOOT_QUEUE_URL",
        "postgresql://app:hunter2@db/queue",  # the password is not shown back
        'must be a queue URL: sqlite:///path/to/queue.db or redis://host:6379/0, got "postgresql://app:***@db/queue"',
    ),
    (
        "RESHOOT_OPENAI_BASE_URL",
        "api.openai.com/v1",
        'must be an http(s) URL such as https://api.openai.com/v1, got "api.openai.com/v1"',
    ),
    (
        "RESHOOT_COMFYUI_URL",
        "ws://gpu:8188",
        'must be an http(s) URL such as http://127.0.0.1:8188, got "ws://gpu:8188"',
    ),
    ("RESHOOT_GENERATION_CONCURRENCY", "0", 'must be a whole number ≥ 1, got "0"'),
    ("RESHOOT_KEEP_VERSIONS", "abc", 'must be a whole number ≥ 1, got "abc"'),
    ("RESHOOT_MAX_UPLOAD_MB", "2.5", 'must be a whole number of megabytes ≥ 1, got "2.5"'),
    ("RESHOOT_MAX_IMAGE_PIXELS", "-1", 'must be a whole number of pixels ≥ 1, got "-1"'),
    ("RESHOOT_MAX_UPLOAD_FILES", "many", 'must be a whole number ≥ 1, got "many"'),
    ("RESHOOT_MAX_UPLOAD_REQUEST_MB", "0", 'must be a whole number of megabytes ≥ 1, got "0"'),
    ("RESHOOT_MAX_REFERENCES_PER_SHOT", "0", 'must be a whole number ≥ 1, got "0"'),
    ("RESHOOT_BACKEND_TIMEOUT", "0", 'must be a number of seconds > 0, got "0"'),
    ("RESHOOT_ASSET_BASE_URL", "assets", 'must be an http(s) URL or a path starting with /, got "assets"'),
    ("RESHOOT_API_WAIT_SECONDS", "-2", 'must be a number of seconds ≥ 0 (0: as long as the job runs), got "-2"'),
    ("RESHOOT_GC_INTERVAL_SECONDS", "0", 'must be a number of seconds > 0, got "0"'),
    ("RESHOOT_GC_GRACE_SECONDS", "an hour", 'must be a number of seconds ≥ 0, got "an hour"'),
    ("RESHOOT_BACKEND_CONCURRENCY", "-1", 'must be a whole number ≥ 0 (0: no limit across processes), got "-1"'),
    ("RESHOOT_EMBEDDED_WORKERS", "maybe", 'must be 1, 0 or auto, got "maybe"'),
    (
        "RESHOOT_API_CORS_ORIGINS",
        "https://ok.example,app.example",
        'must be http(s) origins separated by commas, e.g. https://app.example, got "https://ok.example,app.example"',
    ),
    ("RESHOOT_AUTH", "ldap", 'must be one of none, oidc, proxy, got "ldap"'),
    (
        "RESHOOT_TRUSTED_PROXIES",
        "127.0.0.1,proxy.internal",
        'must be IP addresses or networks separated by commas, e.g. 127.0.0.1,10.0.0.0/8, got "127.0.0.1,proxy.internal"',
    ),
    ("RESHOOT_DEFAULT_ROLE", "owner", 'must be one of viewer, reviewer, admin, got "owner"'),
    (
        "RESHOOT_ROLE_GROUPS",
        "leads=owner",
        "must be group=role pairs separated by commas (roles: viewer, reviewer, admin), e.g. reshoot-admins=admin, "
        'got "leads=owner"',
    ),
    ("RESHOOT_PUBLIC_ASSETS", "sometimes", 'must be true or false, got "sometimes"'),
    (
        "RESHOOT_PROXY_SIGN_OUT_URL",
        "oauth2/sign_out",
        'must be an http(s) URL or a path starting with /, got "oauth2/sign_out"',
    ),
]
# Free text: any value is one Reshoot can try (the backend, the provider or the file says what is wrong).
FREE_TEXT = {
    "image_backend",  # an unknown name is said by the backend status (services/backends.get_backend)
    "s3_region",
    "openai_api_key",
    "openai_model",
    "comfyui_workflow",
    "comfyui_reference_workflow",
    "groups_claim",
    "token_secret",
}


@pytest.mark.parametrize(("variable", "value", "sentence"), BAD_VALUES, ids=[case[0] for case in BAD_VALUES])
def test_a_bad_value_says_the_variable_and_what_it_expects(clean, monkeypatch, variable, value, sentence):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingError) as bad:
        get_settings()
    assert bad.value.message == f"{variable} {sentence}"
    assert bad.value.to_json() == {"error": "SETTING_INVALID", "details": {"variables": [variable]}}


def test_every_checked_setting_has_a_bad_value_test():
    tested = {variable for variable, _, _ in BAD_VALUES}
    checked = {config.variable_name(name) for name in Settings.model_fields if name not in FREE_TEXT}
    assert tested == checked


def test_several_bad_values_are_said_together(clean, monkeypatch):
    monkeypatch.setenv("RESHOOT_KEEP_VERSIONS", "x")
    monkeypatch.setenv("RESHOOT_AUTH", "ldap")
    with pytest.raises(SettingError) as bad:
        get_settings()
    assert bad.value.message.splitlines() == [
        'RESHOOT_KEEP_VERSIONS must be a whole number ≥ 1, got "x"',
        'RESHOOT_AUTH must be one of none, oidc, proxy, got "ldap"',
    ]


@pytest.mark.parametrize("command", [["init"], ["worker"], ["jobs"]])
def test_the_cli_and_a_worker_say_it_plainly(clean, monkeypatch, capsys, command):
    monkeypatch.setenv("RESHOOT_KEEP_VERSIONS", "abc")
    assert cli.main(command) == 1
    out, err = capsys.readouterr()
    assert json.loads(out) == {"error": "SETTING_INVALID", "details": {"variables": ["RESHOOT_KEEP_VERSIONS"]}}
    assert err.strip() == 'RESHOOT_KEEP_VERSIONS must be a whole number ≥ 1, got "abc"'


def test_the_dashboard_says_it_on_the_page(clean, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.pages.conftest import DASHBOARD, TIMEOUT, texts

    monkeypatch.setenv("RESHOOT_KEEP_VERSIONS", "abc")
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert [e.value for e in at.error] == ['RESHOOT\\_KEEP\\_VERSIONS must be a whole number ≥ 1, got "abc"']
    assert "Work Items" not in texts(at)


def test_the_dashboard_server_refuses_to_start_and_says_why(tmp_path):
    """`streamlit run dashboard.py` imports the app (its routes and the API read the settings): it stops at once
    with the sentence instead of a traceback."""
    import os
    import subprocess
    import sys

    from tests.servers import free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith("RESHOOT_")}
    env |= {"RESHOOT_DATA_DIR": str(tmp_path / "data"), "RESHOOT_KEEP_VERSIONS": "abc"}
    args = ["--server.headless", "true", "--server.port", str(free_port()), "--browser.gatherUsageStats", "false"]
    done = subprocess.run(
        [sys.executable, "-m", "streamlit", "run", "dashboard.py", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert 'Reshoot cannot start: RESHOOT_KEEP_VERSIONS must be a whole number ≥ 1, got "abc"' in done.stderr
    assert "Traceback" not in done.stderr + done.stdout

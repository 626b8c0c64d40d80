"""Schemathesis property run over /openapi.json: no 500s, every response matches the declared schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from services.api import app

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 7,
        "generation": {"mode": "all", "max-examples": 12, "deterministic": True, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
        "checks": {
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
            "response_headers_conformance": {"enabled": True},
            "negative_data_rejection": {"enabled": True, "expected-statuses": ["400", "404", "405", "413"]},
            "positive_data_acceptance": {"enabled": False},
        },
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)


@pytest.fixture(autouse=True)
def _demo_set(demo):
    """Every operation runs against the demo set; the OpenAPI examples name its ids, so success bodies are checked
    too (generation endpoints have no example ids: their success paths are tested directly, not fuzzed)."""


@schema.parametrize()
@settings(deadline=5000, suppress_health_check=list(HealthCheck))
@pytest.mark.timeout(120)
def test_api_conforms_to_its_openapi(case):
    case.call_and_validate()

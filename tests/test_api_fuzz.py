"""Fuzzing the REST service's OpenAPI schema with schemathesis: whatever it sends, the real
server (uvicorn, SQLite copy of the built corpus) answers without a 5xx. POST /corrections is
fuzzed with the API key, so its write path is reached too (on a throwaway copy)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from hierograph.api.rest import create_app
from hierograph.settings import Settings, load_settings
from tests.test_api_support import API_KEY, copy_built_home, running


@pytest.fixture(scope="module")
def api_url(built_corpus: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("api-fuzz")
    with running(create_app(copy_built_home(built_corpus, home, "sqlite"))) as url:
        yield url


# The schema comes from the app itself (building it opens nothing); the cases go over HTTP to
# the running server. (schemathesis.pytest.from_fixture does not run under pytest 9.)
schema = schemathesis.openapi.from_dict(create_app(load_settings()).openapi())


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors(case, api_url: str) -> None:  # noqa: ANN001 - schemathesis Case
    response = case.call(base_url=api_url, headers={"X-API-Key": API_KEY}, timeout=60)
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"] and error["message"]


def test_schema_covers_every_route(api_url: str) -> None:
    paths = httpx.get(f"{api_url}/openapi.json").json()["paths"]
    assert len(paths) == 9

"""Property-based fuzz of the whole OpenAPI schema, in-process (issue 16, item 3).

Schemathesis generates requests from /openapi.json (valid and invalid by the schema: every route,
method, path and query parameter and body) and sends them to the ASGI app itself. Two checks on
every answer: no 5xx (not_a_server_error), and its status is one the schema documents for that
operation (status_code_conformance). Bounded and repeatable: a few examples per operation,
derandomized (schemathesis also runs its coverage phase: boundary values of every bound). The
app runs without a token, so the mutating routes are fuzzed past the guard (the token itself, and
the 401 and 413 that the schema documents, are tested in test_hardening.py). `pytest -s` prints
the request and server-error counts.
"""
from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from backend.api import create_app
from tests.backend.conftest import make_settings

EXAMPLES = 12  # per operation; the whole schema in well under a minute
COUNTS: Counter = Counter()


# The app is built at import (schemathesis parametrizes from a module-level schema), over a data
# directory of its own that is removed when the tests end.
DATA = tempfile.TemporaryDirectory(prefix="deconfound-fuzz-")
# Schemathesis calls the app as host "testserver": the allow-list names it, as a proxy deployment would.
APP = create_app(make_settings(Path(DATA.name) / "data", allowed_hosts="testserver"))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    APP.state.db.dispose()
    DATA.cleanup()


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_error_and_every_status_documented(case):
    response = case.call()
    COUNTS["requests"] += 1
    COUNTS["server errors"] += response.status_code >= 500
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance])


def test_report_counts(capsys):
    """Runs last in this file: the fuzz's totals (pytest -s shows them)."""
    with capsys.disabled():
        print(f"\nopenapi fuzz: {COUNTS['requests']} requests, {COUNTS['server errors']} server errors")
    assert COUNTS["server errors"] == 0

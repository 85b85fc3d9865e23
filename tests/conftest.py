"""Suite-wide settings: offline, one torch thread per test process, and a hang guard.

Tests are many small models on a 2-core machine; one thread each avoids oversubscription when
test processes (or worker subprocesses) run side by side.

No test asserts a duration (tests/test_no_timed_asserts.py checks that). Waits poll for their
event up to tests.helpers.WAIT_S (DECONFOUND_TEST_WAIT_S, default 600 s); a test that hangs
anyway is stopped by pytest-timeout after TEST_TIMEOUT_S (three such waits), unless it or its
module sets a longer timeout of its own."""
import os

import pytest

from tests.helpers import TEST_TIMEOUT_S

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    for item in items:
        marker = item.get_closest_marker("timeout")
        timeout_s = marker.args[0] if marker and marker.args else (marker.kwargs.get("timeout") if marker else None)
        if timeout_s is None or timeout_s < TEST_TIMEOUT_S:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT_S))

"""Fixtures of the dashboard's browser tests: one real stack (API + worker + dashboard processes
on a temporary SQLite data directory) and one headless Chromium for the whole session.

Chromium and chromedriver come from Debian; when missing, the `browser` fixture installs them
(`apt-get update && apt-get install -y chromium chromium-driver`, as root or with sudo -n).
Set DECONFOUND_SKIP_BROWSER=1 to skip the browser tests instead. Screenshots of every browser
test (and of any failure) go to tests/artifacts/dashboard/.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests import helpers

from .stack import FITTING, REPO, Stack, ensure_browser, full_page_screenshot, start_browser

ARTIFACTS = REPO / "tests" / "artifacts" / "dashboard"
FINISHED = ("succeeded", "failed", "cancelled", "collapsed")


def wait_until(predicate: Callable[[], object], timeout_s: float | None = None, what: str = "the page",
               every_s: float = 0.25):
    """Poll until predicate() is truthy and return it (an exception counts as "not yet": a page
    still rendering); fail after the suite's ceiling (tests.helpers.WAIT_S) saying what was
    awaited. timeout_s, kept from the old signature, can only raise the ceiling."""
    return helpers.wait_for(predicate, what, timeout_s=timeout_s, every_s=every_s, retry_on=(Exception,))


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("stack"))
    try:
        running.start_api()
        running.start_worker()
        running.start_dashboard()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def api(stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=helpers.WAIT_S) as client:
        yield client


def wait_finished(api: httpx.Client, job_ids: list[int], timeout_s: float | None = None) -> list[dict]:
    def done():
        jobs = [api.get(f"/api/jobs/{i}").json() for i in job_ids]
        return jobs if all(j["status"] in FINISHED for j in jobs) else None
    return wait_until(done, timeout_s, f"jobs {job_ids} to finish")


@pytest.fixture(scope="session")
def experiment(api) -> dict:
    """Finetuning and influence tuning of the tiny model (24 steps, two rounds), one seed each,
    as one experiment (queued at once; the tests that need them finished wait for them)."""
    response = api.post("/api/experiments", json={"name": "browser test", "base": FITTING,
                                                   "methods": ["finetune", "influence-tuning"], "seeds": [2021]})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="session")
def finished_experiment(api, experiment) -> dict:
    jobs = wait_finished(api, experiment["job_ids"])
    assert all(j["status"] == "succeeded" for j in jobs), jobs
    return {**experiment, "jobs": {j["method"]: j for j in jobs}}


@pytest.fixture(scope="session")
def browser_session(tmp_path_factory):
    if os.environ.get("DECONFOUND_SKIP_BROWSER") == "1":
        pytest.skip("DECONFOUND_SKIP_BROWSER=1")
    ensure_browser()
    downloads = tmp_path_factory.mktemp("downloads")
    driver = start_browser(downloads)
    driver.downloads = downloads
    yield driver
    driver.quit()


@pytest.fixture
def browser(browser_session, stack, request):
    """The session's browser; a screenshot of the page is kept after each test."""
    browser_session.base = stack.dashboard_url
    yield browser_session
    name = request.node.name.replace("/", "_")
    try:
        full_page_screenshot(browser_session, ARTIFACTS / f"{name}.png")
    except Exception as error:  # a screenshot must not hide the test's own result
        print(f"no screenshot for {name}: {error!r}")

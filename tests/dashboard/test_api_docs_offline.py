"""The API's docs (/docs: Swagger UI, /redoc: ReDoc) render in Chromium with the network cut:
their scripts and styles come from the service itself, not from a CDN.

A screenshot of each page goes to tests/artifacts/dashboard/.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By

from .conftest import ARTIFACTS, wait_until
from .stack import OFFLINE_FLAGS, REPO, Stack, ensure_browser, full_page_screenshot, start_browser

CDN_SCRIPT = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"  # FastAPI's default


@pytest.fixture(scope="module")
def api_url(tmp_path_factory) -> Iterator[str]:
    stack = Stack(tmp_path_factory.mktemp("docs"))
    try:
        yield stack.start_api()
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def offline_browser():
    if os.environ.get("DECONFOUND_SKIP_BROWSER") == "1":
        pytest.skip("DECONFOUND_SKIP_BROWSER=1")
    ensure_browser()
    driver = start_browser(extra_flags=OFFLINE_FLAGS)
    yield driver
    driver.quit()


def fetch_status(browser, url: str) -> str:
    """What a fetch of `url` from the current page gives: its HTTP status, or the error."""
    return browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {mode: 'no-cors'}).then(r => done('status ' + r.status), e => done('error ' + e));",
        url)


def test_the_network_is_cut_but_the_api_answers(offline_browser, api_url):
    offline_browser.get(f"{api_url}/healthz")
    assert '"ok"' in offline_browser.page_source
    assert fetch_status(offline_browser, CDN_SCRIPT).startswith("error")


def test_swagger_ui_renders_the_operations_offline(offline_browser, api_url):
    offline_browser.get(f"{api_url}/docs")
    submit = wait_until(lambda: offline_browser.find_element(By.ID, "operations-jobs-submit_job_api_jobs_post"),
                        120, "Swagger UI's POST /api/jobs")
    assert "/api/jobs" in submit.text and "POST" in submit.text
    examples = offline_browser.find_element(By.ID, "operations-job_data-probe_examples_api_jobs__job_id__influence_examples_get")
    assert "/influence/examples" in examples.text
    full_page_screenshot(offline_browser, ARTIFACTS / "api_docs_swagger_offline.png")
    sources = [s.get_attribute("src") for s in offline_browser.find_elements(By.TAG_NAME, "script") if s.get_attribute("src")]
    assert sources and all(src.startswith(api_url) for src in sources), sources
    assert str(REPO) not in offline_browser.page_source and "site-packages" not in offline_browser.page_source


def test_redoc_renders_the_operations_offline(offline_browser, api_url):
    offline_browser.get(f"{api_url}/redoc")
    submit = wait_until(lambda: offline_browser.find_element(
        By.CSS_SELECTOR, "[data-section-id='operation/submit_job_api_jobs_post']"), 120, "ReDoc's POST /api/jobs")
    assert "Submit Job" in submit.text
    full_page_screenshot(offline_browser, ARTIFACTS / "api_docs_redoc_offline.png")
    sources = [s.get_attribute("src") for s in offline_browser.find_elements(By.TAG_NAME, "script") if s.get_attribute("src")]
    assert sources and all(src.startswith(api_url) for src in sources), sources

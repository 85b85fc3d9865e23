"""The NeuronTune section of the Run page in a real browser: a finetune parent and NeuronTune on
its saved model run on the stack's worker; the page shows the score histograms, the zeroed
neurons, the before/after table and the suggestions; "Tune with this confound" queues influence
tuning, and the Compare page overlays the three runs.

Screenshots: tests/artifacts/dashboard/test_neurontune_section.png (the section) and the test's
own (the Compare page with the chain).
"""
from __future__ import annotations

import json

from selenium.webdriver.common.by import By

from .conftest import ARTIFACTS, wait_finished, wait_until
from .stack import full_page_screenshot
from .test_browser import element, graph, open_page, rendered, text_of

# TextLen where 40 steps at lr 1e-3 make the tiny model lean on the "Positive ."/"Negative ." prefix.
PARENT = {"model": "tiny", "method": "finetune", "device": "cpu",
          "dataset": {"name": "textlen", "options": {"train_size": 200, "dev_size": 100, "test_size": 100}},
          "train": {"max_steps": 40, "batch_size": 16, "lr": 1e-3, "max_length": 48, "eval_every": 20},
          "diagnostics": {"probes": 4, "sample": 4, "cid_every": 10, "scope": "head", "histogram_probes": 1},
          "influence": {"interval": 15, "probes_per_round": 4, "k": 2, "round_epochs": 1, "tuples_per_update": 4,
                        "scope": "head"}}


def tune_button(rank: int) -> str:
    return "[id='" + json.dumps({"rank": rank, "type": "nt-tune"}, separators=(",", ":")) + "']"


def test_neurontune_section_tunes_a_suggested_confound_and_compares_the_chain(browser, api):
    parent = api.post("/api/jobs", json=PARENT).json()["id"]
    assert wait_finished(api, [parent])[0]["status"] == "succeeded"
    response = api.post("/api/jobs", json={**PARENT, "method": "neurontune",
                                           "neurontune": {"parent_artifact": f"job:{parent}"}})
    assert response.status_code == 201, response.text
    nt = response.json()["id"]
    assert wait_finished(api, [nt])[0]["status"] == "succeeded"
    found = api.get(f"/api/jobs/{nt}/diagnostics").json()["items"]
    suggestions = found["neurontune.suggestions"]["suggestions"]

    open_page(browser, f"/run/{nt}")
    element(browser, "#nt-section")
    traces = wait_until(lambda: graph(browser, "nt-hist-graph"), 20, "the score histograms")
    assert [(t["name"], t["type"]) for t in traces] == [("class short", "bar"), ("class long", "bar")]
    assert all(t["n"] == 20 for t in traces)  # one bar per bin
    assert text_of(browser, "#nt-zeroed-count") == str(found["neurontune.zeroed"]["count"])
    before_after = text_of(browser, "#nt-before-after-table")
    assert "test worst group %" in before_after and "CID" in before_after
    assert rendered(browser, "#nt-suggestions-table tbody tr") == len(suggestions) > 0
    first_row = browser.find_element(By.CSS_SELECTOR, "#nt-suggestions-table tbody tr").text
    assert suggestions[0]["ngram"] in first_row and suggestions[0]["examples"][0][:30] in first_row
    full_page_screenshot(browser, ARTIFACTS / "test_neurontune_section.png")

    # The planted prefix is among the first three; tune with it.
    rank = next(s["rank"] for s in suggestions[:3] if s["ngram"] in ("positive", "negative"))
    button = element(browser, tune_button(rank))
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    link = wait_until(lambda: browser.find_element(By.CSS_SELECTOR, "#nt-new-job"), 20, "the new job's link")
    follow_up = int(link.text.removeprefix("job #"))
    job = api.get(f"/api/jobs/{follow_up}").json()
    assert job["method"] == "influence-tuning"
    assert job["spec"]["dataset"]["confound_rule"] == suggestions[rank - 1]["rule"]
    assert job["lineage"]["parent_job_id"] == nt and api.get(f"/api/jobs/{nt}").json()["lineage"]["parent_job_id"] == parent

    # The three runs side by side.
    chain = wait_until(lambda: (a := browser.find_element(By.CSS_SELECTOR, "#nt-compare-link"))
                       .get_attribute("href").endswith(f"{parent},{nt},{follow_up}") and a, 20, "the chain link")
    assert wait_finished(api, [follow_up])[0]["status"] == "succeeded"
    chain.click()
    wait_until(lambda: rendered(browser, "#compare-behaviour-table tbody tr") == 3, 30, "three runs compared")
    rows = wait_until(lambda: (r := [tr.text for tr in browser.find_elements(
        By.CSS_SELECTOR, "#compare-behaviour-table tbody tr")]) and all("succeeded" in t for t in r) and r,
        30, "the three runs' results")
    assert [r.split()[1] for r in rows] == ["finetune", "neurontune", "influence-tuning"]
    cid = wait_until(lambda: graph(browser, "compare-cid-graph"), 20, "the CID curves")
    assert len({t["name"] for t in cid}) >= 3

"""Sweeps, reproductions and experiment progress in a real headless Chromium, over a real API
and worker running tiny jobs. Each test leaves a full-page screenshot in tests/artifacts/dashboard/.
"""
from __future__ import annotations

import csv
import io
import json

from selenium.webdriver.common.by import By

from .conftest import ARTIFACTS, wait_until
from .stack import TINY_DATASET, full_page_screenshot
from .test_browser import choose, downloaded, element, fill, graph, open_page, pattern_id, text_of

# Tiny jobs that fit train in 16 steps (the "tiny" scale's settings): selection needs dev accuracies.
SWEEP_FIELDS = {"train.max_steps": 16, "train.eval_every": 8, "train.batch_size": 16, "diagnostics.cid_every": 8,
                "diagnostics.probes": 4, "diagnostics.sample": 4, "diagnostics.histogram_probes": 1}


def wait_text(browser, css: str, wanted: str, timeout_s: float = 20) -> str:
    """The text of css once it contains `wanted` (re-read each time: these parts re-render while polled)."""
    return wait_until(lambda: wanted in (text := text_of(browser, css)) and text, timeout_s, f"'{wanted}' in {css}")


def fill_until(browser, css: str, value, shown: str, where: str = "#form-job-count", tries: int = 3) -> str:
    """Fill a field until `shown` appears in `where`: on a loaded machine a debounced field left
    while the form's dry run of the previous one is in flight can miss its commit (the text is
    typed, the value not sent), which a person would notice and redo."""
    for attempt in range(tries):
        fill(browser, css, value)
        try:
            return wait_text(browser, where, shown, timeout_s=15)
        except AssertionError:
            if attempt == tries - 1:
                raise
    return ""


def rows_of(browser, css: str) -> list[list[str]]:
    return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
            for row in browser.find_elements(By.CSS_SELECTOR, f"{css} tbody tr")]


def test_a_sweep_from_the_form_runs_to_its_selected_row(browser, api):
    open_page(browser, "/")
    element(browser, "#form-submit")
    element(browser, "#form-mode input[value='sweep']").click()
    choose(browser, "#form-model", "tiny")  # fits train at these learning rates; the default minilm would not
    fill(browser, "#form-options", json.dumps(TINY_DATASET["options"]))
    for path, value in SWEEP_FIELDS.items():
        fill(browser, pattern_id("spec-field", path), value)
    fill_until(browser, "#form-seeds", "2021, 2022", "× 2 seeds")
    # The second learning rate is out of range: only the API knows, and only at submission (the
    # dry run checks the first grid point); its message goes beside the field.
    count = fill_until(browser, pattern_id("spec-field", "train.lr"), "4e-3, 2", "4 jobs in all")
    assert "finetune: 2 grid points (train.lr 0.004, 2) × 2 seeds = 4 jobs" in count
    assert "16 label steps on 64 training examples" in text_of(browser, "#form-estimate")
    element(browser, "#form-submit").click()
    wait_text(browser, pattern_id("spec-msg", "train.lr"), "less than or equal to 1")
    wait_text(browser, "#form-result .error", "Not submitted")
    fill_until(browser, pattern_id("spec-field", "train.lr"), "4e-3, 6e-3", "(train.lr 0.004, 0.006)")
    full_page_screenshot(browser, ARTIFACTS / "sweep_form_job_count.png")
    element(browser, "#form-submit").click()
    link = element(browser, "#form-experiment-link")
    assert text_of(browser, pattern_id("spec-msg", "train.lr")) == ""
    experiment_id = int(link.text.removeprefix("experiment #"))
    experiment = api.get(f"/api/experiments/{experiment_id}").json()
    assert experiment["kind"] == "sweep" and len(experiment["job_ids"]) == 4
    assert [part["grid"] for part in experiment["grid"]["parts"]] == [{"train.lr": [0.004, 0.006]}]
    assert experiment["grid"]["seeds"] == [2021, 2022]
    assert api.get(f"/api/jobs/{experiment['job_ids'][0]}").json()["spec"]["train"]["max_steps"] == 16

    # Its view: progress polled until 4/4, then Table 2 with the row selected on dev.
    link.click()
    wait_text(browser, "#experiment-progress .bar-label", "/4 done")
    wait_text(browser, "#experiment-progress .bar-label", "4/4 done · finished", timeout_s=200)
    assert "4 succeeded" in text_of(browser, "#experiment-progress .progress-counts")
    head = wait_text(browser, "#table2 thead", "flip rate % (mean)")
    assert "dev acc % (mean ± std)" in head and "selected on dev" in head
    rows = wait_until(lambda: (r := rows_of(browser, "#table2")) and all(row[3] == "2/2" for row in r) and r, 20,
                      "both grid points with two seeds")
    assert sorted(row[1] for row in rows) == ["finetune train.lr=0.004", "finetune train.lr=0.006"]
    assert [row[2] for row in rows].count("✓ selected") == 1
    headers = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#table2 thead th")]
    flip, dev = headers.index("flip rate % (mean)"), headers.index("dev acc % (mean ± std)")
    assert all(0 <= float(row[flip]) <= 100 for row in rows) and all(row[dev] for row in rows)
    selected_dev = next(float(row[dev].split()[0]) for row in rows if row[2] == "✓ selected")
    assert selected_dev == max(float(row[dev].split()[0]) for row in rows)  # selection by mean dev accuracy
    # Figure 3 over seeds: each grid point's mean CID curve over its two seeds.
    traces = wait_until(lambda: (g := graph(browser, "compare-experiment-cid-graph")) and g[0]["n"] > 1 and g, 20,
                        "the experiment's mean CID curves")
    assert sorted(t["name"] for t in traces) == ["finetune train.lr=0.004", "finetune train.lr=0.006"]
    full_page_screenshot(browser, ARTIFACTS / "sweep_table2_selected_row.png")
    element(browser, "#compare-selected-only input").click()
    wait_until(lambda: len(rows_of(browser, "#table2")) == 1, 10, "only the selected row")
    assert rows_of(browser, "#table2")[0][2] == "✓ selected"
    assert browser.find_element(By.ID, "compare-table3-card").get_attribute("style") == "display: none;"
    element(browser, "#compare-table-csv").click()
    parsed = list(csv.DictReader(io.StringIO(downloaded(browser, f"experiment{experiment_id}-table2.csv"))))
    assert len(parsed) == 2 and sorted(r["selected"] for r in parsed) == ["False", "True"]
    assert all(r["flip_rate_mean"] and r["dev_acc_mean"] for r in parsed)

    # The Experiments page lists it, finished.
    open_page(browser, "/experiments")
    row = f"#experiment-row-{experiment_id}"
    wait_text(browser, f"{row} .bar-label", "4/4 done · finished")
    assert "4 succeeded" in text_of(browser, f"{row} .col-counts") and "sweep" in text_of(browser, row)


def test_a_reproduction_shows_its_progress_in_the_experiment_list(browser, api):
    open_page(browser, "/experiments")
    element(browser, "#reproduce-submit")
    element(browser, "#experiments-list > *")  # the list has rendered (or says it is empty)
    # Before launch: the cpu scale's job count and estimated time (TextLen: 5 methods x 3 seeds).
    wait_text(browser, "#reproduce-job-count", "15 jobs (finetune 3")
    assert "on one worker" in text_of(browser, "#reproduce-job-count")
    # Table 3 alone: untick every method but influence tuning (its 100 % run plus one at 50 %).
    for method in ("finetune", "adversarial", "embedding-tuning", "no-confound"):
        element(browser, f"#reproduce-methods input[value='{method}']").click()
    fill_until(browser, "#reproduce-rates", "50", "6 jobs (influence-tuning 6)", where="#reproduce-job-count")
    element(browser, "#reproduce-methods input[value='influence-tuning']").click()
    wait_text(browser, "#reproduce-job-count", "tick at least one method")
    element(browser, "#reproduce-methods input[value='influence-tuning']").click()
    wait_text(browser, "#reproduce-job-count", "6 jobs (influence-tuning 6)")
    fill(browser, "#reproduce-rates", "150")
    wait_text(browser, "#reproduce-job-count", "not a percentage in (0, 100]")
    element(browser, "#reproduce-scale input[value='tiny']").click()
    wait_text(browser, "#reproduce-scale-note", "random 2-layer test model")
    element(browser, "#reproduce-dataset input[value='msgs']").click()  # all four MSGS methods ticked again
    wait_until(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#reproduce-methods input:checked")) == 4,
               20, "the four MSGS methods, ticked")
    wait_text(browser, "#reproduce-job-count", "not a percentage in (0, 100]")
    element(browser, "#reproduce-submit").click()
    wait_text(browser, "#reproduce-result .error", "not a percentage in (0, 100]")  # the API's 400, in words

    fill(browser, "#reproduce-rates", "50")
    wait_text(browser, "#reproduce-job-count", "6 jobs")
    element(browser, "#reproduce-submit").click()
    link = element(browser, "#reproduce-link")
    experiment_id = int(link.text.removeprefix("experiment #"))
    experiment = api.get(f"/api/experiments/{experiment_id}").json()
    # MSGS: four Table-2 methods at the tiny scale's one seed, plus two Table-3 runs at 50 %.
    assert experiment["kind"] == "reproduce" and len(experiment["job_ids"]) == 6
    row = f"#experiment-row-{experiment_id}"
    label = wait_text(browser, f"{row} .bar-label", "/6 done")
    counts = text_of(browser, f"{row} .col-counts")
    assert "queued" in counts and int(label.split("/")[0]) < 6
    assert "reproduce" in text_of(browser, row)
    fill_before = browser.find_element(By.CSS_SELECTOR, f"{row} .bar-fill").get_attribute("style")
    assert "width" in fill_before

    # Cancelling its jobs (a worker is free to start them meanwhile) finishes it: the list follows.
    for job_id in experiment["job_ids"]:
        assert api.post(f"/api/jobs/{job_id}/cancel").status_code == 200
    wait_text(browser, f"{row} .bar-label", "6/6 done · finished", timeout_s=60)
    assert "cancelled" in text_of(browser, f"{row} .col-counts")
    assert "width: 100%" in browser.find_element(By.CSS_SELECTOR, f"{row} .bar-fill").get_attribute("style")


def test_the_papers_search_space_fills_the_sweep_fields(browser):
    open_page(browser, "/")
    element(browser, "#form-submit")
    element(browser, "#form-paper-space").click()
    wait_text(browser, "#form-space-note", "The paper searched no hyperparameters for textlen with finetune")
    element(browser, "#form-method").click()
    option = wait_until(lambda: browser.find_elements(
        By.XPATH, "//*[@role='option' or @role='listbox']//*[normalize-space(text())='influence-tuning']"), 10,
        "the method list")
    option[-1].click()
    browser.find_element(By.TAG_NAME, "h2").click()  # close the list
    wait_until(lambda: "influence-tuning" in text_of(browser, "#form-method"), 10, "influence tuning chosen")
    element(browser, "#form-paper-space").click()
    wait_text(browser, "#form-space-note", "textlen/influence-tuning (its Appendix A): 108 grid points")
    assert element(browser, "#form-mode input[value='sweep']").is_selected()
    lr = browser.find_element(By.CSS_SELECTOR, pattern_id("spec-field", "influence.lr")).get_attribute("value")
    assert lr == "3e-05, 1e-05, 3e-06, 1e-06"
    count = wait_text(browser, "#form-job-count", "109 jobs in all")
    # Finetuning is the unswept baseline beside the paper's 3 x 3 x 3 x 4 grid of influence tuning.
    assert "finetune: 1 grid point (nothing swept) × 1 seed = 1 job" in count
    assert "influence-tuning: 108 grid points" in count


def test_a_reproduction_on_an_uploaded_dataset_runs_the_custom_protocol(browser, api):
    """Issue 17: the paper's protocol on your own data, from the Experiments page."""
    rows = [{"text": f"{('she', 'he')[(i % 2) ^ (i % 7 == 0)]} saw {('the match', 'the rain')[i % 2]} {i}",
             "label": ("sports", "weather")[i % 2], "confound": ("she", "he")[(i % 2) ^ (i % 7 == 0)]}
            for i in range(80)]
    upload = api.post("/api/datasets", files={"file": ("topics.jsonl", "".join(json.dumps(r) + "\n" for r in rows))})
    assert upload.status_code == 201, upload.text
    choice = f"upload:{upload.json()['id']}"
    open_page(browser, "/experiments")
    element(browser, f"#reproduce-dataset input[value='{choice}']").click()
    element(browser, "#reproduce-scale input[value='tiny']").click()
    # The custom protocol: finetune, adversarial, influence and embedding tuning at the tiny scale's one seed.
    wait_text(browser, "#reproduce-job-count", "4 jobs (finetune 1")
    element(browser, "#reproduce-submit").click()
    link = element(browser, "#reproduce-link")
    experiment = api.get(f"/api/experiments/{int(link.text.removeprefix('experiment #'))}").json()
    jobs = [api.get(f"/api/jobs/{i}").json() for i in experiment["job_ids"]]
    assert len(jobs) == 4 and {j["spec"]["dataset"]["name"] for j in jobs} == {"custom"}
    for job in jobs:  # nothing left running for the tests after this one
        api.post(f"/api/jobs/{job['id']}/cancel")

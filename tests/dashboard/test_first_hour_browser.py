"""What a new user met in the first hour, in a real Chromium over a real API and worker (issue 14):
an experiment from the form with finetuning listed first keeps influence tuning's rounds; labels
that say what they are (model in run names, "latest" for a running CID, a collapsed experiment
said so, percent accuracy on 0-100, a one-point CID axis that fits its point, probes with their
label and confound, "1 influence round")."""
from __future__ import annotations

import json

from selenium.webdriver.common.by import By

from tests.helpers import WAIT_S

from .conftest import wait_finished, wait_until
from .stack import TINY_DATASET
from .test_browser import choose, element, fill, open_page, pattern_id, text_of

# Influence tuning of the tiny model with one round after step 4 of 8 (rounds need more than
# interval / 2 steps after them), fast on a CPU.
FORM = {"train.max_steps": 8, "train.batch_size": 16, "train.eval_every": 4, "influence.interval": 4,
        "influence.probes_per_round": 4, "influence.k": 2, "influence.round_epochs": 1,
        "influence.tuples_per_update": 4, "influence.scope": "head", "diagnostics.cid_every": 4,
        "diagnostics.probes": 4, "diagnostics.sample": 4, "diagnostics.histogram_probes": 2}
# Collapses: the tiny random model at a learning rate far too small for it stays at chance.
COLLAPSING = {"model": "tiny", "device": "cpu", "dataset": TINY_DATASET,
              "train": {"max_steps": 4, "lr": 1e-7, "eval_every": 2},
              "diagnostics": {"cid_every": 0, "probes": 4, "sample": 4, "histogram_probes": 2}}


def plot_layout(browser, graph_id: str) -> dict | None:
    """The y axis plotly drew for a dcc.Graph, and its traces' y values."""
    return browser.execute_script("""
        const plot = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
        if (!plot || !plot._fullLayout || !plot.data) return null;
        return {range: plot._fullLayout.yaxis.range, ys: plot.data.map(t => Array.from(t.y || []))};
    """, graph_id)


def test_an_experiment_from_the_form_with_finetune_first_keeps_influence_tunings_rounds(browser, api):
    open_page(browser, "/")
    element(browser, "#form-submit")
    choose(browser, "#form-model", "tiny")
    choose(browser, "#form-method", "influence-tuning")  # finetune is listed first (the default)
    assert text_of(browser, "#form-method").index("finetune") < text_of(browser, "#form-method").index("influence")
    fill(browser, "#form-options", json.dumps(TINY_DATASET["options"]))
    for path, value in FORM.items():
        fill(browser, pattern_id("spec-field", path), value)
    estimate = wait_until(lambda: "influence-tuning: 8 label steps" in (t := text_of(browser, "#form-estimate"))
                          and "1 influence round," in t and t, WAIT_S, "the influence-tuning job's cost")
    assert "1 influence rounds" not in estimate
    element(browser, "#form-submit").click()
    link = element(browser, "#form-experiment-link", timeout_s=WAIT_S)
    experiment = api.get(f"/api/experiments/{int(link.text.removeprefix('experiment #'))}").json()
    jobs = {job["method"]: job for job in (api.get(f"/api/jobs/{i}").json() for i in experiment["job_ids"])}
    assert sorted(jobs) == ["finetune", "influence-tuning"]
    # Each method has its own spec: influence tuning's round fields, finetuning none of them.
    assert jobs["influence-tuning"]["spec"]["influence"]["interval"] == 4
    assert jobs["influence-tuning"]["spec"]["influence"]["scope"] == "head"
    assert jobs["finetune"]["spec"]["influence"]["interval"] is None  # the default: nothing leaked into it
    assert all(job["spec"]["train"]["max_steps"] == 8 and job["model"] == "tiny" for job in jobs.values())
    finished = {job["method"]: job for job in wait_finished(api, experiment["job_ids"], WAIT_S)}
    assert all(job["status"] in ("succeeded", "collapsed") for job in finished.values()), finished
    phases = {p["phase"] for p in api.get(f"/api/jobs/{jobs['influence-tuning']['id']}/cid").json()["points"]}
    assert {"pre-round", "post-round"} <= phases  # it ran its round
    finetune_phases = {p["phase"] for p in api.get(f"/api/jobs/{jobs['finetune']['id']}/cid").json()["points"]}
    assert "pre-round" not in finetune_phases


def test_labels_say_what_they_are(browser, api):
    # A collapsed run: the Run page explains it, its one CID point gets an axis that fits it.
    job = api.post("/api/jobs", json=COLLAPSING).json()
    done = wait_finished(api, [job["id"]], WAIT_S)[0]
    assert done["status"] == "collapsed", done
    open_page(browser, f"/run/{job['id']}")
    note = element(browser, "#run-collapsed-note", timeout_s=WAIT_S).text
    assert "training accuracy ended at chance" in note and "train.lr" in note
    drawn = wait_until(lambda: (p := plot_layout(browser, "run-cid-graph")) and p["ys"] and p, WAIT_S, "the CID plot")
    value = drawn["ys"][0][0]
    low, high = drawn["range"]
    assert low <= value <= high and low <= 0 <= high and (high - low) < 1.0, drawn  # not Plotly's -1..1
    accuracy = wait_until(lambda: (p := plot_layout(browser, "run-acc-graph")) and p["ys"] and p, WAIT_S,
                          "the accuracy plot")
    assert accuracy["range"] == [0, 100] and all(0 <= y <= 100 for ys in accuracy["ys"] for y in ys)
    assert max(y for ys in accuracy["ys"] for y in ys) > 1  # percent, not a share
    probes = wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "#run-probe") and
                        "label" in (t := text_of(browser, "#run-probe")) and t, WAIT_S, "a probe chosen")
    assert "confound" in probes

    # In the jobs list, the collapsed badge says what it means.
    open_page(browser, "/")
    badge = element(browser, f"#job-row-{job['id']} .badge", timeout_s=WAIT_S)
    assert "chance" in (badge.get_attribute("title") or "")

    # An experiment whose jobs all collapsed says so on Compare.
    experiment = api.post("/api/experiments", json={"name": "all collapse", "base": COLLAPSING,
                                                    "methods": ["finetune"], "seeds": [1, 2]}).json()
    wait_finished(api, experiment["job_ids"], WAIT_S)
    open_page(browser, f"/compare?experiment={experiment['id']}")
    said = element(browser, "#compare-no-results", timeout_s=WAIT_S).text
    assert "No job of this experiment succeeded" in said and "2 collapsed" in said

    # Runs are named with their model; an unfinished run's CID is the latest, not "final".
    running = api.post("/api/jobs", json={**COLLAPSING, "train": {"max_steps": 100000, "epochs": 1000, "eval_every": 1000},
                                          "diagnostics": {"cid_every": 1, "probes": 2, "sample": 2}}).json()
    try:
        wait_until(lambda: api.get(f"/api/jobs/{running['id']}/cid").json()["points"], WAIT_S, "a live CID point")
        open_page(browser, f"/compare?jobs={job['id']},{running['id']}")
        table = wait_until(lambda: "(latest, step" in (t := text_of(browser, "#compare-behaviour-table")) and t,
                           WAIT_S, "the running run's latest CID")
        assert f"#{job['id']} finetune · tiny (seed 2021)" in table
        assert "CID (final; latest while running)" in table
    finally:
        api.post(f"/api/jobs/{running['id']}/cancel")

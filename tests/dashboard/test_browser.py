"""The dashboard in a real headless Chromium, over a real API and worker running tiny jobs.

Each test leaves a full-page screenshot in tests/artifacts/dashboard/.
"""
from __future__ import annotations

import csv
import io
import json

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from dashboard.series import DISPLAY_POINTS

from .conftest import wait_until
from .stack import TINY, TINY_DATASET, end_job, running_job, seed_large_run


def open_page(browser, path: str) -> None:
    browser.get(browser.base + path)


def element(browser, css: str, timeout_s: float = 20):
    return wait_until(lambda: browser.find_element(By.CSS_SELECTOR, css), timeout_s, css)


def text_of(browser, css: str) -> str:
    found = browser.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else ""


def wait_text(browser, css: str, wanted: str, timeout_s: float = 20) -> str:
    return wait_until(lambda: wanted in text_of(browser, css) and text_of(browser, css), timeout_s,
                      f"'{wanted}' in {css} (now: {text_of(browser, css)!r})")


def pattern_id(kind: str, path: str) -> str:
    """The CSS selector of a Dash pattern-matching id (rendered as JSON with sorted keys)."""
    return "[id='" + json.dumps({"path": path, "type": kind}, separators=(",", ":")) + "']"


def fill(browser, css: str, value) -> None:
    box = element(browser, css)
    box.clear()
    box.send_keys(str(value), Keys.TAB)  # the inputs are debounced: leaving the field sends the value


def graph(browser, graph_id: str) -> list[dict] | None:
    """The traces plotly holds for a dcc.Graph: name, type and number of points."""
    return browser.execute_script("""
        const plot = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
        if (!plot || !plot.data) return null;
        return plot.data.map(t => ({name: t.name, type: t.type || 'scatter', n: (t.x || []).length}));
    """, graph_id)


def graph_title(browser, graph_id: str) -> str:
    return browser.execute_script("""
        const plot = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
        return plot && plot.layout && plot.layout.title ? (plot.layout.title.text || '') : '';
    """, graph_id)


def rendered(browser, css: str) -> int:
    return len(browser.find_elements(By.CSS_SELECTOR, css))


def downloaded(browser, name: str) -> str:
    """The text of a finished download: the file is there, Chromium's .crdownload is gone, and its
    size held still between two polls."""
    path, sizes = browser.downloads / name, []

    def complete() -> bool:
        if not path.exists() or any(browser.downloads.glob("*.crdownload")):
            return False
        sizes.append(path.stat().st_size)
        return len(sizes) >= 2 and sizes[-1] == sizes[-2] > 0

    wait_until(complete, what=f"download {name}")
    return path.read_text()


def test_submit_a_tiny_job_through_the_form_and_see_it_finish(browser, api):
    open_page(browser, "/")
    element(browser, "#form-submit")
    choose(browser, "#form-model", "tiny")  # the form's default is the pretrained minilm
    fill(browser, "#form-options", json.dumps(TINY_DATASET["options"]))
    for path, value in {"train.max_steps": 6, "train.eval_every": 2, "diagnostics.cid_every": 2,
                        "diagnostics.probes": 4, "diagnostics.sample": 4, "diagnostics.histogram_probes": 2}.items():
        fill(browser, pattern_id("spec-field", path), value)
    # The API's dry run costs the job before launch.
    wait_text(browser, "#form-estimate", "6 label steps on 64 training examples")
    element(browser, "#form-submit").click()
    link = wait_until(lambda: browser.find_element(By.CSS_SELECTOR, "#form-result a"), 20, "the queued job's link")
    job_id = int(link.text.removeprefix("job #"))
    spec = api.get(f"/api/jobs/{job_id}").json()["spec"]
    assert spec["train"]["max_steps"] == 6 and spec["dataset"]["options"]["train_size"] == 64
    assert spec["model"] == "tiny" and spec["train"]["lr"] == 1e-3  # untouched: tiny's own default learning rate

    row = f"#job-row-{job_id}"
    wait_until(lambda: text_of(browser, f"{row} .badge") in ("succeeded", "collapsed"), 150,
               f"job {job_id} to finish in the list")
    test_acc = wait_until(lambda: text_of(browser, f"{row} .col-test_acc"), 20, "the finished job's accuracy")
    assert 0 <= float(test_acc) <= 100 and float(text_of(browser, f"{row} .col-worst_group_acc")) <= float(test_acc)
    assert text_of(browser, f"{row} .col-cid") and text_of(browser, f"{row} .col-flip_rate")
    assert text_of(browser, f"{row} .bar-label").startswith("6/6")
    assert rendered(browser, f"{row} button") == 1 and "Delete" in text_of(browser, f"{row} button")


def choose(browser, css: str, option: str) -> None:
    """Pick `option` in the Dash dropdown at css (a multi-select keeps what is already chosen)."""
    element(browser, css).click()
    found = wait_until(lambda: browser.find_elements(
        By.XPATH, f"//*[@role='option' or @role='listbox']//*[normalize-space(text())='{option}']"), 20,
        f"'{option}' in {css}")
    found[-1].click()
    browser.find_element(By.TAG_NAME, "h2").click()  # close the list
    wait_until(lambda: option in text_of(browser, css), 20, f"{option} chosen in {css}")


def test_validation_messages_from_the_api_appear_beside_their_fields(browser):
    open_page(browser, "/")
    element(browser, "#form-submit")
    wait_text(browser, "#form-estimate", "label steps")  # the default job's cost
    fill(browser, pattern_id("spec-field", "train.lr"), "-1")
    wait_text(browser, pattern_id("spec-msg", "train.lr"), "greater than 0")  # pydantic's, via the API's 422
    wait_text(browser, "#form-estimate", "Fix the marked fields")
    fill(browser, pattern_id("spec-field", "train.lr"), "")
    fill(browser, "#form-options", '{"conll_train": "/etc"}')
    # The API's 400 names no field; its words put it beside the dataset options.
    wait_text(browser, pattern_id("spec-msg", "dataset.options"), "outside the data directory")
    fill(browser, "#form-options", "{oops")
    wait_text(browser, pattern_id("spec-msg", "dataset.options"), "not JSON")
    assert text_of(browser, pattern_id("spec-msg", "train.lr")) == ""


def test_run_page_shows_cid_rounds_behaviour_figure_one_and_the_explorer(browser, finished_experiment):
    job_id = finished_experiment["jobs"]["influence-tuning"]["id"]
    open_page(browser, f"/run/{job_id}")
    traces = wait_until(lambda: (graph(browser, "run-cid-graph") or None)
                        and {t["name"]: t for t in graph(browser, "run-cid-graph")}, 20, "the CID figure")
    assert traces["CID"]["n"] == 9  # live at 0, 4, 12, 20; before and after the rounds at 8 and 16; final at 24
    assert traces["before a round"]["n"] == 2 and traces["after a round"]["n"] == 2
    assert rendered(browser, "#run-cid-graph .scatterlayer .trace path") > 0  # drawn, not only held
    wait_text(browser, "#run-behaviour-table", "flip rate")
    assert "test" in text_of(browser, "#run-behaviour-table")
    # The model's family and the pooling it used (the job's "model" diagnostic and results.architecture).
    assert "model: BERT encoder (bert), pooling: the pooler output, 2 blocks" in text_of(browser, "#run-summary")
    # Which way influence was computed (the job's "influence.engine.*" diagnostics): never silent.
    assert "influence engine: CID fast, update fast" in text_of(browser, "#run-summary")
    assert "bounded in [−1, 1]" in text_of(browser, ".semantics") and "CID near 0" in text_of(browser, ".semantics")
    assert "influence-optimiser update" in browser.execute_script(
        "return document.querySelector('#run-j-graph .js-plotly-plot').layout.xaxis.title.text")

    # Figure 1: two overlaid histograms of the chosen probe at the latest step, with the t-test.
    hist = wait_until(lambda: [t for t in graph(browser, "run-hist-graph") or [] if t["type"] == "histogram"] or None,
                      20, "Figure 1's histograms")
    assert len(hist) == 2 and hist[0]["name"].startswith("A") and hist[1]["name"].startswith("B")
    wait_until(lambda: rendered(browser, "#run-hist-graph .barlayer .trace") == 2, 10, "two drawn histograms")
    title = graph_title(browser, "run-hist-graph")
    assert "Welch p" in title and "at step 24" in title
    # The slider moves over the recorded steps: Home goes to the first.
    handle = element(browser, "#run-step [role='slider']")
    handle.send_keys(Keys.HOME)
    wait_until(lambda: "at step 0" in graph_title(browser, "run-hist-graph"), 15, "Figure 1 at step 0")
    # A round's step has two stops: before the round and after it (live 0, 4, then round 8).
    def step_right(expected: str):
        element(browser, "#run-step [role='slider']").send_keys(Keys.RIGHT)
        return wait_until(lambda: expected in graph_title(browser, "run-hist-graph"), 15, f"Figure 1 {expected}")

    step_right("at step 4")
    step_right("at step 8 (before the round)")
    step_right("at step 8 (after the round)")

    # The probe explorer: most and least influential examples of both groups, with their text.
    for table in ("explorer-a-most", "explorer-a-least", "explorer-b-most", "explorer-b-least"):
        rows = wait_until(lambda t=table: browser.find_elements(By.CSS_SELECTOR, f"#{t} tbody tr"), 15, table)
        assert rows and all(cell.text for cell in rows[0].find_elements(By.TAG_NAME, "td"))
    assert "Positive ." in text_of(browser, "#run-explorer") or "Negative ." in text_of(browser, "#run-explorer")

    # The figure's data as CSV: every CID point with its per-probe values.
    element(browser, "#run-cid-csv").click()
    rows = list(csv.reader(io.StringIO(downloaded(browser, f"job{job_id}-cid.csv"))))
    assert rows[0][:5] == ["job_id", "step", "phase", "cid", "p_median"] and "probe_3" in rows[0]
    assert [r[2] for r in rows[1:]].count("post-round") == 2
    # The figure itself: the toolbar's camera saves it as SVG.
    browser.execute_script("document.querySelector('#run-cid-graph .modebar-btn[data-title^=\"Download plot\"]')"
                           ".click()")
    svg = downloaded(browser, f"job{job_id}-cid.svg")
    assert svg.lstrip().startswith("<svg") and "CID over training" in svg


def test_compare_overlays_two_runs_and_shows_table_two(browser, finished_experiment):
    jobs = finished_experiment["jobs"]
    ids = [jobs["finetune"]["id"], jobs["influence-tuning"]["id"]]
    open_page(browser, f"/compare?jobs={ids[0]},{ids[1]}&experiment={finished_experiment['id']}")
    traces = wait_until(lambda: graph(browser, "compare-cid-graph") if len(graph(browser, "compare-cid-graph") or [])
                        == 2 else None, 20, "two CID curves")
    assert [t["name"].split()[0] for t in traces] == [f"#{ids[0]}", f"#{ids[1]}"]
    assert all(t["n"] >= 4 for t in traces)
    wait_until(lambda: rendered(browser, "#compare-cid-graph .scatterlayer .trace") == 2, 10, "two drawn curves")
    behaviour = wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "#compare-behaviour-table tbody tr"), 15,
                           "the runs' behaviour")
    assert len(behaviour) == 2

    # Table 2 of the experiment: one row per method, p-value against finetuning.
    rows = wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "#table2 tbody tr"), 20, "Table 2")
    methods = {r.find_elements(By.TAG_NAME, "td")[1].text: r.text for r in rows}
    assert set(methods) == {"finetune", "influence-tuning"}
    assert all("1/1" in row for row in methods.values())  # both seeds' jobs succeeded
    assert "p vs finetune" in text_of(browser, "#table2 thead")
    bars = wait_until(lambda: graph(browser, "compare-table-graph"), 15, "Table 2's bars")
    assert sorted(t["name"] for t in bars) == ["finetune", "influence-tuning"]


def test_a_running_job_updates_live_and_can_be_cancelled(browser, api, finished_experiment):
    long = {**TINY, "method": "finetune",
            "train": {"max_steps": 5000, "batch_size": 8, "epochs": 1000, "eval_every": 100},
            "diagnostics": {"probes": 2, "sample": 2, "cid_every": 250, "histogram_probes": 1}}
    job_id = api.post("/api/jobs", json=long).json()["id"]
    open_page(browser, f"/run/{job_id}")
    wait_until(lambda: text_of(browser, "#run-summary .badge") == "running", 90, "the job to start")

    def loss_points():
        return next((t["n"] for t in graph(browser, "run-loss-graph") or [] if t["name"] == "loss/train"), 0)

    first = wait_until(loss_points, 30, "the first loss points")
    wait_until(lambda: loss_points() > first, 15, "more loss points while it runs")
    assert text_of(browser, "#run-summary .badge") == "running"
    assert "ETA" in text_of(browser, "#run-summary .bar-label")
    element(browser, "#run-cancel").click()
    wait_until(lambda: text_of(browser, "#run-summary .badge") == "cancelled", 30, "the job to be cancelled")
    assert api.get(f"/api/jobs/{job_id}").json()["status"] == "cancelled"


def test_a_running_job_shows_its_phase_in_the_jobs_table_and_on_its_run_page(browser, stack):
    """What a worker's recorder stores is what the pages say: the step-0 CID with its batches and
    an unknown ETA, then a round's update with an ETA that is still a guess."""
    db, job_id, recorder = running_job(stack.database_url)
    try:
        recorder.progress(0, 60, None, phase="measuring CID (step 0): 96/400 examples")
        recorder.flush()
        open_page(browser, "/")
        row = f"#job-row-{job_id}"
        wait_text(browser, f"{row} .bar-phase", "measuring CID (step 0): 96/400 examples")
        assert text_of(browser, f"{row} .bar-label") == "0/60 · ETA unknown"
        recorder.progress(15, 60, 754.0, phase="influence round 1/4: update 5/16", eta_guessed=True)
        recorder.flush()
        wait_text(browser, f"{row} .bar-phase", "influence round 1/4: update 5/16")  # the table polls
        open_page(browser, f"/run/{job_id}")
        wait_text(browser, "#run-summary .bar-phase", "influence round 1/4: update 5/16")
        assert text_of(browser, "#run-summary .bar-label") == "15/60 · ETA ≈ 12 min 34 s (guess)"
        recorder.progress(16, 60, 700.0, phase="training")
        recorder.flush()
        wait_text(browser, "#run-summary .bar-label", "16/60 · ETA 11 min 40 s")  # the run page polls
        assert text_of(browser, "#run-summary .bar-phase") == "training"
    finally:
        end_job(db, job_id)
    # Finished: no phase, no ETA.
    wait_until(lambda: not browser.find_elements(By.CSS_SELECTOR, "#run-summary .bar-phase"), 20,
               "the phase to go once the job has ended")


def test_jobs_list_cancels_and_deletes(browser, api, finished_experiment):
    long = {**TINY, "train": {"max_steps": 5000, "batch_size": 8, "epochs": 1000}}
    job_id = api.post("/api/jobs", json=long).json()["id"]
    open_page(browser, "/")
    row = f"#job-row-{job_id}"
    element(browser, f"{row} button")
    wait_text(browser, f"{row} button", "Cancel")
    browser.find_element(By.CSS_SELECTOR, f"{row} button").click()
    wait_until(lambda: text_of(browser, f"{row} .badge") == "cancelled", 30, "the cancelled badge")
    wait_text(browser, "#jobs-action", f"Job #{job_id}")
    wait_text(browser, f"{row} button", "Delete")
    browser.find_element(By.CSS_SELECTOR, f"{row} button").click()
    wait_until(lambda: rendered(browser, row) == 0, 15, "the deleted job's row to go")
    assert api.get(f"/api/jobs/{job_id}").status_code == 404
    # The experiment filter leaves only that experiment's jobs.
    fill(browser, "#filter-experiment", finished_experiment["id"])
    wanted = {f"job-row-{i}" for i in finished_experiment["job_ids"]}
    wait_until(lambda: {r.get_attribute("id") for r in browser.find_elements(By.CSS_SELECTOR, "#jobs-list tbody tr")}
               == wanted, 15, "only the experiment's jobs")


def test_datasets_page_table_one_samples_and_upload(browser, tmp_path):
    open_page(browser, "/datasets")
    table = wait_text(browser, "#table1", "textlen")
    assert "msgs" in table and "90.0" in table  # TextLen's train agreement (Table 1)
    groups = wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "#samples-groups .sample-group"), 20,
                        "rows by group")
    assert len(groups) == 4 and all(g.find_elements(By.TAG_NAME, "li") for g in groups)

    good = tmp_path / "reviews.csv"
    rows = [f"{'great' if i % 2 else 'awful'} film number {i},{i % 2},{'x' if i % 3 else 'y'}" for i in range(60)]
    good.write_text("text,label,confound\n" + "\n".join(rows) + "\n")
    bad = tmp_path / "broken.csv"
    bad.write_text("words,label\nhello,1\n")
    upload_input = element(browser, "#upload-file input[type=file]")
    upload_input.send_keys(str(bad))
    wait_text(browser, "#upload-chosen", "broken.csv")
    element(browser, "#upload-submit").click()
    message = wait_text(browser, "#upload-result .error", "Not uploaded")
    assert "text" in message  # the loader names the missing column
    upload_input.send_keys(str(good))
    wait_text(browser, "#upload-chosen", "reviews.csv")
    element(browser, "#upload-submit").click()
    wait_text(browser, "#upload-result", "upload:")
    wait_text(browser, "#table1", "uploaded: reviews.csv")


def test_api_errors_are_shown_in_words(browser, stack):
    open_page(browser, "/run/999999")
    wait_text(browser, ".error", "no job 999999")
    # A dashboard whose API is down says so on the page, not in a console.
    dead_api = "http://127.0.0.1:9"
    url = stack.start_dashboard(api_url=dead_api, name="dashboard-without-api")
    browser.get(url + "/")
    wait_text(browser, ".error", "cannot be reached")
    wait_text(browser, "#api-health", "cannot be reached")


def test_a_50k_point_run_is_downsampled_for_display_and_complete_in_its_csv(browser, stack):
    job_id = seed_large_run(stack.database_url, points=50_000)
    open_page(browser, f"/run/{job_id}")  # how fast it draws: benchmarks/dashboard/run_page_50k.py
    loss = wait_until(lambda: next((t for t in graph(browser, "run-loss-graph") or [] if t["name"] == "loss/train"),
                                   None), what="the loss curve")
    wait_until(lambda: (graph(browser, "run-cid-graph") or [{}])[0].get("n", 0) > 100, what="the CID curve")
    assert loss["n"] <= DISPLAY_POINTS + 1  # thinned on the server
    element(browser, "#run-metrics-csv").click()
    lines = downloaded(browser, f"job{job_id}-metrics.csv").splitlines()
    assert sum(1 for line in lines if line.startswith("loss/train,")) == 50_000

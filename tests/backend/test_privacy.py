"""Nothing private in public answers (issue 16, item 5): no absolute server path in a job's error,
its log, its metrics or a 400; a failed job's error is one line, its traceback in the job's log
and the worker's (server) log; GET /api/models lists no symlink that leaves the data directory."""
from __future__ import annotations

import re

from backend.store.paths import public_text
from tests.helpers import wait_exit

from .conftest import TINY_JOB, wait_for, worker_log

# An absolute path as a traceback or an OS error shows it: a quote or a space, then /a/b (a route
# such as "POST /api/datasets" in a message is none).
ABSOLUTE = re.compile(r"""(^|[\s'"(])/(?!api/)[\w.-]+/""")


def csv_rows(n: int = 40) -> str:
    return "text,label,confound\n" + "".join(f"example {i} here,{i % 2},{i // 2 % 2}\n" for i in range(n))


def test_public_text_makes_paths_relative_or_short(tmp_path):
    data = tmp_path / "data"
    text = (f"DataError: {data}/uploads/a.csv, row 3: bad; in {data}; File \"/usr/lib/python3/x/y.py\"; "
            f"{tmp_path}/database.db; https://huggingface.co/a/b; regex:/a/ and 1/2")
    assert public_text(text, data) == ("DataError: uploads/a.csv, row 3: bad; in the data directory; "
                                       "File \"…/y.py\"; …/database.db; https://huggingface.co/a/b; regex:/a/ and 1/2")


def test_refusals_name_no_server_path(client, settings):
    data = str(settings.data_dir)
    (settings.data_dir / "broken.csv").parent.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "broken.csv").write_text(csv_rows() + "no label here,,1\n")
    for changes in ({"dataset": {"name": "custom", "path": f"{data}/missing.csv"}},
                    {"dataset": {"name": "custom", "path": "broken.csv"}},
                    {"dataset": {"name": "custom", "path": f"{data}/broken.csv"}},
                    {"dataset": {"name": "custom", "path": "../outside.csv"}},
                    {"model": f"{data}/models/none"},
                    {"neurontune": {"parent_artifact": f"{data}/artifacts/job-9"}}):
        for route in ("/api/jobs", "/api/jobs/estimate"):
            response = client.post(route, json={**TINY_JOB, **changes})
            assert response.status_code == 400, (changes, response.text)
            assert data not in response.text and not ABSOLUTE.search(response.json()["detail"]), response.text
    response = client.post("/api/jobs", json={**TINY_JOB, "dataset": {"name": "custom", "path": "broken.csv"}})
    assert "broken.csv, row 42, field 'label'" in response.json()["detail"]
    response = client.get("/api/datasets/upload:9/samples")
    assert response.status_code == 404 and data not in response.text


def test_models_lists_no_symlink_out_of_the_data_dir(client, settings, tmp_path):
    models = settings.data_dir / "models"
    (models / "mine").mkdir(parents=True)
    (models / "mine" / "config.json").write_text('{"model_type": "bert"}')  # a model directory has a config
    (tmp_path / "elsewhere").mkdir()
    (models / "escape").symlink_to(tmp_path / "elsewhere")
    (models / "alias").symlink_to(models / "mine")  # stays inside: listed, as it is usable
    (models / "notes.txt").write_text("not a model")
    assert [m["name"] for m in client.get("/api/models").json()["local"]] == ["models/alias", "models/mine"]


def test_a_failed_job_shows_one_line_and_logs_its_traceback(client, settings, spawn_worker):
    """A real worker runs a job whose uploaded file broke after submission (a DataError naming
    the file's absolute path) and a tiny job that succeeds: neither's public answers name a
    server path; the traceback is in the job's log (paths shortened) and the worker's log (whole)."""
    data = str(settings.data_dir)
    uploaded = client.post("/api/datasets", files={"file": ("mine.csv", csv_rows().encode())}).json()
    failing = client.post("/api/jobs", json={**TINY_JOB, "dataset": uploaded["path"]}).json()["id"]
    [stored] = (settings.data_dir / "uploads").glob("*.csv")
    stored.write_text(csv_rows() + "no label here,,1\n")
    succeeding = client.post("/api/jobs", json=TINY_JOB).json()["id"]
    worker = spawn_worker(settings, "--exit-when-idle")
    assert wait_exit(worker) == 0, worker_log(worker)

    job = client.get(f"/api/jobs/{failing}").json()
    assert job["status"] == "failed", job
    error = job["error"]
    assert "\n" not in error and error.startswith("DataError: uploads/"), error
    assert f"{stored.name}, row 42, field 'label'" in error and "Traceback" not in error
    lines = [line["message"] for line in client.get(f"/api/jobs/{failing}/logs").json()["lines"]]
    assert any(line.startswith("failed: DataError: uploads/") for line in lines), lines
    [traceback] = [line for line in lines if line.startswith("Traceback")]
    assert "DataError" in traceback and 'File "…/' in traceback, traceback
    server_log = worker_log(worker)
    assert "Traceback" in server_log and str(stored) in server_log  # the whole story stays on the server

    wait_for(lambda: client.get(f"/api/jobs/{succeeding}").json()["status"] in ("succeeded", "collapsed"),
             what="the tiny job's end")
    results = client.get(f"/api/jobs/{succeeding}/results").json()
    assert results["metrics"]["artifact_dir"] == f"artifacts/job-{succeeding}"
    for job_id in (failing, succeeding):
        for read in ("", "/logs", "/results", "/metrics", "/cid"):
            text = client.get(f"/api/jobs/{job_id}{read}").text
            assert data not in text and not ABSOLUTE.search(text), (read, text[:2000])

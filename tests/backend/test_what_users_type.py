"""REST takes what users type: a dataset by its name alone, an upload by the name the dashboard
shows ("upload:N"), and /influence/examples documents its parameters in the OpenAPI schema."""
from __future__ import annotations

import argparse
import json

from jobs.cli import spec_from_args
from tests.helpers import wait_exit

from .conftest import TINY_JOB, worker_log
from .test_uploads import csv_rows, upload

FINISHED = ("succeeded", "collapsed")


def uploaded_id(client) -> int:
    response = upload(client, "mine.csv", csv_rows())
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_a_dataset_by_its_name_alone(client):
    response = client.post("/api/jobs", json={**TINY_JOB, "dataset": "textlen"})
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["spec"]["dataset"]["name"] == "textlen" and job["dataset"] == "textlen"
    assert client.get("/api/jobs?dataset=textlen").json()["items"][0]["spec"]["dataset"] == job["spec"]["dataset"]
    # the paper preset is chosen by the dataset's name: MSGS finetuning trains 3 epochs, TextLen's 10
    msgs = client.post("/api/jobs", json={"dataset": "msgs", "preset": "paper", "model": "tiny"})
    assert msgs.status_code == 201, msgs.text
    assert msgs.json()["spec"]["dataset"]["name"] == "msgs" and msgs.json()["spec"]["train"]["epochs"] == 3
    estimate = client.post("/api/jobs/estimate", json={**TINY_JOB, "dataset": "textlen"})
    assert estimate.status_code == 200 and estimate.json()["spec"]["dataset"]["name"] == "textlen"
    unknown = client.post("/api/jobs", json={**TINY_JOB, "dataset": "imdb"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "dataset"]
    assert "unknown dataset 'imdb'" in unknown.json()["detail"][0]["msg"]


def test_the_schema_shows_both_forms_of_a_dataset(client):
    schema = client.get("/openapi.json").json()
    dataset = schema["components"]["schemas"]["JobSpec"]["properties"]["dataset"]
    assert {"$ref": "#/components/schemas/DatasetSpec"} in dataset["anyOf"] and {"type": "string", "maxLength": 255} in dataset["anyOf"]
    job_out = schema["components"]["schemas"]["JobOut"]["properties"]
    assert job_out["spec"]["allOf"] == [{"$ref": "#/components/schemas/JobSpec"}] and job_out["dataset"]["description"]


def test_an_upload_by_the_name_the_dashboard_shows(client):
    upload_id = uploaded_id(client)
    spelled = client.post("/api/jobs", json={**TINY_JOB, "dataset": {"name": "custom", "path": f"upload:{upload_id}"}})
    assert spelled.status_code == 201, spelled.text
    for dataset in (f"upload:{upload_id}", {"name": f"upload:{upload_id}"}):
        response = client.post("/api/jobs", json={**TINY_JOB, "dataset": dataset})
        assert response.status_code == 201, response.text
        assert response.json()["spec"]["dataset"] == spelled.json()["spec"]["dataset"]
        assert response.json()["dataset"] == "custom"
    estimate = client.post("/api/jobs/estimate", json={**TINY_JOB, "dataset": f"upload:{upload_id}"}).json()
    assert estimate["train_size"] == 24  # the upload's own train split (csv_rows: 24 / 8 / 8)


def test_a_job_on_an_upload_by_its_name_runs_on_it(client, settings, spawn_worker):
    upload_id = uploaded_id(client)
    response = client.post("/api/jobs", json={**TINY_JOB, "dataset": f"upload:{upload_id}"})
    assert response.status_code == 201, response.text
    worker = spawn_worker(settings, "--exit-when-idle")
    assert wait_exit(worker, "the worker") == 0, worker_log(worker)
    job = client.get(f"/api/jobs/{response.json()['id']}").json()
    assert job["status"] in FINISHED, (job, worker_log(worker))
    assert client.get(f"/api/jobs/{job['id']}/results").json()["metrics"]["test"]["n"] == 8  # the upload's test rows


def test_a_bad_upload_is_one_line_naming_the_field(client):
    upload_id = uploaded_id(client)
    for dataset, field, named in (("upload:99", "dataset", "upload:99"),
                                  ({"name": "upload:99"}, "dataset.name", "upload:99"),
                                  ({"name": "custom", "path": "upload:99"}, "dataset.path", "upload:99"),
                                  ("upload:x", "dataset", "upload:x")):
        response = client.post("/api/jobs", json={**TINY_JOB, "dataset": dataset})
        detail = response.json()["detail"]
        assert response.status_code == 400 and isinstance(detail, str) and "\n" not in detail, response.text
        assert detail.startswith(f"{field}: no uploaded dataset '{named}'"), detail
        assert f"upload:{upload_id}" in detail  # the valid ones
    both = client.post("/api/jobs", json={**TINY_JOB, "dataset": {"name": f"upload:{upload_id}", "path": "x.csv"}})
    # an upload's name with another path is a malformed spec (no file looked at): 422 at the dataset
    assert both.status_code == 422 and both.json()["detail"][0]["loc"] == ["body", "dataset"]
    assert both.json()["detail"][0]["msg"].startswith(f"dataset.name 'upload:{upload_id}'")


def test_experiments_take_the_short_forms(client):
    upload_id = uploaded_id(client)
    response = client.post("/api/experiments", json={
        "base": {**TINY_JOB, "dataset": "msgs"}, "parts": [{"base": {"dataset": {"access_rate": 0.5}}},
                                                           {"datasets": [f"upload:{upload_id}"]}]})
    assert response.status_code == 201, response.text
    jobs = [client.get(f"/api/jobs/{i}").json() for i in response.json()["job_ids"]]
    assert [j["dataset"] for j in jobs] == ["msgs", "msgs", "custom"]
    assert jobs[1]["spec"]["dataset"]["access_rate"] == 0.5
    assert jobs[2]["spec"]["dataset"]["path"].startswith("uploads/")


def test_a_cli_spec_file_may_name_its_dataset(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"dataset": "msgs", "model": "tiny"}))
    args = argparse.Namespace(spec=str(path), set=["dataset.access_rate=0.5"])
    spec = spec_from_args(args)
    assert spec.dataset.name == "msgs" and spec.dataset.access_rate == 0.5


def test_influence_examples_documents_every_parameter(client):
    operation = client.get("/openapi.json").json()["paths"]["/api/jobs/{job_id}/influence/examples"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert set(parameters) == {"job_id", "probe", "step", "k", "phase"}
    for name, parameter in parameters.items():
        assert len(parameter.get("description", "")) > 20, name
    assert parameters["job_id"]["schema"]["minimum"] == 1
    assert parameters["probe"]["schema"]["minimum"] == 0 and parameters["step"]["schema"]["minimum"] == 0
    assert (parameters["k"]["schema"]["minimum"], parameters["k"]["schema"]["maximum"]) == (1, 100)
    schema = client.get("/openapi.json").json()
    ref = next(s for s in parameters["phase"]["schema"]["anyOf"] if "$ref" in s)["$ref"]  # the shared CidPhase
    assert schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["enum"] == ["live", "pre-round", "post-round", "final"]
    assert {"404", "422"} <= set(operation["responses"]) and operation["description"]
    assert client.get("/api/jobs/1/influence/examples?probe=-1&step=0").status_code == 422
    assert client.get("/api/jobs/1/influence/examples?probe=0&step=0&phase=bogus").status_code == 422

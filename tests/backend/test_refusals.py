"""What the worker would refuse is refused at submission (issue 16, item 4), before a 20-60 s model
load: a 422 at the field for what the spec's own shape rules out, a 400 for what this server cannot
run. Nothing refused is queued, and the estimate (which queues nothing) refuses the same."""
from __future__ import annotations

import copy
import json
import os
import signal
import socket

import pytest

from backend.queue.devices import WORKERS_DIR, announce
from tests.helpers import wait_exit

from .conftest import TINY_JOB, wait_for, worker_log

ROUTES = ("/api/jobs", "/api/jobs/estimate")


def spec_with(**changes) -> dict:
    spec = copy.deepcopy(TINY_JOB)
    for key, value in changes.items():
        if key.startswith("dataset_"):
            spec["dataset"][key.removeprefix("dataset_")] = value
        else:
            spec[key] = value
    return spec


def refused(client, spec: dict, status: int) -> list:
    """Post `spec` to both routes; each answers `status`; the 422 errors (or the 400 message)."""
    answers = []
    for route in ROUTES:
        response = client.post(route, json=spec)
        assert response.status_code == status, (route, response.text)
        answers.append(response.json()["detail"])
    assert client.get("/api/jobs").json()["total"] == 0  # nothing queued
    return answers[0]


@pytest.mark.parametrize(("rule", "says"), [
    ("regex:(", "bad regular expression '('"),
    ("regex:a{2,1}", "bad regular expression"),
    ("word:she", "expected 'token:WORD' or 'regex:PATTERN', got 'word:she'"),
    ("token:", "expected 'token:WORD'"),
    ("she", "expected 'token:WORD'"),
])
def test_a_confound_rule_that_does_not_parse_is_422_at_its_field(client, rule, says):
    [error] = refused(client, spec_with(dataset_confound_rule=rule), 422)
    assert error["loc"] == ["body", "dataset", "confound_rule"] and says in error["msg"], error


def test_an_upload_with_a_bad_rule_is_422_too(client):
    response = client.post("/api/datasets", files={"file": ("d.csv", b"text,label\na,0\nb,1\n")},
                           data={"confound_column": "", "confound_rule": "regex:[z"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][-1] == "confound_rule"


def test_a_rule_that_marks_no_text_is_400_at_once(client):
    message = refused(client, spec_with(dataset_confound_rule="token:zebraquux"), 400)
    assert "rule 'token:zebraquux' matches no training text" in message


@pytest.mark.parametrize(("name", "valid"), [("textlen", "train_size"), ("msgs", "inoculation")])
def test_unknown_dataset_options_are_400_naming_the_valid_ones(client, name, valid):
    spec = spec_with(dataset_name=name, dataset_options={"train_size": 64, "no_such_option": 1})
    message = refused(client, spec, 400)
    assert "no_such_option" in message and "valid options:" in message and valid in message, message


def test_the_existing_option_sizes_still_work(client):
    assert client.post("/api/jobs", json=TINY_JOB).status_code == 201


@pytest.mark.parametrize("model", ["", "  ", ".", "./"])
def test_a_model_that_names_the_data_directory_is_422(client, model):
    [error] = refused(client, spec_with(model=model), 422)
    assert error["loc"] == ["body", "model"] and ("a model name is needed" in error["msg"]
                                                or "at least 1 character" in error["msg"])  # "": the bound says it


def test_an_empty_model_directory_is_400(client, settings):
    (settings.data_dir / "models" / "empty").mkdir(parents=True)
    message = refused(client, spec_with(model="models/empty"), 400)
    assert "models/empty" in message and "config.json" in message


@pytest.mark.parametrize("path", ["deconfound.db", ".", "uploads", "./uploads/", "workers"])
def test_a_dataset_path_of_the_database_or_a_service_directory_is_400(client, settings, path):
    assert client.post("/api/datasets", files={"file": ("d.csv", b"text,label,confound\n" + b"".join(
        f"t {i},{i % 2},{i // 2 % 2}\n".encode() for i in range(40)))}).status_code == 201  # uploads/ exists
    (settings.data_dir / WORKERS_DIR).mkdir(exist_ok=True)
    assert (settings.data_dir / "deconfound.db").is_file()
    message = refused(client, spec_with(dataset_name="custom", dataset_path=path), 400)
    assert message.startswith("dataset.path"), message
    assert str(settings.data_dir) not in message


def test_a_dataset_folder_and_a_dataset_file_are_still_fine(client, settings):
    folder = settings.data_dir / "mine"
    folder.mkdir(parents=True)
    rows = "text,label,confound\n" + "".join(f"t {i},{i % 2},{i // 2 % 2}\n" for i in range(40))
    (folder / "train.csv").write_text(rows)
    (settings.data_dir / "all.csv").write_text(rows)
    for path in ("mine", "all.csv"):
        response = client.post("/api/jobs", json=spec_with(dataset_name="custom", dataset_path=path,
                                                           dataset_options={}))
        assert response.status_code == 201, response.text


@pytest.mark.parametrize("device", ["tpu", "cuda:100", "cuda:-1", "gpu", "cuda:1:2", "CPU"])
def test_a_device_torch_does_not_know_is_422(client, device):
    [error] = refused(client, spec_with(device=device), 422)
    assert error["loc"] == ["body", "device"] and "valid: 'auto', 'cpu'" in error["msg"]


def announced_elsewhere(settings, cuda_devices: int, device: str | None = None) -> None:
    """A worker of another machine (its process cannot be checked from here), as announce writes it."""
    folder = settings.data_dir / WORKERS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gpu-box_7.json").write_text(json.dumps({"worker_id": "gpu-box:7", "device": device,
                                                       "cuda_devices": cuda_devices}))


def test_a_cuda_device_beyond_the_workers_is_400(client, settings):
    import torch

    count = torch.cuda.device_count()  # no worker announced: the API's own devices stand in
    message = refused(client, spec_with(device="cuda:99"), 400)
    assert f"this service has {count} CUDA device" in message or "has no CUDA device" in message, message
    announced_elsewhere(settings, cuda_devices=2)
    assert client.post("/api/jobs", json=spec_with(device="cuda:1")).status_code == 201
    response = client.post("/api/jobs", json=spec_with(device="cuda:2"))
    assert response.status_code == 400 and "2 CUDA device(s)" in response.json()["detail"]


def test_a_worker_of_this_machine_that_is_gone_counts_no_more(client, settings):
    gone = f"{socket.gethostname()}:{2**22 + 12345}"  # above any pid_max: no such process
    announce(settings.data_dir, gone, "cuda")
    assert client.post("/api/jobs", json=spec_with(device="cuda:99")).status_code == 400


def test_a_running_worker_with_its_own_device_runs_any_cuda_spec(client, settings, spawn_worker):
    """A worker started with --device runs every job there: while it runs, a CUDA spec is fine;
    once it exits, its announcement is gone."""
    worker = spawn_worker(settings)  # --device cpu
    folder = settings.data_dir / WORKERS_DIR
    wait_for(lambda: list(folder.glob("*.json")), what="the worker's announcement")
    assert client.post("/api/jobs/estimate", json=spec_with(device="cuda:7")).status_code == 200, worker_log(worker)
    os.kill(worker.pid, signal.SIGTERM)
    assert wait_exit(worker) == 0, worker_log(worker)
    assert not list(folder.glob("*.json"))
    assert client.post("/api/jobs/estimate", json=spec_with(device="cuda:99")).status_code == 400

"""Uploading custom datasets: validated by the engine's loader, size-limited, stored under the data dir."""
from __future__ import annotations

import json

from fastapi.testclient import TestClient

from backend.api import create_app
from backend.queue.worker import gone_since_submission
from tests.helpers import wait_exit

from .conftest import TINY_JOB, make_settings, worker_log


def csv_rows(n: int = 40) -> bytes:
    lines = ["text,label,confound,split"]
    for i in range(n):
        split = "train" if i < n * 0.6 else "dev" if i < n * 0.8 else "test"
        lines.append(f"example number {i} is here,{i % 2},{(i // 2) % 2},{split}")
    return ("\n".join(lines) + "\n").encode()


def upload(client, name: str, content: bytes, **form):
    return client.post("/api/datasets", files={"file": (name, content, "application/octet-stream")}, data=form)


def test_csv_upload_then_a_job_on_it(client, settings):
    response = upload(client, "../../mine.csv", csv_rows())
    assert response.status_code == 201, response.text
    uploaded = response.json()
    assert uploaded["name"] == "mine.csv" and uploaded["path"] == f"upload:{uploaded['id']}"
    splits = uploaded["stats"]["splits"]
    assert (splits["train"]["size"], splits["dev"]["size"], splits["test"]["size"]) == (24, 8, 8)
    stored = list((settings.data_dir / "uploads").iterdir())
    assert len(stored) == 1 and stored[0].suffix == ".csv" and stored[0].name != "mine.csv"
    assert stored[0].read_bytes() == csv_rows()
    assert client.get(f"/api/datasets/{uploaded['id']}").json()["stats"] == uploaded["stats"]
    assert [u["id"] for u in client.get("/api/datasets").json()["uploaded"]] == [uploaded["id"]]

    job = client.post("/api/jobs", json={**TINY_JOB, "dataset": {"name": "custom", "path": uploaded["path"]}})
    assert job.status_code == 201, job.text
    assert job.json()["spec"]["dataset"]["path"] == f"uploads/{stored[0].name}"


def test_jsonl_upload_with_its_own_columns(client):
    lines = [json.dumps({"sentence": f"s {i}", "y": ["neg", "pos"][i % 2], "c": i % 3 == 0}) for i in range(30)]
    response = upload(client, "d.jsonl", "\n".join(lines).encode(), text_column="sentence", label_column="y",
                      confound_column="c")
    assert response.status_code == 201, response.text
    uploaded = response.json()
    assert uploaded["stats"]["label_names"] == ["neg", "pos"]
    assert uploaded["columns"]["text_column"] == "sentence"
    job = client.post("/api/jobs", json={**TINY_JOB, "dataset": {"name": "custom", "path": uploaded["path"]}}).json()
    assert job["spec"]["dataset"]["text_column"] == "sentence" and job["spec"]["dataset"]["label_column"] == "y"


def test_confound_rule_instead_of_a_column(client):
    rows = "text,label\n" + "".join(f"{'she' if i // 2 % 2 else 'he'} wrote {i},{i % 2}\n" for i in range(40))
    response = upload(client, "rule.csv", rows.encode(), confound_column="", confound_rule="token:she")
    assert response.status_code == 201, response.text
    assert response.json()["columns"]["confound_rule"] == "token:she"


def test_bad_file_gets_the_engines_one_line_message(client, settings):
    content = b"text,label,confound\nfine,1,0\nno label here,,1\n"
    response = upload(client, "broken.csv", content)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("broken.csv") and "row 3" in detail and "'label'" in detail
    assert str(settings.data_dir) not in detail  # the server's paths stay private
    assert not any((settings.data_dir / "uploads").iterdir())  # nothing kept


def test_wrong_type_and_empty_files(client):
    response = upload(client, "data.xlsx", b"PK\x03\x04")
    assert response.status_code == 400 and ".csv" in response.json()["detail"]
    assert upload(client, "empty.csv", b"").status_code == 400
    assert upload(client, "bad.jsonl", b"{not json}\n").status_code == 400
    assert upload(client, "latin1.csv", "text,label,confound\ncaf\xe9,1,0\n".encode("latin-1")).status_code == 400
    assert client.post("/api/datasets").status_code == 422
    response = upload(client, "d.csv", csv_rows(), text_column="body")
    assert response.status_code == 400 and "'body'" in response.json()["detail"]


def test_size_limit(tmp_path):
    settings = make_settings(tmp_path / "data", upload_limit_mb=2000 / 2**20)  # 2000 bytes
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        assert upload(client, "small.csv", csv_rows(40)).status_code == 201  # about 1.3 kB
        response = upload(client, "big.csv", csv_rows(2000))  # about 70 kB
        assert response.status_code == 413
        assert sorted(p.suffix for p in (settings.data_dir / "uploads").iterdir()) == [".csv"]


def test_a_file_gone_since_submission_fails_the_job_naming_it(client, settings, spawn_worker):
    """The worker trusts the stored spec but checks again what can change: here the upload's file."""
    uploaded = upload(client, "mine.csv", csv_rows()).json()
    job = client.post("/api/jobs", json={**TINY_JOB, "dataset": uploaded["path"]}).json()
    for stored in (settings.data_dir / "uploads").iterdir():
        stored.unlink()
    worker = spawn_worker(settings, "--exit-when-idle")
    assert wait_exit(worker, "the worker") == 0, worker_log(worker)
    failed = client.get(f"/api/jobs/{job['id']}").json()
    assert failed["status"] == "failed", failed
    assert failed["error"].startswith("NotRunnableHere: gone from the data directory since the job was submitted: "
                                      "dataset.path"), failed["error"]


def test_a_cuda_device_is_checked_on_the_worker():
    spec = {"model": "tiny", "device": "cuda:1", "dataset": {"name": "textlen"}}
    assert "device 'cuda:1' is not available" in gone_since_submission(spec, False, cuda_available=False)
    assert gone_since_submission(spec, False, cuda_available=True) is None
    assert gone_since_submission({**spec, "device": "cpu"}, False, cuda_available=False) is None

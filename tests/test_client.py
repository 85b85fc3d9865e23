"""The typed API client (client/api.py) against the real app in-process: answers parsed into the
shared contracts, and every failure one ApiError whose line names the call."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from backend.api import create_app
from client import ApiClient, ApiError
from jobs.contracts.api import ExperimentIn, ExperimentOut, JobList, JobOut, TableOut
from jobs.spec import JobSpec

from .backend.conftest import TINY_JOB, make_settings


@pytest.fixture
def api(tmp_path) -> Iterator[ApiClient]:
    with TestClient(create_app(make_settings(tmp_path / "data")), base_url="http://127.0.0.1") as http:
        yield ApiClient(http)


def test_submit_read_list_and_cancel_are_typed(api):
    job = api.submit(TINY_JOB)
    assert isinstance(job, JobOut) and job.status == "queued" and job.dataset == "textlen"
    assert job.spec["train"]["max_steps"] == 4  # the spec as it will run, defaults filled in
    again = api.submit(JobSpec.model_validate({**TINY_JOB, "seed": 7}))  # a model body: what it sets is sent
    assert again.seed == 7 and again.spec["train"]["max_steps"] == 4
    assert api.job(job.id) == job
    listing = api.jobs(status="queued")
    assert isinstance(listing, JobList) and listing.total == 2 and [j.id for j in listing.items] == [again.id, job.id]
    cancelled = api.cancel(job.id)
    assert cancelled.status == "cancelled" and api.jobs(status="queued").total == 1
    api.delete(job.id)
    assert [j.id for j in api.jobs().items] == [again.id]


def test_experiment_create_read_and_table(api):
    created = api.create_experiment(ExperimentIn(name="pair", base=TINY_JOB, methods=["finetune", "adversarial"]))
    assert isinstance(created, ExperimentOut) and len(created.job_ids) == 2
    assert created.progress.total == 2 and created.progress.queued == 2
    assert [e.id for e in api.experiments()] == [created.id] and api.experiment(created.id).name == "pair"
    table = api.experiment_table(created.id)
    assert isinstance(table, TableOut) and {r.method for r in table.rows} == {"finetune", "adversarial"}
    assert all(r.jobs == 1 and r.finished == 0 and r.test_acc_mean is None for r in table.rows)
    assert api.experiment_cid(created.id).rows == []
    assert {j.experiment_id for j in api.jobs(experiment=created.id).items} == {created.id}


def test_a_404_is_an_api_error_naming_the_call(api):
    with pytest.raises(ApiError) as error:
        api.job(999)
    assert error.value.status == 404 and error.value.method == "GET" and error.value.path == "/api/jobs/999"
    assert str(error.value) == f"the API answered 404 to GET /api/jobs/999: {error.value.detail}"
    assert "999" in error.value.detail and "\n" not in str(error.value)


def test_a_422_carries_its_complaints_by_field(api):
    with pytest.raises(ApiError) as error:
        api.submit({**TINY_JOB, "train": {"lr": -1}})
    assert error.value.status == 422 and list(error.value.fields) == ["train.lr"]
    assert error.value.detail == f"train.lr: {error.value.fields['train.lr']}"
    assert error.value.message.startswith("The API rejected the request: train.lr: ")
    with pytest.raises(ApiError) as error:  # the service's own refusal: a 400 in words
        api.submit({**TINY_JOB, "model": "no-such-model"})
    assert error.value.status == 400 and "no-such-model" in error.value.message and not error.value.fields


def test_the_token_goes_with_every_call(tmp_path):
    with TestClient(create_app(make_settings(tmp_path / "data", api_token="s3cret")), base_url="http://127.0.0.1") as http:
        with pytest.raises(ApiError) as error:
            ApiClient(http).submit(TINY_JOB)
        assert error.value.status == 401 and "DECONFOUND_API_TOKEN" in error.value.message
        assert ApiClient(http, token="wrong").jobs().total == 0  # reads stay open
        with pytest.raises(ApiError):
            ApiClient(http, token="wrong").submit(TINY_JOB)
        job = ApiClient(http, token="s3cret").submit(TINY_JOB)
        assert ApiClient(http, token="s3cret").cancel(job.id).status == "cancelled"
        assert "authorization" not in http.headers  # the client passed in is left as it was


def test_an_unreachable_api_is_one_line_naming_its_url():
    with ApiClient("http://127.0.0.1:9", timeout_s=2) as api, pytest.raises(ApiError) as error:
        api.health()
    assert error.value.status is None and "http://127.0.0.1:9" in str(error.value)
    assert "cannot be reached" in error.value.message and "\n" not in str(error.value)


def test_reproduce_over_the_api_says_the_clients_line(tmp_path):
    """`reproduce --api` (RemoteApi) goes through the same client: its failures are ExperimentError
    with the client's one line."""
    from backend.services.reproduce import ExperimentError, RemoteApi

    with TestClient(create_app(make_settings(tmp_path / "data")), base_url="http://127.0.0.1") as http:
        remote = RemoteApi(client=http)
        request = ExperimentIn(name="over rest", base=TINY_JOB)
        experiment_id, created = remote.find_or_submit(request)
        assert created and remote.find_or_submit(request) == (experiment_id, False)  # resumed, not submitted again
        assert [job.status for job in remote.jobs(experiment_id)] == ["queued"]
        assert [row.method for row in remote.table(experiment_id)] == ["finetune"]
        with pytest.raises(ExperimentError, match=r"^the API answered 404 to GET /api/experiments/999/table: "):
            remote.table(999)

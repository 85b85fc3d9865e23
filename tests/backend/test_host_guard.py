"""No other site drives the service (issue 16, item 6): the API and the dashboard answer only to
their own Host names (DNS rebinding) and act only on requests from their own Origin."""
from __future__ import annotations

import subprocess
import sys

import httpx
from fastapi.testclient import TestClient

from backend.api import create_app
from jobs.contracts.hosts import host_names, host_of, origin_allowed
from tests.backend.conftest import REPO, TINY_JOB, make_settings
from tests.dashboard.stack import free_port, wait_http
from tests.helpers import wait_exit

FOREIGN = {"Host": "attacker.example", "Origin": "http://attacker.example"}


def test_the_api_refuses_a_foreign_host_and_a_foreign_origin_and_the_job_stays_queued(client):
    job = client.post("/api/jobs", json=TINY_JOB).json()
    rebinding = client.post(f"/api/jobs/{job['id']}/cancel", headers=FOREIGN)
    assert rebinding.status_code == 403 and "attacker.example" in rebinding.json()["detail"]
    cross_site = client.post(f"/api/jobs/{job['id']}/cancel", headers={"Origin": "http://attacker.example"})
    assert cross_site.status_code == 403
    assert client.get("/api/jobs", headers={"Host": "attacker.example"}).status_code == 403
    assert client.get(f"/api/jobs/{job['id']}").json()["status"] == "queued"
    # Its own origin (a page served from this server) and no Origin at all (curl, the CLI) act.
    same = client.post(f"/api/jobs/{job['id']}/cancel", headers={"Origin": "http://127.0.0.1"})
    assert same.status_code == 200 and same.json()["status"] == "cancelled"


def test_the_allow_list_admits_a_proxy_name_and_every_interface_without_one_admits_any(tmp_path):
    proxied = make_settings(tmp_path / "a", allowed_hosts="deconfound.lab.example")
    with TestClient(create_app(proxied), base_url="http://deconfound.lab.example") as client:
        assert client.get("/api/jobs").status_code == 200
        assert client.get("/api/jobs", headers={"Host": "other.example"}).status_code == 403
    everywhere = make_settings(tmp_path / "b", host="0.0.0.0")
    with TestClient(create_app(everywhere), base_url="http://any.example") as client:
        assert client.get("/api/jobs").status_code == 200


def test_host_rules():
    assert host_of("[::1]:8000") == "::1" and host_of("http://LocalHost:8050") == "localhost"
    names = host_names("127.0.0.1", "a.example, b.example")
    assert {"127.0.0.1", "localhost", "::1", "a.example", "b.example"} <= set(names)
    assert host_names("0.0.0.0") is None and "x.example" in host_names("0.0.0.0", "x.example")
    assert origin_allowed(None, "127.0.0.1:8050", names)
    assert not origin_allowed("null", "127.0.0.1:8050", names)
    assert not origin_allowed("http://localhost:8050", "127.0.0.1:8050", names)  # another origin than Host's
    assert origin_allowed("http://127.0.0.1:8050", "127.0.0.1:8050", names)


def test_the_dashboard_refuses_a_foreign_host_and_a_foreign_origin(tmp_path):
    port = free_port()
    log_path = tmp_path / "dashboard.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, "-m", "dashboard"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                   env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO),
                                        "DECONFOUND_DASHBOARD_PORT": str(port),
                                        "DECONFOUND_API_URL": f"http://127.0.0.1:{free_port()}"})
    process.log_path = log_path
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/", process)
        with httpx.Client(base_url=url) as http:
            assert http.get("/").status_code == 200
            rebinding = http.get("/", headers={"Host": f"attacker.example:{port}"})
            assert rebinding.status_code == 403 and "attacker.example" in rebinding.text
            callback = {"output": "api-health.children", "outputs": [], "inputs": [], "changedPropIds": []}
            cross_site = http.post("/_dash-update-component", json=callback,
                                   headers={"Origin": "http://attacker.example"})
            assert cross_site.status_code == 403 and "origin" in cross_site.text
            own = http.post("/_dash-update-component", json=callback, headers={"Origin": url})
            assert own.status_code != 403
    finally:
        process.terminate()
        wait_exit(process, "the dashboard")

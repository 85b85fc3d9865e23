"""Cancel latency: from `POST /api/jobs/{id}/cancel` to the job's status `cancelled`, with a real
worker process running a tiny job that would never end on its own.

The worker learns of a cancel at its lease keeper's next heartbeat (DECONFOUND_HEARTBEAT_S, 1 s
by default) and stops at the next label step, so the baseline of the same run is the heartbeat
interval: the ratio latency / heartbeat says how many heartbeats a cancel takes (about 1 when
nothing else is in the way). The test of cancelling (tests/backend/test_crash_and_cancel.py)
checks that the job stops and the worker goes on; it asserted "under 5 s" until a loaded
machine broke it, and this measures it instead.

    .venv/bin/python benchmarks/service/cancel_latency.py [--repeats 5] [--heartbeat 1.0]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import support
from fastapi.testclient import TestClient

from backend.api import create_app
from backend.settings import load_settings

ENDLESS_JOB = {"model": "tiny", "method": "finetune",
               "dataset": {"name": "textlen", "options": {"train_size": 64, "dev_size": 32, "test_size": 32}},
               "train": {"max_steps": 1_000_000, "batch_size": 8, "epochs": 1000, "eval_every": 50},
               "diagnostics": {"probes": 2, "sample": 2, "cid_every": 0, "histogram_probes": 1}}


def poll(predicate, what: str, ceiling_s: float = 600.0, every_s: float = 0.02):
    deadline = time.monotonic() + ceiling_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise RuntimeError(f"no {what} within {ceiling_s:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--heartbeat", type=float, default=1.0, help="the worker's DECONFOUND_HEARTBEAT_S")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        database_url = f"sqlite:///{data_dir / 'deconfound.db'}"
        os.environ.update(DECONFOUND_DATA_DIR=str(data_dir), DECONFOUND_DATABASE_URL=database_url)
        env = support.service_env(data_dir, database_url, DECONFOUND_HEARTBEAT_S=str(args.heartbeat),
                                  OMP_NUM_THREADS="1")
        latencies = []
        with TestClient(create_app(load_settings()), base_url="http://127.0.0.1") as client:
            worker = subprocess.Popen([sys.executable, "-m", "backend.cli", "worker", "--device", "cpu"],
                                      cwd=support.REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                for _ in range(args.repeats):
                    job_id = client.post("/api/jobs", json=ENDLESS_JOB).json()["id"]
                    def steps(job_id=job_id) -> int:
                        return client.get(f"/api/jobs/{job_id}").json()["progress"]["step"] or 0

                    poll(lambda: steps() >= 3, "label steps")
                    asked = time.perf_counter()
                    client.post(f"/api/jobs/{job_id}/cancel")
                    poll(lambda job_id=job_id: client.get(f"/api/jobs/{job_id}").json()["status"] == "cancelled",
                         "cancel")
                    latencies.append(time.perf_counter() - asked)
            finally:
                worker.terminate()
                worker.wait()
    median = statistics.median(latencies)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print("cancel -> cancelled, s: " + ", ".join(f"{s:.2f}" for s in latencies)
          + f"; median {median:.2f}, worst {max(latencies):.2f}")
    print(f"ratio median latency / heartbeat interval ({args.heartbeat:g} s): {median / args.heartbeat:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

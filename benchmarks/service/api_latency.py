"""API latency: p50 / p99 of reading a job with 100k points, 20 concurrent clients, real server.

A job with 100,000 scalar points (4 series x 25,000 steps) and 500 CID points is written with
the store recorder; `deconfound api` serves it (uvicorn, one process); 20 asyncio clients
send requests back to back. Reads measured: the whole series (100k points, about 2.6 MB of
JSON), the series thinned to 2,000 points (what a chart needs), an incremental poll
(since_step near the end, what a live dashboard sends), the CID points, and the job itself.

    .venv/bin/python benchmarks/service/api_latency.py [--clients 20] [--database-url postgresql://...]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import support

from backend.queue.claims import claim_next
from backend.services.jobs import new_job
from backend.settings import default_database_url
from backend.store.db import Database
from backend.store.recorder import StoreRecorder
from jobs.spec import JobSpec

SERIES, STEPS = ("loss/train", "acc/train", "acc/dev", "acc/test"), 25_000


def fill(db: Database) -> int:
    """A job with 4 x 25,000 scalar points and 500 CID points; returns its id."""
    with db.session() as session:
        job = new_job(JobSpec.model_validate({"model": "tiny"}))
        session.add(job)
        session.commit()
    claim = claim_next(db, "bench", lease_s=3600)
    recorder = StoreRecorder(db, claim.job_id, claim.attempt, "bench", max_queued=50_000)
    for step in range(1, STEPS + 1):
        for name in SERIES:
            recorder.scalar(name, step, 1.0 / step)
        if step % 50 == 0:
            recorder.cid(step, "live", 0.1, per_probe=[0.1] * 40)
    recorder.flush()
    return claim.job_id


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def measure(base: str, path: str, clients: int, per_client: int) -> dict[str, float]:
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=httpx.Limits(max_connections=clients)) as http:
        async def one_client():
            for _ in range(per_client):
                start = time.perf_counter()
                response = await http.get(path)
                response.raise_for_status()
                await response.aread()
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        wall = time.perf_counter() - start
        size = len((await http.get(path)).content)
    return {"p50_ms": 1000 * statistics.median(latencies), "p99_ms": 1000 * percentile(latencies, 99),
            "requests_per_s": len(latencies) / wall, "requests": len(latencies), "bytes": size}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary data dir")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        url = args.database_url or default_database_url(data_dir)
        db = Database(url)
        db.migrate()
        started = time.perf_counter()
        job_id = fill(db)
        print(f"wrote 100,000 points in {time.perf_counter() - started:.1f} s ({db.engine.dialect.name})")
        db.dispose()
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "backend.cli", "api", "--port", str(port), "--no-migrate"],
                                  cwd=support.REPO, env=support.service_env(data_dir, url))
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            scenarios = {
                "metrics, all 100k points": (f"/api/jobs/{job_id}/metrics", 5),
                "metrics, max_points=2000": (f"/api/jobs/{job_id}/metrics?max_points=2000", 10),
                "metrics, since_step (poll)": (f"/api/jobs/{job_id}/metrics?since_step={STEPS - 10}", 50),
                "cid, 500 points": (f"/api/jobs/{job_id}/cid", 20),
                "job": (f"/api/jobs/{job_id}", 50),
            }
            figures = {}
            for label, (path, per_client) in scenarios.items():
                figures[label] = asyncio.run(measure(base, path, args.clients, per_client))
                f = figures[label]
                print(f"{label:28s} p50 {f['p50_ms']:8.1f} ms   p99 {f['p99_ms']:8.1f} ms   "
                      f"{f['requests_per_s']:7.1f} req/s   {f['bytes'] / 1e3:8.1f} kB   ({f['requests']} requests, "
                      f"{args.clients} clients)")
        finally:
            server.terminate()
            server.wait()
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

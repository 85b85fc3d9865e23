"""The real thing, for the dashboard's tests and benchmark: the API, a worker and the dashboard
as subprocesses on a temporary data directory (SQLite), headless Chromium with its driver, and
a way to seed a large run straight into the store."""
from __future__ import annotations

import base64
import math
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.helpers import WAIT_S, wait_for

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
BROWSER_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage")
INSTALL_COMMAND = "apt-get update && apt-get install -y chromium chromium-driver"

# Tiny jobs that finish in seconds on a CPU (the example).
TINY_DATASET = {"name": "textlen", "options": {"train_size": 64, "dev_size": 32, "test_size": 32}}
TINY = {"model": "tiny", "device": "cpu", "dataset": TINY_DATASET, "train": {"max_steps": 6, "eval_every": 2},
        "diagnostics": {"probes": 4, "sample": 4, "cid_every": 2, "histogram_probes": 2},
        "influence": {"interval": 3, "probes_per_round": 4, "k": 2, "round_epochs": 1, "tuples_per_update": 4,
                      "scope": "head"}}
# As TINY, but long enough and fast enough to fit train (succeeded, not collapsed): Table 2 counts it.
FITTING = {**TINY, "train": {"max_steps": 24, "eval_every": 4, "lr": 3e-3, "batch_size": 16, "warmup": 0},
           "diagnostics": {**TINY["diagnostics"], "cid_every": 4}, "influence": {**TINY["influence"], "interval": 8}}


def ensure_browser() -> None:
    """Install Debian's chromium and chromium-driver when they are missing (as root, or with
    passwordless sudo); raise RuntimeError saying what to run if that is not possible."""
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    prefix = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if prefix is None:
        raise RuntimeError(f"the browser tests need Chromium: run `{INSTALL_COMMAND}` as root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium", "chromium-driver"]):
        done = subprocess.run([*prefix, *command], env=env, capture_output=True, text=True, timeout=WAIT_S)
        if done.returncode != 0:
            raise RuntimeError(f"`{' '.join(command)}` failed ({done.returncode}): {done.stderr[-800:]}")
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        raise RuntimeError(f"{CHROMIUM} or {CHROMEDRIVER} still missing after installing")


def start_browser(download_dir: Path | None = None, width: int = 1400, height: int = 1000,
                  extra_flags: tuple[str, ...] = ()):
    """Headless Chromium through chromedriver (both from Debian); downloads go to download_dir."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*BROWSER_FLAGS, f"--window-size={width},{height}", *extra_flags):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_S)  # chromedriver's own default is 300 s: a busy machine may need more
    if download_dir is not None:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(download_dir)})
    return driver


# Flags that cut a browser off every host but this machine: names resolve to nothing, and any
# other request goes to a proxy that is not there (Chromium never proxies loopback addresses).
OFFLINE_FLAGS = ("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                 "--proxy-server=http://127.0.0.1:9")


def full_page_screenshot(driver, path: Path) -> None:
    """The whole page, not only the window, as a PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    width = driver.execute_script("return document.documentElement.scrollWidth")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": min(height, 12000), "deviceScaleFactor": 1, "mobile": False})
    try:
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        path.write_bytes(base64.b64decode(shot["data"]))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen, timeout_s: float | None = None) -> None:
    """Wait until `url` answers 200 (fail early if the process died; after the suite's ceiling,
    tests.helpers.WAIT_S, if it never answers)."""
    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}; see {process.log_path}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    wait_for(answers, f"{url} to answer (see {process.log_path})", timeout_s=timeout_s, every_s=0.3)


class Stack:
    """API, worker and dashboard processes on one data directory; stop() ends all of them."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.data_dir = self.root / "data"
        self.database_url = f"sqlite:///{self.data_dir / 'deconfound.db'}"
        self.processes: list[subprocess.Popen] = []
        self.api_url = self.dashboard_url = ""

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "DECONFOUND_DATA_DIR": str(self.data_dir), "DECONFOUND_DATABASE_URL": self.database_url,
                "DECONFOUND_HEARTBEAT_S": "0.5", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), **extra}

    def _spawn(self, name: str, args: list[str], **extra: str) -> subprocess.Popen:
        log_path = self.root / f"{name}.log"
        log = log_path.open("w")
        process = subprocess.Popen([sys.executable, *args], cwd=REPO, env=self.env(**extra), stdout=log,
                                   stderr=subprocess.STDOUT)
        process.log_path = log_path
        self.processes.append(process)
        return process

    def start_api(self) -> str:
        port = free_port()
        process = self._spawn("api", ["-m", "backend.cli", "api", "--port", str(port)])
        self.api_url = f"http://127.0.0.1:{port}"
        wait_http(f"{self.api_url}/healthz", process)
        return self.api_url

    def start_worker(self) -> subprocess.Popen:
        return self._spawn(f"worker-{len(self.processes)}", ["-m", "backend.cli", "worker", "--device", "cpu"])

    def start_dashboard(self, api_url: str | None = None, name: str = "dashboard") -> str:
        port = free_port()
        process = self._spawn(name, ["-m", "dashboard"], DECONFOUND_API_URL=api_url or self.api_url,
                              DECONFOUND_DASHBOARD_PORT=str(port))
        url = f"http://127.0.0.1:{port}"
        wait_http(url, process)
        if name == "dashboard":
            self.dashboard_url = url
        return url

    def logs(self) -> str:
        return "\n".join(f"--- {p.log_path.name}\n{p.log_path.read_text()[-3000:]}" for p in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)  # a grace period before the kill, not a check
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def seed_large_run(database_url: str, points: int = 50_000, cid_every: int = 50, round_every: int = 500,
                   probes: int = 40) -> int:
    """A finished finetune-like run written straight into the store: `points` loss/train points,
    accuracy every 100 steps, a CID point every cid_every steps (with per-probe values) and a
    pre/post-round pair every round_every steps. Returns its job id."""
    from backend.queue.claims import Claim, finish
    from backend.store.db import Database
    from backend.store.models import Job, utcnow
    from backend.store.recorder import StoreRecorder
    from jobs.contracts.cid import CidPoint
    from jobs.contracts.results import JobResults
    from jobs.recorder import InfluenceLists

    db = Database(database_url)
    db.migrate()
    spec = {**TINY, "method": "influence-tuning", "train": {"max_steps": points, "eval_every": 100}}
    with db.writing() as session:
        job = Job(spec=spec, dataset="textlen", method="influence-tuning", model="tiny", seed=2021, params={},
                  status="running", attempt=1, worker_id="seed", cancel_requested=False, created_at=utcnow(),
                  started_at=utcnow(), heartbeat_at=utcnow())
        session.add(job)
        session.flush()
        job_id = job.id
    recorder = StoreRecorder(db, job_id, 1, "seed", max_queued=100_000)
    for step in range(1, points + 1):
        recorder.scalar("loss/train", step, 0.7 * math.exp(-step / 8000) + 0.02 * math.sin(step / 7))
        if step % 100 == 0:
            for split, offset in (("train", 0.0), ("dev", 0.05), ("test", 0.08)):
                recorder.scalar(f"acc/{split}", step, min(1.0, 0.5 + step / (2 * points)) - offset)
    for step in range(0, points, cid_every):
        value = 0.1 * math.exp(-step / 20000)
        phases = ("pre-round", "post-round") if step and step % round_every == 0 else ("live",)
        for phase in phases:
            drop = 0.6 if phase == "post-round" else 1.0
            recorder.cid(CidPoint(step=step, phase=phase, value=value * drop, per_probe=[value * drop] * probes, extra={"p_median": 0.01}))
    recorder.cid(CidPoint(step=points, phase="final", value=0.05, per_probe=[0.05] * probes, extra={"p_median": 0.02}))
    recorder.influence(InfluenceLists(step=points, probe=3, a_index=[0, 1, 2, 5], a_scores=[0.3, 0.25, 0.2, 0.31],
                                      b_index=[6, 7, 8, 9], b_scores=[0.1, 0.12, 0.05, 0.08]))
    split = {"acc": 0.8, "worst_group_acc": 0.6, "agree_acc": 0.9, "disagree_acc": 0.7, "flip_rate": 0.1, "n": 32,
             "per_group": {"short|Negative .": 0.9, "short|Positive .": 0.6, "long|Negative .": 0.7,
                           "long|Positive .": 0.95}}
    recorder.progress(points, points, 0.0)
    recorder.result(JobResults.model_validate({"train": split, "dev": split, "test": split, "cid": 0.05,
                                               "steps": points}))
    recorder.flush()
    finish(db, Claim(job_id, 1, "seed", spec), "succeeded", wall_s=1.0)
    db.dispose()
    return job_id


def running_job(database_url: str, spec: dict | None = None):
    """A job row that looks claimed by a worker, and a store recorder writing its points: for
    tests that need to control exactly when which point appears. Returns (db, job_id, recorder)."""
    from backend.store.db import Database
    from backend.store.models import Job, utcnow
    from backend.store.recorder import StoreRecorder

    db = Database(database_url)
    spec = spec or {**TINY, "method": "influence-tuning"}
    with db.writing() as session:
        job = Job(spec=spec, dataset=spec["dataset"]["name"], method=spec["method"], model=spec["model"], seed=2021,
                  params={}, status="running", attempt=1, worker_id="test", cancel_requested=False,
                  created_at=utcnow(), started_at=utcnow(), heartbeat_at=utcnow())
        session.add(job)
        session.flush()
        job_id = job.id
    return db, job_id, StoreRecorder(db, job_id, 1, "test")


def end_job(db, job_id: int, status: str = "cancelled") -> None:
    """Finish a job made by running_job (else a real worker would take it up once its lease ends)."""
    from backend.queue.claims import Claim, finish

    finish(db, Claim(job_id, 1, "test", {}), status)
    db.dispose()

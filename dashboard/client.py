"""The dashboard's only door to the world: a small client of the REST API.

Every page gets its numbers through `api()` (the client of the running app) and nothing else.
Failures become ApiError with a sentence fit to be shown on the page as it is.
"""
from __future__ import annotations

from typing import Any

import httpx

TIMEOUT_S = 15.0


class ApiError(Exception):
    """A failed API call. `message` is shown to the user; `fields` maps a spec field
    ("train.lr") to its validation message when the API rejected a spec (422)."""

    def __init__(self, message: str, status: int | None = None, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.fields = fields or {}


def _field_errors(detail: list[dict[str, Any]]) -> dict[str, str]:
    """FastAPI's 422 detail as {"train.lr": "Input should be greater than 0"}."""
    fields: dict[str, str] = {}
    for error in detail:
        loc = [str(part) for part in error.get("loc", [])]
        if loc and loc[0] == "body":
            loc = loc[1:]
        if len(loc) >= 2 and loc[0] == "expanded":  # an experiment's n-th job
            loc = loc[2:]
        key = ".".join(loc) or "spec"
        fields.setdefault(key, error.get("msg", "invalid"))
    return fields


def _error_of(response: httpx.Response) -> ApiError:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text.strip()[:300]
    if isinstance(detail, list):
        fields = _field_errors(detail)
        words = "; ".join(f"{key}: {msg}" for key, msg in fields.items())
        return ApiError(f"The API rejected the request: {words}", response.status_code, fields)
    if response.status_code == 401:
        return ApiError("The API needs a token: set DECONFOUND_API_TOKEN for the dashboard too.", 401)
    return ApiError(str(detail or f"The API answered {response.status_code}"), response.status_code)


class ApiClient:
    """Calls to the deconfound API at `base_url`; `token` is sent on mutating calls."""

    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = TIMEOUT_S):
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)

    def _call(self, method: str, path: str, **kwargs) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ApiError(f"The API at {self.base_url} cannot be reached ({type(error).__name__}). "
                           "Is `deconfound api` running?") from None
        if response.status_code >= 400:
            raise _error_of(response)
        return response.json() if response.content else None

    @staticmethod
    def _params(**params) -> dict[str, Any]:
        return {k: v for k, v in params.items() if v is not None and v != ""}

    # Service and catalogue
    def health(self) -> dict:
        return self._call("GET", "/healthz")

    def datasets(self) -> dict:
        return self._call("GET", "/api/datasets")

    def dataset_samples(self, name: str, split: str = "train", per_group: int = 3) -> dict:
        return self._call("GET", f"/api/datasets/{name}/samples", params={"split": split, "per_group": per_group})

    def upload_dataset(self, filename: str, content: bytes, fields: dict[str, str | None]) -> dict:
        return self._call("POST", "/api/datasets", files={"file": (filename, content)},
                          data={k: v for k, v in fields.items() if v is not None})

    def models(self) -> dict:
        return self._call("GET", "/api/models")

    def methods(self) -> dict:
        return self._call("GET", "/api/methods")

    def presets(self) -> dict:
        return self._call("GET", "/api/presets")

    # Jobs
    def jobs(self, status: str | None = None, dataset: str | None = None, method: str | None = None,
             experiment: int | None = None, limit: int = 50, offset: int = 0) -> dict:
        return self._call("GET", "/api/jobs", params=self._params(
            status=status, dataset=dataset, method=method, experiment=experiment, limit=limit, offset=offset))

    def job(self, job_id: int) -> dict:
        return self._call("GET", f"/api/jobs/{job_id}")

    def submit(self, spec: dict) -> dict:
        return self._call("POST", "/api/jobs", json=spec)

    def estimate(self, spec: dict) -> dict:
        """Validate a spec as a submission would, and count its cost; queues nothing."""
        return self._call("POST", "/api/jobs/estimate", json=spec)

    def cancel(self, job_id: int) -> dict:
        return self._call("POST", f"/api/jobs/{job_id}/cancel")

    def delete(self, job_id: int) -> None:
        self._call("DELETE", f"/api/jobs/{job_id}")

    # A job's data
    def metrics(self, job_id: int, names: list[str] | None = None, since_step: int | None = None,
                max_points: int | None = None) -> dict:
        """Training curves; max_points thins each on the server (None: every point, for downloads)."""
        params = self._params(since_step=since_step, max_points=max_points)
        if names:
            params["name"] = names
        return self._call("GET", f"/api/jobs/{job_id}/metrics", params=params)

    def cid(self, job_id: int, since_step: int | None = None) -> dict:
        """Every CID point with its per-probe values (for downloads)."""
        return self._call("GET", f"/api/jobs/{job_id}/cid", params=self._params(since_step=since_step))

    def cid_display(self, job_id: int, since_step: int | None = None, max_points: int | None = None) -> dict:
        """CID means only (step, phase, value), thinned on the server (for figures)."""
        return self._call("GET", f"/api/jobs/{job_id}/cid/display",
                          params=self._params(since_step=since_step, max_points=max_points))

    def influence(self, job_id: int, probe: int | None = None, step: int | None = None, k: int = 5,
                  phase: str | None = None) -> dict:
        return self._call("GET", f"/api/jobs/{job_id}/influence",
                          params=self._params(probe=probe, step=step, phase=phase, k=k))

    def probe_examples(self, job_id: int, probe: int, step: int, k: int = 5, phase: str | None = None) -> dict:
        return self._call("GET", f"/api/jobs/{job_id}/influence/examples",
                          params=self._params(probe=probe, step=step, phase=phase, k=k))

    def results(self, job_id: int) -> dict:
        return self._call("GET", f"/api/jobs/{job_id}/results")

    def logs(self, job_id: int) -> dict:
        return self._call("GET", f"/api/jobs/{job_id}/logs")

    def diagnostics(self, job_id: int) -> dict:
        """Every diagnostic payload of a job, {"names": [...], "items": {name: payload}}."""
        return self._call("GET", f"/api/jobs/{job_id}/diagnostics")

    def diagnostic(self, job_id: int, name: str) -> dict:
        return self._call("GET", f"/api/jobs/{job_id}/diagnostics/{name}")

    def chain(self, job_id: int) -> dict:
        """The finetune parent, NeuronTune job and follow-ups around a job; "compare" lists them."""
        return self._call("GET", f"/api/jobs/{job_id}/chain")

    def tune_suggestion(self, job_id: int, rank: int, changes: dict | None = None) -> dict:
        """Queue influence tuning with a NeuronTune job's suggestion `rank` (from 1) as confound."""
        return self._call("POST", f"/api/jobs/{job_id}/suggestions/{rank}/tune", json=changes or {})

    # Experiments
    def create_experiment(self, body: dict) -> dict:
        return self._call("POST", "/api/experiments", json=body)

    def experiments(self) -> list[dict]:
        return self._call("GET", "/api/experiments")

    def experiment_table(self, experiment_id: int) -> dict:
        return self._call("GET", f"/api/experiments/{experiment_id}/table")

    def experiment_cid(self, experiment_id: int) -> dict:
        """Figure 3 as numbers: each method's mean CID over its succeeded runs per step and phase."""
        return self._call("GET", f"/api/experiments/{experiment_id}/cid")

    def experiment(self, experiment_id: int) -> dict:
        """One experiment with its progress (jobs done of total, counts by status, ETA)."""
        return self._call("GET", f"/api/experiments/{experiment_id}")

    def reproduce(self, body: dict) -> dict:
        """Queue the paper's protocol on one dataset as one experiment (kind "reproduce")."""
        return self._call("POST", "/api/experiments/reproduce", json=body)

    def preview_reproduction(self, body: dict) -> dict:
        """What reproduce(body) would queue: job count by method and the scale's estimated wall seconds."""
        return self._call("POST", "/api/experiments/reproduce/preview", json=body)

    def search_spaces(self) -> list[dict]:
        """The paper's hyperparameter grids (its Appendix A) per dataset and method."""
        return self._call("GET", "/api/experiments/search-spaces")

    def protocols(self) -> list[dict]:
        """Per dataset: the methods of Table 2 and those Table 3 repeats at each access rate."""
        return self._call("GET", "/api/experiments/protocols")

    def scales(self) -> list[dict]:
        """The scales a reproduction runs at (model, seeds, minutes per job)."""
        return self._call("GET", "/api/experiments/scales")


_clients: dict[str, ApiClient] = {}


def api() -> ApiClient:
    """The client of the app serving the current request (its API URL is in the Flask config)."""
    from flask import current_app

    from dashboard.settings import load_dashboard_settings

    url = current_app.config["DECONFOUND_API_URL"]
    if url not in _clients:
        _clients[url] = ApiClient(url, token=load_dashboard_settings().api_token)
    return _clients[url]

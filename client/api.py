"""One typed client of the REST API, thin over httpx and the shared contracts.

    api = ApiClient("http://127.0.0.1:8000", token=...)     # a running service
    api = ApiClient(TestClient(create_app(settings)))          # the app in-process (tests)
    job = api.submit({"model": "tiny", "method": "finetune"})  # -> JobOut
    api.job(job.id).status

Every method returns the route's answer parsed into its model from jobs.contracts.api (the same
class the route answers with), so a field the server adds is a field here. Every failure is an
ApiError: `str(error)` is one line naming the call ("the API answered 404 to GET /api/jobs/9:
no job 9"), `message` the server's words fit for a page, `fields` a 422's complaints by spec
field. Bodies may be the contract models (JobSpec, ExperimentIn, ReproduceIn) or plain dicts:
a dict is sent as it is, so the server, not this client, judges it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from jobs.contracts.api import (
    ChainOut,
    CidDisplayOut,
    CidOut,
    CidTrajectoriesOut,
    DiagnosticOut,
    DiagnosticsOut,
    Estimate,
    ExperimentIn,
    ExperimentOut,
    InfluenceOut,
    JobList,
    JobOut,
    LogOut,
    MetricsOut,
    ModelsOut,
    ProbeExamplesOut,
    ProtocolOut,
    ReproduceIn,
    ReproducePreview,
    ResultsOut,
    SamplesOut,
    ScaleOut,
    SearchSpaceOut,
    TableOut,
    TuneRequest,
    UploadOut,
)
from jobs.contracts.catalogue import DatasetsOut, HealthOut, MethodsOut, PresetsOut
from jobs.contracts.json_value import JsonObject
from jobs.spec import JobSpec

TIMEOUT_S = 30.0
DETAIL_CHARS = 300  # of a non-JSON error body

Model = TypeVar("Model", bound=BaseModel)


class ApiError(Exception):
    """A failed call. status: the HTTP status (None: no answer, the API could not be reached);
    detail: the server's words (a 422's complaints joined: "train.lr: Input should be greater
    than 0"); fields: a 422's complaints by spec field; message: what to show a person."""

    def __init__(self, status: int | None, detail: str, method: str = "", path: str = "",
                 fields: dict[str, str] | None = None):
        self.status, self.detail, self.method, self.path = status, detail, method, path
        self.fields = fields or {}
        line = f"the API answered {status} to {method} {path}: {detail}" if status is not None else detail
        super().__init__(" ".join(line.split()))  # one line, whatever the server wrote

    @property
    def message(self) -> str:
        if self.status == 422:
            return f"The API rejected the request: {self.detail}"
        if self.status == 401:
            return f"The API needs a token ({self.detail}): set DECONFOUND_API_TOKEN for this client too."
        return self.detail

    @classmethod
    def of(cls, response: httpx.Response) -> ApiError:
        """The error a failed answer stands for."""
        try:
            method, path = response.request.method, response.request.url.path
        except RuntimeError:  # a response made by hand
            method, path = "", ""
        try:
            detail = response.json().get("detail")
        except (ValueError, AttributeError):
            detail = response.text.strip()[:DETAIL_CHARS]
        fields = field_errors(detail) if isinstance(detail, list) else {}
        words = "; ".join(f"{key}: {msg}" for key, msg in fields.items()) if fields else str(
            detail or f"status {response.status_code}")
        return cls(response.status_code, words, method, path, fields)

    @classmethod
    def unreachable(cls, url: str, error: Exception, method: str = "", path: str = "") -> ApiError:
        return cls(None, f"The API at {url} cannot be reached ({type(error).__name__}). Is `deconfound api` running?",
                   method, path)


def field_errors(detail: list[Any]) -> dict[str, str]:
    """FastAPI's 422 detail as {"train.lr": "Input should be greater than 0"}: the location less
    "body" (and, for an experiment's n-th job, less "expanded", n)."""
    fields: dict[str, str] = {}
    for error in detail:
        error = error if isinstance(error, dict) else {"msg": str(error)}
        loc = [str(part) for part in error.get("loc", [])]
        if loc and loc[0] == "body":
            loc = loc[1:]
        if len(loc) >= 2 and loc[0] == "expanded":
            loc = loc[2:]
        fields.setdefault(".".join(loc) or "spec", str(error.get("msg", "invalid")))
    return fields


def _body(body: BaseModel | JsonObject | None) -> Any:
    if isinstance(body, JobSpec):  # what the caller set: a preset fills in the rest on the server, as for a dict
        return body.model_dump(mode="json", exclude_unset=True)
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json")
    return body


class ApiClient:
    """The API at `base`: a URL, or an httpx.Client (its base URL is used) such as fastapi's
    TestClient, for the app in-process. `token` goes in an Authorization header of every call
    (the server checks it on mutating ones)."""

    def __init__(self, base: str | httpx.Client, token: str | None = None, timeout_s: float = TIMEOUT_S):
        if isinstance(base, str):
            self.http, self._owned = httpx.Client(base_url=base.rstrip("/"), timeout=timeout_s), True
        else:  # httpx.Client's interface: Starlette's TestClient is one (of httpx or of its fork httpx2)
            self.http, self._owned = base, False
        # per request, so that an httpx.Client passed in is left as it was
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = str(self.http.base_url).rstrip("/")

    def close(self) -> None:
        """Close the connection pool (not that of an httpx.Client passed in)."""
        if self._owned:
            self.http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    # The one place a request is made
    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        """A call whose answer is a success (else ApiError)."""
        try:
            response = self.http.request(method, path, headers=self._headers, **kwargs)
        except httpx.HTTPError as error:
            raise ApiError.unreachable(self.base_url, error, method, path) from None
        if response.status_code >= 400:
            raise ApiError.of(response)
        return response

    def _get(self, model: type[Model], method: str, path: str, **kwargs) -> Model:
        return self._parse(model.model_validate, method, path, **kwargs)

    def _list(self, model: type[Model], method: str, path: str, **kwargs) -> list[Model]:
        return self._parse(TypeAdapter(list[model]).validate_python, method, path, **kwargs)

    def _parse(self, validate: Callable[[Any], Any], method: str, path: str, **kwargs) -> Any:
        response = self.request(method, path, **kwargs)
        try:
            return validate(response.json())
        except (ValueError, ValidationError) as error:  # another version of the API
            words = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ApiError(response.status_code, f"an answer this client cannot read ({words})",
                           method, path) from None

    @staticmethod
    def _params(**params) -> JsonObject:
        return {k: v for k, v in params.items() if v is not None and v != ""}

    # Service and catalogue
    def health(self) -> HealthOut:
        return self._get(HealthOut, "GET", "/healthz")

    def datasets(self) -> DatasetsOut:
        return self._get(DatasetsOut, "GET", "/api/datasets")

    def dataset_samples(self, name: str, split: str = "train", per_group: int = 3) -> SamplesOut:
        return self._get(SamplesOut, "GET", f"/api/datasets/{name}/samples",
                         params={"split": split, "per_group": per_group})

    def upload_dataset(self, filename: str, content: bytes, fields: dict[str, str | None] | None = None) -> UploadOut:
        return self._get(UploadOut, "POST", "/api/datasets", files={"file": (filename, content)},
                         data={k: v for k, v in (fields or {}).items() if v is not None})

    def upload(self, upload_id: int) -> UploadOut:
        return self._get(UploadOut, "GET", f"/api/datasets/{upload_id}")

    def models(self) -> ModelsOut:
        return self._get(ModelsOut, "GET", "/api/models")

    def methods(self) -> MethodsOut:
        return self._get(MethodsOut, "GET", "/api/methods")

    def presets(self) -> PresetsOut:
        return self._get(PresetsOut, "GET", "/api/presets")

    # Jobs
    def jobs(self, status: str | None = None, dataset: str | None = None, method: str | None = None,
             experiment: int | None = None, limit: int = 50, offset: int = 0) -> JobList:
        return self._get(JobList, "GET", "/api/jobs", params=self._params(
            status=status, dataset=dataset, method=method, experiment=experiment, limit=limit, offset=offset))

    def job(self, job_id: int) -> JobOut:
        return self._get(JobOut, "GET", f"/api/jobs/{job_id}")

    def submit(self, spec: JobSpec | JsonObject) -> JobOut:
        return self._get(JobOut, "POST", "/api/jobs", json=_body(spec))

    def estimate(self, spec: JobSpec | JsonObject) -> Estimate:
        """Validate a spec as a submission would, and count its cost; queues nothing."""
        return self._get(Estimate, "POST", "/api/jobs/estimate", json=_body(spec))

    def cancel(self, job_id: int) -> JobOut:
        return self._get(JobOut, "POST", f"/api/jobs/{job_id}/cancel")

    def delete(self, job_id: int) -> None:
        self.request("DELETE", f"/api/jobs/{job_id}")

    # A job's data
    def metrics(self, job_id: int, names: list[str] | None = None, since_step: int | None = None,
                max_points: int | None = None) -> MetricsOut:
        """Training curves; max_points thins each on the server (None: every point, for downloads)."""
        params = self._params(since_step=since_step, max_points=max_points)
        if names:
            params["name"] = names
        return self._get(MetricsOut, "GET", f"/api/jobs/{job_id}/metrics", params=params)

    def cid(self, job_id: int, since_step: int | None = None, phase: str | None = None) -> CidOut:
        """Every CID point with its per-probe values (for downloads)."""
        return self._get(CidOut, "GET", f"/api/jobs/{job_id}/cid", params=self._params(since_step=since_step,
                                                                                        phase=phase))

    def cid_display(self, job_id: int, since_step: int | None = None, max_points: int | None = None) -> CidDisplayOut:
        """CID means only (step, phase, value), thinned on the server (for figures)."""
        return self._get(CidDisplayOut, "GET", f"/api/jobs/{job_id}/cid/display",
                         params=self._params(since_step=since_step, max_points=max_points))

    def influence(self, job_id: int, probe: int | None = None, step: int | None = None, k: int = 5,
                  phase: str | None = None) -> InfluenceOut:
        return self._get(InfluenceOut, "GET", f"/api/jobs/{job_id}/influence",
                         params=self._params(probe=probe, step=step, phase=phase, k=k))

    def probe_examples(self, job_id: int, probe: int, step: int, k: int = 5,
                       phase: str | None = None) -> ProbeExamplesOut:
        return self._get(ProbeExamplesOut, "GET", f"/api/jobs/{job_id}/influence/examples",
                         params=self._params(probe=probe, step=step, phase=phase, k=k))

    def results(self, job_id: int) -> ResultsOut:
        return self._get(ResultsOut, "GET", f"/api/jobs/{job_id}/results")

    def logs(self, job_id: int) -> LogOut:
        return self._get(LogOut, "GET", f"/api/jobs/{job_id}/logs")

    def diagnostics(self, job_id: int) -> DiagnosticsOut:
        """Every diagnostic payload of a job: names, and items {name: payload}."""
        return self._get(DiagnosticsOut, "GET", f"/api/jobs/{job_id}/diagnostics")

    def diagnostic(self, job_id: int, name: str) -> DiagnosticOut:
        return self._get(DiagnosticOut, "GET", f"/api/jobs/{job_id}/diagnostics/{name}")

    def chain(self, job_id: int) -> ChainOut:
        """The finetune parent, NeuronTune job and follow-ups around a job; `compare` lists them."""
        return self._get(ChainOut, "GET", f"/api/jobs/{job_id}/chain")

    def tune_suggestion(self, job_id: int, rank: int, changes: TuneRequest | JsonObject | None = None) -> JobOut:
        """Queue influence tuning with a NeuronTune job's suggestion `rank` (from 1) as confound."""
        return self._get(JobOut, "POST", f"/api/jobs/{job_id}/suggestions/{rank}/tune", json=_body(changes) or {})

    # Experiments
    def create_experiment(self, body: ExperimentIn | JsonObject) -> ExperimentOut:
        return self._get(ExperimentOut, "POST", "/api/experiments", json=_body(body))

    def experiments(self) -> list[ExperimentOut]:
        """Newest first."""
        return self._list(ExperimentOut, "GET", "/api/experiments")

    def experiment(self, experiment_id: int) -> ExperimentOut:
        """One experiment with its progress (jobs done of total, counts by status, ETA)."""
        return self._get(ExperimentOut, "GET", f"/api/experiments/{experiment_id}")

    def experiment_table(self, experiment_id: int) -> TableOut:
        return self._get(TableOut, "GET", f"/api/experiments/{experiment_id}/table")

    def experiment_cid(self, experiment_id: int) -> CidTrajectoriesOut:
        """Figure 3 as numbers: each method's mean CID over its succeeded runs per step and phase."""
        return self._get(CidTrajectoriesOut, "GET", f"/api/experiments/{experiment_id}/cid")

    def reproduce(self, body: ReproduceIn | JsonObject) -> ExperimentOut:
        """Queue the paper's protocol on one dataset as one experiment (kind "reproduce")."""
        return self._get(ExperimentOut, "POST", "/api/experiments/reproduce", json=_body(body))

    def preview_reproduction(self, body: ReproduceIn | JsonObject) -> ReproducePreview:
        """What reproduce(body) would queue: job count by method and the scale's estimated wall seconds."""
        return self._get(ReproducePreview, "POST", "/api/experiments/reproduce/preview", json=_body(body))

    def search_spaces(self) -> list[SearchSpaceOut]:
        """The paper's hyperparameter grids (its Appendix A) per dataset and method."""
        return self._list(SearchSpaceOut, "GET", "/api/experiments/search-spaces")

    def protocols(self) -> list[ProtocolOut]:
        """Per dataset: the methods of Table 2 and those Table 3 repeats at each access rate."""
        return self._list(ProtocolOut, "GET", "/api/experiments/protocols")

    def scales(self) -> list[ScaleOut]:
        """The scales a reproduction runs at (model, seeds, minutes per job)."""
        return self._list(ScaleOut, "GET", "/api/experiments/scales")

"""The REST API (FastAPI; OpenAPI docs at /docs and /redoc, served without a CDN). Routes live in
one module per resource."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.api import (
    catalogue,
    cid_display,  # cid_display, dataset_samples, estimate, probe_examples: what the dashboard needs
    dataset_samples,
    diagnostics,
    estimate,
    experiments,
    health,
    job_data,
    jobs,
    probe_examples,
)
from backend.api.body_limits import BodyLimits
from backend.api.host_guard import HostGuard
from backend.services.errors import Conflict, InvalidSpec, NotFound, Rejected, ServiceError, TooLarge
from backend.services.uploads import remove_incoming
from backend.settings import Settings, load_settings
from backend.store.db import Database
from backend.store.paths import public_text
from backend.store.recorder import jsonable

VALUE_ERROR = "Value error, "  # what pydantic puts before a validator's ValueError
HOST_403 = {403: {"description": "a Host this server does not answer to, or a state-changing request from "
                                  "another Origin (DNS rebinding, cross-site; DECONFOUND_ALLOWED_HOSTS)"}}
STATUS_OF = {NotFound: 404, Conflict: 409, Rejected: 400, TooLarge: 413}  # a service's refusal as HTTP


def create_app(settings: Settings | None = None, migrate: bool = True) -> FastAPI:
    """The API over `settings` (default: from the environment); migrates the database first."""
    settings = settings or load_settings()
    db = Database(settings.database_url)
    if migrate:
        db.migrate()
    remove_incoming(settings.uploads_dir)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        db.dispose()

    # FastAPIOffline: FastAPI whose /docs (Swagger UI) and /redoc (ReDoc) load their scripts and
    # styles from the package, served under /static-offline-docs, not from a CDN: offline they render.
    app = FastAPIOffline(title="deconfound", version="0.1.0", lifespan=lifespan,
                  description="Jobs that diagnose (CID) and remove spurious confounds in BERT text classifiers. "
                              "Mutating endpoints need `Authorization: Bearer <token>` when the server "
                              "sets DECONFOUND_API_TOKEN.")
    @app.exception_handler(RequestValidationError)
    async def _unprocessable(_request: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler, except that NaN/Infinity echoed back in "input" become null
        # (strict JSON cannot carry them, and they would turn a 422 into a 500), and that the
        # model's own messages (unknown method, ...) lose pydantic's "Value error, " in front.
        errors = [{**e, "msg": e["msg"].removeprefix(VALUE_ERROR)} if isinstance(e.get("msg"), str) else e
                  for e in error.errors()]
        return JSONResponse(status_code=422, content={"detail": jsonable(jsonable_encoder(errors))})

    @app.exception_handler(InvalidSpec)
    async def _invalid_spec(request: Request, error: InvalidSpec) -> JSONResponse:
        return await _unprocessable(request, RequestValidationError(error.errors))

    # A refusal's message is a public answer: it names paths relative to the data directory and
    # never an absolute server path (backend.store.paths.public_text), whatever raised it.
    @app.exception_handler(ServiceError)
    async def _refused(_request: Request, error: ServiceError) -> JSONResponse:
        status = next((STATUS_OF[kind] for kind in type(error).__mro__ if kind in STATUS_OF), 400)
        return JSONResponse(status_code=status,
                            content={"detail": public_text(str(error), settings.data_dir)})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        if isinstance(error.detail, str):
            error = StarletteHTTPException(error.status_code, public_text(error.detail, settings.data_dir),
                                           headers=error.headers)
        return await http_exception_handler(request, error)

    app.state.settings = settings
    app.state.db = db
    for module in (health, jobs, job_data, catalogue, experiments, estimate, probe_examples, dataset_samples,
                   cid_display, diagnostics):
        app.include_router(module.router, responses=HOST_403)
    # Token first, then the body's size, before a route reads one byte of it (backend/api/body_limits.py).
    app.add_middleware(BodyLimits, settings=settings, api=app)
    # Outermost: a foreign Host or Origin is refused before anything else (backend/api/host_guard.py).
    app.add_middleware(HostGuard, bound_host=settings.host, allowed_hosts=settings.allowed_hosts)
    return app

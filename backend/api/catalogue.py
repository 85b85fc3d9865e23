"""The catalogue: datasets (with Table-1 statistics; uploads), models, methods, presets."""
from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, UploadFile, status
from sqlalchemy.orm import Session

from backend.api.deps import BODY_413, TOKEN_401, Id, get_session, get_settings, require_token
from backend.services import catalogue, uploads
from backend.services.uploads import SUFFIXES
from backend.settings import Settings
from jobs.contracts.api import ModelsOut, UploadOut
from jobs.contracts.catalogue import DatasetsOut, MethodInfo, MethodsOut, PresetsOut
from jobs.contracts.datasets import UploadColumns

router = APIRouter(prefix="/api", tags=["catalogue"])


@router.get("/datasets", response_model=DatasetsOut)
def list_datasets(session: Session = Depends(get_session)) -> DatasetsOut:
    """Built-in datasets and uploaded ones, each with its Table-1 statistics (sizes, groups,
    how often the confound predicts the label)."""
    return DatasetsOut(builtin=catalogue.builtin_datasets(), uploaded=uploads.list_uploads(session),
                       custom="dataset.name 'custom' with dataset.path 'upload:<id>'")


@router.post("/datasets", status_code=status.HTTP_201_CREATED, response_model=UploadOut,
             dependencies=[Depends(require_token)],
             responses={**TOKEN_401, **BODY_413, 400: {"description": "not a dataset the engine can load (the message names file, row, field)"},
                        413: {"description": "over the upload size limit"}})
def upload_dataset(file: UploadFile = File(..., description=f"a {', '.join(SUFFIXES)} file"),
                   text_column: str = Form("text"), label_column: str = Form("label"),
                   confound_column: str | None = Form("confound", description="empty: no confound column"),
                   confound_rule: str | None = Form(None, description="'token:WORD' or 'regex:PATTERN'"),
                   session: Session = Depends(get_session),
                   settings: Settings = Depends(get_settings)) -> UploadOut:
    """Upload a custom CSV or JSONL dataset. It is checked with the engine's loader before it is
    kept; then use it in a job as dataset {"name": "custom", "path": "upload:<id>"}."""
    columns = UploadColumns(text_column=text_column, label_column=label_column,
                            confound_column=confound_column or None, confound_rule=confound_rule or None)
    return uploads.create_upload(session, settings, file.filename, file.file, columns)


@router.get("/datasets/{upload_id}", response_model=UploadOut, responses={404: {"description": "no such upload"}})
def read_upload(upload_id: Id, session: Session = Depends(get_session)) -> UploadOut:
    return uploads.get_upload(session, upload_id)


@router.get("/models", response_model=ModelsOut)
def list_models(settings: Settings = Depends(get_settings)) -> ModelsOut:
    """The model picker: built-in models, the model directories under the data directory's models/
    (each with its family, kind, pooling and size, read without loading weights) and the supported
    families. Hugging Face names work only when the hub is reachable."""
    return catalogue.models(settings.data_dir)


@router.get("/methods", response_model=MethodsOut)
def list_methods() -> MethodsOut:
    return MethodsOut(methods=[MethodInfo(name=n, description=d) for n, d in catalogue.method_descriptions().items()])


@router.get("/presets", response_model=PresetsOut)
def list_presets() -> PresetsOut:
    """The paper's settings; a job's `preset` fills in what its spec leaves out."""
    return catalogue.presets()

"""The catalogue: datasets (with Table-1 statistics; uploads), models, methods, presets."""
from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, HTTPException, UploadFile, status
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.api.deps import BODY_413, TOKEN_401, Id, get_session, get_settings, require_token
from backend.services import catalogue
from backend.services.errors import InvalidSpec
from backend.services.submission import UPLOAD_PREFIX
from backend.services.uploads import SUFFIXES, UploadRejected, UploadTooLarge, display_name, store_upload
from backend.settings import Settings
from backend.store.models import UploadedDataset, utcnow
from backend.store.recorder import jsonable
from jobs.contracts.api import ModelsOut, UploadOut
from jobs.contracts.catalogue import DatasetsOut, MethodInfo, MethodsOut, PresetsOut
from jobs.spec import DatasetSpec

router = APIRouter(prefix="/api", tags=["catalogue"])


def upload_out(upload: UploadedDataset) -> UploadOut:
    return UploadOut(id=upload.id, name=upload.name, path=f"{UPLOAD_PREFIX}{upload.id}", size_bytes=upload.size_bytes,
                     columns=upload.columns, stats=upload.stats, created_at=upload.created_at)


@router.get("/datasets", response_model=DatasetsOut)
def list_datasets(session: Session = Depends(get_session)) -> DatasetsOut:
    """Built-in datasets and uploaded ones, each with its Table-1 statistics (sizes, groups,
    how often the confound predicts the label)."""
    uploads = session.scalars(select(UploadedDataset).order_by(UploadedDataset.id)).all()
    return DatasetsOut(builtin=catalogue.builtin_datasets(), uploaded=[upload_out(u) for u in uploads],
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
    columns = {"text_column": text_column, "label_column": label_column,
               "confound_column": confound_column or None, "confound_rule": confound_rule or None}
    try:
        columns = DatasetSpec.model_validate({"name": "custom", **columns}).model_dump(include=set(columns))
    except ValidationError as error:
        raise InvalidSpec(error) from None
    try:
        stored, size, stats = store_upload(settings.uploads_dir, file.filename, file.file,
                                           settings.upload_limit_bytes, columns)
    except UploadTooLarge as error:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(error)) from None
    except UploadRejected as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
    upload = UploadedDataset(name=display_name(file.filename), path=str(stored.relative_to(settings.data_dir)),
                             size_bytes=size, columns=columns, stats=jsonable(stats), created_at=utcnow())
    session.add(upload)
    session.commit()
    return upload_out(upload)


@router.get("/datasets/{upload_id}", response_model=UploadOut, responses={404: {"description": "no such upload"}})
def read_upload(upload_id: Id, session: Session = Depends(get_session)) -> UploadOut:
    upload = session.get(UploadedDataset, upload_id)
    if upload is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no uploaded dataset {upload_id}")
    return upload_out(upload)


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

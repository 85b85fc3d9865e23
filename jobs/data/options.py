"""Source-specific options (`DatasetSpec.options`), validated by a pydantic model per source."""
from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from jobs.data.dataset import DataError

Options = TypeVar("Options", bound=BaseModel)

# Bounds of the options: far above the paper's sizes (TextLen 1500/480/500, MSGS 5000/15000/15000),
# low enough that one spec cannot ask the API (the estimate, the submit checks) to generate an
# unbounded dataset.
MAX_SPLIT_SIZE = 100_000
MAX_TOKENS = 512
MAX_SOURCE = 255


def parse_options(model: type[Options], options: dict[str, Any], source: str) -> Options:
    """`options` checked against `model`; the first problem raised as one DataError line."""
    try:
        return model.model_validate(options)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        valid = ", ".join(model.model_fields)
        raise DataError(f"{first['msg']} (valid options: {valid})", file=f"{source} options",
                        field=field) from None

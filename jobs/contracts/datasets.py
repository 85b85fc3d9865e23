"""A dataset's Table 1 (jobs.data.stats.dataset_stats): what GET /api/datasets answers for a
built-in dataset and an upload, what the store keeps of an upload, and what `deconfound datasets`
prints. Every field has a default so that rows stored by older versions still read."""
from __future__ import annotations

from pydantic import BaseModel, Field


class SplitStats(BaseModel):
    size: int = Field(0, description="rows")
    agreement: float | None = Field(None, description="share of rows whose label is the one their confound "
                                                      "value goes with (agreement_pairing); None: no rows")
    groups: dict[str, int] = Field(default_factory=dict, description="rows per '<label>|<confound>' group")


class DatasetStats(BaseModel):
    name: str = ""
    description: str = ""
    label_names: list[str] = Field(default_factory=list)
    confound_names: list[str] = Field(default_factory=list)
    agreement_pairing: dict[str, str] | None = Field(None, description="confound value -> the label it goes with "
                                                                       "(what agreement counts)")
    splits: dict[str, SplitStats] = Field(default_factory=dict, description="train, dev, test")
    warnings: list[str] = Field(default_factory=list, description="groups a split lacks, and the like")
    has_control: bool = Field(False, description="a no-confound control split exists")
    has_counterfactual: bool = Field(False, description="a counterfactual exists (the flip rate can be measured)")
    confound_access: int | None = Field(None, description="training rows whose confound the methods may read")


class UploadColumns(BaseModel):
    """The columns of an uploaded file (DatasetSpec's fields of a custom dataset)."""

    text_column: str = "text"
    label_column: str = "label"
    confound_column: str | None = "confound"
    confound_rule: str | None = None

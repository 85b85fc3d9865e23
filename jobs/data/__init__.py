"""Datasets: one type (jobs.data.dataset) and the sources that build it; `load_dataset(spec)` is the way in."""
from jobs.data.access import access_subset
from jobs.data.dataset import ConfoundedDataset, DataError, Split
from jobs.data.sources import BUILTIN_DATASETS, DATASET_CHOICES, load_dataset
from jobs.data.stats import dataset_stats

__all__ = ["BUILTIN_DATASETS", "DATASET_CHOICES", "ConfoundedDataset", "DataError", "Split", "access_subset",
           "dataset_stats", "load_dataset"]

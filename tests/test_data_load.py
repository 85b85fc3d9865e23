"""The entry point: spec in, dataset out; confound access (Table 3); Table 1 statistics."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from jobs.data import (
    BUILTIN_DATASETS,
    DATASET_CHOICES,
    ConfoundedDataset,
    DataError,
    Split,
    dataset_stats,
    load_dataset,
)
from jobs.spec import DatasetSpec, JobSpec

SMALL = {"textlen": {"train_size": 40, "dev_size": 10, "test_size": 10},
         "msgs": {"train_size": 40, "dev_size": 12, "test_size": 12}}


@pytest.mark.parametrize("name", list(BUILTIN_DATASETS))
def test_every_builtin_loads_from_a_spec_and_survives_pickling(name):
    data = load_dataset(DatasetSpec(name=name, options=SMALL[name]))
    assert isinstance(data, ConfoundedDataset) and data.name == name
    assert data.num_labels == 2 and data.num_confounds == 2
    assert len(data.train) == SMALL[name]["train_size"]
    back = pickle.loads(pickle.dumps(data))  # the worker may ship datasets across processes
    assert back.train.texts == data.train.texts
    assert back.counterfactual(data.test.texts[0]) == data.counterfactual(data.test.texts[0])
    hidden = data.without_confounds()
    assert hidden.num_confounds == 1 and not hidden.train.confounds.any()


def test_the_job_spec_default_is_the_paper_textlen():
    data = load_dataset(JobSpec().dataset)
    assert (data.name, len(data.train), len(data.dev), len(data.test)) == ("textlen", 1500, 480, 500)
    assert data.access is None and len(data.access_index()) == 1500


def test_access_rate_limits_the_confound_readable_subset():
    data = load_dataset({"name": "textlen", "options": SMALL["textlen"], "access_rate": 0.25})
    index = data.access_index()
    assert len(index) == 10 and len(set(index.tolist())) == 10
    assert index.min() >= 0 and index.max() < 40 and np.all(np.diff(index) > 0)
    again = load_dataset({"name": "textlen", "options": SMALL["textlen"], "access_rate": 0.25})
    assert np.array_equal(again.access_index(), index)


def test_unknown_names_and_options_are_one_line_errors():
    with pytest.raises(DataError, match=r"field 'name': unknown dataset 'imdb'; valid: textlen, msgs, custom"):
        load_dataset({"name": "imdb"})
    assert set(DATASET_CHOICES) == {"textlen", "msgs", "custom"} and "path" in DATASET_CHOICES["custom"]
    with pytest.raises(DataError, match=r"msgs options, field 'train_sizes'"):
        load_dataset({"name": "msgs", "options": {"train_sizes": 10}})
    # A rule replaces a built-in's confound (tests/test_data_rule_confound.py); one that marks nothing is refused.
    with pytest.raises(DataError, match=r"textlen, field 'confound_rule': rule 'token:x' matches no training text"):
        load_dataset({"name": "textlen", "options": SMALL["textlen"], "confound_rule": "token:x"})


def test_dataset_stats_counts_groups_and_agreement_by_hand():
    labels = np.array([0, 0, 1, 1, 1])
    train = Split(["a", "b", "c", "d", "e"], labels, np.array([0, 1, 1, 1, 0]))
    test = Split(["f", "g", "h", "i"], np.array([0, 1, 1, 0]), np.array([0, 1, 0, 1]))
    data = ConfoundedDataset("toy", ["n", "p"], ["x", "y"], train, test, test)
    stats = dataset_stats(data)
    # train groups [label][confound]: label 0 -> (x, y) = (1, 1); label 1 -> (1, 2)
    assert stats.splits["train"].groups == {"n|x": 1, "n|y": 1, "p|x": 1, "p|y": 2}  # named by value
    # binary: the better pairing in train (x with n, y with p: 3 of 5 agree, the other 2 of 5):
    # train: a ok, b no, c ok, d ok, e no -> 3/5; test: f ok, g ok, h no, i no -> 2/4
    assert stats.splits["train"].agreement == pytest.approx(0.6)
    assert stats.splits["test"].agreement == pytest.approx(0.5)
    assert stats.splits["test"].size == 4 and stats.confound_access == 5
    assert stats.agreement_pairing == {"x": "n", "y": "p"}
    # The other pairing wins where train says so (x with p, y with n), whatever the names' order.
    crossed = ConfoundedDataset("toy", ["n", "p"], ["x", "y"], Split(train.texts, train.labels, 1 - train.confounds),
                                test, test)
    assert dataset_stats(crossed).agreement_pairing == {"x": "p", "y": "n"}
    assert dataset_stats(crossed).splits["train"].agreement == pytest.approx(0.6)

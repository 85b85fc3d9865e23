"""Accuracy breakdowns: per group, worst group, agree/disagree and the counterfactual flip rate."""
import numpy as np
import pytest
import torch
from torch import nn

from jobs.data.dataset import Split
from jobs.evaluate import accuracy_report, evaluate_split, is_collapsed
from jobs.models import encode, load_model


def test_accuracy_report_matches_a_direct_count():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 0])
    confounds = np.array([0, 0, 1, 1, 1, 1, 1, 0, 0, 0])
    predictions = np.array([0, 1, 1, 1, 1, 1, 0, 0, 1, 0])
    flipped = np.array([0, 1, 0, 1, 1, 0, 0, 0, 1, 1])

    report = accuracy_report(predictions, labels, confounds, flipped, ["neg", "pos"], ["A", "B"], np.arange(2))

    def acc(rows):
        return sum(predictions[i] == labels[i] for i in rows) / len(rows)

    groups = {f"{['neg', 'pos'][y]}|{['A', 'B'][c]}": [i for i in range(10) if labels[i] == y and confounds[i] == c]
              for y in (0, 1) for c in (0, 1)}
    assert report["per_group"] == pytest.approx({k: acc(rows) for k, rows in groups.items()})
    assert report["worst_group_acc"] == pytest.approx(min(acc(rows) for rows in groups.values()))
    assert report["acc"] == pytest.approx(acc(range(10)))
    assert report["agree_acc"] == pytest.approx(acc([i for i in range(10) if labels[i] == confounds[i]]))
    assert report["disagree_acc"] == pytest.approx(acc([i for i in range(10) if labels[i] != confounds[i]]))
    assert report["flip_rate"] == pytest.approx(sum(flipped != predictions) / 10)
    assert report["n"] == 10


def test_accuracy_report_leaves_undefined_parts_empty():
    labels, predictions = np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2])
    confounds = np.array([0, 1, 1, 0])  # 3 labels, 2 confound values: agreement is undefined
    report = accuracy_report(predictions, labels, confounds)
    assert report["agree_acc"] is None and report["disagree_acc"] is None
    assert report["flip_rate"] is None
    assert set(report["per_group"]) == {"0|0", "1|1", "2|1", "2|0"}  # only the groups present
    assert report["worst_group_acc"] == 0.0  # "2|1" holds the one mistake


class PrefixReader(nn.Module):
    """A real (if silly) classifier that predicts label 1 exactly when the first word is
    "positive": the perfectly confounded model."""

    def __init__(self, positive_id: int):
        super().__init__()
        self.positive_id = positive_id
        self.anchor = nn.Parameter(torch.zeros(1))  # gives the module a device

    def forward(self, ids, mask):
        positive = (ids[:, 1] == self.positive_id).float()
        logits = torch.stack([1 - positive, positive], 1) + self.anchor
        return logits, logits


def swap(text: str) -> str:
    head, rest = text.split(" ", 1)
    return {"Positive": "Negative", "Negative": "Positive"}[head] + " " + rest


def test_evaluate_split_exposes_a_confound_reader():
    tokenizer = load_model("tiny", device="cpu").tokenizer
    labels = np.array([1, 1, 1, 0, 0, 0, 1, 0])
    confounds = np.array([1, 1, 0, 0, 0, 1, 0, 1])
    texts = [("Positive" if c else "Negative") + " . some words here" for c in confounds]
    split = Split(texts, labels, confounds)
    model = PrefixReader(tokenizer.convert_tokens_to_ids("positive"))

    result = evaluate_split(model, encode(tokenizer, texts), split, batch_size=3,
                            counterfactual_enc=encode(tokenizer, [swap(t) for t in texts]), pairing=np.arange(2))

    agree = labels == confounds
    assert result["acc"] == pytest.approx(agree.mean())  # right exactly where the prefix agrees
    assert result["agree_acc"] == 1.0 and result["disagree_acc"] == 0.0
    assert result["per_group"] == {"1|1": 1.0, "1|0": 0.0, "0|0": 1.0, "0|1": 0.0}
    assert result["worst_group_acc"] == 0.0
    assert result["flip_rate"] == 1.0  # every prediction follows the swapped prefix
    assert result["n"] == 8


def test_is_collapsed_means_train_accuracy_at_chance():
    assert is_collapsed(0.5, 2) and is_collapsed(0.54, 2)
    assert not is_collapsed(0.6, 2) and not is_collapsed(0.99, 2)
    assert is_collapsed(0.36, 3) and not is_collapsed(0.5, 3)
    assert not is_collapsed(0.52, 2, margin=0.01)

"""Accuracy of a classifier on one split, broken down the ways a confound shows up.

per_group:       accuracy in each (label, confound) group present in the split;
worst_group_acc: the lowest of those (a confound-reliant model fails the disagreeing groups);
agree_acc / disagree_acc: accuracy where the label is the one the confound value is paired with
                 and where it is not (jobs.data.stats.confound_pairing: the dataset's one
                 definition, read off train, which Table 1's agreement uses too; None without it);
flip_rate:       share of predictions that change when the confound is swapped or removed
                 (needs the counterfactual texts' encoding).
"""
from __future__ import annotations

import numpy as np
import torch

from jobs.data.dataset import Split
from jobs.data.stats import group_name
from jobs.models import Encoded


@torch.no_grad()
def predict(model, enc: Encoded, batch_size: int = 128) -> np.ndarray:
    """Predicted label of every row, shape [N] (int64). Eval mode inside; the mode is restored."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        predictions = []
        for start in range(0, len(enc), batch_size):
            ids, mask = enc.batch(np.arange(start, min(start + batch_size, len(enc))), device)
            logits, _ = model(ids, mask)
            predictions.append(logits.argmax(-1).cpu())
    finally:
        model.train(was_training)
    return torch.cat(predictions).numpy().astype(np.int64) if predictions else np.zeros(0, np.int64)


def _accuracy(correct: np.ndarray) -> float | None:
    return float(correct.mean()) if len(correct) else None


def accuracy_report(predictions: np.ndarray, labels: np.ndarray, confounds: np.ndarray,
                    counterfactual_predictions: np.ndarray | None = None,
                    label_names: list[str] | None = None, confound_names: list[str] | None = None,
                    pairing: np.ndarray | None = None) -> dict:
    """The metrics of evaluate_split from predictions [N], labels [N] and confounds [N].

    Group keys are "<label name>|<confound name>" (the values themselves without names).
    pairing: confound value -> the label it agrees with (jobs.data.stats.confound_pairing);
    agree_acc and disagree_acc are None without it."""
    predictions, labels, confounds = (np.asarray(x, dtype=np.int64) for x in (predictions, labels, confounds))
    correct = predictions == labels
    per_group = {}
    for label in np.unique(labels):
        for confound in np.unique(confounds[labels == label]):
            in_group = (labels == label) & (confounds == confound)
            per_group[group_name(label_names, confound_names, int(label), int(confound))] = _accuracy(correct[in_group])
    agreement_defined = pairing is not None
    agrees = np.asarray(pairing, dtype=np.int64)[confounds] == labels if agreement_defined else None
    flip_rate = None
    if counterfactual_predictions is not None:
        flip_rate = _accuracy(np.asarray(counterfactual_predictions, dtype=np.int64) != predictions)
    return {
        "acc": _accuracy(correct),
        "per_group": per_group,
        "worst_group_acc": min(per_group.values()) if per_group else None,
        "agree_acc": _accuracy(correct[agrees]) if agreement_defined else None,
        "disagree_acc": _accuracy(correct[~agrees]) if agreement_defined else None,
        "flip_rate": flip_rate,
        "n": int(len(labels)),
    }


def evaluate_split(model, enc: Encoded, split: Split, batch_size: int = 128,
                   counterfactual_enc: Encoded | None = None, label_names: list[str] | None = None,
                   confound_names: list[str] | None = None, pairing: np.ndarray | None = None) -> dict:
    """{"acc", "per_group", "worst_group_acc", "agree_acc", "disagree_acc", "flip_rate", "n"}.

    enc: the split's texts tokenised (row i is split.texts[i]); counterfactual_enc: the same
    rows with the confound swapped or removed (flip_rate is None without it). Accuracies are
    fractions in [0, 1]; None where a group or subset is empty or undefined."""
    if len(enc) != len(split):
        raise ValueError(f"encoding has {len(enc)} rows but the split has {len(split)} examples")
    predictions = predict(model, enc, batch_size)
    counterfactual = predict(model, counterfactual_enc, batch_size) if counterfactual_enc is not None else None
    return accuracy_report(predictions, split.labels, split.confounds, counterfactual, label_names, confound_names,
                           pairing)


def is_collapsed(train_acc: float, num_labels: int, margin: float = 0.05) -> bool:
    """True when the training accuracy is no better than chance (1 / num_labels) plus `margin`:
    the failed trials the paper re-trains (judged on train, never on dev or test)."""
    return train_acc <= 1.0 / num_labels + margin

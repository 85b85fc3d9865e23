"""A batch of labelled, tokenised examples: what every influence computation takes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from jobs.models import Encoded, trim


@dataclass
class Examples:
    """N labelled examples: input_ids and attention_mask [N, T] (long), labels [N] (long)."""

    input_ids: Tensor
    attention_mask: Tensor
    labels: Tensor

    def __post_init__(self):
        n = self.input_ids.shape[0]
        if self.attention_mask.shape != self.input_ids.shape or self.labels.shape != (n,):
            raise ValueError(f"examples disagree: ids {tuple(self.input_ids.shape)}, mask "
                             f"{tuple(self.attention_mask.shape)}, labels {tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    @property
    def device(self) -> torch.device:
        return self.input_ids.device

    def take(self, index) -> Examples:
        """Rows `index` (an int, a list, an array or a tensor), trimmed to their longest sequence
        (padded left or right)."""
        index = torch.as_tensor(np.atleast_1d(np.asarray(index, dtype=np.int64)), device=self.device)
        ids, mask = self.input_ids[index], self.attention_mask[index]
        # Trimming matters: one example at a time then runs on its own length, as in the paper.
        ids, mask = trim(ids, mask)
        return Examples(ids, mask, self.labels[index])

    def to(self, device) -> Examples:
        return Examples(self.input_ids.to(device), self.attention_mask.to(device), self.labels.to(device))

    @classmethod
    def from_encoded(cls, enc: Encoded, labels: np.ndarray, index=None, device=None) -> Examples:
        """Rows `index` of an encoding (all rows if None) with their labels; labels[i] is row i's label."""
        index = np.arange(len(enc)) if index is None else np.atleast_1d(np.asarray(index, dtype=np.int64))
        ids, mask = enc.batch(index, device)
        label_tensor = torch.as_tensor(np.asarray(labels, dtype=np.int64)[index], device=ids.device)
        return cls(ids.long(), mask.long(), label_tensor)
